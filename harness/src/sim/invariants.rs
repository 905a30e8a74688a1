//! The Raft safety properties of Figure 3 of the Raft paper (Ongaro and Ousterhout, "In
//! Search of an Understandable Consensus Algorithm", 2014), plus linearizable key-value
//! replies and the durability Figure 2 asks for across crashes and restarts, checked after
//! every event. Each property is one function citing its section.
//!
//! Every check is incremental: it looks only at what the event changed (the entries a node
//! just appended, the entries it just applied, the replies it just sent, its role and term
//! now), against compact global records. Nothing compares whole logs. The checkers take
//! plain data through [`LogView`], so tests can feed them fabricated histories; a violation
//! is recorded as a line of text with the time and node, never a panic.

use super::model::KvModel;
use super::trace::format_time;
use pinraft_engine::{
    quorum, ClientId, ClientReply, Entry, HardState, Index, Node, NodeId, Outcome, Payload, Role,
    Seq, Snapshot, Term, NONE,
};
use std::collections::btree_map::{BTreeMap, Entry as Slot};
use std::fmt;
use std::ops::Range;

/// Violations kept word for word; later ones are only counted.
pub const VIOLATIONS_MAX: usize = 100;

/// Read access to one node's log, as the checkers need it.
pub trait LogView {
    /// The index of the last entry (0 for an empty log).
    fn last_index(&self) -> Index;
    /// The term at `index` (0 at index 0), `None` past the end.
    fn term_at(&self, index: Index) -> Option<Term>;
    /// The entries in `range`, clipped to the log.
    fn entries_in(&self, range: Range<Index>) -> Vec<&Entry>;
    /// The last index a snapshot covers in place of the log (0: none). Those entries are
    /// committed state; [`Invariants::snapshotted`] checks each snapshot when it is taken.
    fn snapshot_index(&self) -> Index {
        0
    }
}

impl LogView for Node {
    fn snapshot_index(&self) -> Index {
        self.first_index() - 1
    }
    fn last_index(&self) -> Index {
        Node::last_index(self)
    }
    fn term_at(&self, index: Index) -> Option<Term> {
        Node::term_at(self, index)
    }
    fn entries_in(&self, range: Range<Index>) -> Vec<&Entry> {
        self.entries(range).collect()
    }
}

/// A crashed node's disk as recovery will read it: its snapshot's index and the records
/// after it.
#[derive(Clone, Debug, Default)]
pub struct DurableLog {
    /// The durable snapshot's index (0: none).
    pub snapshot_index: Index,
    /// The durable records after it, contiguous from `snapshot_index + 1`.
    pub entries: Vec<Entry>,
}

impl LogView for DurableLog {
    fn last_index(&self) -> Index {
        self.entries.last().map_or(self.snapshot_index, |e| e.index)
    }
    fn term_at(&self, index: Index) -> Option<Term> {
        match index.checked_sub(self.snapshot_index + 1) {
            Some(k) => self.entries.get(k as usize).map(|e| e.term),
            None => (index == 0).then_some(0),
        }
    }
    fn entries_in(&self, range: Range<Index>) -> Vec<&Entry> {
        self.entries.iter().filter(|e| range.contains(&e.index)).collect()
    }
    fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }
}

/// A fabricated log for tests: entry `i` at position `i - 1`.
impl LogView for [Entry] {
    fn last_index(&self) -> Index {
        self.len() as Index
    }
    fn term_at(&self, index: Index) -> Option<Term> {
        match index {
            0 => Some(0),
            i => self.get(i as usize - 1).map(|e| e.term),
        }
    }
    fn entries_in(&self, range: Range<Index>) -> Vec<&Entry> {
        let end = (range.end.max(1) as usize - 1).min(self.len());
        let start = (range.start.max(1) as usize - 1).min(end);
        self[start..end].iter().collect()
    }
}

/// A recovered log, or a crashed node's disk as recovery will read it.
impl LogView for Vec<Entry> {
    fn last_index(&self) -> Index {
        self.as_slice().last_index()
    }
    fn term_at(&self, index: Index) -> Option<Term> {
        self.as_slice().term_at(index)
    }
    fn entries_in(&self, range: Range<Index>) -> Vec<&Entry> {
        self.as_slice().entries_in(range)
    }
}

