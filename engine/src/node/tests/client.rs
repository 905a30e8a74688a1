//! Client interaction (section 8) and the KV state machine: redirects, reads through the
//! log, each (client, seq) applied once and answered with its first answer, and `Fail` from
//! a leader that lost its leadership before the request committed.

use super::*;

// Section 8: a server that is not the leader refuses requests and names the leader it
// knows of, or NONE; nothing is appended.
#[test]
fn s8_a_non_leader_redirects_to_its_leader_hint() {
    let mut f = node(2, 3);
    assert_eq!(f.propose(put(7, 1, "k", "v")), None);
    assert_eq!(take(&mut f), Ready { replies: vec![redirect(7, 1, NONE)], ..idle(0, 0) });
    f.step(3, heartbeat(1, 0));
    flush(&mut f);
    assert_eq!(f.propose(put(7, 1, "k", "v")), None);
    assert_eq!(take(&mut f), Ready { replies: vec![redirect(7, 1, 3)], ..idle(0, 0) });
    let mut c = candidate(1, 3);
    flush(&mut c);
    c.propose(get(8, 1, "k"));
    assert_eq!(take(&mut c), Ready { replies: vec![redirect(8, 1, NONE)], ..idle(0, 0) });
    let mut deposed = leader(3);
    deposed.step(3, heartbeat(2, 1));
    flush(&mut deposed);
    deposed.propose(get(8, 2, "k"));
    assert_eq!(take(&mut deposed), Ready { replies: vec![redirect(8, 2, 3)], ..idle(1, 1) });
}

// Section 8: reads go through the log like writes (linearizable by default): a get is an
// entry, replicated, and answered only when it commits, with the value at its place.
#[test]
fn s8_reads_go_through_the_log() {
    let mut l = leader(3);
    assert_eq!(l.propose(get(7, 1, "k")), Some(2));
    let carry = append(1, (1, 1), vec![entry(1, 2, get(7, 1, "k"))], 1);
    let want = Ready {
        entries: 2..3,
        messages: vec![batch(1, 2, vec![carry.clone()]), batch(1, 3, vec![carry])],
        ..idle(1, 1)
    };
    assert_eq!(take(&mut l), want);
    l.step(2, matched(1, 2));
    assert_eq!(
        take(&mut l),
        Ready { committed: 2..3, replies: vec![ok(7, 1, Some(""))], ..idle(2, 1) }
    );
}

// Dissertation 6.3 (section 8's "unique serial numbers"): a retry of an applied request is
// answered at once with its first answer and is not applied again; an older request of
// the same client is answered Fail (the client no longer waits for it).
#[test]
fn s8_a_retried_request_is_answered_with_its_first_answer_and_not_appended_again() {
    let mut l = leader(3);
    l.propose(put(7, 1, "k", "a"));
    l.propose(put(8, 1, "k", "b"));
    l.propose(get(9, 1, "k"));
    flush(&mut l);
    l.step(2, matched(1, 4));
    let want = Ready {
        committed: 2..5,
        replies: vec![ok(7, 1, None), ok(8, 1, None), ok(9, 1, Some("b"))],
        ..idle(4, 1)
    };
    assert_eq!(take(&mut l), want);
    l.propose(put(7, 2, "k", "c"));
    flush(&mut l);
    l.step(2, matched(1, 5));
    flush(&mut l);
    assert_eq!(l.propose(put(8, 1, "k", "b")), None);
    assert_eq!(l.propose(get(9, 1, "k")), None);
    assert_eq!(l.propose(put(7, 1, "k", "a")), None);
    let want =
        Ready { replies: vec![ok(8, 1, None), ok(9, 1, Some("b")), fail(7, 1)], ..idle(5, 5) };
    assert_eq!(take(&mut l), want);
    assert_eq!(l.kv_get(b"k"), Bytes::from_static(b"c"));
}

// Section 8 and DESIGN.md: a leader that steps down before a request commits answers Fail
// (outcome unknown: the client retries); the entry stays, uncommitted, for the new leader
// to keep or overwrite.
#[test]
fn s8_a_leader_that_steps_down_before_commit_answers_fail() {
    let mut l = leader(3);
    l.propose(put(7, 1, "k", "v"));
    l.propose(get(8, 1, "k"));
    flush(&mut l); // both appends are lost
    l.step(2, heartbeat(2, 1));
    let want =
        Ready { hard_state: hs(2, NONE), replies: vec![fail(7, 1), fail(8, 1)], ..idle(3, 1) };
    assert_eq!(take(&mut l), want);
    assert_eq!((l.role(), l.leader(), l.commit_index(), l.last_index()), (Role::Follower, 2, 1, 3));
}

