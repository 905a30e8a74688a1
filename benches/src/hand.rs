//! `HandCluster`: engine nodes stepped in one thread with perfect, instant delivery, for
//! benchmarks of the consensus logic alone. It never reads a clock (time stays where the
//! election left it, so no timer fires), never uses randomness beyond the engine's seeded
//! election timers, and delivers messages in one fixed order: the same calls cost the same
//! instructions every time.
//!
//! One replication round is split into the steps the benchmarks time one by one:
//! [`HandCluster::leader_append`], [`HandCluster::follower_append`], the rest of the round
//! ([`HandCluster::pump`]), and [`HandCluster::follower_apply`] ([`HandCluster::synced_round`]
//! runs them in order); [`HandCluster::round`] is the whole round as a client sees it.

use bytes::Bytes;
use pinraft_engine::{Batch, ClientRequest, Config, Index, Message, Node, NodeId, Op, Role, Seq};

/// Log length past which a benchmark loop starts again from a fresh cluster (outside its
/// timed region), so that a long run does not grow the logs without bound.
pub const LOG_ENTRIES_MAX: Index = 1 << 20;

/// The node that wins the first election; the benchmarks' follower is node 2.
const LEADER: NodeId = 1;
/// Distinct keys the puts cycle through.
const KEYS: usize = 1_000;
/// When the first election is held.
const ELECTION_AT_NS: u64 = 300_000_000;

/// Nodes with perfect, instant delivery, stepped in one thread. Node 1 leads.
pub struct HandCluster {
    nodes: Vec<Node>,
    /// Batches sent and not yet delivered, in the order they were sent.
    inflight: Vec<Batch>,
    /// Client replies seen since the last [`HandCluster::take_answered`].
    answered: usize,
    next_seq: Seq,
    value: Bytes,
    keys: Vec<Bytes>,
}

impl HandCluster {
    /// `n` nodes with `batch_entries_max = batch`, node 1 elected leader.
    pub fn elected(n: u64, batch: usize) -> HandCluster {
        let nodes = (1..=n)
            .map(|id| {
                // Only node 1's timer can fire: the others' lie far beyond the election.
                let slow = if id == LEADER { 0 } else { 10_000_000_000 };
                let config = Config {
                    batch_entries_max: batch,
                    election_timeout_min_ns: 150_000_000 + slow,
                    election_timeout_max_ns: 300_000_000 + slow,
                    ..Config::new(id, n)
                };
                Node::new(config).expect("valid config")
            })
            .collect();
        let keys = (0..KEYS).map(|k| Bytes::from(format!("k{k}"))).collect();
        let mut c = HandCluster {
            nodes,
            inflight: Vec::new(),
            answered: 0,
            next_seq: 1,
            value: Bytes::from_static(b"0123456789abcdef"),
            keys,
        };
        c.node(LEADER).tick(ELECTION_AT_NS);
        c.pump();
        assert_eq!(c.node(LEADER).role(), Role::Leader);
        c
    }

    /// An elected cluster whose every replica holds every key once, so that every later put
    /// overwrites: the steady state of a key space of bounded size, whatever the batch.
    pub fn filled(n: u64, batch: usize) -> HandCluster {
        let mut c = HandCluster::elected(n, batch);
        assert_eq!(c.round(KEYS), KEYS);
        c.sync_followers();
        c
    }

    /// One whole round as a client sees it: `batch` puts proposed at the leader, then every
    /// message delivered until all nodes are quiet. Returns the puts answered. In this steady
    /// state each append also carries the commit of the round before, which the followers
    /// apply. A fresh cluster's first rounds cost more (its buffers are still growing).
    pub fn round(&mut self, batch: usize) -> usize {
        let requests = self.requests(batch);
        self.propose(requests);
        self.pump()
    }

    /// One round in the steps the engine benchmarks time one by one: the leader's append,
    /// follower 2's handling of it, the rest of the round, then follower 2's apply of what
    /// committed (a heartbeat carrying the commit index) and follower 3's.
    pub fn synced_round(&mut self, batch: usize) -> usize {
        let requests = self.requests(batch);
        self.leader_append(requests);
        let append = self.take_batch(2);
        self.follower_append(append);
        let answered = self.pump();
        self.sync_followers();
        answered
    }

