//! Unit tests of the node, one file per part of the Raft paper. Most drive a node by hand
//! and assert the complete `Ready` a step produces; `Net` wires several nodes together with
//! perfect delivery for the tests that need a whole cluster.
//!
//! Every test is named after the section of the Raft paper (Ongaro and Ousterhout, 2014)
//! whose rule it pins, or, for the parts the paper leaves to the implementation, after the
//! engine's own rule (`config_`, `zero_copy_`, `determinism_`).

mod client;
mod commit;
mod determinism;
mod election;
mod flow;
mod recovery;
mod replication;
mod resend;
mod safety;
mod snapshot;
mod zero_copy;

use crate::{
    AckOutcome, Batch, ClientReply, ClientRequest, Config, Entry, HardState, Index, Message, Node,
    NodeId, Op, Outcome, Payload, Ready, RecoverError, ResendPolicy, Role, Snapshot, Term, NONE,
};
use bytes::Bytes;
use std::sync::Arc;

pub(super) const MS: u64 = 1_000_000;

/// A config for node `id` of `n` with round numbers: election 100-200 ms, heartbeat 10 ms,
/// the fixed resend policy at 20 ms (the hand-driven tests pin its timer; the adaptive
/// policy's tests name theirs), batches of 64, one batch in flight.
pub(super) fn config(id: NodeId, n: u64) -> Config {
    Config {
        resend_policy: ResendPolicy::Fixed,
        election_timeout_min_ns: 100 * MS,
        election_timeout_max_ns: 200 * MS,
        heartbeat_interval_ns: 10 * MS,
        resend_threshold_ns: 20 * MS,
        batch_entries_max: 64,
        ..Config::new(id, n)
    }
}

pub(super) fn node(id: NodeId, n: u64) -> Node {
    Node::new(config(id, n)).unwrap()
}

pub(super) fn put(client: u64, seq: u64, key: &'static str, value: &'static str) -> ClientRequest {
    let op = Op::Put {
        key: Bytes::from_static(key.as_bytes()),
        value: Bytes::from_static(value.as_bytes()),
    };
    ClientRequest { client, seq, op }
}

pub(super) fn append_op(
    client: u64,
    seq: u64,
    key: &'static str,
    value: &'static str,
) -> ClientRequest {
    let op = Op::Append {
        key: Bytes::from_static(key.as_bytes()),
        value: Bytes::from_static(value.as_bytes()),
    };
    ClientRequest { client, seq, op }
}

pub(super) fn get(client: u64, seq: u64, key: &'static str) -> ClientRequest {
    ClientRequest { client, seq, op: Op::Get { key: Bytes::from_static(key.as_bytes()) } }
}

pub(super) fn ok(client: u64, seq: u64, value: Option<&'static str>) -> ClientReply {
    let outcome = Outcome::Ok(value.map(|v| Bytes::from_static(v.as_bytes())));
    ClientReply { client, seq, outcome }
}

pub(super) fn fail(client: u64, seq: u64) -> ClientReply {
    ClientReply { client, seq, outcome: Outcome::Fail }
}

pub(super) fn redirect(client: u64, seq: u64, hint: NodeId) -> ClientReply {
    ClientReply { client, seq, outcome: Outcome::Redirect(hint) }
}

pub(super) fn hs(term: Term, vote: NodeId) -> Option<HardState> {
    Some(HardState { term, vote })
}

pub(super) fn batch(from: NodeId, to: NodeId, messages: Vec<Message>) -> Batch {
    Batch { from, to, messages }
}

pub(super) fn noop(term: Term, index: Index) -> Entry {
    Entry { term, index, payload: Payload::Noop }
}

pub(super) fn entry(term: Term, index: Index, request: ClientRequest) -> Entry {
    Entry { term, index, payload: Payload::Request(Arc::new(request)) }
}

pub(super) fn request_vote(term: Term, last_index: Index, last_term: Term) -> Message {
    Message::RequestVote { term, last_index, last_term }
}

pub(super) fn vote(term: Term, granted: bool) -> Message {
    Message::Vote { term, granted }
}

/// An append after the entry `prev` = (index, term).
pub(super) fn append(
    term: Term,
    prev: (Index, Term),
    entries: Vec<Entry>,
    commit: Index,
) -> Message {
    Message::Append { term, prev_index: prev.0, prev_term: prev.1, entries, commit }
}

pub(super) fn matched(term: Term, index: Index) -> Message {
    Message::AppendAck { term, outcome: AckOutcome::Match(index) }
}

pub(super) fn conflict(term: Term, rejected: Index, hint_index: Index, hint_term: Term) -> Message {
    Message::AppendAck { term, outcome: AckOutcome::Conflict { rejected, hint_index, hint_term } }
}

