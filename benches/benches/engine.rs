//! Engine micro-benchmarks, one thread, no channels: the consensus logic alone.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pinraft_benches::HandCluster;
use std::time::{Duration, Instant};

/// Propose `batch` puts at the leader of a 3-node cluster and deliver by hand until all
/// are committed and answered. Building the requests stays outside the timed region.
fn propose_to_commit(c: &mut Criterion) {
    let mut group = c.benchmark_group("propose_to_commit_3_nodes");
    for batch in [1usize, 8, 64, 256] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            let mut cluster = HandCluster::elected(3, batch);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
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

criterion_group!(benches, propose_to_commit);
criterion_main!(benches);
