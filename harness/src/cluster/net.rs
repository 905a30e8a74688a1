//! What moves between the cluster's threads, and the faults applied to it on the sending
//! side: loss, delay (the receiver holds a packet until it is due), duplication and
//! partitions read from an atomic reachability matrix.

use pinraft_engine::{ClientReply, ClientRequest, NodeId};
use std::cmp::Ordering;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering as Mem};
use std::sync::Arc;

/// What a node thread receives, `B` being its engine's batch of messages. One packet is one
/// transport operation.
#[derive(Debug)]
pub(crate) enum Packet<B> {
    /// A batch of `messages` Raft messages from peer `from`, to be stepped at `due_ns` (0: at
    /// once).
    Peer { from: NodeId, batch: B, messages: u64, due_ns: u64 },
    /// Client requests from a load thread, proposed in order.
    Requests(Vec<Arc<ClientRequest>>),
    /// The control plane kills the node: it stops at once, keeping only what its storage
    /// holds.
    Crash,
    /// The run is over.
    Stop,
}

/// What a load thread receives: every reply one node produced for its clients in one
/// `Ready`.
pub(crate) type Replies = Vec<ClientReply>;

/// Per-link fault knobs, fixed for a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetFaults {
    /// Probability (ppm) that a packet between nodes is lost.
    pub loss_ppm: u32,
    /// Probability (ppm) that a packet is delivered twice.
    pub dup_ppm: u32,
    /// Smallest added delay per packet.
    pub delay_min_ns: u64,
    /// Largest added delay per packet.
    pub delay_max_ns: u64,
}

/// Which node can reach which, which nodes are alive and what they believe, how many
/// packets have been routed, and whether the run must stop; written by the control plane,
/// the node threads and a hosted load, read with relaxed loads.
pub(crate) struct Shared {
    nodes: usize,
    reach: Vec<AtomicBool>,
    alive: Vec<AtomicBool>,
    /// Per node: `term << 2 | role` (0 follower, 1 candidate, 2 leader).
    status: Vec<AtomicU64>,
    /// Packets routed since the start: one slot per node (what it sent to peers), then one
    /// for client traffic (counted by a hosted load). Each slot has one writer.
    packets: Vec<PacketCounter>,
    /// Set once, when the run must end before its time (`max_packets` reached).
    stop: AtomicBool,
    /// Restarts a hosted load asked for, for the control thread (which owns the node
    /// threads) to perform.
    restarts: parking_lot::Mutex<Vec<NodeId>>,
}

/// A packet counter on its own cache line: node threads on different cores add to their
/// own slot at every wake-up, and must not invalidate each other's line.
#[repr(align(128))]
struct PacketCounter(AtomicU64);

/// Role codes in `Shared::status`.
pub(crate) const ROLE_LEADER: u64 = 2;

