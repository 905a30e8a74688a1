//! Scenario tests of the deterministic simulator (issue 3). Each scenario runs on at least
//! [`SEEDS`] seeds, on 3, 5 and 7 nodes where the scenario allows it, and asserts that no
//! invariant broke, that requests committed, and that after the quiet phase nothing is
//! unanswered and a leader is in charge. A failure message carries the `pinraft sim`
//! command that replays the run (for scenarios driven by hand: the seed and the steps).
//!
//! Virtual time keeps them fast: a 3 s fault phase takes a few milliseconds of real time.

use pinraft_engine::Config;
use pinraft_engine::{NodeId, Role};
use pinraft_harness::args::{parse_events, PPM};
use pinraft_harness::knobs::Knobs;
use pinraft_harness::sim::{self, End, SimConfig, SimReport, Simulator};

/// Seeds per scenario.
const SEEDS: u64 = 100;
const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// A short fault phase with a few clients and a mixed workload.
fn base(nodes: u64, seed: u64) -> SimConfig {
    SimConfig { seed, nodes, duration_ns: 3 * S, clients: 4, ..SimConfig::default() }
}

fn with_events(mut cfg: SimConfig, events: &str) -> SimConfig {
    cfg.events = parse_events(events).unwrap();
    cfg
}

#[track_caller]
fn assert_converged(report: &SimReport, what: &str) {
    let context = format!("{what}\nreproduce: {}\n{}", report.reproduce, report.summary());
    assert!(report.violations.is_empty(), "violations in {context}");
    assert!(!report.liveness_failure, "liveness failure in {context}");
    assert_eq!(report.requests.unanswered, 0, "unanswered in {context}");
    assert!(report.ops_committed > 0, "nothing committed in {context}");
    assert!(report.leader != 0, "no leader at the end of {context}");
}

/// Runs `make(nodes, seed)` for every seed and size and checks each run converged.
fn every_seed(sizes: &[u64], make: impl Fn(u64, u64) -> SimConfig) -> Vec<SimReport> {
    let mut reports = Vec::new();
    for &nodes in sizes {
        for seed in 0..SEEDS {
            let report = sim::run(&make(nodes, seed)).unwrap();
            assert_converged(&report, &format!("{nodes} nodes, seed {seed}"));
            reports.push(report);
        }
    }
    reports
}

#[test]
fn no_faults_on_3_5_and_7_nodes() {
    let reports = every_seed(&[3, 5, 7], base);
    for r in &reports {
        assert_eq!(r.requests.timeout, 0, "no timeouts without faults: {}", r.reproduce);
        assert_eq!(r.messages.dropped, 0, "{}", r.reproduce);
    }
}

#[test]
fn a_leader_kill() {
    let reports = every_seed(&[3, 5, 7], |n, seed| with_events(base(n, seed), "kill-leader@1s"));
    for r in &reports {
        assert_eq!(r.crashed.len(), 1, "{}: {:?}", r.reproduce, r.events_applied);
        assert!(r.leaders_elected >= 2, "a new leader after the kill: {}", r.reproduce);
        assert!(!r.crashed.contains(&r.leader));
    }
}

#[test]
fn a_follower_kill() {
    let reports = every_seed(&[3, 5, 7], |n, seed| with_events(base(n, seed), "kill-follower@1s"));
    for r in &reports {
        assert_eq!(r.crashed.len(), 1, "{}", r.reproduce);
    }
}

#[test]
fn two_kills_on_5_and_7_nodes() {
    every_seed(&[5, 7], |n, seed| with_events(base(n, seed), "kill-leader@1s,kill-follower@2s"));
}

#[test]
fn the_leader_isolated_in_a_minority_then_healed() {
    every_seed(&[3, 5, 7], |n, seed| with_events(base(n, seed), "isolate-leader@1s,heal@2s"));
}

#[test]
fn a_split_with_the_leader_in_the_minority_then_healed() {
    every_seed(&[3, 5, 7], |n, seed| with_events(base(n, seed), "split@1s,heal@2s"));
}

#[test]
fn a_partition_left_for_the_quiet_phase_to_heal() {
    every_seed(&[5], |n, seed| with_events(base(n, seed), "split@1s,isolate:1@2s"));
}

#[test]
fn forty_percent_loss() {
    let reports =
        every_seed(&[3, 5, 7], |n, seed| SimConfig { loss_ppm: 400_000, ..base(n, seed) });
    for r in &reports {
        let lost = r.batches.dropped as f64 / r.batches.sent as f64;
        assert!(lost > 0.1, "loss applies per packet: {lost} in {}", r.reproduce);
    }
}

#[test]
fn duplication_reordering_and_wide_delays() {
    every_seed(&[3, 5], |n, seed| SimConfig {
        loss_ppm: 100_000,
        dup_ppm: 200_000,
        reorder_ppm: 200_000,
        delay_min_ns: 0,
        delay_max_ns: 30 * MS,
        ..base(n, seed)
    });
}

