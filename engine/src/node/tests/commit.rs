//! Commitment and application (sections 5.3 and 5.4.2): a majority of replicas of a
//! current-term entry, never a count of older-term replicas (Raft Figure 8), applied in
//! log order.

use super::*;

// 5.4.2, Figure 8 (c): a leader must not commit an entry of an older term by counting its
// replicas, even on a majority. Five servers; S1 wrote index 2 in term 2, S5 wrote another
// index 2 in term 3, and S1, leader again in term 4, spreads its entry 2 to S2 and S3.
#[test]
fn s5_4_2_figure8_a_leader_does_not_commit_an_older_term_entry_by_counting_replicas() {
    // One entry per append, so S3 can hold index 2 without index 3.
    let mut s1 = Node::new(Config { batch_entries_max: 1, ..config(1, 5) }).unwrap();
    s1.step(2, append(2, (0, 0), vec![noop(1, 1), noop(2, 2)], 1)); // Figure 8 (a)
    flush(&mut s1);
    s1.step(5, request_vote(3, 2, 3)); // (b): S5 campaigns in term 3 with its own entry 2
    flush(&mut s1);
    s1.tick(s1.next_deadline_ns()); // (c): S1 campaigns in term 4 and wins
    flush(&mut s1);
    s1.step(2, vote(4, true));
    s1.step(3, vote(4, true));
    let probe = append(4, (2, 2), vec![noop(4, 3)], 1);
    let want = Ready {
        entries: 3..4,
        messages: (2..=5).map(|to| batch(1, to, vec![probe.clone()])).collect(),
        ..idle(2, 1)
    };
    assert_eq!(take(&mut s1), want);
    s1.step(2, matched(4, 3));
    assert_eq!(take(&mut s1), idle(3, 1));
    s1.step(3, conflict(4, 2, 2, 0));
    let fill = append(4, (1, 1), vec![noop(2, 2)], 1);
    assert_eq!(take(&mut s1), Ready { messages: vec![batch(1, 3, vec![fill])], ..idle(3, 1) });
    // Index 2 (term 2) is now on S1, S2 and S3, a majority of five: still not committed.
    s1.step(3, matched(4, 2));
    let next = append(4, (2, 2), vec![noop(4, 3)], 1);
    assert_eq!(take(&mut s1), Ready { messages: vec![batch(1, 3, vec![next])], ..idle(3, 1) });
    assert_eq!(s1.commit_index(), 1);
    // Figure 8 (e): once an entry of term 4 is on a majority, it commits, and 2 with it.
    s1.step(3, matched(4, 3));
    assert_eq!(take(&mut s1), Ready { committed: 2..4, ..idle(3, 1) });
    assert_eq!(s1.commit_index(), 3);
}

// 5.4.2, Figure 8 (d): why the rule above matters. S2 holds S1's entry 2 of term 2 (on a
// majority in (c)); S5, whose entry 2 has the newer term 3, can still win term 5 with
// S2's vote and overwrite it. Had S1 committed it, a committed entry would be lost.
#[test]
fn s5_4_2_figure8_an_older_term_entry_on_a_majority_can_still_be_overwritten() {
    let mut s2 = with_log(2, 5, 1, &[1, 2], 1);
    s2.step(1, append(4, (2, 2), vec![], 1)); // S2 follows S1 in term 4
    flush(&mut s2);
    s2.step(5, request_vote(5, 2, 3));
    let want = Ready {
        hard_state: hs(5, 5),
        messages: vec![batch(2, 5, vec![vote(5, true)])],
        ..idle(2, 1)
    };
    assert_eq!(take(&mut s2), want);
    s2.step(5, append(5, (2, 3), vec![noop(5, 3)], 1));
    let reject = conflict(5, 2, 2, 2);
    assert_eq!(take(&mut s2), Ready { messages: vec![batch(2, 5, vec![reject])], ..idle(2, 1) });
    s2.step(5, append(5, (1, 1), vec![noop(3, 2), noop(5, 3)], 3));
    let want = Ready {
        entries: 2..4,
        messages: vec![batch(2, 5, vec![matched(5, 3)])],
        committed: 2..4,
        ..idle(2, 1)
    };
    assert_eq!(take(&mut s2), want);
    assert_eq!(logged(&s2, 1..9), vec![noop(1, 1), noop(3, 2), noop(5, 3)]);
}

