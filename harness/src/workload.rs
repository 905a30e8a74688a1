//! Logical clients, shared by the simulator and the threaded cluster. A client has one
//! request outstanding, names it (client, seq), follows redirects, and retries the same
//! (client, seq) after a `fail` or a timeout, so the engine applies it at most once. The
//! client is pure: runtimes give it the time and carry its requests. [`HostedLoad`] is how
//! a runtime hosts another client model instead (`pinraft scenario`'s drivers).

use crate::history::{OpKind, Operation, Outcome as HistoryOutcome};
use bytes::Bytes;
use pinraft_engine::{ClientId, ClientReply, ClientRequest, NodeId, Op, Outcome, Seq, NONE};
use rand::Rng;
use serde::Serialize;
use std::io::Write;
use std::sync::Arc;

/// The shape of the load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadSpec {
    /// Distinct keys, `k0` .. `k{keys-1}`, chosen uniformly.
    pub keys: u64,
    /// Probability (parts per million) that an operation is a get; the rest are puts.
    pub get_ppm: u32,
    /// Bytes in each put's value (at least long enough to make every value unique).
    pub value_size: usize,
}

impl Default for WorkloadSpec {
    fn default() -> WorkloadSpec {
        WorkloadSpec { keys: 1_000, get_ppm: 0, value_size: 16 }
    }
}

/// Requests counted as DESIGN.md's conventions define them. The field names are JSON keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Operations (client, seq) that completed with `ok`.
    pub answered: u64,
    /// Operations still outstanding at the end.
    pub unanswered: u64,
    /// `ok` replies.
    pub ok: u64,
    /// `redirect` replies.
    pub redirect: u64,
    /// `fail` replies.
    pub fail: u64,
    /// Times a client gave up waiting and retried.
    pub timeout: u64,
}

impl RequestCounts {
    /// Adds another set of counts to this one.
    pub fn add(&mut self, other: &RequestCounts) {
        self.answered += other.answered;
        self.unanswered += other.unanswered;
        self.ok += other.ok;
        self.redirect += other.redirect;
        self.fail += other.fail;
        self.timeout += other.timeout;
    }
}

/// Makes random operations. Keys are built once and shared (a clone is a reference count),
/// so generating an operation costs one small allocation, for the put's value.
#[derive(Clone, Debug)]
pub struct OpGen {
    spec: WorkloadSpec,
    keys: Vec<Bytes>,
}

impl OpGen {
    /// A generator for `spec`.
    pub fn new(spec: &WorkloadSpec) -> OpGen {
        let keys = (0..spec.keys.max(1)).map(|k| Bytes::from(format!("k{k}"))).collect();
        OpGen { spec: spec.clone(), keys }
    }

    /// A random operation for `client`'s request `seq`. Put values are unique per
    /// (client, seq), so a history shows which put a get observed.
    pub fn op(&self, rng: &mut impl Rng, client: ClientId, seq: Seq) -> Op {
        let key = self.keys[rng.gen_range(0..self.keys.len())].clone();
        if rng.gen_range(0..1_000_000) < self.spec.get_ppm {
            return Op::Get { key };
        }
        let mut value = Vec::with_capacity(self.spec.value_size.max(24));
        write!(value, "{client}.{seq}").expect("writing to a Vec cannot fail");
        if value.len() < self.spec.value_size {
            value.resize(self.spec.value_size, b'.');
        }
        Op::Put { key, value: Bytes::from(value) }
    }
}

/// The history record (DESIGN.md, "Conventions") of `request`, called at `call_ns`;
/// `done` is its completion, if the client saw one.
pub fn history_record(
    request: &ClientRequest,
    call_ns: u64,
    done: Option<&Completed>,
) -> Operation {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let (op, value) = match &request.op {
        Op::Get { .. } => (OpKind::Get, None),
        Op::Put { value, .. } => (OpKind::Put, Some(text(value))),
        Op::Append { value, .. } => (OpKind::Append, Some(text(value))),
    };
    let output = done.and_then(|d| d.output.as_ref()).map(text);
    Operation {
        client: request.client,
        seq: request.seq,
        op,
        key: text(request.op.key()),
        value,
        output: if op == OpKind::Get { output } else { None },
        call_ns,
        return_ns: done.map(|d| d.return_ns),
        outcome: if done.is_some() { HistoryOutcome::Ok } else { HistoryOutcome::Unknown },
    }
}

