//! A cluster of engine nodes driven by hand in one thread, for benchmarks that measure the
//! consensus logic alone: no threads, no channels, no clock.

use bytes::Bytes;
use pinraft_engine::{Batch, ClientReply, ClientRequest, Config, Node, Op, Role};

/// Nodes with perfect, instant delivery, stepped in one thread.
pub struct HandCluster {
    nodes: Vec<Node>,
    now_ns: u64,
    inflight: Vec<Batch>,
    replies: Vec<ClientReply>,
    next_seq: u64,
    value: Bytes,
    keys: Vec<Bytes>,
}

impl HandCluster {
    /// `n` nodes with `batch_entries_max = batch`, node 1 elected leader.
    pub fn elected(n: u64, batch: usize) -> HandCluster {
        let nodes = (1..=n)
            .map(|id| {
                let slow = if id == 1 { 0 } else { 10_000_000_000 };
                let config = Config {
                    batch_entries_max: batch,
                    election_timeout_min_ns: 150_000_000 + slow,
                    election_timeout_max_ns: 300_000_000 + slow,
                    ..Config::new(id, n)
                };
                Node::new(config).expect("valid config")
            })
            .collect();
        let keys = (0..1_000).map(|k| Bytes::from(format!("k{k}"))).collect();
        let mut c = HandCluster {
            nodes,
            now_ns: 0,
            inflight: Vec::new(),
            replies: Vec::new(),
            next_seq: 1,
            value: Bytes::from_static(b"0123456789abcdef"),
            keys,
        };
        c.now_ns = 300_000_000;
        c.nodes[0].tick(c.now_ns);
        c.pump();
        assert_eq!(c.nodes[0].role(), Role::Leader);
        c
    }

    /// The leader.
    pub fn leader(&mut self) -> &mut Node {
        &mut self.nodes[0]
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

    /// Proposes at the leader.
    pub fn propose(&mut self, requests: Vec<ClientRequest>) {
        for r in requests {
            self.nodes[0].propose(r);
        }
    }

    /// Delivers every message until all nodes are quiet; returns the replies collected.
    pub fn pump(&mut self) -> usize {
        loop {
            for node in &mut self.nodes {
                while node.has_ready() {
                    let mut ready = node.ready();
                    self.inflight.append(&mut ready.messages);
                    self.replies.append(&mut ready.replies);
                    node.advance(ready);
                }
            }
            if self.inflight.is_empty() {
                let answered = self.replies.len();
                self.replies.clear();
                return answered;
            }
            for batch in std::mem::take(&mut self.inflight) {
                let to = &mut self.nodes[batch.to as usize - 1];
                for m in batch.messages {
                    to.step(batch.from, m);
                }
            }
        }
    }
}
