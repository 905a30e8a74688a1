//! Leader election (section 5.2), terms (5.1) and the election restriction (5.4.1).

use super::*;

// 5.2: a follower that hears from no leader for its election timeout starts an election:
// a new term, a vote for itself (durable before the requests leave), a request to each peer.
#[test]
fn s5_2_a_follower_that_hears_nothing_campaigns_at_its_deadline() {
    let mut n = node(1, 3);
    let deadline = n.next_deadline_ns();
    n.tick(deadline - 1);
    assert_eq!(take(&mut n), idle(0, 0));
    n.tick(deadline);
    let rv = request_vote(1, 0, 0);
    let want = Ready {
        hard_state: hs(1, 1),
        messages: vec![batch(1, 2, vec![rv.clone()]), batch(1, 3, vec![rv])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut n), want);
    assert_eq!((n.role(), n.leader(), n.stats().elections), (Role::Candidate, NONE, 1));
}

// 5.2: election timeouts are chosen randomly from [election_timeout_min_ns,
// election_timeout_max_ns], both ends included, afresh at every reset.
#[test]
fn s5_2_election_timeouts_are_random_within_the_configured_range() {
    let (min, max) = (100 * MS, 200 * MS);
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let mut n = Node::new(Config { seed, ..config(2, 3) }).unwrap();
        let first = n.next_deadline_ns();
        assert!((min..=max).contains(&first), "seed {seed}: {first}");
        seen.insert(first);
        // Hearing from a leader at 500 ms restarts the timer from then.
        n.tick(500 * MS);
        n.step(1, heartbeat(1, 0));
        let again = n.next_deadline_ns() - 500 * MS;
        assert!((min..=max).contains(&again), "seed {seed}: {again}");
        seen.insert(again);
    }
    assert!(seen.len() > 350, "timeouts barely vary: {} distinct of 400", seen.len());
    // A degenerate range is allowed and gives exactly that timeout.
    let n = Node::new(Config { election_timeout_min_ns: max, ..config(1, 3) }).unwrap();
    assert_eq!(n.next_deadline_ns(), max);
}

// 5.2: a candidate that wins a majority becomes leader and at once sends every peer an
// append; section 8: its first entry is a no-op of its term.
#[test]
fn s5_2_a_candidate_with_a_majority_becomes_leader_and_appends_a_noop() {
    let mut c = candidate(1, 3);
    flush(&mut c);
    c.step(2, vote(1, true));
    let probe = append(1, (0, 0), vec![noop(1, 1)], 0);
    let want = Ready {
        entries: 1..2,
        messages: vec![batch(1, 2, vec![probe.clone()]), batch(1, 3, vec![probe])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut c), want);
    assert_eq!((c.role(), c.leader(), c.stats().terms_led), (Role::Leader, 1, 1));
    // A late vote changes nothing.
    c.step(3, vote(1, true));
    assert_eq!(take(&mut c), idle(1, 0));
}

// 5.2: each server votes for at most one candidate in a term, first come first served; a
// repeated request from the candidate it voted for is granted again (its reply may be lost).
#[test]
fn s5_2_one_vote_per_term() {
    let mut f = node(3, 3);
    f.step(1, request_vote(1, 0, 0));
    let want = Ready {
        hard_state: hs(1, 1),
        messages: vec![batch(3, 1, vec![vote(1, true)])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut f), want);
    f.step(2, request_vote(1, 0, 0));
    assert_eq!(
        take(&mut f),
        Ready { messages: vec![batch(3, 2, vec![vote(1, false)])], ..idle(0, 0) }
    );
    f.step(1, request_vote(1, 0, 0));
    assert_eq!(
        take(&mut f),
        Ready { messages: vec![batch(3, 1, vec![vote(1, true)])], ..idle(0, 0) }
    );
    // A new term brings a new vote.
    f.step(2, request_vote(2, 0, 0));
    let want = Ready {
        hard_state: hs(2, 2),
        messages: vec![batch(3, 2, vec![vote(2, true)])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut f), want);
}

// 5.2: a candidate has voted for itself, so it refuses every other candidate of its term.
#[test]
fn s5_2_a_candidate_refuses_other_candidates_of_its_term() {
    let mut c = candidate(1, 3);
    flush(&mut c);
    c.step(2, request_vote(1, 0, 0));
    assert_eq!(
        take(&mut c),
        Ready { messages: vec![batch(1, 2, vec![vote(1, false)])], ..idle(0, 0) }
    );
    assert_eq!((c.role(), c.vote()), (Role::Candidate, 1));
}

