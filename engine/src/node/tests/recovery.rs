//! Restart from durable state (Raft paper, Figure 2, "Persistent state on all servers"):
//! term, vote and log survive a crash; the commit index and the state machine are rebuilt.

use super::*;

// Figure 2: a single node that acknowledged a put and then crashed still has the write
// after it restarts from its durable state.
#[test]
fn fig2_a_single_node_that_crashes_after_acknowledging_still_has_the_write() {
    let mut disk = Disk::default();
    let mut n = node(1, 1);
    n.tick(300 * MS);
    let _ = disk.persist(&mut n);
    n.propose(put(7, 1, "k", "v"));
    let mut replies = disk.persist(&mut n).replies;
    replies.extend(disk.persist(&mut n).replies);
    assert_eq!(replies, vec![ok(7, 1, None)], "acknowledged");

    let mut n = disk.recover(config(1, 1), 10_000 * MS);
    assert_eq!((n.term(), n.vote(), n.last_index(), n.commit_index()), (1, 1, 2, 0));
    n.tick(10_300 * MS);
    assert_eq!(n.role(), Role::Leader);
    flush(&mut n);
    assert_eq!(n.commit_index(), 3, "the new term's no-op commits everything before it");
    assert_eq!(n.kv_get(b"k"), Bytes::from_static(b"v"));
    n.propose(put(7, 1, "k", "again"));
    assert_eq!(take(&mut n).replies, vec![ok(7, 1, None)], "a retry is answered, not reapplied");
    assert_eq!(n.kv_get(b"k"), Bytes::from_static(b"v"));
}

// Figure 2 and section 5.2: the vote is durable, so a restarted node cannot vote twice in
// the term it voted in.
#[test]
fn s5_2_a_restarted_node_does_not_vote_twice_in_a_term() {
    let mut disk = Disk::default();
    let mut f = node(1, 3);
    f.step(2, request_vote(5, 0, 0));
    let ready = disk.persist(&mut f);
    assert_eq!(ready.hard_state, hs(5, 2));
    let mut f = disk.recover(config(1, 3), 1_000 * MS);
    f.step(3, request_vote(5, 0, 0));
    assert_eq!(take(&mut f).messages, vec![batch(1, 3, vec![vote(5, false)])]);
    f.step(2, request_vote(5, 0, 0));
    assert_eq!(take(&mut f).messages, vec![batch(1, 2, vec![vote(5, true)])]);
}

// The election timer of a restarted node runs from the restart, so a node coming back
// does not start an election the moment it is ticked.
#[test]
fn s5_2_the_election_timeout_runs_from_the_restart() {
    let disk = Disk { hard_state: HardState { term: 3, vote: 0 }, ..Disk::default() };
    let mut f = disk.recover(config(1, 3), 60_000 * MS);
    f.tick(60_000 * MS + 99 * MS);
    assert_eq!(f.role(), Role::Follower);
    f.tick(60_000 * MS + 200 * MS);
    assert_eq!((f.role(), f.term()), (Role::Candidate, 4));
}

// Storage that cannot be what the node wrote is refused with a typed error.
#[test]
fn recovery_refuses_a_log_with_a_gap_or_terms_out_of_order() {
    let hard_state = HardState { term: 2, vote: 0 };
    let gap = vec![noop(1, 1), noop(1, 3)];
    let err = Node::recover(config(1, 3), hard_state, gap, 0).unwrap_err();
    assert_eq!(err, RecoverError::Gap { expected: 2, found: 3 });
    let backwards = vec![noop(2, 1), noop(1, 2)];
    let err = Node::recover(config(1, 3), hard_state, backwards, 0).unwrap_err();
    assert_eq!(err, RecoverError::Term { index: 2, term: 1 });
    let ahead = vec![noop(3, 1)];
    let err = Node::recover(config(1, 3), hard_state, ahead, 0).unwrap_err();
    assert_eq!(err, RecoverError::Term { index: 1, term: 3 });
    let bad_config = Config { members: vec![], ..config(1, 3) };
    assert!(matches!(
        Node::recover(bad_config, hard_state, Vec::new(), 0),
        Err(RecoverError::Config(_))
    ));
}
