//! tikv/raft-rs (crate `raft` 0.7) behind the [`Replica`] seam, so that the harness can run
//! the very same workloads, faults and checkers against a widely used Raft library and
//! compare it with pinraft's engine.
//!
//! The adapter keeps the log and hard state in memory, in [`LogStore`] (a `raft::Storage`
//! that, unlike raft-rs's `MemStorage`, clones only the entries it hands out), and
//! applies committed requests to pinraft's [`Kv`], the same state machine with the same
//! once-only client table the pinraft engine uses, so that both engines answer clients by
//! the same rules. Each client request is one log entry, encoded by hand (see
//! [`encode_request`]), because the harness measures replication per request.
//!
//! Time: raft-rs counts time in ticks, not nanoseconds. A tick here is
//! [`RAFT_RS_TICK_NS`]; [`Replica::tick`] calls `RawNode::tick` once per whole tick elapsed
//! and the pinraft timeouts are rounded to whole ticks (see [`RaftRs::knobs_applied`]).
//!
//! Not reproducible from a seed: raft-rs draws its randomized election timeouts from
//! `rand::thread_rng()`, an unseeded generator, and offers no way to seed it. `config.seed`
//! is therefore ignored, and two runs with the same seed may elect different leaders at
//! different times.
//!
//! Not supported: durable storage (`--storage wal`), snapshots (the whole log stays in
//! memory), and restart (`leave_behind` is `None`). The caller refuses those earlier.

use super::raft_rs_log::LogStore;
use super::{Outbound, Output, PacketKind, Replica, Status};
use crate::storage::Storage;
use bytes::Bytes;
use pinraft_engine::{
    ClientId, ClientReply, ClientRequest, Config, Index, Kv, NodeId, Op, Outcome, Role, Seq, Stats,
    Term,
};
use raft::eraftpb::{Entry, EntryType, Message, MessageType};
use raft::{RawNode, StateRole};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The length of one raft-rs tick: 1 ms. Finer than any pinraft timeout worth running, so
/// rounding the timeouts to whole ticks changes them by at most a millisecond, and coarse
/// enough that an idle node wakes only a thousand times a second.
pub const RAFT_RS_TICK_NS: u64 = 1_000_000;

/// The estimated size of one encoded entry of a client request, in bytes, used to turn
/// pinraft's `batch_entries_max` (a count of entries) into raft-rs's `max_size_per_msg` (a
/// count of bytes). A put of the default workload (a key `k0`..`k999` and a 16-byte value)
/// encodes to about 30 bytes of entry data, plus the protobuf entry's index, term and
/// framing; 64 bytes is a round upper estimate, so a message carries somewhat more entries
/// than `batch_entries_max` when values are that small, and fewer when they are longer.
/// raft-rs always sends at least one entry, whatever its size.
pub const ENTRY_BYTES_ESTIMATE: u64 = 64;

/// Why a ready with a snapshot stops the node: see `ready`.
const SNAPSHOT_UNEXPECTED: &str = "raft-rs: a snapshot arrived, but this adapter never compacts";

/// Why a raft-rs replica cannot use the harness's storage: it keeps its own.
const STORAGE_UNSUPPORTED: &str = "raft-rs: --storage wal is not supported by the raft-rs adapter";

/// The op tags of the entry encoding.
const TAG_GET: u8 = 0;
const TAG_PUT: u8 = 1;
const TAG_APPEND: u8 = 2;

/// A client request this node proposed as leader and has not answered yet.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// The term it was proposed in: an entry at its index with another term replaced it.
    term: Term,
    client: ClientId,
    seq: Seq,
}

/// One raft-rs node with pinraft's key-value state machine. See the module documentation.
pub struct RaftRs {
    node: RawNode<LogStore>,
    /// A second handle on the node's storage (a shared core), so that `ready` can persist
    /// into it while `node` is borrowed.
    store: LogStore,
    id: NodeId,
    kv: Kv,
    /// Proposals awaiting their entry's commit, by log index. A node records proposals only
    /// while it leads and forgets all of them when it stops, so one index has one proposal.
    pending: BTreeMap<Index, Pending>,
    /// Replies decided outside a `ready` (retries, redirects, failures) or inside one,
    /// handed out by the next `ready`.
    replies: Vec<ClientReply>,
    /// Whole ticks counted since time 0: the last tick boundary is `ticks * RAFT_RS_TICK_NS`.
    ticks: u64,
    /// Most ticks one `tick` call gives raft-rs: past the longest election timeout, more
    /// ticks only repeat what the first ones did.
    ticks_max: u64,
    /// The last entry index applied to `kv`.
    applied: Index,
    /// Role and term as last observed, to count campaigns and terms led and to notice
    /// losing leadership.
    last_state: StateRole,
    last_term: Term,
    stats: Stats,
}

