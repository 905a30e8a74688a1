//! Snapshots in the simulator (issue 11): nodes snapshot every few entries and compact
//! their logs; a follower cut off or crashed while the others go on catches up through an
//! `InstallSnapshot` sent in small chunks over a lossy network, and every invariant
//! (including "a snapshot holds committed state only") and linearizability hold, on
//! [`SEEDS`] seeds for 3 and 5 nodes.

use pinraft_engine::Config;
use pinraft_engine::NodeId;
use pinraft_harness::args::PPM;
use pinraft_harness::knobs::Knobs;
use pinraft_harness::sim::{End, SimConfig, SimReport, Simulator};

const SEEDS: u64 = 60;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn base(nodes: u64, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        nodes,
        duration_ns: 4 * S,
        clients: 6,
        loss_ppm: 100_000,
        engine: Knobs(Config {
            snapshot_entries_threshold: [5, 20, 60][seed as usize % 3],
            snapshot_chunk_bytes: [32, 200, 1 << 20][seed as usize % 3],
            ..Config::default()
        }),
        fsync_latency_ns: [0, 300_000][seed as usize % 2],
        crash_damage_ppm: PPM / 2,
        record_history: true,
        ..SimConfig::default()
    }
}

#[track_caller]
fn assert_sound(report: &SimReport, what: &str) {
    let context = format!("{what}\nreproduce: {}\n{}", report.reproduce, report.summary());
    assert!(report.violations.is_empty(), "violations in {context}");
    assert_eq!(report.linearizable, Some(true), "{context}");
    assert_eq!(report.end, End::Converged, "{context}");
    assert!(report.snapshots.taken > 0, "{context}");
}

/// A follower (not the leader at 500 ms) is taken out for 2 s by `out`, brought back by
/// `back`; returns the reports of every seed and size.
fn lagging_follower(
    out: impl Fn(&mut Simulator, NodeId),
    back: impl Fn(&mut Simulator, NodeId),
) -> Vec<SimReport> {
    let mut reports = Vec::new();
    for nodes in [3, 5] {
        for seed in 0..SEEDS {
            let mut sim = Simulator::new(&base(nodes, seed)).unwrap();
            sim.run_until(500 * MS);
            let leader = sim.stable_leader().unwrap_or(1);
            let follower = leader % nodes + 1;
            out(&mut sim, follower);
            sim.run_until(2_500 * MS);
            back(&mut sim, follower);
            sim.run_to_end();
            let report = sim.report();
            assert_sound(&report, &format!("{nodes} nodes, seed {seed}, follower {follower}"));
            reports.push(report);
        }
    }
    reports
}

// Section 7: a follower isolated while the others commit and compact catches up through
// the leader's snapshot.
#[test]
fn sec7_an_isolated_follower_catches_up_through_a_snapshot() {
    let reports = lagging_follower(|sim, f| sim.isolate(f), |sim, _| sim.heal());
    let installed: u64 = reports.iter().map(|r| r.snapshots.installed).sum();
    assert!(installed >= SEEDS, "most runs install a snapshot ({installed} installs)");
}

// Section 7 with crash and restart: a follower down while the others compact comes back
// from its own disk (its snapshot and the log after it) and catches up, through an
// installed snapshot when it is too far behind; a crash can fall in the middle of a
// transfer or of the fsync of a snapshot.
#[test]
fn sec7_a_crashed_follower_restarts_from_its_snapshot_and_catches_up() {
    let reports = lagging_follower(
        |sim, f| sim.crash(f),
        |sim, f| {
            sim.restart(f).expect("the follower was down");
        },
    );
    assert!(reports.iter().all(|r| r.restarts == 1));
    let installed: u64 = reports.iter().map(|r| r.snapshots.installed).sum();
    assert!(installed >= SEEDS, "most runs install a snapshot ({installed} installs)");
}

// Snapshots at random points, crashes anywhere: the leader is crashed and restarted twice
// while every node snapshots every few entries.
#[test]
fn sec7_leaders_crash_and_restart_while_everyone_snapshots() {
    for nodes in [3, 5] {
        for seed in 0..SEEDS {
            let mut sim = Simulator::new(&base(nodes, seed)).unwrap();
            for round in 0..2u64 {
                sim.run_until((600 + 1_200 * round) * MS);
                let leader = sim.stable_leader().unwrap_or(1);
                sim.crash(leader);
                sim.run_until((1_100 + 1_200 * round) * MS);
                sim.restart(leader).expect("the leader was down");
            }
            sim.run_to_end();
            let report = sim.report();
            assert_sound(&report, &format!("{nodes} nodes, seed {seed}"));
            assert_eq!(report.restarts, 2);
        }
    }
}
