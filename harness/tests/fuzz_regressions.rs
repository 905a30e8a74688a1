//! Every failure `pinraft fuzz` found, as a named test with the exact case that showed it.
//! Cases are spelled out field by field (not derived from a seed), so they survive changes
//! to the generator in `sim::fuzz`. One is an engine bug (fixed by reverting the change
//! that caused it), one a liveness limit of randomized elections, one a budget of the
//! history checker.

use pinraft_engine::{Config, ResendPolicy};
use pinraft_harness::knobs::Knobs;
use pinraft_harness::sim::{
    run_case, End, Fault, FaultSet, FuzzCase, ScheduledFault, Shape, SimConfig,
    FUZZ_QUIET_ELECTION_TIMEOUTS, SPREAD_DELAYS_MIN,
};
use pinraft_harness::storage::SyncPolicy;
use pinraft_harness::workload::WorkloadSpec;

const MS: u64 = 1_000_000;

/// Seed 1914 of the first generator (`pinraft fuzz --seeds 1 --from 1914 --faults all`
/// before the spread rule): 4 nodes, delays of 3-40 ms, an election timeout of
/// 217-267.8 ms (a spread of 51 ms, barely above the largest delay), partial partitions,
/// a crashed follower and a deaf node. No leader was ever elected: 26 rounds in the quiet
/// phase alone, every one a split vote, because the 3 live nodes of 4 must all vote for
/// one candidate and, with a spread that narrow, two of them time out within one delay
/// of each other (a voter resets its timer when it grants, which keeps the candidates
/// in step). Raft promises timely elections only when the spread dwarfs the delay
/// (section 5.2; in 300 seeds of this cluster, 7.5 campaigns on average before a leader,
/// against 2.6 with a 120 ms spread). Not an engine bug: the generator now keeps the
/// spread at least `SPREAD_DELAYS_MIN` maximal delays, and this test pins both halves.
fn seed_1914(election_timeout_max_ns: u64) -> FuzzCase {
    let at = |at_ns: u64, shape: Shape| ScheduledFault { at_ns, fault: Fault::Apply(shape) };
    FuzzCase {
        seed: 1914,
        faults: FaultSet::All,
        config: SimConfig {
            seed: 1914,
            nodes: 4,
            loss_ppm: 26_844,
            dup_ppm: 89_447,
            reorder_ppm: 56_049,
            delay_min_ns: 3 * MS,
            delay_max_ns: 40 * MS,
            duration_ns: 1_022 * MS,
            quiet_ns: FUZZ_QUIET_ELECTION_TIMEOUTS * election_timeout_max_ns,
            clients: 12,
            workload: WorkloadSpec { keys: 2, get_ppm: 100_049, value_size: 8 },
            client_timeout_ns: 374_476_298,
            events: Vec::new(),
            engine: Knobs(Config {
                election_timeout_min_ns: 217 * MS,
                election_timeout_max_ns,
                heartbeat_interval_ns: 18_370_197,
                resend_threshold_ns: 22 * MS,
                batch_entries_max: 2,
                inflight_batches_max: 6,
                snapshot_entries_threshold: 0,
                snapshot_chunk_bytes: 1 << 20,
                resend_policy: ResendPolicy::Fixed,
                ..Config::default()
            }),
            fsync: SyncPolicy::Always,
            fsync_latency_ns: 0,
            crash_damage_ppm: 0,
            record_history: false,
            record_trace: false,
        },
        schedule: vec![
            at(374_834_065, Shape::Partial),
            at(782_174_422, Shape::Partial),
            at(936_517_918, Shape::CrashFollower),
            at(948_711_811, Shape::DeafNode),
        ],
        choice_seed: 2_156_664_263_918_477_594,
    }
}

