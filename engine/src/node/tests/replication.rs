//! Log replication (section 5.3): the consistency check, conflict truncation, and the
//! rejection hint that lets a leader back up over a whole term per round trip.

use super::*;

// 5.3: a follower whose entry at prev_index has prev_term appends the entries, makes them
// durable and acknowledges the match; the sender becomes its leader.
#[test]
fn s5_3_a_follower_appends_entries_that_pass_the_consistency_check() {
    let mut f = node(2, 3);
    let entries = vec![noop(1, 1), entry(1, 2, put(7, 1, "k", "v"))];
    f.step(1, append(1, (0, 0), entries.clone(), 0));
    let want = Ready {
        hard_state: hs(1, NONE),
        snapshot: None,
        entries: 1..3,
        messages: vec![batch(2, 1, vec![matched(1, 2)])],
        ..idle(0, 0)
    };
    assert_eq!(take(&mut f), want);
    assert_eq!((f.leader(), logged(&f, 1..3)), (1, entries));
}

// 5.3: a follower lacking the entry at prev_index refuses the append and hints at its own
// end, so the leader can jump back there at once.
#[test]
fn s5_3_a_missing_prev_entry_is_rejected_with_the_followers_end_as_hint() {
    let mut f = with_log(2, 3, 1, &[1], 0);
    f.step(1, append(1, (5, 1), vec![noop(1, 6)], 1));
    let want = Ready { messages: vec![batch(2, 1, vec![conflict(1, 5, 2, 0)])], ..idle(1, 0) };
    assert_eq!(take(&mut f), want);
    assert_eq!((f.last_index(), f.commit_index()), (1, 0));
}

// 5.3: a follower whose entry at prev_index has another term refuses the append and names
// that term and its first index, so the leader can skip the whole term.
#[test]
fn s5_3_a_mismatched_prev_entry_is_rejected_with_the_first_index_of_its_term() {
    let mut f = with_log(2, 3, 3, &[1, 2, 2, 2], 1);
    f.step(1, append(3, (4, 3), vec![noop(3, 5)], 4));
    let want = Ready {
        hard_state: hs(3, NONE),
        messages: vec![batch(2, 1, vec![conflict(3, 4, 2, 2)])],
        ..idle(4, 1)
    };
    assert_eq!(take(&mut f), want);
    assert_eq!((f.last_index(), f.commit_index(), f.leader()), (4, 1, 1));
}

// 5.3: when an appended entry conflicts with an existing one (same index, another term),
// the follower deletes it and all that follow, then appends the leader's. Its durable log
// is told to drop everything from the first replaced index.
#[test]
fn s5_3_a_follower_drops_extra_uncommitted_entries_of_an_old_term() {
    let mut f = with_log(2, 3, 3, &[1, 2, 2, 2, 2], 1);
    f.step(1, append(3, (1, 1), vec![noop(3, 2), noop(3, 3)], 3));
    let want = Ready {
        hard_state: hs(3, NONE),
        entries: 2..4,
        messages: vec![batch(2, 1, vec![matched(3, 3)])],
        committed: 2..4,
        ..idle(5, 1)
    };
    assert_eq!(take(&mut f), want);
    assert_eq!(logged(&f, 1..9), vec![noop(1, 1), noop(3, 2), noop(3, 3)]);
}

// 5.3: an append whose entries the follower already holds (a duplicate or a reordered
// older one) truncates nothing: only a conflict deletes entries. The ack reports the whole
// prefix verified in this term.
#[test]
fn s5_3_a_duplicate_append_truncates_nothing() {
    let mut f = node(2, 3);
    f.step(1, append(1, (0, 0), vec![noop(1, 1), noop(1, 2), noop(1, 3)], 0));
    flush(&mut f);
    f.step(1, append(1, (0, 0), vec![noop(1, 1)], 0));
    let want = Ready { messages: vec![batch(2, 1, vec![matched(1, 3)])], ..idle(3, 0) };
    assert_eq!(take(&mut f), want);
    assert_eq!(f.last_index(), 3);
}

