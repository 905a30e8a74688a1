//! `Node`: one Raft replica with its key-value state machine, driven entirely by its
//! inputs (`tick`, `step`, `propose`) and read out through `ready`. It owns no thread,
//! clock, socket or file, and its only randomness comes from the seed in its `Config`.
//!
//! `step` settles the term first (section 5.1), then dispatches on the role; the rules
//! themselves live in `election.rs` and `replication.rs`.

mod election;
mod replication;
mod snapshot;
#[cfg(test)]
mod tests;

use crate::config::{Config, ConfigError, RecoverError};
use crate::kv::{Fixed, Kv};
use crate::log::Log;
use crate::message::{AckOutcome, Batch, Message};
use crate::progress::Progress;
use crate::ready::Ready;
use crate::types::{
    ClientId, ClientReply, ClientRequest, Entry, HardState, Index, NodeId, Outcome, Payload, Seq,
    Snapshot, Term, NONE,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

/// A node's role in its current term (section 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader, or waits for one.
    Follower,
    /// Asks for votes.
    Candidate,
    /// Replicates its log and answers clients.
    Leader,
}

/// Counters a runtime reports; they never influence the node's decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Elections this node started (each campaign counts once).
    pub elections: u64,
    /// Times this node became leader.
    pub terms_led: u64,
    /// Append batches sent again: after the resend timeout, or to repair a gap.
    pub batches_resent: u64,
    /// Entries carried by those resent batches.
    pub entries_resent: u64,
    /// Of the resent batches, those that repaired a gap a follower reported (fast
    /// retransmit).
    pub fast_retransmits: u64,
    /// Snapshots this node took of its own state machine.
    pub snapshots_taken: u64,
    /// Snapshots this node installed from a leader.
    pub snapshots_installed: u64,
    /// `InstallSnapshot` chunks this node sent (resends included).
    pub snapshot_chunks_sent: u64,
}

/// One Raft replica. See the module documentation.
#[derive(Debug)]
pub struct Node {
    config: Config,
    /// Position of this node in `config.members`.
    me: usize,
    rng: ChaCha8Rng,
    /// The latest time given to `tick`.
    now_ns: u64,
    term: Term,
    vote: NodeId,
    /// The hard state last handed out in a `Ready`.
    hard_state_sent: HardState,
    log: Log,
    /// Invariant: `applied <= commit <= log.last_index()`; `commit` never decreases.
    commit: Index,
    applied: Index,
    /// Entries applied since the last `Ready` start here.
    committed_from: Index,
    kv: Kv,
    role: Role,
    leader: NodeId,
    /// A follower or candidate starts an election at this time.
    election_deadline_ns: u64,
    /// The last index verified to match the current leader's log; a follower's commit index
    /// never passes it. Reset whenever the term changes.
    verified: Index,
    /// Candidate: a bit per member position that granted its vote.
    votes: u64,
    /// Leader: one entry per member position (this node's own is unused).
    progress: Vec<Progress>,
    /// Leader: requests this leader appended and has yet to answer, by index.
    pending: VecDeque<(Index, ClientId, Seq)>,
    /// Leader: per client, the (seq, index) of its latest request in `pending`, so that a
    /// retry of a request still in flight is neither appended nor answered a second time.
    /// Invariant: every pair here is in `pending`; emptied with it on stepping down.
    awaiting: HashMap<ClientId, (Seq, Index), Fixed>,
    /// Messages queued per member position for the next `Ready`.
    outbox: Vec<Vec<Message>>,
    replies: Vec<ClientReply>,
    stats: Stats,
    scratch: Vec<Index>,
    /// The latest snapshot: taken, installed or restored. A leader sends it to followers
    /// that need compacted entries.
    snapshot: Option<Snapshot>,
    /// Whether `snapshot` is yet to be handed to the runtime in a `Ready`.
    snapshot_unsaved: bool,
    /// Follower: the snapshot being received from the leader, chunk by chunk.
    incoming: Option<snapshot::Incoming>,
}

