//! The engine paths of `benches/engine.rs` as instruction counts under valgrind (gungraun,
//! callgrind): one run of each, counted from the benchmark function's entry to its return.
//! Setup (a filled cluster past `WARM_ROUNDS` rounds, the requests, the message to step)
//! and teardown (checks, and dropping the cluster) are not counted. Every input is fixed,
//! so the same binary counts the same instructions on every run: `benches/gate.sh` compares
//! them against the baseline committed in `benches/baseline/` and fails past its limit.
//!
//! Built only with the `gate` feature; run it through `benches/gate.sh`.

use gungraun::{library_benchmark, library_benchmark_group, main};
use pinraft_benches::{HandCluster, WARM_ROUNDS};
use pinraft_engine::quorum::committed_index;
use pinraft_engine::{Batch, ClientRequest, Index};

/// The allocator the `pinraft` binary runs on.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A filled 3-node cluster past its warm-up rounds, as `HandCluster::round` leaves it.
fn after_rounds(batch: usize) -> HandCluster {
    let mut cluster = HandCluster::filled(3, batch);
    for _ in 0..WARM_ROUNDS {
        assert_eq!(cluster.round(batch), batch);
    }
    cluster
}

/// A filled 3-node cluster past its warm-up rounds, as `HandCluster::synced_round` leaves it.
fn after_synced_rounds(batch: usize) -> HandCluster {
    let mut cluster = HandCluster::filled(3, batch);
    for _ in 0..WARM_ROUNDS {
        assert_eq!(cluster.synced_round(batch), batch);
    }
    cluster
}

fn setup_round(batch: usize) -> (HandCluster, Vec<ClientRequest>) {
    let mut cluster = after_rounds(batch);
    let requests = cluster.requests(batch);
    (cluster, requests)
}

fn setup_leader_append(batch: usize) -> (HandCluster, Vec<ClientRequest>) {
    let mut cluster = after_synced_rounds(batch);
    let requests = cluster.requests(batch);
    (cluster, requests)
}

/// The leader has sent its append; follower 2's copy is held back for the benchmark.
fn setup_follower_append(batch: usize) -> (HandCluster, Batch) {
    let (mut cluster, requests) = setup_leader_append(batch);
    cluster.leader_append(requests);
    let append = cluster.take_batch(2);
    (cluster, append)
}

/// The batch has committed at the leader; follower 2 has yet to hear the commit index.
fn setup_kv_apply(batch: usize) -> (HandCluster, Batch) {
    let (mut cluster, append) = setup_follower_append(batch);
    cluster.follower_append(append);
    assert_eq!(cluster.pump(), batch);
    let heartbeat = cluster.commit_heartbeat(2);
    (cluster, heartbeat)
}

/// Match indexes for `members` members, leader first.
fn setup_quorum(members: usize) -> (Vec<Index>, Vec<Index>) {
    let matched = [1_000, 998, 1_000, 997, 999, 996, 1_000][..members].to_vec();
    (matched, Vec::with_capacity(members))
}

fn all_answered((cluster, answered, batch): (HandCluster, usize, usize)) {
    assert_eq!(answered, batch, "a measured round left puts unanswered");
    drop(cluster);
}

// Propose `batch` puts at the leader and deliver by hand until all are answered.
#[library_benchmark]
#[bench::batch_1(args = (1), setup = setup_round, teardown = all_answered)]
#[bench::batch_8(args = (8), setup = setup_round, teardown = all_answered)]
#[bench::batch_64(args = (64), setup = setup_round, teardown = all_answered)]
#[bench::batch_256(args = (256), setup = setup_round, teardown = all_answered)]
fn propose_to_commit_3_nodes(
    input: (HandCluster, Vec<ClientRequest>),
) -> (HandCluster, usize, usize) {
    let (mut cluster, requests) = input;
    let batch = requests.len();
    cluster.propose(requests);
    let answered = cluster.pump();
    (cluster, answered, batch)
}

// The leader proposes the batch and performs its `Ready`: an append per follower.
#[library_benchmark]
#[bench::batch_1(args = (1), setup = setup_leader_append)]
#[bench::batch_8(args = (8), setup = setup_leader_append)]
#[bench::batch_64(args = (64), setup = setup_leader_append)]
#[bench::batch_256(args = (256), setup = setup_leader_append)]
fn leader_append(input: (HandCluster, Vec<ClientRequest>)) -> HandCluster {
    let (mut cluster, requests) = input;
    cluster.leader_append(requests);
    cluster
}

// Follower 2 steps the append and performs its `Ready`: the acknowledgement.
#[library_benchmark]
#[bench::batch_1(args = (1), setup = setup_follower_append)]
#[bench::batch_8(args = (8), setup = setup_follower_append)]
#[bench::batch_64(args = (64), setup = setup_follower_append)]
#[bench::batch_256(args = (256), setup = setup_follower_append)]
fn follower_append(input: (HandCluster, Batch)) -> HandCluster {
    let (mut cluster, append) = input;
    cluster.follower_append(append);
    cluster
}

// Follower 2 learns the commit index and applies the batch to its key-value store.
#[library_benchmark]
#[bench::batch_1(args = (1), setup = setup_kv_apply)]
#[bench::batch_8(args = (8), setup = setup_kv_apply)]
#[bench::batch_64(args = (64), setup = setup_kv_apply)]
#[bench::batch_256(args = (256), setup = setup_kv_apply)]
fn kv_apply(input: (HandCluster, Batch)) -> HandCluster {
    let (mut cluster, heartbeat) = input;
    cluster.follower_apply(heartbeat);
    cluster
}

// The commit index a leader derives from its members' match indexes.
#[library_benchmark]
#[bench::members_3(args = (3), setup = setup_quorum)]
#[bench::members_5(args = (5), setup = setup_quorum)]
#[bench::members_7(args = (7), setup = setup_quorum)]
fn quorum_commit_index(input: (Vec<Index>, Vec<Index>)) -> (Index, Vec<Index>, Vec<Index>) {
    let (matched, mut scratch) = input;
    let index = committed_index(matched.iter().copied(), &mut scratch);
    (index, matched, scratch)
}

library_benchmark_group!(
    name = engine;
    benchmarks =
        propose_to_commit_3_nodes,
        leader_append,
        follower_append,
        kv_apply,
        quorum_commit_index
);

main!(library_benchmark_groups = engine);
