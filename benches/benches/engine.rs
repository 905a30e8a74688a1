//! Engine micro-benchmarks, one thread, no channels: the consensus logic alone, on the
//! hand-driven cluster of `pinraft_benches::HandCluster`. Building requests, delivering the
//! rest of a round and starting a fresh cluster all stay outside the timed regions
//! (`iter_custom` times one step per iteration).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pinraft_benches::{HandCluster, BATCHES, LOG_ENTRIES_MAX, WARM_ROUNDS};
use pinraft_engine::quorum::committed_index;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The allocator the `pinraft` binary runs on.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Match indexes the quorum benchmark feeds in, leader first; `n` members take the first `n`.
const MATCHED: [u64; 7] = [1_000, 998, 1_000, 997, 999, 996, 1_000];

/// A fresh, filled 3-node cluster past its warm-up rounds.
fn fresh(batch: usize) -> HandCluster {
    let mut cluster = HandCluster::filled(3, batch);
    for _ in 0..WARM_ROUNDS {
        cluster.synced_round(batch);
    }
    cluster
}

/// Starts again from a fresh cluster once the logs are long (outside any timed region).
fn recycle(cluster: &mut HandCluster, batch: usize) {
    if cluster.last_index() > LOG_ENTRIES_MAX {
        *cluster = fresh(batch);
    }
}

/// Propose `batch` puts at the leader of a 3-node cluster and deliver by hand until all are
/// committed and answered.
fn propose_to_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("propose_to_commit_3_nodes");
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            let mut cluster = fresh(batch);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    recycle(&mut cluster, batch);
                    let requests = cluster.requests(batch);
                    let start = Instant::now();
                    cluster.propose(requests);
                    let answered = cluster.pump();
                    total += start.elapsed();
                    assert_eq!(answered, batch);
                }
                total
            });
        });
    }
    group.finish();
}

/// The steps of one round that the phase benchmarks time alone.
#[derive(Clone, Copy)]
enum Phase {
    /// The leader proposes the batch and performs its `Ready`: an append per follower.
    LeaderAppend,
    /// Follower 2 steps the append and performs its `Ready`: the acknowledgement.
    FollowerAppend,
    /// Follower 2 learns the commit index and applies the batch to its key-value store.
    KvApply,
}

/// One round of `batch` puts (as `HandCluster::synced_round`), timing `phase` alone. Every
/// step is timed whichever is kept, so the three phase benchmarks run identical loops.
fn timed_round(cluster: &mut HandCluster, batch: usize, phase: Phase) -> Duration {
    let requests = cluster.requests(batch);
    let start = Instant::now();
    cluster.leader_append(requests);
    let leader = start.elapsed();
    let append = cluster.take_batch(2);
    let start = Instant::now();
    cluster.follower_append(append);
    let follower = start.elapsed();
    assert_eq!(cluster.pump(), batch);
    let heartbeat = cluster.commit_heartbeat(2);
    let start = Instant::now();
    cluster.follower_apply(heartbeat);
    let apply = start.elapsed();
    cluster.sync_followers();
    match phase {
        Phase::LeaderAppend => leader,
        Phase::FollowerAppend => follower,
        Phase::KvApply => apply,
    }
}

/// One benchmark group timing `phase` of every round, swept over the batch size.
fn phase_group(c: &mut Criterion, name: &str, phase: Phase) {
    let mut group = c.benchmark_group(name);
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            let mut cluster = fresh(batch);
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        recycle(&mut cluster, batch);
                        timed_round(&mut cluster, batch, phase)
                    })
                    .sum()
            });
        });
    }
    group.finish();
}

/// The leader's append of a batch: propose, then the `Ready` that builds both appends.
fn leader_append(c: &mut Criterion) {
    phase_group(c, "leader_append", Phase::LeaderAppend);
}

/// A follower's handling of an append: consistency check, log append, acknowledgement.
fn follower_append(c: &mut Criterion) {
    phase_group(c, "follower_append", Phase::FollowerAppend);
}

/// A follower applying a committed batch of puts to its key-value store.
fn kv_apply(c: &mut Criterion) {
    phase_group(c, "kv_apply", Phase::KvApply);
}

/// The commit index a leader derives from its members' match indexes.
fn quorum(c: &mut Criterion) {
    let mut group = c.benchmark_group("quorum_commit_index");
    for members in [3usize, 5, 7] {
        group.bench_with_input(BenchmarkId::from_parameter(members), &members, |b, &n| {
            let mut scratch = Vec::with_capacity(n);
            b.iter(|| committed_index(black_box(&MATCHED[..n]).iter().copied(), &mut scratch));
        });
    }
    group.finish();
}

criterion_group!(benches, propose_to_commit, leader_append, follower_append, kv_apply, quorum);
criterion_main!(benches);