impl Node {
    /// A fresh follower in term 0 with an empty log. Time starts at 0 until the first `tick`.
    pub fn new(config: Config) -> Result<Node, ConfigError> {
        config.validate()?;
        let me = config.members.iter().position(|&m| m == config.id).expect("validated");
        let members = config.members.len();
        let seed = config.seed ^ config.id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut node = Node {
            me,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now_ns: 0,
            term: 0,
            vote: NONE,
            hard_state_sent: HardState::default(),
            log: Log::new(),
            commit: 0,
            applied: 0,
            committed_from: 1,
            kv: Kv::default(),
            role: Role::Follower,
            leader: NONE,
            election_deadline_ns: 0,
            verified: 0,
            votes: 0,
            progress: Vec::new(),
            pending: VecDeque::new(),
            awaiting: HashMap::default(),
            outbox: vec![Vec::new(); members],
            replies: Vec::new(),
            stats: Stats::default(),
            scratch: Vec::with_capacity(members),
            snapshot: None,
            snapshot_unsaved: false,
            incoming: None,
            config,
        };
        node.reset_election_timer();
        Ok(node)
    }

    /// A node restarted from what it made durable before it stopped: its hard state and its
    /// log (every entry from index 1, as handed out in `Ready::entries`). Its clock starts at
    /// `now_ns`, so its first election timeout runs from the restart, not from time 0. The
    /// commit index is volatile (Figure 2): the node learns it again from the leader and
    /// rebuilds its state machine by applying the log from the start as commits arrive.
    pub fn recover(
        config: Config,
        hard_state: HardState,
        entries: impl IntoIterator<Item = Entry>,
        now_ns: u64,
    ) -> Result<Node, RecoverError> {
        Node::restore(config, hard_state, None, entries, now_ns)
    }

    /// [`Node::recover`] from a durable snapshot too: the state machine is the snapshot's,
    /// committed and applied through its index, and the log continues after it. Entries at
    /// or below the snapshot's index are skipped (a storage may keep some); the rest must
    /// run contiguously from the snapshot's index + 1.
    pub fn restore(
        config: Config,
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: impl IntoIterator<Item = Entry>,
        now_ns: u64,
    ) -> Result<Node, RecoverError> {
        let mut node = Node::new(config)?;
        if let Some(snapshot) = snapshot {
            if snapshot.term > hard_state.term {
                return Err(RecoverError::Snapshot {
                    index: snapshot.index,
                    reason: format!("term {} is newer than the hard state", snapshot.term),
                });
            }
            node.kv = Kv::decode(&snapshot.data)
                .map_err(|reason| RecoverError::Snapshot { index: snapshot.index, reason })?;
            node.log.reset(snapshot.index, snapshot.term);
            node.commit = snapshot.index;
            node.applied = snapshot.index;
            node.committed_from = snapshot.index + 1;
            node.snapshot = Some(snapshot);
        }
        let first = node.log.first_index();
        for entry in entries.into_iter().skip_while(|e| e.index < first) {
            let expected = node.log.last_index() + 1;
            if entry.index != expected {
                return Err(RecoverError::Gap { expected, found: entry.index });
            }
            if entry.term < node.log.last_term() || entry.term > hard_state.term {
                return Err(RecoverError::Term { index: entry.index, term: entry.term });
            }
            node.log.push(entry);
        }
        let recovered = node.log.take_unsent();
        node.log.mark_stable(recovered);
        node.term = hard_state.term;
        node.vote = hard_state.vote;
        node.hard_state_sent = hard_state;
        node.now_ns = now_ns;
        node.reset_election_timer();
        Ok(node)
    }

    /// Advances the node's clock to `now_ns` (never backwards) and fires due timers.
    pub fn tick(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        if self.role != Role::Leader && self.now_ns >= self.election_deadline_ns {
            self.campaign();
        }
    }

    /// Feeds one inbound message from `from`. Messages from non-members are dropped.
    pub fn step(&mut self, from: NodeId, message: Message) {
        let Some(from_pos) = self.position(from) else { return };
        if from_pos == self.me {
            return;
        }
        let term = message.term();
        if term < self.term {
            self.reject_stale(from_pos, &message);
            return;
        }
        if term > self.term {
            let leader = match message {
                Message::Append { .. }
                | Message::Heartbeat { .. }
                | Message::InstallSnapshot { .. } => from,
                _ => NONE,
            };
            self.become_follower(term, leader);
        }
        match self.role {
            Role::Leader => self.step_leader(from_pos, message),
            Role::Candidate => self.step_candidate(from, from_pos, message),
            Role::Follower => self.step_follower(from, from_pos, message),
        }
    }