/// A request on its way, and what the client knows of it.
#[derive(Clone, Debug)]
pub struct Outstanding {
    /// The request, resent unchanged on every retry; shared with the log it lands in.
    pub request: Arc<ClientRequest>,
    /// When the operation was first sent (its call time).
    pub call_ns: u64,
    /// When the latest attempt was sent.
    pub sent_ns: u64,
    /// Where the latest attempt went.
    pub target: NodeId,
}

/// A finished operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The request.
    pub request: Arc<ClientRequest>,
    /// When it was first sent.
    pub call_ns: u64,
    /// When the `ok` arrived.
    pub return_ns: u64,
    /// A get's value; `None` for puts.
    pub output: Option<Bytes>,
}

/// What a runtime does after handing a client a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing: the reply was for an older attempt or operation.
    Ignore,
    /// The operation finished; the client is idle.
    Done(Completed),
    /// Send the same request again to `to`, not before `at_ns`.
    Retry {
        /// The node to try.
        to: NodeId,
        /// Earliest send time.
        at_ns: u64,
        /// The request, same (client, seq) as before.
        request: Arc<ClientRequest>,
    },
}

/// One logical client.
#[derive(Clone, Debug)]
pub struct Client {
    id: ClientId,
    nodes: u64,
    next_seq: Seq,
    leader_hint: NodeId,
    outstanding: Option<Outstanding>,
}

impl Client {
    /// Client `id` of a cluster of `nodes`, first guessing node `first_guess` as leader.
    pub fn new(id: ClientId, nodes: u64, first_guess: NodeId) -> Client {
        Client { id, nodes, next_seq: 1, leader_hint: first_guess, outstanding: None }
    }

    /// This client's id.
    pub fn id(&self) -> ClientId {
        self.id
    }

    /// The request in flight, if any.
    pub fn outstanding(&self) -> Option<&Outstanding> {
        self.outstanding.as_ref()
    }

    /// Starts the next operation; the client must be idle. Returns where to send it.
    pub fn start(&mut self, op: Op, now_ns: u64) -> (NodeId, Arc<ClientRequest>) {
        assert!(self.outstanding.is_none(), "a client has one request outstanding");
        let request = Arc::new(ClientRequest { client: self.id, seq: self.next_seq, op });
        self.next_seq += 1;
        let target = self.leader_hint;
        let sent =
            Outstanding { request: request.clone(), call_ns: now_ns, sent_ns: now_ns, target };
        self.outstanding = Some(sent);
        (target, request)
    }

    /// The sequence number the next operation will get.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// Handles a reply. A redirect goes to the hinted leader at once, or after `backoff_ns`
    /// to the next node in turn when no leader is known; a `fail` is retried at once.
    pub fn on_reply(
        &mut self,
        reply: &ClientReply,
        now_ns: u64,
        backoff_ns: u64,
        counts: &mut RequestCounts,
    ) -> Next {
        let Some(out) = &mut self.outstanding else { return Next::Ignore };
        if reply.seq != out.request.seq {
            return Next::Ignore;
        }
        match &reply.outcome {
            Outcome::Ok(output) => {
                counts.ok += 1;
                counts.answered += 1;
                self.leader_hint = out.target;
                let out = self.outstanding.take().expect("checked");
                let output = output.clone();
                Next::Done(Completed {
                    request: out.request,
                    call_ns: out.call_ns,
                    return_ns: now_ns,
                    output,
                })
            }
            Outcome::Redirect(hint) => {
                counts.redirect += 1;
                let (to, at_ns) = match *hint {
                    NONE => (out.target % self.nodes + 1, now_ns + backoff_ns),
                    hint if hint == out.target => (hint, now_ns + backoff_ns),
                    hint => (hint, now_ns),
                };
                self.retry(to, at_ns)
            }
            Outcome::Fail => {
                counts.fail += 1;
                let to = out.target;
                self.retry(to, now_ns)
            }
        }
    }

