//! The adaptive resend policy (the engine's own rule, beside the paper's "the leader retries
//! AppendEntries RPCs indefinitely", section 5.3): per follower, a resend timeout from the
//! measured round trip (Jacobson/Karels, Karn's rule), a back-off (one doubling) on repeated
//! loss between a floor and a ceiling, and fast retransmit of a gap inside a pipeline.

use super::*;

const US: u64 = 1_000;

/// `config(1, n)` with the adaptive policy: ceiling 20 ms (the first wait), floor 200 us;
/// heartbeats every 50 ms, out of the way of the resends.
fn adaptive(n: u64) -> Config {
    Config {
        resend_policy: ResendPolicy::Adaptive,
        resend_min_ns: 200 * US,
        heartbeat_interval_ns: 50 * MS,
        ..config(1, n)
    }
}

/// Node 1 of 3 elected at 300 ms, its no-op acknowledged by both followers `rtt_ns` after
/// it went: each follower's estimate starts from that one sample.
fn leader_measuring(cfg: Config, rtt_ns: u64) -> Node {
    let mut l = Node::new(cfg).unwrap();
    l.tick(300 * MS);
    l.step(2, vote(1, true));
    l.step(3, vote(1, true));
    flush(&mut l);
    flush(&mut l);
    l.tick(300 * MS + rtt_ns);
    l.step(2, matched(1, 1));
    l.step(3, matched(1, 1));
    flush(&mut l);
    assert_eq!((l.role(), l.commit_index()), (Role::Leader, 1));
    l
}

// Samples, Karn's rule, back-off and reset: a 1 ms round trip gives a 3 ms timeout (RFC
// 6298: SRTT + 4 RTTVAR = 1 + 4 x 0.5); a batch lost to follower 3 goes again after it, then
// after 6 ms twice (one doubling at most); the ack of the resent batch, 16 ms after the
// first copy left, is no sample (it may answer either copy) but ends the back-off: the next
// loss waits 3 ms again.
#[test]
fn resend_adaptive_timeout_follows_the_round_trip_and_backs_off_on_repeated_loss() {
    let mut l = leader_measuring(adaptive(3), 1_000 * US);
    let t0 = 301 * MS;
    assert_eq!(l.next_deadline_ns(), 350 * MS, "nothing in flight: the next heartbeat");
    let a = put(7, 1, "a", "1");
    l.propose(a.clone());
    let first = append(1, (1, 1), vec![entry(1, 2, a.clone())], 1);
    let want = Ready {
        entries: 2..3,
        messages: vec![batch(1, 2, vec![first.clone()]), batch(1, 3, vec![first.clone()])],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want, "the batch to 3 is lost");
    l.tick(t0 + 1_000 * US);
    l.step(2, matched(1, 2));
    let want = Ready { committed: 2..3, replies: vec![ok(7, 1, None)], ..idle(2, 1) };
    assert_eq!(take(&mut l), want);
    assert_eq!(l.next_deadline_ns(), t0 + 3_000 * US, "follower 3 waits 3 ms, not 20");
    let again = append(1, (1, 1), vec![entry(1, 2, a.clone())], 2);
    let resend_to_3 = Ready { messages: vec![batch(1, 3, vec![again])], ..idle(2, 2) };
    let expect_at = |l: &mut Node, at_ns: u64, want: &Ready, what: &str| {
        l.tick(at_ns - 1);
        assert_eq!(take(l), idle(2, 2), "{what}: not yet");
        l.tick(at_ns);
        assert_eq!(take(l), *want, "{what}");
    };
    expect_at(&mut l, t0 + 3 * MS, &resend_to_3, "after 3 ms");
    expect_at(&mut l, t0 + 9 * MS, &resend_to_3, "after 6 ms more");
    expect_at(&mut l, t0 + 15 * MS, &resend_to_3, "after 6 ms more again");
    assert_eq!(l.stats().batches_resent, 3);
    l.tick(t0 + 16 * MS);
    l.step(3, matched(1, 2));
    assert_eq!(take(&mut l), idle(2, 2));
    let b = put(7, 2, "b", "2");
    l.propose(b.clone());
    let second = append(1, (2, 1), vec![entry(1, 3, b)], 2);
    let want = Ready {
        entries: 3..4,
        messages: vec![batch(1, 2, vec![second.clone()]), batch(1, 3, vec![second])],
        ..idle(2, 2)
    };
    assert_eq!(take(&mut l), want, "the batch to 3 is lost");
    l.step(2, matched(1, 3));
    let want = Ready { committed: 3..4, replies: vec![ok(7, 2, None)], ..idle(3, 2) };
    assert_eq!(take(&mut l), want);
    assert_eq!(
        l.next_deadline_ns(),
        t0 + 19 * MS,
        "3 ms: Karn's rule took no sample from the 16 ms ack, which ended the back-off"
    );
}

