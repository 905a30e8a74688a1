//! The invariant checkers must be able to fail: each test feeds one fabricated history that
//! breaks one property and expects exactly that violation, and a matching valid history
//! that must pass. A checker that cannot fail is a defect.

use bytes::Bytes;
use pinraft_engine::{
    ClientReply, ClientRequest, Entry, HardState, Index, Op, Outcome, Payload, Role, Term,
};
use pinraft_harness::sim::invariants::{Invariants, LogView};
use std::sync::Arc;

fn noop(index: Index, term: Term) -> Entry {
    Entry { term, index, payload: Payload::Noop }
}

fn request(index: Index, term: Term, client: u64, seq: u64, op: Op) -> Entry {
    Entry { term, index, payload: Payload::Request(Arc::new(ClientRequest { client, seq, op })) }
}

fn put(index: Index, term: Term, client: u64, seq: u64, value: &'static str) -> Entry {
    let op = Op::Put { key: Bytes::from_static(b"k"), value: Bytes::from_static(value.as_bytes()) };
    request(index, term, client, seq, op)
}

fn get(index: Index, term: Term, client: u64, seq: u64) -> Entry {
    request(index, term, client, seq, Op::Get { key: Bytes::from_static(b"k") })
}

fn ok(client: u64, seq: u64, value: Option<&'static str>) -> ClientReply {
    ClientReply {
        client,
        seq,
        outcome: Outcome::Ok(value.map(|v| Bytes::from_static(v.as_bytes()))),
    }
}

/// Asserts exactly one violation, naming `property`.
#[track_caller]
fn assert_one_violation(inv: &Invariants, property: &str) {
    let violations = inv.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].contains(property), "{violations:#?}");
    assert!(!inv.is_clean());
}

#[test]
fn election_safety_catches_two_leaders_in_one_term() {
    let log = [noop(1, 3)];
    let mut inv = Invariants::new();
    inv.observed(10, 1, Role::Leader, 3, &log[..]);
    inv.observed(20, 2, Role::Leader, 4, &log[..]);
    inv.observed(30, 1, Role::Leader, 3, &log[..]);
    assert!(inv.is_clean(), "one leader per term: {:?}", inv.violations());
    inv.observed(40, 3, Role::Leader, 3, &log[..]);
    assert_one_violation(&inv, "election safety");
    assert!(
        inv.violations()[0].starts_with("0.000000040s node 3"),
        "time and node: {:?}",
        inv.violations()
    );
}

#[test]
fn leader_append_only_catches_a_leader_that_truncates_or_rewrites() {
    let mut inv = Invariants::new();
    let log = [noop(1, 1), put(2, 1, 1, 1, "a")];
    inv.observed(10, 1, Role::Leader, 1, &log[..]);
    let longer = [noop(1, 1), put(2, 1, 1, 1, "a"), put(3, 1, 1, 2, "b")];
    inv.appended(20, 1, Role::Leader, 1, &longer[..], 3..4);
    inv.observed(20, 1, Role::Leader, 1, &longer[..]);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    let truncated = [noop(1, 1), put(2, 1, 1, 1, "a")];
    inv.observed(30, 1, Role::Leader, 1, &truncated[..]);
    assert_one_violation(&inv, "leader append-only");

    let mut inv = Invariants::new();
    inv.observed(10, 1, Role::Leader, 1, &log[..]);
    let rewritten = [noop(1, 1), put(2, 1, 2, 1, "z")];
    inv.appended(20, 1, Role::Leader, 1, &rewritten[..], 2..3);
    assert!(
        inv.violations().iter().any(|v| v.contains("leader append-only")),
        "{:?}",
        inv.violations()
    );
}

#[test]
fn log_matching_catches_different_entries_at_the_same_index_and_term() {
    let mut inv = Invariants::new();
    let a = [noop(1, 1), put(2, 2, 1, 1, "a")];
    let b = [noop(1, 1), put(2, 2, 1, 1, "a")];
    inv.appended(10, 1, Role::Leader, 2, &a[..], 1..3);
    inv.appended(20, 2, Role::Follower, 2, &b[..], 1..3);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    let c = [noop(1, 1), put(2, 2, 7, 7, "x")];
    inv.appended(30, 3, Role::Follower, 2, &c[..], 2..3);
    assert_one_violation(&inv, "log matching");
}

#[test]
fn log_matching_catches_equal_entries_with_different_prefixes() {
    let mut inv = Invariants::new();
    let a = [noop(1, 1), noop(2, 3)];
    let b = [noop(1, 2), noop(2, 3)];
    inv.appended(10, 1, Role::Follower, 3, &a[..], 2..3);
    inv.appended(20, 2, Role::Follower, 3, &b[..], 2..3);
    assert_one_violation(&inv, "log matching");
}