impl std::fmt::Debug for RaftRs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `RawNode` has no `Debug`; the status says what a reader of a test failure needs.
        f.debug_struct("RaftRs").field("id", &self.id).field("status", &self.status()).finish()
    }
}

/// Rounds `ns` up to whole ticks.
fn ticks_ceil(ns: u64) -> u64 {
    ns.div_ceil(RAFT_RS_TICK_NS)
}

/// pinraft's timeouts in raft-rs ticks: the election tick (also the least randomized
/// timeout), the exclusive bound of the randomized timeout, and the heartbeat tick.
fn tick_counts(config: &Config) -> (u64, u64, u64) {
    // raft-rs draws the timeout from [min_election_tick, max_election_tick); pinraft's
    // maximum is inclusive, hence one more tick.
    (
        ticks_ceil(config.election_timeout_min_ns),
        ticks_ceil(config.election_timeout_max_ns).saturating_add(1),
        (config.heartbeat_interval_ns / RAFT_RS_TICK_NS).max(1),
    )
}

/// The raft-rs configuration that carries pinraft's knobs, as [`RaftRs::knobs_applied`]
/// describes.
fn raft_config(config: &Config) -> Result<raft::Config, String> {
    let usize_of = |name: &str, v: u64| {
        usize::try_from(v).map_err(|_| format!("raft-rs: {name} of {v} ticks does not fit usize"))
    };
    let (election, election_max, heartbeat) = tick_counts(config);
    let election_tick = usize_of("election tick", election)?;
    Ok(raft::Config {
        id: config.id,
        election_tick,
        min_election_tick: election_tick,
        max_election_tick: usize_of("max election tick", election_max)?,
        heartbeat_tick: usize_of("heartbeat tick", heartbeat)?,
        max_inflight_msgs: config.inflight_batches_max,
        max_size_per_msg: max_size_per_msg(config),
        batch_append: true,
        pre_vote: false,
        check_quorum: false,
        ..raft::Config::default()
    })
}

/// raft-rs limits an append message by bytes, pinraft by entries: see
/// [`ENTRY_BYTES_ESTIMATE`].
fn max_size_per_msg(config: &Config) -> u64 {
    (config.batch_entries_max as u64).saturating_mul(ENTRY_BYTES_ESTIMATE)
}

/// Appends `v` as a LEB128 varint: client ids, sequence numbers and lengths are small, so
/// most take one or two bytes instead of eight.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encodes a request as one entry's data: the op tag, the client id, the sequence number
/// (varints), then the key and, for a put or an append, the value, each length-prefixed.
pub fn encode_request(request: &ClientRequest) -> Vec<u8> {
    let (tag, key, value) = match &request.op {
        Op::Get { key } => (TAG_GET, key, None),
        Op::Put { key, value } => (TAG_PUT, key, Some(value)),
        Op::Append { key, value } => (TAG_APPEND, key, Some(value)),
    };
    let mut out = Vec::with_capacity(24 + key.len() + value.map_or(0, |v| v.len()));
    out.push(tag);
    put_varint(&mut out, request.client);
    put_varint(&mut out, request.seq);
    put_varint(&mut out, key.len() as u64);
    out.extend_from_slice(key);
    if let Some(value) = value {
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    }
    out
}

/// A reader over entry data that fails, never panics, on truncated or malformed bytes.
struct Reader<'a> {
    data: &'a Bytes,
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.data.get(self.at).ok_or("entry data truncated")?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("entry data varint overflows u64".to_string());
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("entry data varint longer than ten bytes".to_string())
    }

    /// A length-prefixed byte string, sharing the entry's buffer rather than copying it.
    fn bytes(&mut self) -> Result<Bytes, String> {
        let len = self.varint()?;
        let left = (self.data.len() - self.at) as u64;
        if len > left {
            return Err(format!("entry data claims {len} bytes, {left} left"));
        }
        let end = self.at + len as usize;
        let out = self.data.slice(self.at..end);
        self.at = end;
        Ok(out)
    }
}