    /// Node `id`.
    pub fn node(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// The leader's last log index.
    pub fn last_index(&self) -> Index {
        self.nodes[LEADER as usize - 1].last_index()
    }

    /// `count` put requests from one client, ready to propose.
    pub fn requests(&mut self, count: usize) -> Vec<ClientRequest> {
        (0..count)
            .map(|_| {
                let seq = self.next_seq;
                self.next_seq += 1;
                let key = self.keys[seq as usize % self.keys.len()].clone();
                ClientRequest { client: 1, seq, op: Op::Put { key, value: self.value.clone() } }
            })
            .collect()
    }

    /// Proposes at the leader, without performing its `Ready`.
    pub fn propose(&mut self, requests: Vec<ClientRequest>) {
        let leader = self.node(LEADER);
        for r in requests {
            leader.propose(r);
        }
    }

    /// The leader's side of a round: it takes `requests` and performs its `Ready`, which
    /// queues one append per follower.
    pub fn leader_append(&mut self, requests: Vec<ClientRequest>) {
        self.propose(requests);
        self.drain(LEADER);
    }

    /// Removes the undelivered batch for `to` (the leader's append, after
    /// [`HandCluster::leader_append`]).
    pub fn take_batch(&mut self, to: NodeId) -> Batch {
        let k = self.inflight.iter().position(|b| b.to == to).expect("a batch for that node");
        self.inflight.remove(k)
    }

    /// A follower's side of a round: it steps every message of `batch` and performs its
    /// `Ready` (the acknowledgement, queued for delivery).
    pub fn follower_append(&mut self, batch: Batch) {
        self.deliver(batch);
    }

    /// A heartbeat from the leader to `to` carrying the leader's commit index: stepping it
    /// makes the follower apply every entry the leader committed since it last heard.
    pub fn commit_heartbeat(&mut self, to: NodeId) -> Batch {
        let leader = self.node(LEADER);
        let message = Message::Heartbeat { term: leader.term(), commit: leader.commit_index() };
        Batch { from: LEADER, to, messages: vec![message] }
    }

    /// A follower applies what committed: it steps `heartbeat` (from
    /// [`HandCluster::commit_heartbeat`]) and performs its `Ready`.
    pub fn follower_apply(&mut self, heartbeat: Batch) {
        self.deliver(heartbeat);
    }

    /// Tells every follower the leader's commit index, so that every replica has applied
    /// everything committed.
    pub fn sync_followers(&mut self) {
        for to in 1..=self.nodes.len() as NodeId {
            if to != LEADER {
                let heartbeat = self.commit_heartbeat(to);
                self.deliver(heartbeat);
            }
        }
    }

    /// Delivers every message until all nodes are quiet; returns the replies answered since
    /// the last call (or [`HandCluster::take_answered`]).
    pub fn pump(&mut self) -> usize {
        loop {
            for id in 1..=self.nodes.len() as NodeId {
                self.drain(id);
            }
            if self.inflight.is_empty() {
                return self.take_answered();
            }
            for batch in std::mem::take(&mut self.inflight) {
                self.deliver(batch);
            }
        }
    }

    /// Client replies seen since the last call.
    pub fn take_answered(&mut self) -> usize {
        std::mem::take(&mut self.answered)
    }

    /// Steps every message of `batch` at its destination, then performs that node's `Ready`.
    fn deliver(&mut self, batch: Batch) {
        let to = &mut self.nodes[batch.to as usize - 1];
        for m in batch.messages {
            to.step(batch.from, m);
        }
        self.drain(batch.to);
    }

    /// Performs every `Ready` node `id` has: its batches join `inflight`, replies are
    /// counted, storage is in memory (nothing to write).
    fn drain(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize - 1];
        while node.has_ready() {
            let mut ready = node.ready();
            self.inflight.append(&mut ready.messages);
            self.answered += ready.replies.len();
            node.advance(ready);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_in_steps_commits_and_applies_everywhere() {
        let mut c = HandCluster::filled(3, 8);
        for _ in 0..3 {
            assert_eq!(c.synced_round(8), 8);
        }
        let requests = c.requests(8);
        c.leader_append(requests);
        let append = c.take_batch(2);
        let [Message::Append { entries, .. }] = &append.messages[..] else { panic!("{append:?}") };
        assert_eq!(entries.len(), 8);
        c.follower_append(append);
        assert_eq!(c.pump(), 8);
        let heartbeat = c.commit_heartbeat(2);
        c.follower_apply(heartbeat);
        assert_eq!(c.node(2).applied_index(), c.node(1).commit_index());
        assert_eq!(c.node(2).applied_index(), c.last_index());
    }

    #[test]
    fn a_round_answers_every_put_and_replays_identically() {
        let (mut a, mut b) = (HandCluster::filled(3, 64), HandCluster::filled(3, 64));
        for c in [&mut a, &mut b] {
            for _ in 0..4 {
                assert_eq!(c.round(64), 64);
            }
        }
        assert_eq!(a.last_index(), b.last_index());
        assert_eq!(a.node(3).applied_index(), b.node(3).applied_index());
        assert_eq!(a.node(3).kv_len(), b.node(3).kv_len());
    }
}