#[test]
fn seed_1914_split_votes_for_every_round_when_the_timeout_spread_is_near_the_delay() {
    let run = run_case(&seed_1914(267_846_759)).unwrap();
    let r = &run.report;
    assert!(r.violations.is_empty(), "{}", r.summary());
    assert_eq!(r.end, End::QuietTimeUp, "{}", r.summary());
    assert!(r.liveness_failure && r.leaders_elected == 0, "{}", r.summary());
    assert!(r.elections >= 60, "{}", r.summary());

    // The same run with the spread the generator now guarantees converges.
    let wide = 217 * MS + SPREAD_DELAYS_MIN * 40 * MS;
    let run = run_case(&seed_1914(wide)).unwrap();
    assert!(run.report.passed(), "{}", run.report.summary());
    assert_eq!(run.report.linearizable, Some(true));
}

/// Seed 9929 of an earlier generator (no fault shapes, so `pinraft sim` replays it too:
/// `pinraft sim --seed 9929 --nodes 7 --duration 1835ms --quiet 7640ms --clients 12
/// --loss 27.2103% --dup 28.0399% --reorder 28.2255% --delay 0ns-1ms --keys 1
/// --mix 29.6022% --value-size 8 --client-timeout 692ms --election-timeout 266ms-382ms
/// --heartbeat 76ms --resend-policy fixed --resend 4ms --batch 64 --inflight 1`, trace hash b8272b8087e3ab73).
/// Twelve clients on one key with sub-millisecond delays commit 3,190 operations in 1.8 s;
/// the run is clean, but the history check needs between 2 and 8 million explored states
/// (decided linearizable at 8 million, about 10 s) and the simulator's budget is
/// `CHECK_STATES_MAX` = 2 million: `linearizable: unknown`. A checker budget, not an engine
/// bug; the campaign counts it as unknown, never as a pass.
#[test]
#[ignore = "checker budget: this history needs 2-8 million explored states, the budget is 2"]
fn seed_9929_a_hot_key_history_is_decided_within_the_check_budget() {
    let cfg = SimConfig {
        seed: 9929,
        nodes: 7,
        duration_ns: 1_835 * MS,
        quiet_ns: 7_640 * MS,
        clients: 12,
        loss_ppm: 272_103,
        dup_ppm: 280_399,
        reorder_ppm: 282_255,
        delay_min_ns: 0,
        delay_max_ns: MS,
        workload: WorkloadSpec { keys: 1, get_ppm: 296_022, value_size: 8 },
        client_timeout_ns: 692 * MS,
        engine: Knobs(Config {
            election_timeout_min_ns: 266 * MS,
            election_timeout_max_ns: 382 * MS,
            heartbeat_interval_ns: 76 * MS,
            resend_threshold_ns: 4 * MS,
            batch_entries_max: 64,
            inflight_batches_max: 1,
            resend_policy: ResendPolicy::Fixed,
            ..Config::default()
        }),
        ..SimConfig::default()
    };
    let report = pinraft_harness::sim::run(&cfg).unwrap();
    assert!(report.violations.is_empty() && !report.liveness_failure, "{}", report.summary());
    assert_eq!(report.trace_hash, "b8272b8087e3ab73", "the same run as the campaign's");
    assert_eq!(report.linearizable, Some(true), "{}", report.summary());
}