pub(super) fn stale(term: Term) -> Message {
    Message::AppendAck { term, outcome: AckOutcome::StaleTerm }
}

pub(super) fn heartbeat(term: Term, commit: Index) -> Message {
    Message::Heartbeat { term, commit }
}

/// A copy of the entries of `node`'s log in `range`.
pub(super) fn logged(node: &Node, range: std::ops::Range<Index>) -> Vec<Entry> {
    node.entries(range).cloned().collect()
}

/// What a runtime would have on disk: the last hard state, the latest snapshot and the
/// entries after it, each `Ready` performed as the engine asks.
#[derive(Default, Clone)]
pub(super) struct Disk {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// Durable entries, contiguous; the first may come after index 1.
    pub entries: Vec<Entry>,
}

impl Disk {
    /// Performs a `Ready` durably, as a runtime must before sending its messages.
    pub fn persist(&mut self, node: &mut Node) -> Ready {
        let ready = take(node);
        if let Some(hs) = ready.hard_state {
            self.hard_state = hs;
        }
        if let Some(s) = &ready.snapshot {
            self.snapshot = Some(s.clone());
            self.entries.retain(|e| e.index > s.index);
            if self.entries.first().is_some_and(|e| e.index != s.index + 1) {
                self.entries.clear();
            }
        }
        self.entries.retain(|e| e.index < ready.entries.start);
        self.entries.extend(node.entries(ready.entries.clone()).cloned());
        ready
    }

    pub fn restore(&self, config: Config, now_ns: u64) -> Result<Node, RecoverError> {
        Node::restore(config, self.hard_state, self.snapshot.clone(), self.entries.clone(), now_ns)
    }

    /// A node restarted from this disk, which must be sound.
    pub fn recover(&self, config: Config, now_ns: u64) -> Node {
        self.restore(config, now_ns).unwrap()
    }
}

/// Takes a node's `Ready` and advances it at once, as an in-memory runtime does.
pub(super) fn take(node: &mut Node) -> Ready {
    let ready = node.ready();
    let copy = Ready {
        hard_state: ready.hard_state,
        snapshot: ready.snapshot.clone(),
        entries: ready.entries.clone(),
        messages: ready.messages.clone(),
        committed: ready.committed.clone(),
        replies: ready.replies.clone(),
    };
    node.advance(ready);
    copy
}

/// Performs a node's `Ready` without looking at it.
pub(super) fn flush(node: &mut Node) {
    let ready = node.ready();
    node.advance(ready);
}

/// Makes node `id` of `n` a candidate by running its clock past the election timeout.
pub(super) fn candidate(id: NodeId, n: u64) -> Node {
    let mut c = node(id, n);
    c.tick(300 * MS);
    assert_eq!(c.role(), Role::Candidate);
    c
}

/// Node 1 of `n`, leader of term 1 at 300 ms with the no-op at index 1 sent to every
/// follower (that `Ready` taken) and acknowledged by all: commit index 1.
pub(super) fn leader(n: u64) -> Node {
    elect(node(1, n))
}

/// Makes a fresh node 1 leader as `leader` describes, whatever its other knobs.
pub(super) fn elect(mut l: Node) -> Node {
    assert_eq!(l.id(), 1);
    let n = l.config().members.len() as NodeId;
    l.tick(300 * MS);
    for peer in 2..=n {
        l.step(peer, vote(1, true));
    }
    flush(&mut l);
    assert_eq!(l.role(), Role::Leader);
    flush(&mut l);
    for peer in 2..=n {
        l.step(peer, matched(1, 1));
    }
    flush(&mut l);
    assert_eq!(l.commit_index(), 1);
    l
}

/// Node `id` of `n` holding no-op entries with the given terms, written by an append from
/// `from` in the last of those terms that also says `commit`. Its `Ready` is taken.
pub(super) fn with_log(id: NodeId, n: u64, from: NodeId, terms: &[Term], commit: Index) -> Node {
    let mut f = node(id, n);
    let entries = terms.iter().enumerate().map(|(k, &t)| noop(t, k as Index + 1)).collect();
    let term = terms.last().copied().unwrap_or(1);
    f.step(from, append(term, (0, 0), entries, commit));
    flush(&mut f);
    assert_eq!(f.last_index(), terms.len() as Index);
    f
}

/// Node `id` of `n` with the given log (see `with_log`, written by the next member),
/// elected leader of the next term by every other member's vote. The leader's first
/// `Ready`, holding its no-op and probes, is left for the caller to take.
pub(super) fn leader_with_log(id: NodeId, n: u64, terms: &[Term], commit: Index) -> Node {
    let other = id % n + 1;
    let mut l = with_log(id, n, other, terms, commit);
    l.tick(l.next_deadline_ns());
    let term = l.term();
    flush(&mut l);
    for peer in (1..=n).filter(|&p| p != id) {
        l.step(peer, vote(term, true));
    }
    assert_eq!(l.role(), Role::Leader);
    l
}

