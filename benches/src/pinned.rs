//! `PinnedCluster`: engine nodes on pinned OS threads, batches moving by pointer through
//! bounded crossbeam channels, and the benchmark thread as the only client. It follows the
//! harness's node loop (harness/src/cluster/node.rs) without its faults, load threads and
//! metrics: block on the inbound channel until the next timer deadline, step every message
//! of every packet found, tick, perform the `Ready` with one `try_send` per batch.
//!
//! The harness's `cluster::run` is driven by a duration, not by single requests, so a
//! benchmark that times one put needs this smaller runtime. Threads block, never spin: with
//! more threads than cores (3 nodes and the client on 2 cores), spinning collapses rounds to
//! the scheduler tick.

use crate::{core_ids, spawn_pinned};
use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender};
use pinraft_engine::{Batch, ClientReply, ClientRequest, Config, Node, NodeId, Op, Outcome, Seq};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Puts one cluster may take before a benchmark loop starts a fresh one (outside its timed
/// region), so that a long run does not grow the logs without bound.
pub const PUTS_PER_CLUSTER_MAX: u64 = 1 << 20;

/// Packets an inbound channel holds. A benchmark never has more outstanding.
const CHANNEL_CAPACITY: usize = 4_096;
/// Most packets a node takes from its channel before it performs a `Ready`.
const DRAIN_PACKETS_MAX: usize = 256;
/// Longest a node sleeps without looking at the clock.
const IDLE_WAIT_MAX: Duration = Duration::from_millis(50);
/// Longest the client waits for a reply before it declares the cluster stuck.
const REPLY_WAIT_MAX: Duration = Duration::from_secs(10);
/// Longest the first election may take.
const ELECTION_WAIT_MAX: Duration = Duration::from_secs(10);
/// Logical clients the puts are spread over (each sees increasing sequence numbers).
const CLIENTS: u64 = 64;
/// Distinct keys the puts cycle through.
const KEYS: u64 = 1_000;
/// The node that wins the first election: its election timer is the only short one.
const LEADER: NodeId = 1;

/// What moves into a node thread.
enum Packet {
    /// A batch from a peer.
    Peer(Batch),
    /// Client requests, to propose in order.
    Requests(Vec<ClientRequest>),
    /// Stop the thread.
    Stop,
}

/// A running cluster; dropping it stops and joins every node thread.
pub struct PinnedCluster {
    nodes: Vec<Sender<Packet>>,
    replies: Receiver<Vec<ClientReply>>,
    threads: Vec<JoinHandle<()>>,
    next_seq: Seq,
    value: Bytes,
    keys: Vec<Bytes>,
}

impl PinnedCluster {
    /// Starts `n` node threads, node i pinned to core `(i - 1) mod cores`, with
    /// `batch_entries_max = batch`, and returns once node 1 has been elected and has
    /// answered a first put.
    pub fn start(n: u64, batch: usize) -> PinnedCluster {
        let cores = core_ids();
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| bounded(CHANNEL_CAPACITY)).unzip();
        let (reply_tx, replies) = bounded(CHANNEL_CAPACITY);
        let start = Instant::now();
        let threads = rxs
            .into_iter()
            .enumerate()
            .map(|(k, inbox)| {
                let id = k as NodeId + 1;
                let node = Node::new(config(id, n, batch)).expect("valid config");
                let (peers, client) = (txs.clone(), reply_tx.clone());
                let core = (!cores.is_empty()).then(|| cores[k % cores.len()]);
                spawn_pinned(format!("node{id}"), core, move || {
                    run_node(node, inbox, peers, client, start)
                })
            })
            .collect();
        let keys = (0..KEYS).map(|k| Bytes::from(format!("k{k}"))).collect();
        let value = Bytes::from_static(b"0123456789abcdef");
        let mut cluster = PinnedCluster { nodes: txs, replies, threads, next_seq: 1, value, keys };
        cluster.await_leader();
        cluster
    }

    /// `count` put requests, spread over the logical clients.
    pub fn requests(&mut self, count: usize) -> Vec<ClientRequest> {
        (0..count)
            .map(|_| {
                let seq = self.next_seq;
                self.next_seq += 1;
                let key = self.keys[(seq % KEYS) as usize].clone();
                let op = Op::Put { key, value: self.value.clone() };
                ClientRequest { client: 1 + seq % CLIENTS, seq, op }
            })
            .collect()
    }

    /// Puts sent so far.
    pub fn puts_sent(&self) -> u64 {
        self.next_seq - 1
    }

    /// Sends `requests` to the leader in one packet.
    pub fn send(&self, requests: Vec<ClientRequest>) {
        self.nodes[LEADER as usize - 1].send(Packet::Requests(requests)).expect("leader alive");
    }

    /// Blocks until `count` replies have arrived; every one must be a success.
    pub fn await_replies(&self, count: usize) {
        let mut seen = 0;
        while seen < count {
            let replies = self.replies.recv_timeout(REPLY_WAIT_MAX).unwrap_or_else(|_| {
                panic!("{seen} of {count} replies after {REPLY_WAIT_MAX:?}: cluster stuck")
            });
            for reply in &replies {
                assert_eq!(reply.outcome, Outcome::Ok(None), "put {}", reply.seq);
            }
            seen += replies.len();
        }
    }

    /// Retries one put until node 1 leads and answers it.
    fn await_leader(&mut self) {
        let deadline = Instant::now() + ELECTION_WAIT_MAX;
        let request = self.requests(1);
        loop {
            self.send(request.clone());
            let replies = self.replies.recv_timeout(REPLY_WAIT_MAX).expect("a reply");
            match replies.first().map(|r| &r.outcome) {
                Some(Outcome::Ok(_)) => return,
                _ => assert!(Instant::now() < deadline, "no leader after {ELECTION_WAIT_MAX:?}"),
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for PinnedCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            let _ = node.send(Packet::Stop);
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Node `id` of `1..=n`: default knobs, `batch_entries_max = batch`, and an election timer
/// that only node 1's can fire, so node 1 leads for the whole benchmark.
fn config(id: NodeId, n: u64, batch: usize) -> Config {
    let base = Config::new(id, n);
    let (min, max) = if id == LEADER {
        // Just above the heartbeat interval, as the config rules require.
        let min = base.heartbeat_interval_ns + 1_000_000;
        (min, min + 1_000_000)
    } else {
        (3_600_000_000_000, 3_600_000_000_001)
    };
    Config {
        batch_entries_max: batch,
        election_timeout_min_ns: min,
        election_timeout_max_ns: max,
        ..base
    }
}

/// A node thread: runs until `Stop` or until every sender is gone.
fn run_node(
    mut node: Node,
    inbox: Receiver<Packet>,
    peers: Vec<Sender<Packet>>,
    client: Sender<Vec<ClientReply>>,
    start: Instant,
) {
    let now_ns = || start.elapsed().as_nanos() as u64;
    loop {
        let wait = node.next_deadline_ns().saturating_sub(now_ns());
        let first = match inbox.recv_timeout(Duration::from_nanos(wait).min(IDLE_WAIT_MAX)) {
            Ok(packet) => Some(packet),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let packets = first.into_iter().chain(std::iter::from_fn(|| inbox.try_recv().ok()));
        for packet in packets.take(DRAIN_PACKETS_MAX) {
            match packet {
                Packet::Peer(batch) => {
                    for message in batch.messages {
                        node.step(batch.from, message);
                    }
                }
                Packet::Requests(requests) => {
                    for request in requests {
                        node.propose(request);
                    }
                }
                Packet::Stop => return,
            }
        }
        node.tick(now_ns());
        while node.has_ready() {
            let mut ready = node.ready();
            // In-memory storage: entries and hard state are durable as they stand. A full
            // channel drops the batch, as in the harness; the resend threshold recovers it.
            for batch in std::mem::take(&mut ready.messages) {
                let _ = peers[batch.to as usize - 1].try_send(Packet::Peer(batch));
            }
            if !ready.replies.is_empty() {
                let _ = client.try_send(std::mem::take(&mut ready.replies));
            }
            node.advance(ready);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_commit_one_at_a_time_and_in_bulk() {
        let mut cluster = PinnedCluster::start(3, 64);
        for _ in 0..10 {
            let put = cluster.requests(1);
            cluster.send(put);
            cluster.await_replies(1);
        }
        for _ in 0..4 {
            let puts = cluster.requests(64);
            cluster.send(puts);
        }
        cluster.await_replies(256);
        assert_eq!(cluster.puts_sent(), 1 + 10 + 256);
    }
}