// 5.3 and 5.4.2: a single-node cluster is its own majority, but a leader counts itself only
// for entries it has made durable: it commits when the runtime hands the Ready back.
#[test]
fn s5_4_2_a_single_node_commits_once_its_entries_are_durable() {
    let mut n = Node::new(config(1, 1)).unwrap();
    n.tick(n.next_deadline_ns());
    assert_eq!(n.role(), Role::Leader, "its own vote is a majority");
    let ready = n.ready();
    assert_eq!(ready, Ready { hard_state: hs(1, 1), entries: 1..2, ..idle(0, 0) });
    assert_eq!(n.commit_index(), 0, "the no-op is not durable yet");
    n.advance(ready);
    assert_eq!(n.commit_index(), 1);
    assert!(n.has_ready());
    assert_eq!(take(&mut n), Ready { committed: 1..2, ..idle(1, 0) });
    assert_eq!(n.propose(put(7, 1, "k", "v")), Some(2));
    let ready = n.ready();
    assert_eq!(ready, Ready { entries: 2..3, ..idle(1, 1) });
    n.advance(ready);
    assert_eq!(
        take(&mut n),
        Ready { committed: 2..3, replies: vec![ok(7, 1, None)], ..idle(2, 1) }
    );
    assert_eq!(n.kv_get(b"k"), Bytes::from_static(b"v"));
}

// 5.3: a follower applies what the leader says is committed, in log order, and answers no
// client (the leader does).
#[test]
fn s5_3_a_follower_applies_committed_entries_in_log_order() {
    let mut f = node(2, 3);
    let entries = vec![
        noop(1, 1),
        entry(1, 2, put(1, 1, "a", "1")),
        entry(1, 3, append_op(2, 1, "a", "2")),
        entry(1, 4, get(3, 1, "a")),
        entry(1, 5, put(1, 2, "a", "x")),
    ];
    f.step(1, append(1, (0, 0), entries, 4));
    let want = Ready {
        hard_state: hs(1, NONE),
        snapshot: None,
        entries: 1..6,
        messages: vec![batch(2, 1, vec![matched(1, 5)])],
        committed: 1..5,
        replies: vec![],
    };
    assert_eq!(take(&mut f), want);
    assert_eq!((f.applied_index(), f.kv_get(b"a")), (4, Bytes::from_static(b"12")));
}

// 5.3: a leader applies committed entries in log order and answers each request with the
// result of applying it at its place in the log.
#[test]
fn s5_3_a_leader_applies_in_log_order_and_answers_in_that_order() {
    let mut l = leader(3);
    l.propose(put(1, 1, "a", "1"));
    l.propose(append_op(2, 1, "a", "2"));
    l.propose(get(3, 1, "a"));
    l.propose(get(4, 1, "b"));
    flush(&mut l);
    l.step(3, matched(1, 5));
    let want = Ready {
        committed: 2..6,
        replies: vec![ok(1, 1, None), ok(2, 1, None), ok(3, 1, Some("12")), ok(4, 1, Some(""))],
        ..idle(5, 1)
    };
    assert_eq!(take(&mut l), want);
}

// 5.3: in a five-node cluster an entry commits once three servers hold it, and not with
// two; the lagging servers catch up when they are reachable again.
#[test]
fn s5_3_five_nodes_commit_with_three_and_not_with_two() {
    let mut net = elected(5);
    net.isolate(4, true);
    net.isolate(5, true);
    net.node(1).propose(put(7, 1, "k", "a"));
    net.settle();
    assert_eq!(net.replies, vec![ok(7, 1, None)]);
    net.isolate(3, true);
    net.node(1).propose(put(7, 2, "k", "b"));
    net.run_until(net.now + 100 * MS, 5 * MS);
    assert_eq!((net.replies.len(), net.nodes[0].commit_index()), (1, 2));
    net.isolate(3, false);
    net.run_until(net.now + 30 * MS, 5 * MS);
    assert_eq!(net.replies, vec![ok(7, 1, None), ok(7, 2, None)]);
    net.isolate(4, false);
    net.isolate(5, false);
    net.run_until(net.now + 50 * MS, 5 * MS);
    assert_eq!(net.commits(), vec![3; 5]);
    assert!(net.nodes.iter().all(|n| n.kv_get(b"k") == Bytes::from_static(b"b")));
    assert_eq!(net.leaders(), vec![(1, 1)]);
}

// Sections 5.2, 5.3 and 8 end to end (the original smoke test): three nodes elect a leader,
// replicate and commit a put and a get, answer them, and every replica applies them.
#[test]
fn s5_3_smoke_three_nodes_elect_replicate_commit_and_answer() {
    let mut net = elected(3);
    net.node(1).propose(put(7, 1, "k", "v"));
    net.settle();
    assert_eq!(net.replies, vec![ok(7, 1, None)]);
    net.node(1).propose(get(7, 2, "k"));
    net.settle();
    assert_eq!(net.replies[1], ok(7, 2, Some("v")));
    net.run_until(net.now + 50 * MS, 5 * MS);
    assert_eq!(net.commits(), vec![3, 3, 3]);
    for n in &net.nodes {
        assert_eq!(n.kv_get(b"k"), Bytes::from_static(b"v"));
    }
}