/// Decodes what [`encode_request`] encoded. Any other bytes give an error, never a panic.
pub fn decode_request(data: &Bytes) -> Result<ClientRequest, String> {
    let mut r = Reader { data, at: 0 };
    let tag = r.byte()?;
    let client = r.varint()?;
    let seq = r.varint()?;
    let key = r.bytes()?;
    let op = match tag {
        TAG_GET => Op::Get { key },
        TAG_PUT => Op::Put { key, value: r.bytes()? },
        TAG_APPEND => Op::Append { key, value: r.bytes()? },
        other => return Err(format!("entry data has unknown op tag {other}")),
    };
    if r.at != data.len() {
        return Err(format!("entry data has {} trailing bytes", data.len() - r.at));
    }
    Ok(ClientRequest { client, seq, op })
}

/// What a packet of raft-rs messages counts as: replication wins over election, election
/// over heartbeat, as [`PacketKind`] says.
fn packet_kind(batch: &[Message]) -> PacketKind {
    use MessageType::*;
    let has = |types: &[MessageType]| batch.iter().any(|m| types.contains(&m.get_msg_type()));
    if has(&[MsgAppend, MsgAppendResponse, MsgSnapshot]) {
        PacketKind::Replication
    } else if has(&[
        MsgRequestVote,
        MsgRequestVoteResponse,
        MsgRequestPreVote,
        MsgRequestPreVoteResponse,
    ]) {
        PacketKind::Election
    } else {
        PacketKind::Heartbeat
    }
}

impl RaftRs {
    /// A raft-rs node for `config.id` among the voters `config.members`, with an empty log.
    /// The error names what raft-rs cannot honour (for instance an election timeout that
    /// rounds to no more ticks than the heartbeat interval).
    pub fn new(config: &Config) -> Result<RaftRs, String> {
        config.validate().map_err(|e| format!("config: {e}"))?;
        let raft_config = raft_config(config)?;
        raft_config.validate().map_err(|e| format!("raft-rs: {e}"))?;
        let store = LogStore::new(config.members.clone());
        // raft-rs logs through slog; a discarding root logger costs nothing and, unlike the
        // async drain, starts no thread.
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let node = RawNode::new(&raft_config, store.clone(), &logger)
            .map_err(|e| format!("raft-rs: {e}"))?;
        let ticks_max = raft_config.max_election_tick as u64 + 1;
        let last_state = node.raft.state;
        let last_term = node.raft.term;
        Ok(RaftRs {
            node,
            store,
            id: config.id,
            kv: Kv::default(),
            pending: BTreeMap::new(),
            replies: Vec::new(),
            ticks: 0,
            ticks_max,
            applied: 0,
            last_state,
            last_term,
            stats: Stats::default(),
        })
    }

    /// Why the resend knobs (policy, threshold, floor) do not apply.
    const NO_RESEND_TIMER: &'static str = "not applicable: raft-rs has no resend timer; it \
                                           resends on heartbeat responses and append rejections";

    /// Per pinraft knob, how the raft-rs adapter honours it: "applied", "mapped: <the raft-rs
    /// setting and its value>", or "not applicable" with the reason. For result files and the
    /// report, so that a comparison says what each engine was actually asked to do.
    pub fn knobs_applied(config: &Config) -> Vec<(&'static str, String)> {
        let (min_tick, max_tick, heartbeat_tick) = tick_counts(config);
        let size = max_size_per_msg(config);
        let tick_ms = RAFT_RS_TICK_NS as f64 / 1e6;
        vec![
            (
                "election_timeout_min_ns",
                format!(
                    "mapped: election_tick = min_election_tick = {min_tick} ticks of {tick_ms} ms \
                     (rounded up)"
                ),
            ),
            (
                "election_timeout_max_ns",
                format!(
                    "mapped: max_election_tick = {max_tick} ticks of {tick_ms} ms (exclusive \
                     bound: rounded up, plus one); drawn from an unseeded RNG"
                ),
            ),
            (
                "heartbeat_interval_ns",
                format!(
                    "mapped: heartbeat_tick = {heartbeat_tick} ticks of {tick_ms} ms (rounded \
                     down, at least one)"
                ),
            ),
            ("resend_policy", Self::NO_RESEND_TIMER.to_string()),
            ("resend_threshold_ns", Self::NO_RESEND_TIMER.to_string()),
            ("resend_min_ns", Self::NO_RESEND_TIMER.to_string()),
            (
                "batch_entries_max",
                format!(
                    "mapped: max_size_per_msg = {size} bytes ({} entries x {ENTRY_BYTES_ESTIMATE} \
                     estimated bytes each), batch_append = true",
                    config.batch_entries_max
                ),
            ),
            (
                "inflight_batches_max",
                format!("mapped: max_inflight_msgs = {}", config.inflight_batches_max),
            ),
            (
                "snapshot_entries_threshold",
                "not applicable: this adapter keeps the whole log in memory and never snapshots"
                    .to_string(),
            ),
            (
                "snapshot_chunk_bytes",
                "not applicable: this adapter never snapshots (raft-rs sends a snapshot whole)"
                    .to_string(),
            ),
        ]
    }