#[test]
fn pipelined_small_batches_under_loss() {
    every_seed(&[3, 5], |n, seed| SimConfig {
        loss_ppm: 200_000,
        engine: Knobs(Config {
            batch_entries_max: 2,
            inflight_batches_max: 4,
            ..Config::default()
        }),
        ..base(n, seed)
    });
}

/// Steps `sim` to the end, crashing the first node seen as a candidate after `after_ns`
/// (at most `crashes` of them). Returns the nodes crashed.
fn crash_candidates(sim: &mut Simulator, nodes: u64, after_ns: u64, crashes: usize) -> Vec<NodeId> {
    let mut crashed = Vec::new();
    while sim.step() {
        if crashed.len() == crashes || sim.now_ns() < after_ns || sim.is_quiet() {
            continue;
        }
        let candidate =
            (1..=nodes).find(|&id| !sim.is_crashed(id) && sim.node(id).role() == Role::Candidate);
        if let Some(id) = candidate {
            sim.crash(id);
            crashed.push(id);
        }
    }
    crashed
}

#[test]
fn a_candidate_crashing_mid_election() {
    for nodes in [3, 5, 7] {
        for seed in 0..SEEDS {
            let mut sim = Simulator::new(&base(nodes, seed)).unwrap();
            let crashed = crash_candidates(&mut sim, nodes, 0, 1);
            let report = sim.report();
            let what =
                format!("{nodes} nodes, seed {seed}: crash the first candidate ({crashed:?})");
            assert_eq!(crashed.len(), 1, "{what}");
            assert_converged(&report, &what);
            assert_ne!(sim.end(), End::EventBudget);
        }
    }
}

#[test]
fn a_candidate_crashing_in_the_election_after_a_leader_kill() {
    for nodes in [5, 7] {
        for seed in 0..SEEDS {
            let mut sim =
                Simulator::new(&with_events(base(nodes, seed), "kill-leader@1s")).unwrap();
            let crashed = crash_candidates(&mut sim, nodes, S, 1);
            let report = sim.report();
            let what = format!(
                "{nodes} nodes, seed {seed}: kill-leader@1s, crash the next candidate {crashed:?}"
            );
            assert_eq!(crashed.len(), 1, "{what}");
            assert_eq!(report.crashed.len(), 2, "{what}");
            assert_converged(&report, &what);
        }
    }
}

#[test]
fn an_asymmetric_one_way_link_cut() {
    for nodes in [3, 5] {
        for seed in 0..SEEDS {
            let mut sim = Simulator::new(&base(nodes, seed)).unwrap();
            sim.run_until(S);
            let leader = sim.current_leader().expect("a leader after 1 s without faults");
            let follower = leader % nodes + 1;
            // The leader still hears the follower, but the follower no longer hears the leader:
            // it times out, campaigns with a higher term, and deposes the leader.
            sim.cut_link(leader, follower);
            sim.run_to_end();
            let report = sim.report();
            let what = format!("{nodes} nodes, seed {seed}: cut {leader}->{follower} at 1s");
            assert_converged(&report, &what);
            assert!(report.elections >= 2, "{what}");
        }
    }
}

#[test]
fn one_node_and_two_nodes() {
    every_seed(&[1, 2], base);
}

#[test]
fn a_long_default_run() {
    let report =
        sim::run(&SimConfig { seed: 42, loss_ppm: PPM / 10, ..SimConfig::default() }).unwrap();
    assert_converged(&report, "defaults with 10% loss");
    assert!(report.ops_committed > 1_000, "{}", report.summary());
}

/// Issue 17: heavy loss for the whole fault phase, with either resend policy, stop and wait
/// or a pipeline of four, on 3 and 5 nodes: no violation, the history linearizable, and
/// everything answered by a leader after the quiet phase. Gaps in the pipeline were repaired
/// at once under the adaptive policy, and never under the fixed one.
#[test]
fn lossy_links_converge_with_either_resend_policy() {
    use pinraft_engine::ResendPolicy;
    for loss_ppm in [100_000, 250_000, 400_000] {
        for policy in ResendPolicy::ALL {
            for inflight in [1, 4] {
                let mut fast_retransmits = 0;
                for nodes in [3, 5] {
                    for seed in 0..10 {
                        let cfg = SimConfig {
                            loss_ppm,
                            record_history: true,
                            engine: Knobs(Config {
                                resend_policy: policy,
                                inflight_batches_max: inflight,
                                batch_entries_max: 8,
                                resend_threshold_ns: 10 * MS,
                                ..Config::default()
                            }),
                            ..base(nodes, seed)
                        };
                        let report = sim::run(&cfg).unwrap();
                        let what = format!("{} {}", policy.name(), report.reproduce);
                        assert_converged(&report, &what);
                        assert_eq!(report.linearizable, Some(true), "{what}");
                        fast_retransmits += report.messages.fast_retransmits;
                    }
                }
                let repairs = policy == ResendPolicy::Adaptive && inflight > 1;
                assert_eq!(
                    fast_retransmits > 0,
                    repairs,
                    "{} at {loss_ppm} ppm, inflight {inflight}: {fast_retransmits} fast retransmits",
                    policy.name()
                );
            }
        }
    }
}
