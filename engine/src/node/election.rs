//! Leader election (Raft paper, section 5.2) and the up-to-date rule for votes (5.4.1).

use super::{Node, Role};
use crate::message::Message;
use crate::progress::Progress;
use crate::quorum::majority;
use crate::types::{ClientReply, Entry, NodeId, Outcome, Payload, Term, NONE};
use rand::Rng;

impl Node {
    /// Draws the next election deadline uniformly from the configured timeout range.
    pub(super) fn reset_election_timer(&mut self) {
        let timeout = self
            .rng
            .gen_range(self.config.election_timeout_min_ns..=self.config.election_timeout_max_ns);
        self.election_deadline_ns = self.now_ns.saturating_add(timeout);
    }

    /// Starts an election: a new term, a vote for itself, a vote request to every peer.
    pub(super) fn campaign(&mut self) {
        self.term += 1;
        self.vote = self.config.id;
        self.role = Role::Candidate;
        self.leader = NONE;
        self.verified = 0;
        self.votes = 1 << self.me;
        self.stats.elections += 1;
        self.reset_election_timer();
        if self.has_majority_votes() {
            self.become_leader();
            return;
        }
        let (term, last_index, last_term) =
            (self.term, self.log.last_index(), self.log.last_term());
        for peer in self.peers().collect::<Vec<_>>() {
            self.send(peer, Message::RequestVote { term, last_index, last_term });
        }
    }

    /// Grants at most one vote per term, and only to a candidate whose log is at least as
    /// up-to-date as this node's (sections 5.2 and 5.4.1). The caller settled the term.
    pub(super) fn handle_request_vote(&mut self, from_pos: usize, message: Message) {
        let Message::RequestVote { last_index, last_term, .. } = message else { return };
        let candidate = self.config.members[from_pos];
        let granted = (self.vote == NONE || self.vote == candidate)
            && self.log.is_up_to_date(last_index, last_term);
        if granted {
            self.vote = candidate;
            self.reset_election_timer();
        }
        self.send(from_pos, Message::Vote { term: self.term, granted });
    }

    pub(super) fn handle_vote(&mut self, from_pos: usize, granted: bool) {
        if granted {
            self.votes |= 1 << from_pos;
            if self.has_majority_votes() {
                self.become_leader();
            }
        }
    }

    fn has_majority_votes(&self) -> bool {
        self.votes.count_ones() as usize >= majority(self.config.members.len())
    }

    /// Becomes leader of the current term and appends a no-op of that term, so entries of
    /// earlier terms can commit through it (sections 5.4.2 and 8).
    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = self.config.id;
        self.stats.terms_led += 1;
        let last = self.log.last_index();
        self.progress =
            vec![Progress::new(&self.config, last, self.now_ns); self.config.members.len()];
        self.log.push(Entry { term: self.term, index: last + 1, payload: Payload::Noop });
        self.maybe_commit();
    }

    /// Follows `leader` (or nobody) in `term`, which is not older than the current one.
    /// A deposed leader answers `Fail` to every request it could not commit: their outcome
    /// is unknown, and the clients retry them.
    pub(super) fn become_follower(&mut self, term: Term, leader: NodeId) {
        if term > self.term {
            self.term = term;
            self.vote = NONE;
            self.verified = 0;
        }
        if self.role == Role::Leader {
            self.fail_pending();
            self.progress.clear();
            self.reset_election_timer();
        }
        self.role = Role::Follower;
        self.leader = leader;
    }

    fn fail_pending(&mut self) {
        self.awaiting.clear();
        for (_, client, seq) in self.pending.drain(..) {
            self.replies.push(ClientReply { client, seq, outcome: Outcome::Fail });
        }
    }
}
