//! The simulator's client histories, checked for linearizability by `check::check_kv`
//! (an independent checker: it sees only what clients saw, not the logs). Every run with
//! faults must give a linearizable history, within a deterministic budget of states.

use pinraft_harness::args::parse_events;
use pinraft_harness::check::{check_kv, Budget, Verdict};
use pinraft_harness::sim::{self, SimConfig};

/// Explored states allowed per history; deterministic, unlike a time limit.
const STATES_MAX: u64 = 5_000_000;

#[test]
fn histories_under_faults_are_linearizable() {
    for seed in 0..30 {
        let cfg = SimConfig {
            seed,
            nodes: 5,
            duration_ns: 3_000_000_000,
            clients: 6,
            loss_ppm: 200_000,
            dup_ppm: 100_000,
            reorder_ppm: 100_000,
            workload: pinraft_harness::workload::WorkloadSpec {
                keys: 4,
                get_ppm: 500_000,
                value_size: 8,
            },
            events: parse_events("kill-follower@500ms,isolate-leader@1s,heal@2s").unwrap(),
            record_history: true,
            ..SimConfig::default()
        };
        let report = sim::run(&cfg).unwrap();
        assert!(report.passed(), "{}\n{}", report.reproduce, report.summary());
        let verdict = check_kv(&report.history, Budget::States(STATES_MAX));
        assert_eq!(verdict, Verdict::Linearizable, "{}", report.reproduce);
    }
}