    /// Compares role and term with what was last seen: counts a campaign each time the node
    /// starts one (a new candidate term) and a term led each time it becomes leader, and
    /// fails every pending proposal when it stops leading, since it can no longer tell
    /// whether they will commit (the client retries; the client table applies it once).
    fn observe(&mut self) {
        let (state, term) = (self.node.raft.state, self.node.raft.term);
        if state == self.last_state && term == self.last_term {
            return;
        }
        let campaigning = matches!(state, StateRole::Candidate | StateRole::PreCandidate);
        if campaigning && (state != self.last_state || term != self.last_term) {
            self.stats.elections += 1;
        }
        if state == StateRole::Leader && self.last_state != StateRole::Leader {
            self.stats.terms_led += 1;
        }
        if self.last_state == StateRole::Leader
            && (state != StateRole::Leader || term != self.last_term)
        {
            self.fail_pending();
        }
        self.last_state = state;
        self.last_term = term;
    }

    /// Answers every pending proposal with `Fail`.
    fn fail_pending(&mut self) {
        for (_, p) in std::mem::take(&mut self.pending) {
            self.replies.push(ClientReply { client: p.client, seq: p.seq, outcome: Outcome::Fail });
        }
    }

    /// Applies committed entries to the key-value store and answers the proposals they
    /// decide. An entry with no data is a new leader's empty entry (or a configuration
    /// change, which this adapter never proposes): nothing to apply, but it still replaces
    /// any proposal recorded at its index.
    fn apply(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            let pending = self.pending.remove(&entry.index);
            let request =
                if entry.data.is_empty() || entry.get_entry_type() != EntryType::EntryNormal {
                    None
                } else {
                    // Entries come only from `encode_request`, so a decoding error is a bug
                    // in this adapter: loud in tests, skipped rather than fatal in a run.
                    let decoded = decode_request(&entry.data);
                    debug_assert!(decoded.is_ok(), "entry {}: {decoded:?}", entry.index);
                    decoded.ok()
                };
            let outcome = request.as_ref().map(|r| self.kv.apply(r));
            self.applied = entry.index;
            if let Some(p) = pending {
                let outcome = match outcome {
                    Some(outcome) if p.term == entry.term => outcome,
                    // Another leader's entry took the index: this proposal never committed.
                    _ => Outcome::Fail,
                };
                self.replies.push(ClientReply { client: p.client, seq: p.seq, outcome });
            }
        }
    }
}

impl Replica for RaftRs {
    type Batch = Vec<Message>;

    fn tick(&mut self, now_ns: u64) {
        let due = now_ns / RAFT_RS_TICK_NS;
        if due <= self.ticks {
            return;
        }
        for _ in 0..(due - self.ticks).min(self.ticks_max) {
            self.node.tick();
            // An election timeout inside a long jump starts a campaign: count it before a
            // later tick could start another.
            self.observe();
        }
        self.ticks = due;
    }

    fn step(&mut self, _from: NodeId, batch: Vec<Message>) {
        for msg in batch {
            // A peer's `MsgPropose` would be a proposal forwarded by raft-rs, which this
            // adapter never does (followers redirect): nobody would answer it.
            if msg.get_msg_type() == MessageType::MsgPropose {
                continue;
            }
            // Errors are local messages or responses from unknown peers: a faulty network's
            // business, nothing this node must act on.
            let _ = self.node.step(msg);
            self.observe();
        }
    }

