//! Cluster benchmarks, with threads: the harness's pinned 3-node cluster (`BenchCluster`,
//! the node loop `pinraft run` runs) with the benchmark thread as its client, for pinraft and
//! for tikv/raft-rs, and a bounded channel round trip as the floor under both.
//! Every thread blocks on its channel; none spins. Starting a cluster (an election, about
//! 50 ms) and building requests stay outside the timed regions.

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use pinraft_benches::{message_batch, BenchCluster, Echo, PUTS_PER_CLUSTER_MAX};
use pinraft_harness::replica::{BuildReplica, Pinraft, RaftRs};
use std::time::{Duration, Instant};

/// The allocator the `pinraft` binary runs on.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Puts per iteration of the throughput benchmark.
const PUTS: usize = 1_024;
/// Puts per packet the client sends: a load thread's batch.
const PUTS_PER_PACKET: usize = 64;
/// Messages in the batch the channel benchmark moves.
const CHANNEL_BATCH: usize = 64;
/// Batches the channel benchmark's channels hold.
const CHANNEL_CAPACITY: usize = 1_024;

/// Starts again from a fresh cluster once it has taken many puts (outside any timed region).
fn recycle<R: BuildReplica>(cluster: &mut BenchCluster<R>, batch: usize) {
    if cluster.puts_sent() > PUTS_PER_CLUSTER_MAX {
        *cluster = BenchCluster::start(3, batch);
    }
}

/// One put's latency as its client sees it: sent to the leader, replicated to a majority,
/// committed, applied and answered. One client, one request outstanding.
fn commit_latency_of<R: BuildReplica>(c: &mut Criterion, engine: &str) {
    let mut group = c.benchmark_group(format!("cluster_commit_latency_3_nodes/{engine}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::from_parameter("one_put"), |b| {
        let mut cluster = BenchCluster::<R>::start(3, 64);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                recycle(&mut cluster, 64);
                let put = cluster.requests(1);
                let start = Instant::now();
                cluster.send(put);
                cluster.await_replies(1);
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
}

/// `PUTS` puts sent at once (in packets of `PUTS_PER_PACKET`), until the last is answered,
/// with `batch_entries_max` 1 (one entry per append) and 64.
fn throughput_of<R: BuildReplica>(c: &mut Criterion, engine: &str) {
    let mut group = c.benchmark_group(format!("cluster_throughput_3_nodes/{engine}"));
    group.throughput(Throughput::Elements(PUTS as u64));
    // An iteration takes milliseconds: the same count in every sample fits that better.
    group.sampling_mode(SamplingMode::Flat);
    for batch in [1usize, 64] {
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            let mut cluster = BenchCluster::<R>::start(3, batch);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    recycle(&mut cluster, batch);
                    let packets: Vec<_> = (0..PUTS / PUTS_PER_PACKET)
                        .map(|_| cluster.requests(PUTS_PER_PACKET))
                        .collect();
                    let start = Instant::now();
                    for packet in packets {
                        cluster.send(packet);
                    }
                    cluster.await_replies(PUTS);
                    total += start.elapsed();
                }
                total
            });
        });
    }
    group.finish();
}

fn commit_latency(c: &mut Criterion) {
    commit_latency_of::<Pinraft>(c, "pinraft");
    commit_latency_of::<RaftRs>(c, "raft-rs");
}

fn throughput(c: &mut Criterion) {
    throughput_of::<Pinraft>(c, "pinraft");
    throughput_of::<RaftRs>(c, "raft-rs");
}

/// The floor: a batch of 64 messages to another thread through a bounded crossbeam channel
/// and back through another, moved by pointer; the driver thread times its round trips.
fn channel_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("channel_round_trip");
    group.throughput(Throughput::Elements(CHANNEL_BATCH as u64));
    group.bench_function(BenchmarkId::from_parameter(CHANNEL_BATCH), |b| {
        let echo = Echo::start(message_batch(CHANNEL_BATCH), CHANNEL_CAPACITY);
        b.iter_custom(|iters| echo.round_trips(iters));
    });
    group.finish();
}

criterion_group!(benches, channel_round_trip, commit_latency, throughput);
criterion_main!(benches);