impl Shared {
    pub(crate) fn new(nodes: usize) -> Shared {
        Shared {
            nodes,
            reach: (0..nodes * nodes).map(|_| AtomicBool::new(true)).collect(),
            alive: (0..nodes).map(|_| AtomicBool::new(true)).collect(),
            status: (0..nodes).map(|_| AtomicU64::new(0)).collect(),
            packets: (0..=nodes).map(|_| PacketCounter(AtomicU64::new(0))).collect(),
            stop: AtomicBool::new(false),
            restarts: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// Counts `packets` more routed by node `id`, or by the clients when `id` is 0.
    pub(crate) fn add_packets(&self, id: NodeId, packets: u64) {
        let slot = if id == 0 { self.nodes } else { id as usize - 1 };
        self.packets[slot].0.fetch_add(packets, Mem::Relaxed);
    }

    /// Every packet routed so far, between nodes and to and from clients.
    pub(crate) fn packets_routed(&self) -> u64 {
        self.packets.iter().map(|p| p.0.load(Mem::Relaxed)).sum()
    }

    /// Asks the control thread to restart node `id` from its storage.
    pub(crate) fn request_restart(&self, id: NodeId) {
        self.restarts.lock().push(id);
    }

    /// The restarts asked for since the last call, in order.
    pub(crate) fn take_restarts(&self) -> Vec<NodeId> {
        std::mem::take(&mut *self.restarts.lock())
    }

    /// Asks every thread to end the run.
    pub(crate) fn request_stop(&self) {
        self.stop.store(true, Mem::Relaxed);
    }

    /// Whether the run must end now.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Mem::Relaxed)
    }

    pub(crate) fn reachable(&self, from: NodeId, to: NodeId) -> bool {
        self.reach[(from as usize - 1) * self.nodes + to as usize - 1].load(Mem::Relaxed)
    }

    pub(crate) fn set_link(&self, from: NodeId, to: NodeId, up: bool) {
        self.reach[(from as usize - 1) * self.nodes + to as usize - 1].store(up, Mem::Relaxed);
    }

    /// Cuts (or restores) every link between the two groups, both ways.
    pub(crate) fn partition(&self, side: &[NodeId]) {
        for a in 1..=self.nodes as NodeId {
            for b in 1..=self.nodes as NodeId {
                let cut = side.contains(&a) != side.contains(&b);
                self.set_link(a, b, !cut);
            }
        }
    }

    pub(crate) fn heal(&self) {
        self.reach.iter().for_each(|r| r.store(true, Mem::Relaxed));
    }

    pub(crate) fn is_alive(&self, id: NodeId) -> bool {
        self.alive[id as usize - 1].load(Mem::Relaxed)
    }

    pub(crate) fn mark_dead(&self, id: NodeId) {
        self.alive[id as usize - 1].store(false, Mem::Relaxed);
    }

    /// A restarted node is back, as a follower until it learns otherwise.
    pub(crate) fn mark_alive(&self, id: NodeId) {
        self.status[id as usize - 1].store(0, Mem::Relaxed);
        self.alive[id as usize - 1].store(true, Mem::Relaxed);
    }

    pub(crate) fn publish(&self, id: NodeId, term: u64, role: u64) {
        let slot = &self.status[id as usize - 1];
        let value = term << 2 | role;
        if slot.load(Mem::Relaxed) != value {
            slot.store(value, Mem::Relaxed);
        }
    }

    /// The live node that leads the highest term, if any.
    pub(crate) fn leader(&self) -> Option<NodeId> {
        (1..=self.nodes as NodeId)
            .filter(|&id| self.is_alive(id))
            .map(|id| (self.status[id as usize - 1].load(Mem::Relaxed), id))
            .filter(|(s, _)| s & 3 == ROLE_LEADER)
            .max()
            .map(|(_, id)| id)
    }

    pub(crate) fn nodes(&self) -> usize {
        self.nodes
    }
}

/// A batch waiting at its receiver until it is due.
pub(crate) struct Delayed<B> {
    pub due_ns: u64,
    pub seq: u64,
    pub from: NodeId,
    pub messages: u64,
    pub batch: B,
}

impl<B> PartialEq for Delayed<B> {
    fn eq(&self, other: &Self) -> bool {
        (self.due_ns, self.seq) == (other.due_ns, other.seq)
    }
}
impl<B> Eq for Delayed<B> {}
impl<B> PartialOrd for Delayed<B> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<B> Ord for Delayed<B> {
    /// Reversed, so a `BinaryHeap` pops the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_ns, other.seq).cmp(&(self.due_ns, self.seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cut_both_ways_and_heal() {
        let s = Shared::new(3);
        s.partition(&[1]);
        assert!(!s.reachable(1, 2) && !s.reachable(2, 1) && !s.reachable(3, 1));
        assert!(s.reachable(2, 3) && s.reachable(3, 2));
        s.heal();
        assert!(s.reachable(1, 2) && s.reachable(3, 1));
    }

    #[test]
    fn the_leader_is_the_live_node_with_the_highest_term() {
        let s = Shared::new(3);
        assert_eq!(s.leader(), None);
        s.publish(1, 3, ROLE_LEADER);
        s.publish(2, 4, ROLE_LEADER);
        assert_eq!(s.leader(), Some(2));
        s.mark_dead(2);
        assert_eq!(s.leader(), Some(1));
    }

    #[test]
    fn packets_are_summed_over_nodes_and_clients() {
        let s = Shared::new(3);
        s.add_packets(1, 5);
        s.add_packets(3, 2);
        s.add_packets(0, 4);
        s.add_packets(1, 1);
        assert_eq!(s.packets_routed(), 12);
        assert!(!s.stopped());
        s.request_stop();
        assert!(s.stopped());
    }

    #[test]
    fn delayed_batches_pop_earliest_first() {
        let mut heap = std::collections::BinaryHeap::new();
        for (due_ns, seq) in [(30, 0), (10, 1), (10, 2), (20, 3)] {
            heap.push(Delayed { due_ns, seq, from: 1, messages: 0, batch: () });
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|d| d.seq)).collect();
        assert_eq!(order, vec![1, 2, 3, 0]);
    }
}
