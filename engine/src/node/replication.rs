//! Log replication and commitment (Raft paper, sections 5.3 and 5.4), with the original
//! design's flow control: per follower, the batches in flight and when they left; a batch
//! older than the resend timeout goes again with newer entries folded in, and under the
//! adaptive policy a gap a follower reports is repaired at once (fast retransmit).

use super::{Node, Role};
use crate::message::{AckOutcome, Message};
use crate::progress::Sent;
use crate::quorum::committed_index;
use crate::types::{ClientReply, Entry, Index, NodeId, Payload, Term};

impl Node {
    /// Leader: queues, for every follower, the append batches its flow control allows now,
    /// or a heartbeat if the link has been idle for a heartbeat interval.
    pub(super) fn replicate(&mut self) {
        let (first, last) = (self.log.first_index(), self.log.last_index());
        for peer in 0..self.config.members.len() {
            if peer == self.me {
                continue;
            }
            let mut sent = false;
            while let Some((range, why)) =
                self.progress[peer].next_batch(&self.config, first, last, self.now_ns)
            {
                if why != Sent::New {
                    self.stats.batches_resent += 1;
                    self.stats.entries_resent += range.end - range.start;
                    self.stats.fast_retransmits += u64::from(why == Sent::Repair);
                }
                let prev_index = range.start - 1;
                let prev_term = self.log.term(prev_index).expect("next is within the log");
                let entries = self.log.iter(range).cloned().collect();
                let message = Message::Append {
                    term: self.term,
                    prev_index,
                    prev_term,
                    entries,
                    commit: self.commit,
                };
                self.send(peer, message);
                sent = true;
            }
            if self.progress[peer].sending_snapshot() || self.progress[peer].needs_snapshot(first) {
                sent |= self.send_snapshot_chunk(peer);
            }
            if !sent && self.progress[peer].heartbeat_due(&self.config, self.now_ns) {
                self.progress[peer].sent_heartbeat(self.now_ns);
                self.send(peer, Message::Heartbeat { term: self.term, commit: self.commit });
            }
        }
    }

    /// Follower: the consistency check, conflict truncation and append of section 5.3.
    pub(super) fn handle_append(
        &mut self,
        from: NodeId,
        from_pos: usize,
        prev_index: Index,
        prev_term: Term,
        mut entries: Vec<Entry>,
        commit: Index,
    ) {
        self.leader = from;
        self.reset_election_timer();
        // Entries this node compacted into its snapshot are committed, so they match the
        // leader's: skip them and check the rest against the snapshot's last entry.
        let offset = self.log.first_index() - 1;
        let (prev_index, prev_term) = if prev_index < offset {
            let covered = usize::try_from(offset - prev_index).unwrap_or(usize::MAX);
            entries.drain(..covered.min(entries.len()));
            (offset, self.log.term(offset).expect("the offset's term is kept"))
        } else {
            (prev_index, prev_term)
        };
        match self.log.term(prev_index) {
            Some(term) if term == prev_term => {}
            found => {
                let (hint_index, hint_term) = match found {
                    None => (self.log.last_index() + 1, 0),
                    Some(term) => (self.log.first_index_of_term_at(prev_index), term),
                };
                let outcome = AckOutcome::Conflict { rejected: prev_index, hint_index, hint_term };
                self.send(from_pos, Message::AppendAck { term: self.term, outcome });
                return;
            }
        }
        let last_new = prev_index + entries.len() as Index;
        for entry in entries {
            match self.log.term(entry.index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    assert!(
                        entry.index > self.commit,
                        "a committed entry conflicts with the leader"
                    );
                    self.log.truncate_from(entry.index);
                }
                None => {}
            }
            self.log.push(entry);
        }
        self.verified = self.verified.max(last_new);
        self.follow_commit(commit);
        self.ack_match(from_pos);
    }

    /// Follower: a heartbeat's commit index counts only up to the verified prefix.
    pub(super) fn handle_heartbeat(&mut self, from: NodeId, commit: Index) {
        self.leader = from;
        self.reset_election_timer();
        self.follow_commit(commit);
    }

    /// Queues `Match(verified)`, merged into an ack already queued for this leader: the
    /// latest match says everything the earlier ones did.
    fn ack_match(&mut self, to_pos: usize) {
        let (term, verified) = (self.term, self.verified);
        let queue = &mut self.outbox[to_pos];
        if let Some(Message::AppendAck { term: t, outcome: AckOutcome::Match(m) }) =
            queue.last_mut()
        {
            if *t == term {
                *m = verified;
                return;
            }
        }
        queue.push(Message::AppendAck { term, outcome: AckOutcome::Match(verified) });
    }

    /// Advances a follower's commit index, never past what it verified (DESIGN.md's safety
    /// rule, and Figure 2's `min(leaderCommit, index of last new entry)`).
    fn follow_commit(&mut self, leader_commit: Index) {
        let commit = leader_commit.min(self.verified);
        if commit > self.commit {
            self.commit = commit;
            self.apply();
        }
    }

    /// Leader: an answer to an append.
    pub(super) fn handle_append_ack(&mut self, from_pos: usize, outcome: AckOutcome) {
        self.progress[from_pos].heard();
        match outcome {
            AckOutcome::Match(index) => {
                let index = index.min(self.log.last_index());
                if self.progress[from_pos].on_match(&self.config, index, self.now_ns) {
                    self.maybe_commit();
                }
            }
            AckOutcome::Conflict { rejected, hint_index, hint_term } => {
                if hint_term == 0
                    && self.progress[from_pos].on_gap(&self.config, rejected, hint_index)
                {
                    return;
                }
                // Skip the follower's whole conflicting term: resume after the leader's last
                // entry of that term if it has one, else at the follower's hint.
                let next = match self.log.last_index_of_term(hint_term) {
                    Some(index) if hint_term > 0 => index + 1,
                    _ => hint_index,
                };
                self.progress[from_pos].on_conflict(rejected, next);
            }
            AckOutcome::StaleTerm => {}
        }
    }

    /// Leader: commits the highest index a majority holds, if it is of the current term
    /// (section 5.4.2, Figure 8: an older term's entry commits only beneath one of ours).
    pub(super) fn maybe_commit(&mut self) {
        let (stable, me) = (self.log.stable_index(), self.me);
        let matched =
            self.progress
                .iter()
                .enumerate()
                .map(|(p, pr)| if p == me { stable } else { pr.matched() });
        let index = committed_index(matched, &mut self.scratch);
        if index > self.commit && self.log.term(index) == Some(self.term) {
            self.commit = index;
            self.apply();
        }
    }

    /// Applies committed entries in order; a leader answers the requests it appended.
    fn apply(&mut self) {
        while self.applied < self.commit {
            self.applied += 1;
            let index = self.applied;
            let entry = self.log.entry(index).expect("committed entries are in the log");
            let Payload::Request(request) = &entry.payload else { continue };
            let outcome = self.kv.apply(request);
            if self.role == Role::Leader && self.pending.front().is_some_and(|p| p.0 == index) {
                let (_, client, seq) = self.pending.pop_front().expect("checked");
                if self.awaiting.get(&client).is_some_and(|&(s, _)| s == seq) {
                    self.awaiting.remove(&client);
                }
                self.replies.push(ClientReply { client, seq, outcome });
            }
        }
        if self.config.snapshot_entries_threshold > 0 {
            self.maybe_snapshot();
        }
    }
}