/// What identifies a log entry across nodes: its term and the request it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryId {
    /// The entry's term.
    pub term: Term,
    /// The (client, seq) it carries; `None` for a leader's no-op.
    pub request: Option<(ClientId, Seq)>,
}

impl EntryId {
    /// The identity of `entry`.
    pub fn of(entry: &Entry) -> EntryId {
        let request = match &entry.payload {
            Payload::Noop => None,
            Payload::Request(r) => Some((r.client, r.seq)),
        };
        EntryId { term: entry.term, request }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.request {
            None => write!(f, "t{} noop", self.term),
            Some((client, seq)) => write!(f, "t{} client {client} seq {seq}", self.term),
        }
    }
}

/// A leader's log tip as last observed: the index and term of its last entry.
#[derive(Clone, Copy, Debug)]
struct Tip {
    term: Term,
    last_index: Index,
    last_term: Term,
}

/// An entry in the global commit order.
#[derive(Clone, Copy, Debug)]
struct Committed {
    id: EntryId,
    /// The term of the node that applied it first: the leader that committed it.
    commit_term: Term,
}

/// The global records every check consults, and the violations found.
#[derive(Debug, Default)]
pub struct Invariants {
    /// Election safety: the leader of each term.
    leaders: BTreeMap<Term, NodeId>,
    /// Leader append-only: each node's tip while it leads, with the term it leads in.
    tips: BTreeMap<NodeId, Tip>,
    /// Log matching: per (index, term) the first entry seen there, and the term before it.
    appended: BTreeMap<(Index, Term), (EntryId, Term)>,
    /// State machine safety: entry `i` of the commit order at position `i - 1`.
    committed: Vec<Committed>,
    /// Per node, the next index it must apply.
    apply_next: BTreeMap<NodeId, Index>,
    /// Per node, the term and vote of the last `Ready` whose messages and replies went out:
    /// what the rest of the cluster may have seen it act on.
    released: BTreeMap<NodeId, HardState>,
    model: KvModel,
    violations: Vec<String>,
    violations_total: u64,
}

impl Invariants {
    /// No history yet.
    pub fn new() -> Invariants {
        Invariants::default()
    }

    /// A node handed out new log entries (`Ready::entries`); `role` and `term` are its own.
    pub fn appended(
        &mut self,
        now_ns: u64,
        node: NodeId,
        role: Role,
        term: Term,
        log: &(impl LogView + ?Sized),
        range: Range<Index>,
    ) {
        if range.is_empty() {
            return;
        }
        if role == Role::Leader {
            self.leader_append_only_no_rewrite(now_ns, node, term, range.start);
        }
        self.log_matching(now_ns, node, log, range);
    }

    /// A node applied the entries of `range` (`Ready::committed`) while in `term`.
    pub fn applied(
        &mut self,
        now_ns: u64,
        node: NodeId,
        term: Term,
        log: &(impl LogView + ?Sized),
        range: Range<Index>,
    ) {
        if !range.is_empty() {
            self.state_machine_safety(now_ns, node, term, log, range);
        }
    }

    /// A node sent a reply to a client.
    pub fn replied(&mut self, now_ns: u64, node: NodeId, reply: &ClientReply) {
        self.linearizable_replies(now_ns, node, reply);
    }

    /// A node's role and term after an event.
    pub fn observed(
        &mut self,
        now_ns: u64,
        node: NodeId,
        role: Role,
        term: Term,
        log: &(impl LogView + ?Sized),
    ) {
        if role != Role::Leader {
            return;
        }
        let new_leadership = self.tips.get(&node).is_none_or(|tip| tip.term != term);
        if new_leadership {
            self.election_safety(now_ns, node, term);
            self.leader_completeness(now_ns, node, term, log);
        } else {
            self.leader_append_only_tip(now_ns, node, term, log);
        }
        let last_index = log.last_index();
        let last_term = log.term_at(last_index).unwrap_or(0);
        self.tips.insert(node, Tip { term, last_index, last_term });
    }

    /// A node sent the messages and replies of a `Ready` while its term and vote were
    /// `hard_state`.
    pub fn released(&mut self, node: NodeId, hard_state: HardState) {
        self.released.insert(node, hard_state);
    }

    /// A crashed node restarted from its disk with `hard_state`. It rebuilds its state
    /// machine from index 1, so it applies from there again (and must apply what every
    /// other node applied).
    /// A crashed node restarted from its disk; it applies again from `apply_from` (1, or
    /// after the snapshot it restored).
    pub fn restarted(
        &mut self,
        now_ns: u64,
        node: NodeId,
        hard_state: HardState,
        apply_from: Index,
    ) {
        self.durable_hard_state(now_ns, node, hard_state);
        self.apply_next.insert(node, apply_from);
    }