// 5.2: with a split vote nobody wins; the candidate times out and starts a new election in
// the next term, with a fresh random timeout.
#[test]
fn s5_2_a_split_vote_ends_in_a_new_election() {
    let mut c = candidate(1, 3);
    flush(&mut c);
    c.step(2, vote(1, false));
    c.step(3, vote(1, false));
    assert_eq!(take(&mut c), idle(0, 0));
    assert_eq!(c.role(), Role::Candidate);
    let deadline = c.next_deadline_ns();
    assert!((400 * MS..=500 * MS).contains(&deadline), "{deadline}");
    c.tick(deadline);
    let rv = request_vote(2, 0, 0);
    let want = Ready {
        hard_state: hs(2, 1),
        messages: vec![batch(1, 2, vec![rv.clone()]), batch(1, 3, vec![rv])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut c), want);
    assert_eq!(c.stats().elections, 2);
}

// 5.2: a candidate that hears an append from a leader of its own term returns to follower
// and accepts the append; the leader is its hint from then on.
#[test]
fn s5_2_a_candidate_follows_a_leader_of_its_own_term() {
    let mut c = candidate(1, 3);
    flush(&mut c);
    c.step(2, append(1, (0, 0), vec![noop(1, 1)], 0));
    let want =
        Ready { entries: 1..2, messages: vec![batch(1, 2, vec![matched(1, 1)])], ..idle(0, 0) };
    assert_eq!(take(&mut c), want);
    assert_eq!((c.role(), c.term(), c.vote(), c.leader()), (Role::Follower, 1, 1, 2));
}

// 5.4.1: a vote is denied to a candidate whose log is less up-to-date: an older last term,
// or the same last term and a shorter log. The newer term is still adopted.
#[test]
fn s5_4_1_vote_denied_to_a_less_up_to_date_log() {
    let mut f = with_log(3, 3, 2, &[1, 2], 0);
    f.step(1, request_vote(3, 9, 1));
    let want = Ready {
        hard_state: hs(3, NONE),
        messages: vec![batch(3, 1, vec![vote(3, false)])],
        ..idle(2, 0)
    };
    assert_eq!(take(&mut f), want);
    f.step(1, request_vote(4, 1, 2));
    let want = Ready {
        hard_state: hs(4, NONE),
        messages: vec![batch(3, 1, vec![vote(4, false)])],
        ..idle(2, 0)
    };
    assert_eq!(take(&mut f), want);
    assert_eq!((f.term(), f.vote(), f.leader()), (4, NONE, NONE));
}

// 5.4.1: a candidate whose last term is newer wins the vote even with a shorter log, and an
// equal last term with an equal length is up-to-date enough.
#[test]
fn s5_4_1_vote_granted_to_an_at_least_as_up_to_date_log() {
    let mut f = with_log(3, 3, 2, &[1, 2, 2], 0);
    f.step(1, request_vote(3, 1, 3));
    let want = Ready {
        hard_state: hs(3, 1),
        messages: vec![batch(3, 1, vec![vote(3, true)])],
        ..idle(3, 0)
    };
    assert_eq!(take(&mut f), want);
    f.step(2, request_vote(4, 3, 2));
    let want = Ready {
        hard_state: hs(4, 2),
        messages: vec![batch(3, 2, vec![vote(4, true)])],
        ..idle(3, 0)
    };
    assert_eq!(take(&mut f), want);
}

// 5.1: a leader that sees a higher term reverts to follower of that term at once, with no
// vote and no known leader; its heartbeats stop.
#[test]
fn s5_1_a_leader_steps_down_on_a_higher_term() {
    let mut l = leader(3);
    l.step(3, stale(5));
    assert_eq!(take(&mut l), Ready { hard_state: hs(5, NONE), ..idle(1, 1) });
    assert_eq!((l.role(), l.leader()), (Role::Follower, NONE));
    let deadline = l.next_deadline_ns();
    l.tick(deadline - 1);
    assert_eq!(take(&mut l), idle(1, 1), "no heartbeats from a follower");
}