    /// Submits a client request. A leader appends it and returns its index (or answers at
    /// once if the request was applied already, or returns the index of the copy it appended
    /// already if the request is a retry still in flight); any other node answers `Redirect`
    /// with its best guess of the leader.
    ///
    /// The request may come as an `Arc` the client keeps for its retries: the log then
    /// shares it too, and proposing allocates nothing.
    pub fn propose(&mut self, request: impl Into<Arc<ClientRequest>>) -> Option<Index> {
        let request = request.into();
        if self.role != Role::Leader {
            let outcome = Outcome::Redirect(self.leader);
            self.replies.push(ClientReply { client: request.client, seq: request.seq, outcome });
            return None;
        }
        if let Some(outcome) = self.kv.applied(request.client, request.seq) {
            self.replies.push(ClientReply { client: request.client, seq: request.seq, outcome });
            return None;
        }
        // A retry of a request this leader already appended: the answer will come when that
        // copy commits. Appending another would replicate it twice and answer it twice.
        if let Some(&(seq, index)) = self.awaiting.get(&request.client) {
            if seq == request.seq {
                return Some(index);
            }
        }
        let index = self.log.last_index() + 1;
        self.pending.push_back((index, request.client, request.seq));
        self.awaiting.insert(request.client, (request.seq, index));
        self.log.push(Entry { term: self.term, index, payload: Payload::Request(request) });
        Some(index)
    }

    /// Everything the runtime must do now. A leader decides here which batches to send, so
    /// every request proposed since the last `Ready` can share one append.
    pub fn ready(&mut self) -> Ready {
        if self.role == Role::Leader {
            self.replicate();
        }
        let hard_state = HardState { term: self.term, vote: self.vote };
        let hard_state = (hard_state != self.hard_state_sent).then(|| {
            self.hard_state_sent = hard_state;
            hard_state
        });
        let from = self.config.id;
        let mut messages: Vec<Batch> = self
            .outbox
            .iter_mut()
            .zip(&self.config.members)
            .filter(|(queue, _)| !queue.is_empty())
            .map(|(queue, &to)| Batch { from, to, messages: std::mem::take(queue) })
            .collect();
        // `Ready` promises ascending destinations, but `members` may be in any order. At most
        // MEMBERS_MAX - 1 batches, usually sorted already: the sort costs a pass.
        messages.sort_unstable_by_key(|b| b.to);
        let committed = self.committed_from..self.applied + 1;
        self.committed_from = committed.end;
        let snapshot = self.snapshot.as_ref().filter(|_| self.snapshot_unsaved).cloned();
        self.snapshot_unsaved = false;
        Ready {
            hard_state,
            snapshot,
            entries: self.log.take_unsent(),
            messages,
            committed,
            replies: std::mem::take(&mut self.replies),
        }
    }

    /// Takes back a performed `Ready`: its entries are durable now. A leader may commit
    /// through them, which can make a new `Ready` necessary (see [`Node::has_ready`]).
    pub fn advance(&mut self, ready: Ready) {
        self.log.mark_stable(ready.entries);
        if self.role == Role::Leader {
            self.maybe_commit();
        }
    }

    /// Whether `ready` would hand out any work now.
    pub fn has_ready(&self) -> bool {
        let (first, last) = (self.log.first_index(), self.log.last_index());
        HardState { term: self.term, vote: self.vote } != self.hard_state_sent
            || self.snapshot_unsaved
            || self.log.has_unsent()
            || self.outbox.iter().any(|q| !q.is_empty())
            || !self.replies.is_empty()
            || self.committed_from <= self.applied
            || (self.role == Role::Leader
                && (self.now_ns >= self.next_deadline_ns()
                    || self.peers().any(|p| self.progress[p].can_send(&self.config, first, last))))
    }

