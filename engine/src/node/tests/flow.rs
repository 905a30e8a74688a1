//! The replication scheme of DESIGN.md around section 5.3: per follower, the batches in
//! flight and when they left; a resend after `resend_threshold_ns` with newer entries
//! folded in; heartbeats only on an idle link; pipelining with `inflight_batches_max`.

use super::*;

// 5.3: "the leader retries AppendEntries RPCs indefinitely". A batch unacknowledged for
// resend_threshold_ns goes again from its first entry, with every newer entry folded in,
// while the healthy follower only sees heartbeats; Stats counts the resend.
#[test]
fn s5_3_a_lost_append_is_resent_after_the_threshold_with_newer_entries_folded_in() {
    let mut l = leader(3);
    let (a, b) = (put(7, 1, "a", "1"), put(7, 2, "b", "2"));
    l.propose(a.clone());
    let first = append(1, (1, 1), vec![entry(1, 2, a.clone())], 1);
    let want = Ready {
        entries: 2..3,
        messages: vec![batch(1, 2, vec![first.clone()]), batch(1, 3, vec![first])],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want, "the batch to 3 is lost");
    l.step(2, matched(1, 2));
    assert_eq!(
        take(&mut l),
        Ready { committed: 2..3, replies: vec![ok(7, 1, None)], ..idle(2, 1) }
    );
    l.propose(b.clone());
    let to_2 = append(1, (2, 1), vec![entry(1, 3, b.clone())], 2);
    let want = Ready { entries: 3..4, messages: vec![batch(1, 2, vec![to_2])], ..idle(2, 2) };
    assert_eq!(take(&mut l), want, "3 has a batch in flight: nothing more for it yet");
    l.step(2, matched(1, 3));
    assert_eq!(
        take(&mut l),
        Ready { committed: 3..4, replies: vec![ok(7, 2, None)], ..idle(3, 2) }
    );
    l.tick(310 * MS);
    let hb = heartbeat(1, 3);
    let want = Ready {
        messages: vec![batch(1, 2, vec![hb.clone()]), batch(1, 3, vec![hb])],
        ..idle(3, 3)
    };
    assert_eq!(take(&mut l), want, "nothing sent to either for a heartbeat interval");
    l.tick(320 * MS - 1);
    assert_eq!(take(&mut l), idle(3, 3));
    assert_eq!(l.stats().batches_resent, 0);
    l.tick(320 * MS);
    let resend = append(1, (1, 1), vec![entry(1, 2, a), entry(1, 3, b)], 3);
    let want = Ready {
        messages: vec![batch(1, 2, vec![heartbeat(1, 3)]), batch(1, 3, vec![resend])],
        ..idle(3, 3)
    };
    assert_eq!(take(&mut l), want);
    assert_eq!((l.stats().batches_resent, l.stats().entries_resent), (1, 2));
}

// 5.3 and DESIGN.md: a lost probe of a new leader is resent from where it started, not
// from the start of the log. (Regression: the resend restarted after the last confirmed
// match, which is 0 for a new leader, and re-sent the log from index 1.)
#[test]
fn s5_3_a_lost_probe_is_resent_from_where_it_started() {
    let mut l = leader_with_log(1, 3, &[1; 100], 100);
    let now = l.next_deadline_ns() - 10 * MS;
    let probe = append(2, (100, 1), vec![noop(2, 101)], 100);
    let want = Ready {
        entries: 101..102,
        messages: vec![batch(1, 2, vec![probe.clone()]), batch(1, 3, vec![probe])],
        ..idle(100, 100)
    };
    assert_eq!(take(&mut l), want, "both probes are lost");
    l.tick(now + 5 * MS);
    l.propose(put(7, 1, "k", "v"));
    assert_eq!(take(&mut l), Ready { entries: 102..103, ..idle(100, 100) }, "one probe at a time");
    l.tick(now + 10 * MS);
    flush(&mut l); // heartbeats
    l.tick(now + 20 * MS);
    let resend = append(2, (100, 1), vec![noop(2, 101), entry(2, 102, put(7, 1, "k", "v"))], 100);
    let want = Ready {
        messages: vec![batch(1, 2, vec![resend.clone()]), batch(1, 3, vec![resend])],
        ..idle(102, 100)
    };
    assert_eq!(take(&mut l), want);
    assert_eq!((l.stats().batches_resent, l.stats().entries_resent), (2, 4));
}

// 5.2 and DESIGN.md: heartbeats are periodic and separate from replication: a follower
// gets one only when nothing was sent to it for heartbeat_interval_ns, and it carries the
// leader's commit index.
#[test]
fn s5_2_heartbeats_go_only_to_idle_links_and_carry_the_commit_index() {
    let mut l = leader(3);
    assert_eq!(l.next_deadline_ns(), 310 * MS);
    l.tick(305 * MS);
    assert_eq!(take(&mut l), idle(1, 1));
    l.propose(put(7, 1, "k", "v"));
    flush(&mut l);
    l.step(2, matched(1, 2));
    l.step(3, matched(1, 2));
    assert_eq!(
        take(&mut l),
        Ready { committed: 2..3, replies: vec![ok(7, 1, None)], ..idle(2, 1) }
    );
    l.tick(310 * MS);
    assert_eq!(take(&mut l), idle(2, 2), "both links carried an append at 305 ms");
    assert_eq!(l.next_deadline_ns(), 315 * MS);
    l.tick(315 * MS);
    let hb = heartbeat(1, 2);
    let want = Ready {
        messages: vec![batch(1, 2, vec![hb.clone()]), batch(1, 3, vec![hb])],
        ..idle(2, 2)
    };
    assert_eq!(take(&mut l), want);
    assert_eq!(l.next_deadline_ns(), 325 * MS);
}