    /// A node handed out a snapshot (`Ready::snapshot`), taken of its own state machine or
    /// installed from a leader. Section 7: a snapshot holds committed state only, so its
    /// last entry must be the committed one at its index; a node that installed it applies
    /// next after it.
    pub fn snapshotted(&mut self, now_ns: u64, node: NodeId, snapshot: &Snapshot) {
        let committed = snapshot
            .index
            .checked_sub(1)
            .and_then(|k| self.committed.get(k as usize))
            .map(|c| c.id.term);
        if committed != Some(snapshot.term) {
            let detail = format!(
                "snapshot at index {} of term {}; the committed entry there: {}",
                snapshot.index,
                snapshot.term,
                committed.map_or("none yet".to_string(), |t| format!("term {t}"))
            );
            self.violation(now_ns, node, "snapshot of committed state", "7", detail);
        }
        let next = self.apply_next.entry(node).or_insert(1);
        *next = (*next).max(snapshot.index + 1);
    }

    /// A crashed node could not restart: its disk or the engine refused what it recovered.
    pub fn restart_failed(&mut self, now_ns: u64, node: NodeId, detail: String) {
        self.violation(now_ns, node, "durable state", "5.1", detail);
    }

    /// Node `crashed` just crashed. `logs` are the logs that survive, one per node: a live
    /// node's log, a crashed node's disk as recovery will read it.
    pub fn durability(&mut self, now_ns: u64, crashed: NodeId, logs: &[&dyn LogView]) {
        self.committed_entries_survive(now_ns, crashed, logs);
    }

    /// Node `node` lost its state (a restart with amnesia, never a restart from a disk):
    /// forget what it held, so it may apply from index 1 again, and what it acted on. The
    /// global records stay: they are the truth the restarted node must still agree with.
    pub fn forget(&mut self, node: NodeId) {
        self.tips.remove(&node);
        self.apply_next.remove(&node);
        self.released.remove(&node);
    }

    /// Records a breach of the engine's contract found by the runtime itself.
    pub fn contract(&mut self, now_ns: u64, node: NodeId, detail: String) {
        self.violation(now_ns, node, "engine contract", "-", detail);
    }

    /// Election safety (section 5.2; Figure 3): "at most one leader can be elected in a
    /// given term." Each term's first leader is recorded; any other is a violation.
    fn election_safety(&mut self, now_ns: u64, node: NodeId, term: Term) {
        match self.leaders.entry(term) {
            Slot::Vacant(slot) => {
                slot.insert(node);
            }
            Slot::Occupied(slot) if *slot.get() != node => {
                let detail =
                    format!("leader of term {term}, which node {} leads already", slot.get());
                self.violation(now_ns, node, "election safety", "5.2", detail);
            }
            Slot::Occupied(_) => {}
        }
    }

    /// Leader append-only (section 5.3; Figure 3): "a leader never overwrites or deletes
    /// entries in its log; it only appends new entries." A leader's `Ready::entries` must
    /// start after everything it held when last observed in the same term.
    fn leader_append_only_no_rewrite(
        &mut self,
        now_ns: u64,
        node: NodeId,
        term: Term,
        start: Index,
    ) {
        let Some(tip) = self.tips.get(&node).copied() else { return };
        if tip.term == term && start <= tip.last_index {
            let detail = format!(
                "leader of term {term} rewrote its log from index {start} (it held {})",
                tip.last_index
            );
            self.violation(now_ns, node, "leader append-only", "5.3", detail);
        }
    }

    /// Leader append-only (section 5.3), the tip: the last entry a leader held when last
    /// observed is still there, with the same term, while it leads the same term.
    fn leader_append_only_tip(
        &mut self,
        now_ns: u64,
        node: NodeId,
        term: Term,
        log: &(impl LogView + ?Sized),
    ) {
        let Some(tip) = self.tips.get(&node).copied() else { return };
        let now_term = if tip.last_index <= log.snapshot_index() {
            // Compacted into a snapshot since: the entry committed there is what it held.
            let k = tip.last_index.checked_sub(1).map(|k| k as usize);
            k.and_then(|k| self.committed.get(k)).map(|c| c.id.term)
        } else {
            log.term_at(tip.last_index)
        };
        if log.last_index() < tip.last_index || now_term != Some(tip.last_term) {
            let detail = format!(
                "leader of term {term} held index {} of term {}; now its log ends at {} \
                 with {now_term:?} there",
                tip.last_index,
                tip.last_term,
                log.last_index()
            );
            self.violation(now_ns, node, "leader append-only", "5.3", detail);
        }
    }