    fn propose(&mut self, request: Arc<ClientRequest>) -> Option<Index> {
        let (client, seq) = (request.client, request.seq);
        if let Some(outcome) = self.kv.applied(client, seq) {
            self.replies.push(ClientReply { client, seq, outcome });
            return None;
        }
        let redirect = |this: &mut RaftRs| {
            let outcome = Outcome::Redirect(this.node.raft.leader_id);
            this.replies.push(ClientReply { client, seq, outcome });
        };
        // A raft-rs follower that knows a leader forwards a proposal to it and returns Ok,
        // and nobody would answer the client: only a leader proposes; the rest redirect.
        if self.node.raft.state != StateRole::Leader {
            redirect(self);
            return None;
        }
        if self.node.propose(Vec::new(), encode_request(&request)).is_err() {
            redirect(self);
            return None;
        }
        // `propose` returns no index: the leader appended the entry at the end of its log.
        let index = self.node.raft.raft_log.last_index();
        let term = self.node.raft.term;
        if let Some(old) = self.pending.insert(index, Pending { term, client, seq }) {
            // Cannot happen while pending proposals are failed on losing leadership; answer
            // rather than leave a client waiting forever.
            let outcome = Outcome::Fail;
            self.replies.push(ClientReply { client: old.client, seq: old.seq, outcome });
        }
        Some(index)
    }

    fn has_ready(&self) -> bool {
        !self.replies.is_empty() || self.node.has_ready()
    }

    fn ready(
        &mut self,
        _now_ns: u64,
        storage: Option<&mut (dyn Storage + Send)>,
        out: &mut Output<Vec<Message>>,
    ) -> Result<(), String> {
        if storage.is_some() {
            return Err(STORAGE_UNSUPPORTED.to_string());
        }
        let mut sent: Vec<Message> = Vec::new();
        // The protocol of raft-rs 0.7's `RawNode` (examples/five_mem_node): a leader's
        // messages may leave before its entries are persisted (thesis section 10.2.1);
        // everything else waits for persistence.
        while self.node.has_ready() {
            let mut ready = self.node.ready();
            sent.extend(ready.take_messages());
            if !ready.snapshot().is_empty() {
                // A leader sends a snapshot only when its log no longer holds what a follower
                // needs, and this adapter never compacts: it cannot happen, and a node that
                // saw one could not honour it.
                return Err(SNAPSHOT_UNEXPECTED.to_string());
            }
            // These entries were persisted by an earlier ready: safe to apply now.
            self.apply(ready.take_committed_entries());
            self.store.append(ready.entries());
            if let Some(hs) = ready.hs() {
                self.store.set_hard_state(hs.clone());
            }
            sent.extend(ready.take_persisted_messages());
            let mut light = self.node.advance(ready);
            if let Some(commit) = light.commit_index() {
                self.store.set_commit(commit);
            }
            sent.extend(light.take_messages());
            self.apply(light.take_committed_entries());
            self.node.advance_apply();
            self.observe();
        }
        // One packet per destination, in ascending order; each keeps raft-rs's order.
        let mut by_peer: BTreeMap<NodeId, Vec<Message>> = BTreeMap::new();
        for msg in sent {
            by_peer.entry(msg.to).or_default().push(msg);
        }
        out.messages.extend(by_peer.into_iter().map(|(to, batch)| Outbound {
            to,
            messages: batch.len() as u64,
            kind: packet_kind(&batch),
            batch,
        }));
        out.replies.append(&mut self.replies);
        Ok(())
    }

    fn next_deadline_ns(&self) -> u64 {
        (self.ticks + 1).saturating_mul(RAFT_RS_TICK_NS)
    }

    fn status(&self) -> Status {
        let raft = &self.node.raft;
        let role = match raft.state {
            StateRole::Follower => Role::Follower,
            StateRole::Candidate | StateRole::PreCandidate => Role::Candidate,
            StateRole::Leader => Role::Leader,
        };
        Status {
            role,
            term: raft.term,
            leader: raft.leader_id,
            commit: raft.raft_log.committed,
            applied: self.applied,
        }
    }

    fn stats(&self) -> Stats {
        self.stats
    }