// 5.3 and DESIGN.md's safety rule: a follower advances its commit index only through the
// prefix it verified against the current leader. A heartbeat in a new term must not commit
// a stale entry that diverges from the leader's log, nor commit past the verified prefix.
#[test]
fn s5_3_a_heartbeat_commit_is_capped_at_the_verified_prefix() {
    // Entry 2 of term 2 never committed; the leader of term 3 has its no-op there instead.
    let mut f = with_log(2, 3, 3, &[1, 2], 1);
    f.step(1, heartbeat(3, 2));
    assert_eq!(take(&mut f), Ready { hard_state: hs(3, NONE), ..idle(2, 1) });
    assert_eq!((f.commit_index(), f.leader()), (1, 1));
    f.step(1, append(3, (1, 1), vec![noop(3, 2)], 2));
    let want = Ready {
        entries: 2..3,
        messages: vec![batch(2, 1, vec![matched(3, 2)])],
        committed: 2..3,
        ..idle(2, 1)
    };
    assert_eq!(take(&mut f), want);
    f.step(1, append(3, (2, 3), vec![noop(3, 3)], 2));
    flush(&mut f);
    f.step(1, heartbeat(3, 9));
    assert_eq!(take(&mut f), Ready { committed: 3..4, ..idle(3, 2) }, "capped at 3, not 9");
    assert_eq!(f.commit_index(), 3);
}

// 5.3 with inflight_batches_max > 1: once a follower has confirmed a match, several
// batches of at most batch_entries_max go out without waiting, and each ack frees a slot.
#[test]
fn s5_3_pipelining_keeps_several_batches_in_flight() {
    let cfg = Config { inflight_batches_max: 2, batch_entries_max: 2, ..config(1, 3) };
    let mut l = elect(Node::new(cfg).unwrap());
    let reqs: Vec<ClientRequest> = (1..=5).map(|seq| put(7, seq, "k", "v")).collect();
    for r in &reqs {
        l.propose(r.clone());
    }
    let e = |i: usize| entry(1, i as Index + 2, reqs[i].clone());
    let pipe = vec![append(1, (1, 1), vec![e(0), e(1)], 1), append(1, (3, 1), vec![e(2), e(3)], 1)];
    let want = Ready {
        entries: 2..7,
        messages: vec![batch(1, 2, pipe.clone()), batch(1, 3, pipe)],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want, "entry 6 waits for a free slot");
    l.step(2, matched(1, 3));
    let want = Ready {
        messages: vec![batch(1, 2, vec![append(1, (5, 1), vec![e(4)], 3)])],
        committed: 2..4,
        replies: vec![ok(7, 1, None), ok(7, 2, None)],
        ..idle(6, 1)
    };
    assert_eq!(take(&mut l), want);
}

// 5.3 with inflight_batches_max = 1 (stop and wait): one batch at a time, at most
// batch_entries_max entries, the next one only after the ack.
#[test]
fn s5_3_stop_and_wait_sends_one_batch_of_at_most_batch_entries_max() {
    let cfg = Config { batch_entries_max: 2, ..config(1, 3) };
    let mut l = elect(Node::new(cfg).unwrap());
    let reqs: Vec<ClientRequest> = (1..=3).map(|seq| put(7, seq, "k", "v")).collect();
    for r in &reqs {
        l.propose(r.clone());
    }
    let e = |i: usize| entry(1, i as Index + 2, reqs[i].clone());
    let first = append(1, (1, 1), vec![e(0), e(1)], 1);
    let want = Ready {
        entries: 2..5,
        messages: vec![batch(1, 2, vec![first.clone()]), batch(1, 3, vec![first])],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want);
    l.step(3, matched(1, 3));
    let want = Ready {
        messages: vec![batch(1, 3, vec![append(1, (3, 1), vec![e(2)], 3)])],
        committed: 2..4,
        replies: vec![ok(7, 1, None), ok(7, 2, None)],
        ..idle(4, 1)
    };
    assert_eq!(take(&mut l), want);
}

// 5.3 with an unbounded batch limit (batch_entries_max = usize::MAX passes validation):
// one batch carries every pending entry. (Regression: computing the batch end overflowed.)
#[test]
fn s5_3_an_unbounded_batch_limit_sends_every_pending_entry() {
    let cfg = Config { batch_entries_max: usize::MAX, ..config(1, 3) };
    let mut l = elect(Node::new(cfg).unwrap());
    let reqs: Vec<ClientRequest> = (1..=3).map(|seq| put(7, seq, "k", "v")).collect();
    for r in &reqs {
        l.propose(r.clone());
    }
    let entries = (0..3).map(|i| entry(1, i as Index + 2, reqs[i].clone())).collect();
    let all = append(1, (1, 1), entries, 1);
    let want = Ready {
        entries: 2..5,
        messages: vec![batch(1, 2, vec![all.clone()]), batch(1, 3, vec![all])],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want);
}