    /// Log matching (section 5.3; Figure 3): "if two logs contain an entry with the same
    /// index and term, then the logs are identical in all entries up through the given
    /// index." Checked per new entry: the same (index, term) must carry the same request
    /// and follow the same term at `index - 1` on every node; by induction on the index,
    /// equal entries have equal prefixes.
    fn log_matching(
        &mut self,
        now_ns: u64,
        node: NodeId,
        log: &(impl LogView + ?Sized),
        range: Range<Index>,
    ) {
        let mut found = None;
        for entry in log.entries_in(range) {
            let previous = log.term_at(entry.index - 1).unwrap_or(0);
            let seen = (EntryId::of(entry), previous);
            match self.appended.entry((entry.index, entry.term)) {
                Slot::Vacant(slot) => {
                    slot.insert(seen);
                }
                Slot::Occupied(slot) if *slot.get() != seen && found.is_none() => {
                    let (id, prev) = *slot.get();
                    found = Some(format!(
                        "index {} holds {} after term {previous}; another log holds {id} \
                         after term {prev}",
                        entry.index, seen.0
                    ));
                }
                Slot::Occupied(_) => {}
            }
        }
        if let Some(detail) = found {
            self.violation(now_ns, node, "log matching", "5.3", detail);
        }
    }

    /// Leader completeness (section 5.4; Figure 3): "if a log entry is committed in a given
    /// term, then that entry will be present in the logs of the leaders for all
    /// higher-numbered terms." Checked when a node becomes leader, against every entry
    /// committed in an earlier term (the first to apply an entry is the leader committing it).
    fn leader_completeness(
        &mut self,
        now_ns: u64,
        node: NodeId,
        term: Term,
        log: &(impl LogView + ?Sized),
    ) {
        let covered = log.snapshot_index();
        let missing = self.committed.iter().zip(1..).find(|(c, index)| {
            c.commit_term < term && *index > covered && log.term_at(*index) != Some(c.id.term)
        });
        if let Some((c, index)) = missing {
            let detail = format!(
                "new leader of term {term} lacks index {index} ({}), committed in term {}; \
                 it has term {:?} there",
                c.id,
                c.commit_term,
                log.term_at(index)
            );
            self.violation(now_ns, node, "leader completeness", "5.4", detail);
        }
    }

    /// State machine safety (section 5.4.3; Figure 3): "if a server has applied a log entry
    /// at a given index to its state machine, no other server will ever apply a different
    /// log entry for the same index." Each node must also apply every index once, in order.
    /// The first application of each index feeds the reference model.
    fn state_machine_safety(
        &mut self,
        now_ns: u64,
        node: NodeId,
        term: Term,
        log: &(impl LogView + ?Sized),
        range: Range<Index>,
    ) {
        let expected = self.apply_next.get(&node).copied().unwrap_or(1);
        self.apply_next.insert(node, range.end);
        if range.start != expected {
            let detail = format!(
                "applied from index {}, but its next index to apply was {expected}",
                range.start
            );
            self.violation(now_ns, node, "state machine safety", "5.4.3", detail);
        }
        let entries = log.entries_in(range.clone());
        if entries.len() as u64 != range.end - range.start {
            let detail =
                format!("applied {range:?}, but its log holds only {} of those", entries.len());
            self.violation(now_ns, node, "state machine safety", "5.4.3", detail);
        }
        for entry in entries {
            self.apply_one(now_ns, node, term, entry);
        }
    }

    fn apply_one(&mut self, now_ns: u64, node: NodeId, term: Term, entry: &Entry) {
        let id = EntryId::of(entry);
        let position = entry.index as usize - 1;
        if let Some(first) = self.committed.get(position) {
            if first.id != id {
                let detail = format!(
                    "applied {id} at index {}, where {} was applied first",
                    entry.index, first.id
                );
                self.violation(now_ns, node, "state machine safety", "5.4.3", detail);
            }
        } else if position == self.committed.len() {
            self.committed.push(Committed { id, commit_term: term });
            if let Payload::Request(request) = &entry.payload {
                self.model.apply(request);
            }
        } else {
            let detail = format!(
                "applied index {} before anyone applied index {}",
                entry.index,
                self.committed.len() + 1
            );
            self.violation(now_ns, node, "state machine safety", "5.4.3", detail);
        }
    }