// The timeout lives between the floor and the ceiling: before any sample it is the ceiling
// (20 ms), and a doubling on repeated loss stops at it; after a round trip of 0 it is the
// floor (200 us), doubled once on repeated loss.
#[test]
fn resend_adaptive_timeout_stays_between_the_floor_and_the_ceiling() {
    let mut fresh = elect(Node::new(adaptive(3)).unwrap());
    assert_eq!(
        fresh.next_deadline_ns(),
        350 * MS,
        "elect() acknowledged at once: both estimates start at 0"
    );
    fresh.propose(put(7, 1, "k", "v"));
    flush(&mut fresh);
    assert_eq!(fresh.next_deadline_ns(), 300 * MS + 200 * US, "the floor");
    let mut waits = Vec::new();
    let mut at = 300 * MS;
    for _ in 0..10 {
        let due = fresh.next_deadline_ns();
        waits.push((due - at) / US);
        at = due;
        fresh.tick(due);
        assert_eq!(take(&mut fresh).messages.len(), 2, "a resend to each follower");
    }
    assert_eq!(waits, [200, 400, 400, 400, 400, 400, 400, 400, 400, 400]);

    let mut unmeasured = Node::new(adaptive(3)).unwrap();
    unmeasured.tick(300 * MS);
    unmeasured.step(2, vote(1, true));
    unmeasured.step(3, vote(1, true));
    flush(&mut unmeasured);
    assert_eq!(unmeasured.next_deadline_ns(), 320 * MS, "no sample yet: the 20 ms ceiling");
    unmeasured.propose(put(7, 1, "k", "v"));
    flush(&mut unmeasured);
    unmeasured.tick(320 * MS);
    assert_eq!(take(&mut unmeasured).messages.len(), 2, "a resend to each follower");
    assert_eq!(unmeasured.next_deadline_ns(), 340 * MS, "doubled, but not past the ceiling");
}

// Fast retransmit: with four batches allowed in flight, the first batch to follower 3 is
// lost. The follower answers each later batch at once with what it has (a conflict naming
// its end); the first answer makes the leader resend from the follower's end, at once and
// with the whole pipeline, without waiting for the timeout; the second, a report of the
// same gap, changes nothing.
#[test]
fn resend_fast_retransmit_repairs_a_gap_in_the_pipeline_at_once() {
    let cfg = Config { inflight_batches_max: 4, batch_entries_max: 2, ..adaptive(3) };
    let mut l = leader_measuring(cfg.clone(), 1_000 * US);
    let mut f = node(3, 3);
    f.step(1, append(1, (0, 0), vec![noop(1, 1)], 1));
    flush(&mut f);
    let reqs: Vec<ClientRequest> = (1..=6).map(|seq| put(7, seq, "k", "v")).collect();
    for r in &reqs {
        l.propose(r.clone());
    }
    let e = |i: usize| entry(1, i as Index + 2, reqs[i].clone());
    let pipe = vec![
        append(1, (1, 1), vec![e(0), e(1)], 1),
        append(1, (3, 1), vec![e(2), e(3)], 1),
        append(1, (5, 1), vec![e(4), e(5)], 1),
    ];
    let want = Ready {
        entries: 2..8,
        messages: vec![batch(1, 2, pipe.clone()), batch(1, 3, pipe.clone())],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want, "the first batch to 3 is lost");
    for message in pipe[1..].iter().cloned() {
        f.step(1, message);
    }
    let reports = vec![conflict(1, 3, 2, 0), conflict(1, 5, 2, 0)];
    assert_eq!(take(&mut f), Ready { messages: vec![batch(3, 1, reports.clone())], ..idle(1, 1) });
    l.step(3, reports[0].clone());
    let want = Ready { messages: vec![batch(1, 3, pipe)], ..idle(7, 1) };
    assert_eq!(take(&mut l), want, "the gap and everything after it, at once");
    l.step(3, reports[1].clone());
    assert_eq!(take(&mut l), idle(7, 1), "the same gap again: already repaired");
    let stats = l.stats();
    assert_eq!((stats.batches_resent, stats.entries_resent, stats.fast_retransmits), (1, 2, 1));
}

// The fixed policy keeps the original design's answer to the same report: the follower is
// probed again, one batch at a time, from its end.
#[test]
fn resend_fixed_policy_probes_again_after_a_gap() {
    let cfg = Config { inflight_batches_max: 4, batch_entries_max: 2, ..config(1, 3) };
    let mut l = leader_measuring(cfg, 1_000 * US);
    let reqs: Vec<ClientRequest> = (1..=6).map(|seq| put(7, seq, "k", "v")).collect();
    for r in &reqs {
        l.propose(r.clone());
    }
    flush(&mut l);
    l.step(3, conflict(1, 3, 2, 0));
    let e = |i: usize| entry(1, i as Index + 2, reqs[i].clone());
    let probe = append(1, (1, 1), vec![e(0), e(1)], 1);
    assert_eq!(take(&mut l), Ready { messages: vec![batch(1, 3, vec![probe])], ..idle(7, 1) });
    assert_eq!(l.stats().fast_retransmits, 0);
}