    /// When the node next needs a `tick` if no message arrives: the election deadline, or
    /// for a leader the earliest heartbeat or resend.
    pub fn next_deadline_ns(&self) -> u64 {
        if self.role != Role::Leader {
            return self.election_deadline_ns;
        }
        self.peers().map(|p| self.progress[p].deadline_ns(&self.config)).min().unwrap_or(u64::MAX)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id
    }
    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// The current term.
    pub fn term(&self) -> Term {
        self.term
    }
    /// The vote cast in the current term, or `NONE`.
    pub fn vote(&self) -> NodeId {
        self.vote
    }
    /// The current role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// The leader this node believes in, or `NONE`.
    pub fn leader(&self) -> NodeId {
        self.leader
    }
    /// The commit index.
    pub fn commit_index(&self) -> Index {
        self.commit
    }
    /// The index of the last entry applied to the key-value state machine.
    pub fn applied_index(&self) -> Index {
        self.applied
    }
    /// The index of the last log entry.
    pub fn last_index(&self) -> Index {
        self.log.last_index()
    }
    /// The first index the log still holds; earlier ones were compacted into a snapshot.
    pub fn first_index(&self) -> Index {
        self.log.first_index()
    }
    /// How many entries the log holds in memory.
    pub fn log_entries_held(&self) -> u64 {
        self.log.held()
    }
    /// The latest snapshot this node took, installed or was restored from.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }
    /// The term of the entry at `index` (0 for index 0), or `None` past the end of the log.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.log.term(index)
    }
    /// The log entries with indexes in `range`, clipped to what the log holds, in order.
    pub fn entries(&self, range: Range<Index>) -> impl Iterator<Item = &Entry> + '_ {
        self.log.iter(range)
    }
    /// The log entry at `index`, if the log holds it.
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        self.log.entry(index)
    }
    /// The value of `key` in this replica's state machine (empty if never written). For
    /// tests and checkers: a linearizable read goes through `propose`.
    pub fn kv_get(&self, key: &[u8]) -> bytes::Bytes {
        self.kv.get(key)
    }
    /// How many keys this replica's state machine holds.
    pub fn kv_len(&self) -> usize {
        self.kv.len()
    }
    /// Counters for reports.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn position(&self, id: NodeId) -> Option<usize> {
        self.config.members.iter().position(|&m| m == id)
    }

    /// Member positions other than this node's.
    fn peers(&self) -> impl Iterator<Item = usize> + '_ {
        let me = self.me;
        (0..self.config.members.len()).filter(move |&p| p != me)
    }

    fn send(&mut self, to_pos: usize, message: Message) {
        self.outbox[to_pos].push(message);
    }

    /// Answers a message from an older term with the current one, so a deposed leader or
    /// a stale candidate learns it is out of date (section 5.1).
    fn reject_stale(&mut self, from_pos: usize, message: &Message) {
        let term = self.term;
        match message {
            Message::RequestVote { .. } => {
                self.send(from_pos, Message::Vote { term, granted: false })
            }
            Message::Append { .. }
            | Message::Heartbeat { .. }
            | Message::InstallSnapshot { .. } => {
                self.send(from_pos, Message::AppendAck { term, outcome: AckOutcome::StaleTerm })
            }
            Message::Vote { .. } | Message::AppendAck { .. } | Message::SnapshotAck { .. } => {}
        }
    }

    fn step_leader(&mut self, from_pos: usize, message: Message) {
        match message {
            Message::RequestVote { .. } => self.handle_request_vote(from_pos, message),
            Message::AppendAck { outcome, .. } => self.handle_append_ack(from_pos, outcome),
            Message::SnapshotAck { index, received, .. } => {
                self.handle_snapshot_ack(from_pos, index, received)
            }
            // Election safety (section 5.2): no other leader exists in this term, and votes
            // arriving after the election are moot.
            Message::Append { .. }
            | Message::Heartbeat { .. }
            | Message::InstallSnapshot { .. }
            | Message::Vote { .. } => {}
        }
    }

    fn step_candidate(&mut self, from: NodeId, from_pos: usize, message: Message) {
        match message {
            Message::RequestVote { .. } => self.handle_request_vote(from_pos, message),
            Message::Vote { granted, .. } => self.handle_vote(from_pos, granted),
            // A leader of this term exists: follow it (section 5.2).
            Message::Append { .. }
            | Message::Heartbeat { .. }
            | Message::InstallSnapshot { .. } => {
                self.become_follower(self.term, from);
                self.step_follower(from, from_pos, message);
            }
            Message::AppendAck { .. } | Message::SnapshotAck { .. } => {}
        }
    }

    fn step_follower(&mut self, from: NodeId, from_pos: usize, message: Message) {
        match message {
            Message::RequestVote { .. } => self.handle_request_vote(from_pos, message),
            Message::Append { prev_index, prev_term, entries, commit, .. } => {
                self.handle_append(from, from_pos, prev_index, prev_term, entries, commit)
            }
            Message::Heartbeat { commit, .. } => self.handle_heartbeat(from, commit),
            Message::InstallSnapshot { chunk, .. } => {
                self.handle_install_snapshot(from, from_pos, *chunk)
            }
            Message::Vote { .. } | Message::AppendAck { .. } | Message::SnapshotAck { .. } => {}
        }
    }
}