    /// Gives up waiting when the latest attempt is older than `timeout_ns`, and retries at
    /// the next node in turn.
    pub fn on_tick(&mut self, now_ns: u64, timeout_ns: u64, counts: &mut RequestCounts) -> Next {
        match &self.outstanding {
            Some(out) if now_ns.saturating_sub(out.sent_ns) >= timeout_ns => {
                counts.timeout += 1;
                let to = out.target % self.nodes + 1;
                self.retry(to, now_ns)
            }
            _ => Next::Ignore,
        }
    }

    /// When the latest attempt times out, if one is outstanding.
    pub fn deadline_ns(&self, timeout_ns: u64) -> Option<u64> {
        self.outstanding.as_ref().map(|o| o.sent_ns.saturating_add(timeout_ns))
    }

    /// Records that a retry was sent to `to` at `now_ns` (after a `Next::Retry`'s wait).
    pub fn sent(&mut self, to: NodeId, now_ns: u64) {
        if let Some(out) = &mut self.outstanding {
            out.target = to;
            out.sent_ns = now_ns;
        }
    }

    fn retry(&mut self, to: NodeId, at_ns: u64) -> Next {
        self.leader_hint = to;
        let out = self.outstanding.as_mut().expect("retry of an outstanding request");
        out.target = to;
        out.sent_ns = at_ns;
        Next::Retry { to, at_ns, request: out.request.clone() }
    }
}

/// What a [`HostedLoad`] sees of the cluster when it acts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView {
    /// The live node leading the highest term, if any.
    pub leader: Option<NodeId>,
    /// Per node, at index `id - 1`: not crashed.
    pub alive: Vec<bool>,
}

impl ClusterView {
    /// Whether node `id` exists and is alive.
    pub fn is_alive(&self, id: NodeId) -> bool {
        id != NONE && self.alive.get(id as usize - 1).copied().unwrap_or(false)
    }
}

/// What a [`HostedLoad`] asks its runtime to do, at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadAction {
    /// Send a request to a node: one client packet, never lost (it may find the node dead).
    Send {
        /// The node.
        to: NodeId,
        /// The request.
        request: Arc<ClientRequest>,
    },
    /// Crash a node (it stays down unless restarted).
    Crash(NodeId),
    /// Restart a crashed node from its durable storage.
    Restart(NodeId),
    /// Cut every link, both ways, between these nodes and the others, replacing any
    /// earlier cut.
    Partition(Vec<NodeId>),
    /// Remove every cut.
    Heal,
}

/// A client model that a runtime (the simulator or the threaded cluster) hosts in place of
/// its own clients: it decides what to send where and when, and may script faults; the
/// runtime carries its requests and replies and performs its actions. `pinraft scenario`
/// drives both runtimes through this, so one implementation scores both the same way.
pub trait HostedLoad: Send + std::fmt::Debug + 'static {
    /// When the load next wants [`HostedLoad::wake`] without a reply (`u64::MAX`: never).
    fn next_wake_ns(&self) -> u64;
    /// Acts on everything due at `now_ns`.
    fn wake(&mut self, now_ns: u64, view: &ClusterView, out: &mut Vec<LoadAction>);
    /// A reply arrived at `now_ns`. The node that sent it is the one its request went to.
    fn on_reply(
        &mut self,
        reply: ClientReply,
        now_ns: u64,
        view: &ClusterView,
        out: &mut Vec<LoadAction>,
    );
    /// The load itself, to be downcast by its owner after the run.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// Packets between nodes by what they carry. A packet (one batch) with messages of several
/// kinds counts once, as the first of replication, election, heartbeat that it carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PacketKinds {
    /// Packets with an `Append`, an `AppendAck`, or a snapshot chunk or its ack.
    pub replication: u64,
    /// Packets with a `RequestVote` or a `Vote` (and no replication message).
    pub election: u64,
    /// Packets of heartbeats only.
    pub heartbeat: u64,
}

impl PacketKinds {
    /// Counts one packet carrying `messages`.
    pub fn count(&mut self, messages: &[pinraft_engine::Message]) {
        if !messages.is_empty() {
            self.add_kind(crate::replica::packet_kind(messages));
        }
    }