    fn kv_len(&self) -> u64 {
        self.kv.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = RAFT_RS_TICK_NS;

    /// Three replicas in one thread on a virtual clock, with instant delivery. `cut` drops
    /// every message from or to one node, as a partition of it would.
    struct Cluster {
        nodes: Vec<RaftRs>,
        now_ns: u64,
        cut: Option<NodeId>,
        /// Every reply each node handed out, in order.
        replies: Vec<Vec<ClientReply>>,
    }

    impl Cluster {
        fn new() -> Cluster {
            let nodes: Vec<RaftRs> =
                (1..=3).map(|id| RaftRs::new(&Config::new(id, 3)).unwrap()).collect();
            Cluster { replies: vec![Vec::new(); nodes.len()], nodes, now_ns: 0, cut: None }
        }

        fn node(&mut self, id: NodeId) -> &mut RaftRs {
            &mut self.nodes[id as usize - 1]
        }

        /// Runs every ready and delivers every message until nothing is left to do.
        fn settle(&mut self) {
            for _ in 0..1_000 {
                let mut inflight = Vec::new();
                for (i, node) in self.nodes.iter_mut().enumerate() {
                    if !node.has_ready() {
                        continue;
                    }
                    let mut out = Output::default();
                    node.ready(self.now_ns, None, &mut out).unwrap();
                    let from = i as NodeId + 1;
                    let tos: Vec<NodeId> = out.messages.iter().map(|o| o.to).collect();
                    assert!(tos.windows(2).all(|w| w[0] < w[1]), "one packet per peer, in order");
                    for o in out.messages {
                        assert_eq!(o.messages, o.batch.len() as u64);
                        assert_ne!(o.to, from, "raft-rs sends nothing to itself");
                        inflight.push((from, o));
                    }
                    self.replies[i].extend(out.replies);
                }
                if inflight.is_empty() {
                    return;
                }
                for (from, o) in inflight {
                    if self.cut == Some(from) || self.cut == Some(o.to) {
                        continue;
                    }
                    self.node(o.to).step(from, o.batch);
                }
            }
            panic!("the cluster never settled");
        }

        /// Advances the clock by one millisecond, ticks everyone and settles.
        fn step_ms(&mut self) {
            self.now_ns += MS;
            for node in &mut self.nodes {
                node.tick(self.now_ns);
            }
            self.settle();
        }

        fn leaders(&self) -> Vec<NodeId> {
            let lead = self.nodes.iter().filter(|n| n.status().role == Role::Leader);
            lead.map(|n| n.id).collect()
        }

        /// Runs until exactly one leader is known to every node not cut off; returns it.
        fn elect(&mut self, within_ns: u64) -> NodeId {
            let deadline = self.now_ns + within_ns;
            while self.now_ns < deadline {
                self.step_ms();
                let leaders: Vec<NodeId> =
                    self.leaders().into_iter().filter(|&l| Some(l) != self.cut).collect();
                if let [leader] = leaders[..] {
                    let agree = self
                        .nodes
                        .iter()
                        .filter(|n| Some(n.id) != self.cut)
                        .all(|n| n.status().leader == leader);
                    if agree {
                        return leader;
                    }
                }
            }
            panic!("no leader within {within_ns} ns");
        }

        /// Proposes at `id` and settles.
        fn propose(&mut self, id: NodeId, request: ClientRequest) -> Option<Index> {
            let index = self.node(id).propose(Arc::new(request));
            self.settle();
            index
        }

        /// The replies node `id` gave `(client, seq)`.
        fn answers(&self, id: NodeId, client: ClientId, seq: Seq) -> Vec<Outcome> {
            let all = self.replies[id as usize - 1].iter();
            all.filter(|r| r.client == client && r.seq == seq).map(|r| r.outcome.clone()).collect()
        }
    }

    fn put(client: ClientId, seq: Seq, key: &str, value: &str) -> ClientRequest {
        let (key, value) = (Bytes::from(key.to_string()), Bytes::from(value.to_string()));
        ClientRequest { client, seq, op: Op::Put { key, value } }
    }

    fn get(client: ClientId, seq: Seq, key: &str) -> ClientRequest {
        ClientRequest { client, seq, op: Op::Get { key: Bytes::from(key.to_string()) } }
    }

    #[test]
    fn elects_one_leader_within_the_timeout_range() {
        let mut c = Cluster::new();
        let config = Config::default();
        let first_campaign = loop {
            c.step_ms();
            if c.nodes.iter().any(|n| n.stats().elections > 0) {
                break c.now_ns;
            }
            assert!(c.now_ns <= config.election_timeout_max_ns + MS, "nobody campaigned");
        };
        assert!(first_campaign >= config.election_timeout_min_ns, "campaign at {first_campaign}");
        // A split vote (two timeouts in one tick) takes another timeout or two.
        let leader = c.elect(4 * config.election_timeout_max_ns);
        assert_eq!(c.leaders(), vec![leader]);
        let status = c.node(leader).status();
        for n in &c.nodes {
            let s = n.status();
            assert_eq!((s.term, s.leader), (status.term, leader), "node {}", n.id);
            let want = if n.id == leader { Role::Leader } else { Role::Follower };
            assert_eq!(s.role, want);
        }
        assert_eq!(c.node(leader).stats().terms_led, 1);
        // Staying leader: heartbeats keep the followers from campaigning.
        for _ in 0..1_000 {
            c.step_ms();
        }
        assert_eq!(c.leaders(), vec![leader]);
        assert_eq!(c.node(leader).status().term, status.term);
    }

    #[test]
    fn puts_commit_everywhere_and_retries_apply_once() {
        let mut c = Cluster::new();
        let leader = c.elect(2_000 * MS);
        let keys = 30;
        for seq in 1..=100u64 {
            let key = format!("k{}", seq % keys);
            let index = c.propose(leader, put(7, seq, &key, &format!("v{seq}")));
            assert!(index.is_some(), "the leader takes put {seq}");
        }
        // Followers learn the last commit index from the next append or heartbeat.
        for _ in 0..100 {
            c.step_ms();
        }
        for seq in 1..=100 {
            assert_eq!(c.answers(leader, 7, seq), vec![Outcome::Ok(None)], "put {seq}");
        }
        let commit = c.node(leader).status().commit;
        for n in &c.nodes {
            assert_eq!(n.kv_len(), keys, "node {}", n.id);
            assert_eq!((n.status().commit, n.status().applied), (commit, commit));
        }
        // Gets read the last put of each key (seq 71..=100 wrote each key last).
        for k in 0..keys {
            let seq = 1_000 + k;
            c.propose(leader, get(8, seq, &format!("k{k}")));
            for _ in 0..5 {
                c.step_ms();
            }
            let last = (71..=100).find(|s| s % keys == k).unwrap();
            let want = Outcome::Ok(Some(Bytes::from(format!("v{last}"))));
            assert_eq!(c.answers(leader, 8, seq), vec![want], "get k{k}");
        }
        // An append retried after its answer gets the first answer and is applied once.
        let append = |seq| ClientRequest {
            client: 9,
            seq,
            op: Op::Append { key: Bytes::from_static(b"a"), value: Bytes::from_static(b"x") },
        };
        assert!(c.propose(leader, append(1)).is_some());
        c.step_ms();
        assert_eq!(c.answers(leader, 9, 1), vec![Outcome::Ok(None)]);
        assert_eq!(c.propose(leader, append(1)), None, "a retry is answered, not proposed");
        c.step_ms();
        assert_eq!(c.answers(leader, 9, 1), vec![Outcome::Ok(None), Outcome::Ok(None)]);
        c.propose(leader, get(9, 2, "a"));
        c.step_ms();
        assert_eq!(c.answers(leader, 9, 2), vec![Outcome::Ok(Some(Bytes::from_static(b"x")))]);
    }

    #[test]
    fn a_follower_redirects_to_the_leader() {
        let mut c = Cluster::new();
        let leader = c.elect(2_000 * MS);
        let follower = (1..=3).find(|&id| id != leader).unwrap();
        assert_eq!(c.propose(follower, put(1, 1, "k", "v")), None);
        assert_eq!(c.answers(follower, 1, 1), vec![Outcome::Redirect(leader)]);
        // Nothing was forwarded: the leader's log holds only its empty entry.
        for _ in 0..100 {
            c.step_ms();
        }
        assert!(c.nodes.iter().all(|n| n.kv_len() == 0));
        assert!(c.answers(leader, 1, 1).is_empty());
    }

    #[test]
    fn a_cut_off_leader_fails_its_pending_proposal() {
        let mut c = Cluster::new();
        let old = c.elect(2_000 * MS);
        let term = c.node(old).status().term;
        c.cut = Some(old);
        assert!(c.propose(old, put(5, 1, "k", "lost")).is_some());
        let new = c.elect(2_000 * MS);
        assert_ne!(new, old);
        assert!(c.node(new).status().term > term);
        assert!(c.answers(old, 5, 1).is_empty(), "no answer while cut off");
        // Healed: the old leader hears the new term and steps down.
        c.cut = None;
        for _ in 0..1_000 {
            c.step_ms();
            if !c.answers(old, 5, 1).is_empty() {
                break;
            }
        }
        assert_eq!(c.answers(old, 5, 1), vec![Outcome::Fail]);
        assert_eq!(c.node(old).status().role, Role::Follower);
        assert_eq!(c.node(old).status().leader, new);
        // The overwritten entry was never applied anywhere.
        assert!(c.nodes.iter().all(|n| n.kv_len() == 0));
    }

    #[test]
    fn garbage_entry_data_is_an_error() {
        let requests = [
            get(1, 2, "k"),
            put(u64::MAX, 300, "key", "value"),
            ClientRequest {
                client: 0,
                seq: 0,
                op: Op::Append { key: Bytes::new(), value: Bytes::new() },
            },
        ];
        for r in &requests {
            let data = Bytes::from(encode_request(r));
            assert_eq!(decode_request(&data).as_ref(), Ok(r));
            // Every truncation of a valid encoding is an error.
            for len in 0..data.len() {
                assert!(decode_request(&data.slice(..len)).is_err(), "{r:?} cut at {len}");
            }
            let mut longer = data.to_vec();
            longer.push(0);
            assert!(decode_request(&Bytes::from(longer)).is_err());
        }
        let crafted: [&[u8]; 5] = [
            &[],
            &[3, 1, 1, 0],
            &[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            &[1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0, 1, 1, 5, b'a'],
        ];
        for data in crafted {
            assert!(decode_request(&Bytes::copy_from_slice(data)).is_err(), "{data:?}");
        }
        // Random bytes: whatever they decode to, decoding returns.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..2_000usize {
            let data: Vec<u8> = (0..len % 40)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = decode_request(&Bytes::from(data));
        }
    }

    #[test]
    fn knobs_cover_every_pinraft_knob() {
        let config = Config::default();
        let knobs = RaftRs::knobs_applied(&config);
        let names: Vec<&str> = knobs.iter().map(|(name, _)| *name).collect();
        let every: Vec<&str> =
            crate::knobs::KNOBS.iter().flat_map(|k| k.fields).map(|f| f.name).collect();
        assert_eq!(names, every, "one entry per knob field, in the knobs' order");
        for (name, how) in &knobs {
            let known = ["applied", "mapped: ", "not applicable"];
            assert!(known.iter().any(|k| how.starts_with(k)), "{name}: {how}");
        }
        let raft = raft_config(&config).unwrap();
        assert_eq!(
            (raft.election_tick, raft.min_election_tick, raft.max_election_tick),
            (150, 150, 301)
        );
        assert_eq!(raft.heartbeat_tick, 50);
        assert_eq!(raft.max_inflight_msgs, 1);
        assert_eq!(raft.max_size_per_msg, 256 * ENTRY_BYTES_ESTIMATE);
    }

    #[test]
    fn refuses_harness_storage_and_unrepresentable_timeouts() {
        let mut node = RaftRs::new(&Config::new(1, 3)).unwrap();
        let mut storage = crate::storage::MemStorage::new();
        let result = node.ready(0, Some(&mut storage), &mut Output::default());
        assert_eq!(result, Err(STORAGE_UNSUPPORTED.to_string()));
        // Both timeouts round to one tick: raft-rs needs the election tick above heartbeat.
        let config = Config {
            election_timeout_min_ns: 600_000,
            election_timeout_max_ns: 900_000,
            heartbeat_interval_ns: 300_000,
            ..Config::new(1, 3)
        };
        let err = RaftRs::new(&config).unwrap_err();
        assert!(err.starts_with("raft-rs: "), "{err}");
    }

    #[test]
    fn ticks_are_whole_and_capped() {
        let mut node = RaftRs::new(&Config::new(1, 1)).unwrap();
        assert_eq!(node.next_deadline_ns(), MS);
        node.tick(MS / 2);
        assert_eq!(node.next_deadline_ns(), MS);
        // A huge jump: capped ticks still carry a lone node past its election timeout.
        node.tick(1_000_000 * MS + 7);
        assert_eq!(node.next_deadline_ns(), 1_000_001 * MS);
        let mut out = Output::default();
        node.ready(0, None, &mut out).unwrap();
        assert_eq!(node.status().role, Role::Leader);
        assert_eq!(node.stats().terms_led, 1);
        // A lone leader commits its own proposal on persistence alone.
        assert_eq!(node.propose(Arc::new(put(1, 1, "k", "v"))), Some(2));
        node.ready(0, None, &mut out).unwrap();
        assert_eq!(
            out.replies,
            vec![ClientReply { client: 1, seq: 1, outcome: Outcome::Ok(None) }]
        );
        assert!(out.messages.is_empty());
    }
}