/// Engine bug (fixed by reverting it), found by `pinraft fuzz` right after commit b5db4b5 ("a leader whose pending
/// requests see no commit for an election timeout steps down"): 168 of seeds 0..20000
/// (`--faults all`) never converge, every one with appends of one entry per round trip
/// (`batch 1, inflight 1`); before that commit all 200,000 seeds of the long campaign did.
/// Replay: `pinraft fuzz --seeds 1 --from 15 --faults all`, or with no fault shape at all,
/// `pinraft sim --seed 13727 --nodes 6 --duration 3398ms --quiet 4780ms --clients 7
/// --loss 25.6959% --dup 0.1852% --reorder 15.2093% --delay 0ns-40ms --keys 8
/// --mix 37.073% --value-size 8 --client-timeout 305ms --election-timeout 119ms-239ms
/// --heartbeat 17ms --resend 61ms --batch 1 --inflight 1` (exit 1, 12 leaders, nothing
/// committed in the quiet phase).
///
/// Minimal form, below: 3 nodes, one entry per append, delays of 20-40 ms. Follower B is
/// cut off for 2 s while the leader commits with C; then B returns and C crashes. The
/// leader now needs B, which lacks about 30 entries and receives one per round trip
/// (~60 ms): two seconds of catch-up. But its pending requests see no commit for one
/// maximal election timeout (300 ms), so it steps down; it is elected again (B's log is
/// behind, B cannot win), appends a new no-op and the clients' retries, probes B again,
/// and steps down again: the log grows faster than B catches up and nothing commits ever
/// again (8-10 leaders, quiet phase of 6 s, all 10 seeds; before b5db4b5: 2 leaders,
/// converged, all 10 seeds). The stall rule cannot tell a leader cut off from a majority
/// from one that hears its followers every round trip but is still bringing one up to
/// date. A rule with the same intent that keeps this live: step down when no majority has
/// *answered* within an election timeout (check-quorum), not when nothing *committed*.
#[test]
fn a_leader_catching_up_a_follower_one_entry_per_round_trip_keeps_leading() {
    use pinraft_harness::sim::Simulator;
    for seed in 0..10 {
        let cfg = SimConfig {
            seed,
            nodes: 3,
            duration_ns: 4_000 * MS,
            clients: 8,
            engine: Knobs(Config {
                batch_entries_max: 1,
                inflight_batches_max: 1,
                resend_policy: ResendPolicy::Fixed,
                ..Config::default()
            }),
            delay_min_ns: 20 * MS,
            delay_max_ns: 40 * MS,
            ..SimConfig::default()
        };
        let mut sim = Simulator::new(&cfg).unwrap();
        sim.run_until(500 * MS);
        let leader = sim.stable_leader().expect("a leader after 500 ms without faults");
        let (b, c) = (leader % 3 + 1, (leader + 1) % 3 + 1);
        sim.isolate(b);
        sim.run_until(2_500 * MS);
        sim.heal();
        sim.crash(c);
        sim.run_to_end();
        let report = sim.report();
        let what = format!("seed {seed}: isolate {b} 0.5-2.5 s, then crash {c}");
        assert!(report.violations.is_empty(), "{what}\n{}", report.summary());
        assert!(report.passed(), "{what}: livelock\n{}", report.summary());
    }
    let run = run_case(&seed_15()).unwrap();
    assert!(run.report.passed(), "campaign seed 15\n{}", run.report.summary());
}

/// Campaign seed 15 (`pinraft fuzz --seeds 1 --from 15 --faults all`), spelled out.
fn seed_15() -> FuzzCase {
    FuzzCase {
        seed: 15,
        faults: FaultSet::All,
        config: SimConfig {
            seed: 15,
            nodes: 4,
            loss_ppm: 11_726,
            dup_ppm: 209_343,
            reorder_ppm: 180_842,
            delay_min_ns: 5 * MS,
            delay_max_ns: 49 * MS,
            duration_ns: 3_759 * MS,
            quiet_ns: 9_400 * MS,
            clients: 12,
            workload: WorkloadSpec { keys: 2, get_ppm: 484_993, value_size: 8 },
            client_timeout_ns: 660 * MS,
            events: Vec::new(),
            engine: Knobs(Config {
                election_timeout_min_ns: 237 * MS,
                election_timeout_max_ns: 470 * MS,
                heartbeat_interval_ns: 73 * MS,
                resend_threshold_ns: 17 * MS,
                batch_entries_max: 1,
                inflight_batches_max: 1,
                snapshot_entries_threshold: 0,
                snapshot_chunk_bytes: 1 << 20,
                resend_policy: ResendPolicy::Fixed,
                ..Config::default()
            }),
            fsync: SyncPolicy::Always,
            fsync_latency_ns: 0,
            crash_damage_ppm: 0,
            record_history: false,
            record_trace: false,
        },
        schedule: vec![ScheduledFault { at_ns: 551 * MS, fault: Fault::Apply(Shape::IsolateNode) }],
        choice_seed: 14_710_877_894_808_583_459,
    }
}
