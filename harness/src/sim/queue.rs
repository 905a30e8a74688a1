//! The event queue: every future event of a run, ordered by (virtual time, sequence number).
//! The sequence number is the order of insertion, so events due at the same time run in the
//! order they were scheduled, and two runs from one seed pop the very same sequence.

use crate::args::Event;
use pinraft_engine::{Batch, ClientId, ClientReply, ClientRequest, NodeId};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Arc;

/// What happens when an event comes due.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    /// A packet between nodes arrives: one batch of messages for one destination.
    Deliver { batch: Batch },
    /// A node's timer; stale when `gen` is not the node's current timer generation.
    Timer { node: NodeId, gen: u64 },
    /// A client's request arrives at a node.
    Request { to: NodeId, request: Arc<ClientRequest> },
    /// A node's reply arrives at its client.
    Reply { from: NodeId, reply: ClientReply },
    /// A client starts its first operation.
    ClientStart { client: ClientId },
    /// A client sends a retry it decided on earlier (after a backoff); stale when `gen` moved.
    ClientSend { client: ClientId, gen: u64, to: NodeId, request: Arc<ClientRequest> },
    /// A client's request timeout; stale when `gen` moved.
    ClientTimer { client: ClientId, gen: u64 },
    /// A scheduled fault from `--events`.
    Fault { event: Event },
    /// The fault phase ends: partitions heal and loss, duplication and reordering stop.
    QuietStart,
    /// A node's fsync completes (only with a fsync latency); stale when `gen` is not the
    /// node's current sync generation (it crashed meanwhile).
    Synced { node: NodeId, gen: u64 },
}

#[derive(Debug)]
struct Queued {
    at_ns: u64,
    seq: u64,
    kind: Kind,
}

// `BinaryHeap` is a max-heap: order by (time, seq) reversed so the earliest pops first.
impl Ord for Queued {
    fn cmp(&self, other: &Queued) -> Ordering {
        (other.at_ns, other.seq).cmp(&(self.at_ns, self.seq))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Queued) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Queued) -> bool {
        (self.at_ns, self.seq) == (other.at_ns, other.seq)
    }
}

impl Eq for Queued {}

/// Future events, earliest first.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Queued>,
    seq: u64,
}

impl EventQueue {
    pub(crate) fn push(&mut self, at_ns: u64, kind: Kind) {
        self.seq += 1;
        self.heap.push(Queued { at_ns, seq: self.seq, kind });
    }

    /// The earliest event, removed from the queue.
    pub(crate) fn pop(&mut self) -> Option<(u64, Kind)> {
        self.heap.pop().map(|q| (q.at_ns, q.kind))
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut queue = EventQueue::default();
        queue.push(20, Kind::ClientStart { client: 1 });
        queue.push(10, Kind::ClientStart { client: 2 });
        queue.push(20, Kind::ClientStart { client: 3 });
        queue.push(10, Kind::ClientStart { client: 4 });
        let order: Vec<(u64, u64)> = std::iter::from_fn(|| queue.pop())
            .map(|(at, kind)| match kind {
                Kind::ClientStart { client } => (at, client),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(order, vec![(10, 2), (10, 4), (20, 1), (20, 3)]);
    }
}