#[test]
fn leader_completeness_catches_a_new_leader_missing_a_committed_entry() {
    let mut inv = Invariants::new();
    let committed = [noop(1, 1), put(2, 1, 1, 1, "a")];
    inv.applied(10, 1, 1, &committed[..], 1..3);
    inv.observed(20, 2, Role::Leader, 2, &committed[..]);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    let lacking = [noop(1, 1), noop(2, 3)];
    inv.observed(30, 3, Role::Leader, 3, &lacking[..]);
    assert_one_violation(&inv, "leader completeness");
}

#[test]
fn state_machine_safety_catches_a_conflicting_applied_entry() {
    let mut inv = Invariants::new();
    let first = [noop(1, 1), put(2, 1, 1, 1, "a")];
    inv.applied(10, 1, 1, &first[..], 1..3);
    inv.applied(20, 2, 1, &first[..], 1..2);
    inv.applied(30, 2, 1, &first[..], 2..3);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    let other = [noop(1, 1), put(2, 1, 9, 9, "z")];
    inv.applied(40, 3, 1, &other[..], 1..3);
    assert_one_violation(&inv, "state machine safety");
}

#[test]
fn state_machine_safety_catches_applying_out_of_order() {
    let mut inv = Invariants::new();
    let log = [noop(1, 1), put(2, 1, 1, 1, "a"), put(3, 1, 1, 2, "b")];
    inv.applied(10, 1, 1, &log[..], 1..2);
    inv.applied(20, 1, 1, &log[..], 3..4);
    assert!(!inv.is_clean());
    assert!(
        inv.violations().iter().all(|v| v.contains("state machine safety")),
        "{:?}",
        inv.violations()
    );
}

#[test]
fn linearizable_replies_catch_a_stale_get_and_an_uncommitted_ok() {
    let mut inv = Invariants::new();
    let log =
        [noop(1, 1), put(2, 1, 1, 1, "a"), get(3, 1, 2, 1), put(4, 1, 1, 2, "b"), get(5, 1, 2, 2)];
    inv.applied(10, 1, 1, &log[..], 1..6);
    inv.replied(10, 1, &ok(1, 1, None));
    inv.replied(10, 1, &ok(2, 1, Some("a")));
    inv.replied(10, 1, &ok(2, 2, Some("b")));
    inv.replied(10, 1, &ClientReply { client: 3, seq: 1, outcome: Outcome::Fail });
    assert!(inv.is_clean(), "{:?}", inv.violations());
    assert_eq!(inv.ops_committed(), 4);

    inv.replied(20, 1, &ok(2, 2, Some("a")));
    assert_one_violation(&inv, "linearizable reply");

    let mut inv = Invariants::new();
    inv.replied(20, 1, &ok(5, 5, None));
    assert_one_violation(&inv, "never committed");
}

#[test]
fn a_retry_committed_twice_applies_once() {
    let mut inv = Invariants::new();
    let log = [
        put(1, 1, 1, 1, "a"),
        put(2, 1, 2, 1, "b"),
        put(3, 2, 1, 1, "a"), // client 1's retry, committed again: not applied again
        get(4, 2, 3, 1),
    ];
    inv.applied(10, 1, 2, &log[..], 1..5);
    inv.replied(10, 1, &ok(3, 1, Some("b")));
    assert!(inv.is_clean(), "{:?}", inv.violations());
    assert_eq!((inv.ops_committed(), inv.entries_committed()), (3, 4));
}

fn hs(term: Term, vote: u64) -> HardState {
    HardState { term, vote }
}

#[test]
fn durable_hard_state_catches_a_restart_behind_what_the_node_acted_on() {
    for (restarted, ok) in [
        (hs(3, 2), true),
        (hs(4, 0), true),
        (hs(2, 2), false),
        (hs(3, 0), false),
        (hs(3, 1), false),
    ] {
        let mut inv = Invariants::new();
        inv.released(1, hs(1, 1));
        inv.released(1, hs(3, 2));
        inv.restarted(10, 1, restarted, 1);
        if ok {
            assert!(inv.is_clean(), "{restarted:?}: {:?}", inv.violations());
        } else {
            assert_one_violation(&inv, "durable hard state");
        }
    }
    // A vote not yet cast may be cast after the restart.
    let mut inv = Invariants::new();
    inv.released(2, hs(5, 0));
    inv.restarted(10, 2, hs(5, 3), 1);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    // A node that never acted may restart with anything.
    inv.restarted(10, 3, hs(0, 0), 1);
    assert!(inv.is_clean(), "{:?}", inv.violations());
}