// 5.3: acks for appends handled in one step are merged: the latest match says it all.
#[test]
fn s5_3_acks_of_one_step_are_merged_into_the_latest_match() {
    let mut f = node(2, 3);
    f.step(1, append(1, (0, 0), vec![noop(1, 1)], 0));
    f.step(1, append(1, (1, 1), vec![noop(1, 2)], 1));
    let want = Ready {
        hard_state: hs(1, NONE),
        snapshot: None,
        entries: 1..3,
        messages: vec![batch(2, 1, vec![matched(1, 2)])],
        committed: 1..2,
        replies: vec![],
    };
    assert_eq!(take(&mut f), want);
}

// 5.3 (the optimization in its last paragraphs): on a rejection that names a term the
// leader also has, the leader resumes right after its own last entry of that term.
#[test]
fn s5_3_a_leader_skips_a_whole_conflicting_term_on_a_rejection() {
    let mut l = leader_with_log(1, 3, &[1, 1, 1, 2, 2, 3, 3], 3);
    let probe = append(4, (7, 3), vec![noop(4, 8)], 3);
    let want = Ready {
        entries: 8..9,
        messages: vec![batch(1, 2, vec![probe.clone()]), batch(1, 3, vec![probe])],
        ..idle(7, 3)
    };
    assert_eq!(take(&mut l), want);
    // Follower 2 holds [1 1 1 2 2 2 2]: entries 4..=7 of term 2, of which the leader kept 4..=5.
    l.step(2, conflict(4, 7, 4, 2));
    let catch_up = append(4, (5, 2), vec![noop(3, 6), noop(3, 7), noop(4, 8)], 3);
    assert_eq!(take(&mut l), Ready { messages: vec![batch(1, 2, vec![catch_up])], ..idle(8, 3) });
    l.step(2, matched(4, 8));
    assert_eq!(take(&mut l), Ready { committed: 4..9, ..idle(8, 3) });
}

// 5.3: a rejection that names a term the leader lacks sends it to the follower's hint.
// A rejection at or below the confirmed match is stale and changes nothing.
#[test]
fn s5_3_a_leader_backs_up_to_the_hint_of_a_term_it_lacks_and_ignores_stale_rejections() {
    let mut l = leader_with_log(1, 3, &[1, 1, 3, 3], 2);
    flush(&mut l);
    l.step(2, conflict(4, 4, 3, 2));
    let catch_up = append(4, (2, 1), vec![noop(3, 3), noop(3, 4), noop(4, 5)], 2);
    assert_eq!(take(&mut l), Ready { messages: vec![batch(1, 2, vec![catch_up])], ..idle(5, 2) });
    l.step(2, matched(4, 5));
    assert_eq!(take(&mut l), Ready { committed: 3..6, ..idle(5, 2) });
    l.step(2, conflict(4, 4, 3, 2));
    assert_eq!(take(&mut l), idle(5, 5));
}

// 5.3: a follower far behind, holding a long stale suffix of a term the leader never had,
// catches up with one rejection per divergent stretch instead of one per entry.
#[test]
fn s5_3_a_far_behind_follower_catches_up_in_few_round_trips() {
    // Leader: 50 entries of term 1, 50 of term 3, then its no-op of term 4 at 101.
    let leader_log: Vec<Term> = [[1; 50], [3; 50]].concat();
    let l = leader_with_log(1, 3, &leader_log, 10);
    // Follower 2: the same 10 entries of term 1, then 30 of a term-2 leader that failed.
    let f = with_log(2, 3, 3, &[[1; 10].as_slice(), &[2; 30]].concat(), 10);
    let mut net = Net::with_nodes(vec![l, f, node(3, 3)]);
    net.isolate(3, true);
    net.settle();
    // Rejected at 100 (follower ends at 40), then at 40 (term 2, first index 11); the
    // third probe at 10 matches, and two batches of at most 64 entries carry the rest.
    assert_eq!(net.rejections(), 2);
    let appends = net.delivered.iter().filter(|b| b.from == 1).flat_map(|b| &b.messages);
    let prevs: Vec<(Index, usize)> = appends
        .map(|m| match m {
            Message::Append { prev_index, entries, .. } => (*prev_index, entries.len()),
            other => panic!("not an append: {other:?}"),
        })
        .collect();
    assert_eq!(prevs, vec![(100, 1), (40, 61), (10, 64), (74, 27)]);
    let (l, f) = (&net.nodes[0], &net.nodes[1]);
    assert_eq!(l.commit_index(), 101);
    assert_eq!(logged(f, 1..200), logged(l, 1..200));
}