/// An empty `Ready` of a node whose log ends at `last` and which applied through `applied`.
pub(super) fn idle(last: Index, applied: Index) -> Ready {
    Ready {
        hard_state: None,
        snapshot: None,
        entries: last + 1..last + 1,
        messages: vec![],
        committed: applied + 1..applied + 1,
        replies: vec![],
    }
}

/// Elects node 1 of `n`, returning every node with all traffic delivered.
pub(super) fn elected(n: u64) -> Net {
    let mut net = Net::new(n);
    net.now = net.nodes[0].next_deadline_ns();
    net.settle();
    assert_eq!(net.nodes[0].role(), Role::Leader);
    net
}

/// Several nodes with perfect, instant delivery, unless a link is cut.
pub(super) struct Net {
    pub nodes: Vec<Node>,
    pub now: u64,
    /// `cut[a][b]`: messages from node a+1 to node b+1 are dropped.
    pub cut: Vec<Vec<bool>>,
    pub replies: Vec<ClientReply>,
    /// Every batch delivered, in order.
    pub delivered: Vec<Batch>,
    /// Every `Ready` taken, with the node it came from, in order.
    pub trace: Vec<(NodeId, Ready)>,
}

impl Net {
    /// Node 1 times out within 100-200 ms, the others only after a second, so node 1 is
    /// the first candidate unless a test says otherwise.
    pub fn new(n: u64) -> Net {
        let slow = |id| Config {
            election_timeout_min_ns: 1_000 * MS,
            election_timeout_max_ns: 2_000 * MS,
            ..config(id, n)
        };
        Net::with_nodes(
            (1..=n)
                .map(|id| Node::new(if id == 1 { config(id, n) } else { slow(id) }).unwrap())
                .collect(),
        )
    }

    /// A network of the given nodes, which must be members 1..=n in order.
    pub fn with_nodes(nodes: Vec<Node>) -> Net {
        let n = nodes.len();
        Net {
            nodes,
            now: 0,
            cut: vec![vec![false; n]; n],
            replies: Vec::new(),
            delivered: Vec::new(),
            trace: Vec::new(),
        }
    }

    pub fn node(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// Delivers messages until every node is quiet, without advancing time.
    pub fn settle(&mut self) {
        for _round in 0..1_000 {
            let mut batches = Vec::new();
            for node in &mut self.nodes {
                node.tick(self.now);
                while node.has_ready() {
                    let ready = take(node);
                    batches.extend(ready.messages.iter().cloned());
                    self.replies.extend(ready.replies.iter().cloned());
                    self.trace.push((node.id(), ready));
                }
            }
            if batches.is_empty() {
                return;
            }
            for b in batches {
                if !self.cut[b.from as usize - 1][b.to as usize - 1] {
                    let to = &mut self.nodes[b.to as usize - 1];
                    for m in b.messages.iter().cloned() {
                        to.step(b.from, m);
                    }
                    self.delivered.push(b);
                }
            }
        }
        panic!("the network did not settle");
    }

    /// Advances time in steps of `step_ns` up to `until_ns`, settling at each.
    pub fn run_until(&mut self, until_ns: u64, step_ns: u64) {
        while self.now < until_ns {
            self.now = (self.now + step_ns).min(until_ns);
            self.settle();
        }
    }

    /// Cuts (or heals) every link to and from node `id`.
    pub fn isolate(&mut self, id: NodeId, cut: bool) {
        let k = id as usize - 1;
        for other in 0..self.nodes.len() {
            if other != k {
                self.cut[k][other] = cut;
                self.cut[other][k] = cut;
            }
        }
    }

    pub fn leaders(&self) -> Vec<(NodeId, Term)> {
        self.nodes.iter().filter(|n| n.role() == Role::Leader).map(|n| (n.id(), n.term())).collect()
    }

    pub fn commits(&self) -> Vec<Index> {
        self.nodes.iter().map(|n| n.commit_index()).collect()
    }

    /// How many delivered messages were rejections of an append.
    pub fn rejections(&self) -> usize {
        self.delivered
            .iter()
            .flat_map(|b| &b.messages)
            .filter(|m| {
                matches!(m, Message::AppendAck { outcome: AckOutcome::Conflict { .. }, .. })
            })
            .count()
    }
}

#[test]
fn helpers_hand_out_what_they_promise() {
    let l = leader(3);
    assert_eq!((l.term(), l.vote(), l.leader(), l.last_index()), (1, 1, 1, 1));
    let f = with_log(2, 3, 1, &[1, 1, 2], 1);
    assert_eq!((f.term(), f.vote(), f.leader(), f.commit_index()), (2, NONE, 1, 1));
}