    /// Durable hard state (section 5.2, and Figure 2: `currentTerm` and `votedFor` are
    /// "updated on stable storage before responding to RPCs"): a node restarts with a term
    /// and vote no older than those it acted on. Were the term to go back, the node could
    /// vote twice in a term, or lead a term it already led with a different log.
    fn durable_hard_state(&mut self, now_ns: u64, node: NodeId, hard_state: HardState) {
        let Some(&acted) = self.released.get(&node) else { return };
        let older = hard_state.term < acted.term
            || (hard_state.term == acted.term
                && acted.vote != NONE
                && hard_state.vote != acted.vote);
        if older {
            let detail = format!(
                "restarted with term {} vote {}, but it had acted in term {} with vote {}",
                hard_state.term, hard_state.vote, acted.term, acted.vote
            );
            self.violation(now_ns, node, "durable hard state", "5.2", detail);
        }
    }

    /// Committed entries survive crashes (section 5.3: an entry is committed once it is
    /// "replicated on a majority of the servers", and Figure 2 keeps the log on stable
    /// storage): after every crash, each committed entry is still in a majority of the
    /// surviving logs, so every future leader's majority holds it (leader completeness).
    fn committed_entries_survive(&mut self, now_ns: u64, crashed: NodeId, logs: &[&dyn LogView]) {
        let majority = quorum::majority(logs.len());
        let lost = self.committed.iter().zip(1..).find_map(|(c, index)| {
            let holders = logs
                .iter()
                .filter(|log| {
                    index <= log.snapshot_index() || log.term_at(index) == Some(c.id.term)
                })
                .count();
            (holders < majority).then_some((c, index, holders))
        });
        if let Some((c, index, holders)) = lost {
            let detail = format!(
                "index {index} ({}), committed in term {}, is in {holders} of {} logs after \
                 the crash, fewer than a majority",
                c.id,
                c.commit_term,
                logs.len()
            );
            self.violation(now_ns, crashed, "committed entries survive", "5.3", detail);
        }
    }

    /// Linearizable replies (section 8, "Client interaction"): an `ok` reply answers a
    /// request that committed, and a get's value is the one the reference model read: the
    /// latest put to the key before the get in commit order.
    fn linearizable_replies(&mut self, now_ns: u64, node: NodeId, reply: &ClientReply) {
        let Outcome::Ok(output) = &reply.outcome else { return };
        let (client, seq) = (reply.client, reply.seq);
        let detail = match self.model.result(client, seq) {
            None => format!("ok reply to client {client} seq {seq}, which never committed"),
            Some(expected) if expected != output => format!(
                "client {client} seq {seq} was answered {output:?}; \
                 in commit order it reads {expected:?}"
            ),
            Some(_) => return,
        };
        self.violation(now_ns, node, "linearizable reply", "8", detail);
    }

    fn violation(&mut self, now_ns: u64, node: NodeId, name: &str, section: &str, detail: String) {
        self.violations_total += 1;
        if self.violations.len() < VIOLATIONS_MAX {
            let at = format_time(now_ns);
            self.violations.push(format!("{at} node {node}: {name} (section {section}): {detail}"));
        }
    }

    /// Every violation found, the first [`VIOLATIONS_MAX`] word for word.
    pub fn violations(&self) -> Vec<String> {
        let mut all = self.violations.clone();
        let more = self.violations_total - self.violations.len() as u64;
        if more > 0 {
            all.push(format!("... and {more} more"));
        }
        all
    }

    /// Whether every property held so far.
    pub fn is_clean(&self) -> bool {
        self.violations_total == 0
    }

    /// Distinct client requests committed (each (client, seq) once).
    pub fn ops_committed(&self) -> u64 {
        self.model.applied()
    }

    /// The global commit index: entries applied by at least one node.
    pub fn entries_committed(&self) -> u64 {
        self.committed.len() as u64
    }

    /// Terms that had a leader.
    pub fn leaders_elected(&self) -> u64 {
        self.leaders.len() as u64
    }
}