    /// Counts one packet of `kind`.
    pub fn add_kind(&mut self, kind: crate::replica::PacketKind) {
        use crate::replica::PacketKind;
        match kind {
            PacketKind::Replication => self.replication += 1,
            PacketKind::Election => self.election += 1,
            PacketKind::Heartbeat => self.heartbeat += 1,
        }
    }

    /// Adds another set of counts to this one.
    pub fn add(&mut self, other: &PacketKinds) {
        self.replication += other.replication;
        self.election += other.election;
        self.heartbeat += other.heartbeat;
    }

    /// Every packet counted.
    pub fn total(&self) -> u64 {
        self.replication + self.election + self.heartbeat
    }
}

/// Snapshot counters (JSON `snapshots`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotCounts {
    /// Snapshots nodes took of their own state machines.
    pub taken: u64,
    /// Snapshots followers installed from a leader.
    pub installed: u64,
    /// `InstallSnapshot` chunks sent, resends included.
    pub chunks_sent: u64,
}

impl SnapshotCounts {
    /// Adds one node's engine counters.
    pub fn add(&mut self, stats: &pinraft_engine::Stats) {
        self.taken += stats.snapshots_taken;
        self.installed += stats.snapshots_installed;
        self.chunks_sent += stats.snapshot_chunks_sent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn reply(seq: Seq, outcome: Outcome) -> ClientReply {
        ClientReply { client: 9, seq, outcome }
    }

    #[test]
    fn follows_redirects_retries_fails_and_completes_once() {
        let mut counts = RequestCounts::default();
        let mut c = Client::new(9, 3, 1);
        let (to, req) = c.start(Op::Get { key: Bytes::from_static(b"k") }, 100);
        assert_eq!((to, req.seq), (1, 1));
        let next = c.on_reply(&reply(1, Outcome::Redirect(3)), 110, 50, &mut counts);
        assert_eq!(next, Next::Retry { to: 3, at_ns: 110, request: req.clone() });
        let next = c.on_reply(&reply(1, Outcome::Redirect(NONE)), 120, 50, &mut counts);
        assert_eq!(next, Next::Retry { to: 1, at_ns: 170, request: req.clone() });
        let next = c.on_reply(&reply(1, Outcome::Fail), 180, 50, &mut counts);
        assert_eq!(next, Next::Retry { to: 1, at_ns: 180, request: req.clone() });
        assert_eq!(c.on_tick(999, 1_000, &mut counts), Next::Ignore);
        assert!(matches!(c.on_tick(1_180, 1_000, &mut counts), Next::Retry { to: 2, .. }));
        let value = Some(Bytes::from_static(b"v"));
        let done = c.on_reply(&reply(1, Outcome::Ok(value.clone())), 1_200, 50, &mut counts);
        let want = Completed { request: req, call_ns: 100, return_ns: 1_200, output: value };
        assert_eq!(done, Next::Done(want));
        assert_eq!(c.on_reply(&reply(1, Outcome::Ok(None)), 1_300, 50, &mut counts), Next::Ignore);
        let want =
            RequestCounts { answered: 1, unanswered: 0, ok: 1, redirect: 2, fail: 1, timeout: 1 };
        assert_eq!(counts, want);
        assert_eq!(c.next_seq(), 2);
    }

    #[test]
    fn random_ops_follow_the_mix_and_make_unique_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let gen = OpGen::new(&WorkloadSpec { keys: 4, get_ppm: 500_000, value_size: 8 });
        let ops: Vec<Op> = (1..=1_000).map(|seq| gen.op(&mut rng, 3, seq)).collect();
        let gets = ops.iter().filter(|op| matches!(op, Op::Get { .. })).count();
        assert!((400..600).contains(&gets), "about half are gets: {gets}");
        let values: std::collections::BTreeSet<_> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Put { value, .. } => Some(value.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(values.len(), 1_000 - gets, "every put value is unique");
        assert!(values.iter().all(|v| v.len() >= 8));
        assert!(ops.iter().all(|op| op.key().len() == 2), "keys k0..k3");
    }
}