#[test]
fn committed_entries_survive_catches_a_crash_that_leaves_a_minority_holding_one() {
    let mut inv = Invariants::new();
    let full = vec![noop(1, 1), put(2, 1, 1, 1, "a")];
    inv.applied(10, 1, 1, &full[..], 1..3);
    let short = vec![noop(1, 1)];
    let other = vec![noop(1, 1), put(2, 2, 7, 7, "z")];
    let logs: [&dyn LogView; 3] = [&full, &full, &short];
    inv.durability(20, 3, &logs);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    let logs: [&dyn LogView; 3] = [&full, &other, &short];
    inv.durability(30, 2, &logs);
    assert_one_violation(&inv, "committed entries survive");
    assert!(inv.violations()[0].contains("index 2"), "{:?}", inv.violations());
}

#[test]
fn a_restarted_node_applies_from_index_1_again_and_must_apply_the_same_entries() {
    let log = [noop(1, 1), put(2, 1, 1, 1, "a"), put(3, 1, 1, 2, "b")];
    let mut inv = Invariants::new();
    inv.applied(10, 1, 1, &log[..], 1..4);
    inv.restarted(20, 1, hs(1, 1), 1);
    inv.applied(30, 1, 2, &log[..], 1..3);
    inv.applied(40, 1, 2, &log[..], 3..4);
    assert!(inv.is_clean(), "{:?}", inv.violations());
    assert_eq!(inv.ops_committed(), 2, "a re-applied entry is not committed twice");

    // Without a restart, applying from 1 again is out of order.
    inv.applied(50, 2, 2, &log[..], 1..2);
    inv.applied(60, 2, 2, &log[..], 1..2);
    assert_one_violation(&inv, "state machine safety");

    // After a restart, a different entry at an applied index is still a violation.
    let mut inv = Invariants::new();
    inv.applied(10, 1, 1, &log[..], 1..4);
    inv.restarted(20, 1, hs(1, 1), 1);
    let other = [noop(1, 1), put(2, 1, 9, 9, "z")];
    inv.applied(30, 1, 2, &other[..], 1..3);
    assert_one_violation(&inv, "state machine safety");
}

#[test]
fn a_failed_restart_is_a_violation() {
    let mut inv = Invariants::new();
    inv.restart_failed(10, 2, "cannot restart: its disk: corrupt".to_string());
    assert_one_violation(&inv, "durable state");
}

#[test]
fn forgetting_a_node_forgets_what_it_acted_on() {
    let mut inv = Invariants::new();
    inv.released(1, hs(5, 1));
    inv.forget(1);
    inv.restarted(10, 1, hs(0, 0), 1);
    assert!(inv.is_clean(), "{:?}", inv.violations());
}

#[test]
fn violations_are_bounded() {
    let mut inv = Invariants::new();
    let log = [noop(1, 1)];
    for node in 1..=500 {
        inv.observed(node, node, Role::Leader, 1, &log[..]);
    }
    let violations = inv.violations();
    assert_eq!(violations.len(), pinraft_harness::sim::invariants::VIOLATIONS_MAX + 1);
    assert_eq!(violations.last().unwrap(), "... and 399 more");
}

/// End to end: nodes that restart with nothing (no term, vote or log: what Raft's durable
/// state exists to prevent) break safety, and the simulator's checkers must say so. The
/// run stops at the first violation.
#[test]
fn the_simulator_catches_nodes_that_forget_their_state() {
    use pinraft_harness::sim::{End, SimConfig, Simulator};
    use rand::{Rng, SeedableRng};
    let mut caught = 0;
    for seed in 0..40 {
        let run = std::panic::catch_unwind(|| {
            let cfg = SimConfig {
                seed,
                duration_ns: 3_000_000_000,
                clients: 4,
                loss_ppm: 100_000,
                ..SimConfig::default()
            };
            let mut sim = Simulator::new(&cfg).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut at_ns = 200_000_000;
            while at_ns < cfg.duration_ns && sim.end() == End::Running {
                sim.run_until(at_ns);
                sim.restart_with_amnesia(rng.gen_range(1..=cfg.nodes));
                at_ns += rng.gen_range(50_000_000..400_000_000);
            }
            sim.run_to_end();
            (sim.end(), sim.report())
        });
        // The engine's own assertions may fire first on such impossible states; that is
        // fine here, the point is what the checkers see.
        let Ok((end, report)) = run else { continue };
        if !report.violations.is_empty() {
            assert_eq!(end, End::Violation);
            caught += 1;
        }
    }
    assert!(caught >= 20, "only {caught} of 40 forgetful runs were caught");
}
