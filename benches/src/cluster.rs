//! [`BenchCluster`]: the harness's own cluster ([`pinraft_harness::cluster::Cluster`], the
//! node threads and node loop `pinraft run` runs) with the benchmark thread as its only
//! client, for any engine behind the harness's `Replica` seam. This file only makes requests
//! and counts replies: the runtime under measurement is the harness's, not a copy of it.

use bytes::Bytes;
use pinraft_engine::{ClientRequest, Config, NodeId, Op, Outcome, Seq};
use pinraft_harness::cluster::{Cluster, ClusterConfig};
use pinraft_harness::replica::BuildReplica;
use std::sync::Arc;
use std::time::Duration;

/// Puts one cluster may take before a benchmark loop starts a fresh one (outside its timed
/// region), so that a long run does not grow the logs without bound.
pub const PUTS_PER_CLUSTER_MAX: u64 = 1 << 20;

/// Longest the client waits for a reply before it declares the cluster stuck.
const REPLY_WAIT_MAX: Duration = Duration::from_secs(10);
/// Longest the first election and the first put may take.
const START_WAIT_MAX: Duration = Duration::from_secs(10);
/// Logical clients the puts are spread over (each sees increasing sequence numbers).
const CLIENTS: u64 = 64;
/// Distinct keys the puts cycle through.
const KEYS: u64 = 1_000;

/// A running cluster of `R` replicas; dropping it stops and joins every node thread.
pub struct BenchCluster<R: BuildReplica> {
    cluster: Cluster<R>,
    leader: NodeId,
    next_seq: Seq,
    value: Bytes,
    keys: Vec<Bytes>,
}

impl<R: BuildReplica> BenchCluster<R> {
    /// Starts `n` nodes with default knobs and `batch_entries_max = batch`, in memory, and
    /// returns once a leader has answered a first put.
    pub fn start(n: u64, batch: usize) -> BenchCluster<R> {
        let cfg = ClusterConfig {
            nodes: n,
            engine: Config { batch_entries_max: batch, ..Config::default() },
            ..ClusterConfig::default()
        };
        let cluster = Cluster::<R>::start(&cfg).expect("start a cluster");
        let keys = (0..KEYS).map(|k| Bytes::from(format!("k{k}"))).collect();
        let value = Bytes::from_static(b"0123456789abcdef");
        let mut bench = BenchCluster { cluster, leader: 0, next_seq: 1, value, keys };
        let first = bench.put();
        bench.cluster.submit(first, START_WAIT_MAX).expect("a first put answered");
        bench.leader = bench.cluster.await_leader(START_WAIT_MAX).expect("a leader");
        bench
    }

    fn put(&mut self) -> ClientRequest {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.keys[(seq % KEYS) as usize].clone();
        ClientRequest {
            client: 1 + seq % CLIENTS,
            seq,
            op: Op::Put { key, value: self.value.clone() },
        }
    }

    /// `count` put requests, spread over the logical clients.
    pub fn requests(&mut self, count: usize) -> Vec<Arc<ClientRequest>> {
        (0..count).map(|_| Arc::new(self.put())).collect()
    }

    /// Puts made so far.
    pub fn puts_sent(&self) -> u64 {
        self.next_seq - 1
    }

    /// Sends `requests` to the leader in one packet, as a load thread does.
    pub fn send(&self, requests: Vec<Arc<ClientRequest>>) {
        self.cluster.send(self.leader, requests).expect("the leader's channel is open");
    }

    /// Blocks until `count` replies have arrived; every one must be a success (a benchmark
    /// during which leadership moved measured something else).
    pub fn await_replies(&self, count: usize) {
        let mut seen = 0;
        while seen < count {
            let replies = self.cluster.recv(REPLY_WAIT_MAX).unwrap_or_else(|_| {
                panic!("{seen} of {count} replies after {REPLY_WAIT_MAX:?}: cluster stuck")
            });
            for reply in &replies {
                assert_eq!(reply.outcome, Outcome::Ok(None), "put {}", reply.seq);
            }
            seen += replies.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinraft_harness::replica::{Pinraft, RaftRs};

    fn puts_commit_one_at_a_time_and_in_bulk<R: BuildReplica>() {
        let mut cluster = BenchCluster::<R>::start(3, 64);
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

    #[test]
    fn pinraft_puts_commit_one_at_a_time_and_in_bulk() {
        puts_commit_one_at_a_time_and_in_bulk::<Pinraft>();
    }

    #[test]
    fn raft_rs_puts_commit_one_at_a_time_and_in_bulk() {
        puts_commit_one_at_a_time_and_in_bulk::<RaftRs>();
    }
}