// Dissertation 6.3 across a leader change: the old leader appends (7, 1) and replicates it
// to S2 but hears no ack, steps down and answers Fail; the client retries at S2, the new
// leader, which commits both copies, applies the request once and answers once.
#[test]
fn s8_a_retry_across_a_leader_change_is_applied_once() {
    let mut s1 = leader(3);
    let mut s2 = node(2, 3);
    s2.step(1, append(1, (0, 0), vec![noop(1, 1)], 0));
    flush(&mut s2);
    let req = append_op(7, 1, "k", "x");
    s1.propose(req.clone());
    for b in take(&mut s1).messages.into_iter().filter(|b| b.to == 2) {
        b.messages.into_iter().for_each(|m| s2.step(1, m));
    }
    flush(&mut s2); // its ack is lost
    s2.tick(s2.next_deadline_ns());
    flush(&mut s2);
    s1.step(2, request_vote(2, 2, 1));
    let want = Ready {
        hard_state: hs(2, 2),
        messages: vec![batch(1, 2, vec![vote(2, true)])],
        replies: vec![fail(7, 1)],
        ..idle(2, 1)
    };
    assert_eq!(take(&mut s1), want);
    s2.step(1, vote(2, true));
    assert_eq!(s2.propose(req.clone()), Some(4));
    let catch_up = append(2, (2, 1), vec![noop(2, 3), entry(2, 4, req.clone())], 1);
    let want = Ready {
        entries: 3..5,
        messages: vec![batch(2, 1, vec![catch_up.clone()]), batch(2, 3, vec![catch_up])],
        ..idle(2, 1)
    };
    assert_eq!(take(&mut s2), want);
    s2.step(1, matched(2, 4));
    assert_eq!(
        take(&mut s2),
        Ready { committed: 2..5, replies: vec![ok(7, 1, None)], ..idle(4, 1) }
    );
    assert_eq!(s2.kv_get(b"k"), Bytes::from_static(b"x"));
}

// Sections 5.1 and 8 end to end: a leader cut off in a minority keeps appending but
// commits nothing; when it sees the majority's newer term it steps down, answers Fail, and
// its uncommitted entry is overwritten by the new leader's log.
#[test]
fn s8_a_leader_in_a_minority_commits_nothing_and_fails_its_clients_on_a_higher_term() {
    let mut net = elected(3);
    net.isolate(1, true);
    net.node(1).propose(put(7, 1, "k", "v"));
    net.run_until(net.now + 3_000 * MS, 10 * MS);
    assert_eq!((net.replies.len(), net.nodes[0].commit_index()), (0, 1));
    let leaders = net.leaders();
    assert_eq!(leaders.len(), 2, "the old leader and one of the majority: {leaders:?}");
    let (new, term) = leaders[1];
    net.isolate(1, false);
    net.run_until(net.now + 50 * MS, 5 * MS);
    assert_eq!(net.replies, vec![fail(7, 1)]);
    assert_eq!(net.leaders(), vec![(new, term)]);
    let n1 = &net.nodes[0];
    assert_eq!((n1.term(), n1.leader(), n1.term_at(2)), (term, new, Some(term)));
    assert!(net.nodes.iter().all(|n| n.kv_get(b"k").is_empty()));
}

// Dissertation 6.3: a retry of a request the leader appended and has not committed yet is
// not appended again; its one copy is answered once. (Regression: each retry appended
// another copy, replicated it, and the client got one answer per copy.)
#[test]
fn s8_a_retry_of_a_request_still_in_flight_is_appended_and_answered_once() {
    let mut l = leader(3);
    assert_eq!(l.propose(append_op(7, 1, "k", "x")), Some(2));
    flush(&mut l);
    assert_eq!(l.propose(append_op(7, 1, "k", "x")), Some(2));
    assert_eq!(take(&mut l), idle(2, 1));
    l.step(2, matched(1, 2));
    assert_eq!(
        take(&mut l),
        Ready { committed: 2..3, replies: vec![ok(7, 1, None)], ..idle(2, 1) }
    );
    assert_eq!(l.propose(append_op(7, 1, "k", "x")), None);
    assert_eq!(take(&mut l), Ready { replies: vec![ok(7, 1, None)], ..idle(2, 2) });
    assert_eq!(l.kv_get(b"k"), Bytes::from_static(b"x"));
}