// 5.1: a candidate that sees a higher term in an append follows its sender, the new leader.
#[test]
fn s5_1_a_candidate_steps_down_on_an_append_of_a_higher_term() {
    let mut c = candidate(1, 3);
    flush(&mut c);
    c.step(3, append(4, (0, 0), vec![], 0));
    let want = Ready {
        hard_state: hs(4, NONE),
        messages: vec![batch(1, 3, vec![matched(4, 0)])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut c), want);
    assert_eq!((c.role(), c.leader()), (Role::Follower, 3));
}

// 5.1: a request with a stale term is rejected with the current term, so its sender learns
// it is out of date; stale answers need no answer. Nothing else changes.
#[test]
fn s5_1_stale_term_messages_are_answered_with_the_current_term() {
    let mut f = with_log(3, 3, 1, &[1, 3], 0);
    f.step(2, request_vote(2, 9, 2));
    assert_eq!(
        take(&mut f),
        Ready { messages: vec![batch(3, 2, vec![vote(3, false)])], ..idle(2, 0) }
    );
    f.step(2, append(2, (2, 2), vec![noop(2, 3)], 2));
    assert_eq!(take(&mut f), Ready { messages: vec![batch(3, 2, vec![stale(3)])], ..idle(2, 0) });
    f.step(2, heartbeat(1, 2));
    assert_eq!(take(&mut f), Ready { messages: vec![batch(3, 2, vec![stale(3)])], ..idle(2, 0) });
    f.step(2, vote(2, true));
    f.step(2, matched(2, 2));
    f.step(2, stale(2));
    assert_eq!(take(&mut f), idle(2, 0));
    assert_eq!((f.term(), f.vote(), f.leader(), f.commit_index()), (3, NONE, 1, 0));
}

// 5.2: a leader refuses a candidate of its own term (it voted for itself) and stays leader.
#[test]
fn s5_2_a_leader_refuses_a_candidate_of_its_own_term() {
    let mut l = leader(3);
    l.step(2, request_vote(1, 5, 1));
    assert_eq!(
        take(&mut l),
        Ready { messages: vec![batch(1, 2, vec![vote(1, false)])], ..idle(1, 1) }
    );
    assert_eq!(l.role(), Role::Leader);
}

// Section 6 (membership): only the configuration's members take part. A message from a
// non-member, from "none" or from the node itself is dropped without any effect.
#[test]
fn s6_messages_from_non_members_are_ignored() {
    let mut f = node(1, 3);
    f.step(9, request_vote(5, 0, 0));
    f.step(NONE, append(5, (0, 0), vec![noop(5, 1)], 1));
    f.step(1, heartbeat(5, 0));
    assert_eq!(take(&mut f), idle(0, 0));
    assert_eq!((f.term(), f.vote(), f.leader(), f.last_index()), (0, NONE, NONE, 0));
}

// 5.2 end to end: node 1 times out first, wins, and every node learns its leadership.
#[test]
fn s5_2_three_nodes_elect_one_leader() {
    let net = elected(3);
    assert_eq!(net.leaders(), vec![(1, 1)]);
    for n in &net.nodes {
        assert_eq!((n.term(), n.leader(), n.last_index()), (1, 1, 1));
    }
}

// 5.2 at the size limit: in a cluster of MEMBERS_MAX the last member (bit 63 of the vote
// set) wins with exactly a majority of 33 votes, not one fewer.
#[test]
fn s5_2_the_last_member_of_a_largest_cluster_wins_with_a_bare_majority() {
    let n = crate::MEMBERS_MAX as u64;
    let mut c = candidate(n, n);
    flush(&mut c);
    for peer in 1..=31 {
        c.step(peer, vote(1, true));
    }
    assert_eq!(c.role(), Role::Candidate, "32 votes of 64");
    c.step(32, vote(1, true));
    assert_eq!(c.role(), Role::Leader, "33 votes of 64");
}

// The `Ready` contract: batches leave in ascending destination order, whatever the order
// of `members` in the configuration. (Regression: they left in `members` order.)
#[test]
fn ready_batches_leave_in_ascending_destination_order() {
    let mut c = Node::new(Config { members: vec![3, 1, 4, 2], ..config(1, 4) }).unwrap();
    c.tick(300 * MS);
    let rv = request_vote(1, 0, 0);
    let want = Ready {
        hard_state: hs(1, 1),
        messages: vec![
            batch(1, 2, vec![rv.clone()]),
            batch(1, 3, vec![rv.clone()]),
            batch(1, 4, vec![rv]),
        ],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut c), want);
}
