//! The engine seam: what any Raft engine must do to run in the harness. A [`Replica`] is
//! driven by one node loop (the threaded cluster's, `cluster/node.rs`), whatever the engine:
//! pinraft's own ([`Pinraft`]), the null engine that answers at once ([`NullReplica`]), and
//! tikv/raft-rs behind an adapter ([`RaftRs`]).
//!
//! The loop calls, in order: `tick` with the time it woke, `step` for each inbound batch,
//! `propose` for each client request, `tick` again, then `ready`, which persists what must be
//! durable, hands out the messages and replies, and advances the engine. A replica never
//! reads a clock, spawns a thread or touches a socket.

mod null;
mod pinraft;
mod raft_rs;
mod raft_rs_log;

pub use null::NullReplica;
pub use pinraft::{packet_kind, Pinraft};
pub use raft_rs::{RaftRs, RAFT_RS_TICK_NS};

use crate::storage::{MemStorage, Recovered, Storage};
use pinraft_engine::{ClientReply, ClientRequest, Config, Index, NodeId, Role, Stats, Term};
use std::sync::Arc;

/// What a packet carries, for the packet counts (JSON `batches.kinds`). A packet with
/// messages of several kinds counts as the first of replication, election, heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// Log entries, snapshots, or their acknowledgements.
    Replication,
    /// Vote requests and votes.
    Election,
    /// Heartbeats and their acknowledgements only.
    Heartbeat,
}

/// One batch for one peer: one packet, one channel operation.
#[derive(Debug)]
pub struct Outbound<B> {
    /// The destination node.
    pub to: NodeId,
    /// The engine's messages.
    pub batch: B,
    /// How many Raft messages the batch holds (JSON `messages`).
    pub messages: u64,
    /// What it carries.
    pub kind: PacketKind,
}

/// What [`Replica::ready`] hands the node loop, after everything durable was saved.
#[derive(Debug)]
pub struct Output<B> {
    /// Batches to send, at most one per destination.
    pub messages: Vec<Outbound<B>>,
    /// Replies to clients, in the order their requests were decided.
    pub replies: Vec<ClientReply>,
}

impl<B> Default for Output<B> {
    fn default() -> Output<B> {
        Output { messages: Vec::new(), replies: Vec::new() }
    }
}

/// What a replica believes, for the control plane and the tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Follower, candidate or leader.
    pub role: Role,
    /// Its current term.
    pub term: Term,
    /// The leader it knows of (`NONE`: none).
    pub leader: NodeId,
    /// Its commit index.
    pub commit: Index,
    /// The last index applied to its state machine.
    pub applied: Index,
}

/// One Raft node as the harness drives it. See the module documentation for the order of
/// calls; `ready` must come before the next `step` or `propose` after `has_ready` is true.
pub trait Replica: Send + 'static {
    /// The messages one packet carries to one peer. Cloned only when a fault duplicates
    /// a packet.
    type Batch: Clone + Send + std::fmt::Debug + 'static;

    /// The time is now `now_ns` (monotonic, from the start of the run).
    fn tick(&mut self, now_ns: u64);
    /// One inbound batch from peer `from`.
    fn step(&mut self, from: NodeId, batch: Self::Batch);
    /// A client request. Returns the log index it was proposed at when this node leads and
    /// took it; any other answer (a redirect, a retry's first answer) comes in a `ready`.
    fn propose(&mut self, request: Arc<ClientRequest>) -> Option<Index>;
    /// Whether `ready` has anything to do.
    fn has_ready(&self) -> bool;
    /// Saves to `storage` (when there is one) everything that must be durable before a
    /// message leaves, then appends the messages and replies to `out`, then advances, until
    /// nothing is ready. An error is a storage failure: the node must stop.
    fn ready(
        &mut self,
        now_ns: u64,
        storage: Option<&mut (dyn Storage + Send)>,
        out: &mut Output<Self::Batch>,
    ) -> Result<(), String>;
    /// When the replica next needs a `tick` without any input (`u64::MAX`: never).
    fn next_deadline_ns(&self) -> u64;
    /// Role, term, leader, commit and applied index.
    fn status(&self) -> Status;
    /// Counters since the start (elections, resends, snapshots); zero where the engine
    /// does not count them.
    fn stats(&self) -> Stats {
        Stats::default()
    }
    /// Keys in its state machine.
    fn kv_len(&self) -> u64;
    /// After a crash in memory: the hard state and log a disk written just before the crash
    /// would hold, for a restart; `None` when the engine cannot restart from one.
    fn leave_behind(&self) -> Option<MemStorage> {
        None
    }
}

/// Which engine the nodes run (`--engine`; JSON `config.engine`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// pinraft's engine.
    #[default]
    Raft,
    /// Answers every request at once: the harness's own cost.
    Null,
    /// tikv/raft-rs 0.7 behind an adapter.
    RaftRs,
}

impl EngineKind {
    /// Per knob (each `Config` field of [`crate::knobs::KNOBS`]), how this engine honours
    /// it: `applied`, `mapped: ...` or `not applicable: ...` (JSON
    /// `config.engine_knobs_applied`).
    pub fn knobs_applied(self, config: &Config) -> Vec<(&'static str, String)> {
        let fields = crate::knobs::KNOBS.iter().flat_map(|k| k.fields).map(|f| f.name);
        match self {
            EngineKind::Raft => fields.map(|f| (f, "applied".to_string())).collect(),
            EngineKind::Null => fields
                .map(|f| (f, "not applicable: the null engine has no consensus".into()))
                .collect(),
            EngineKind::RaftRs => RaftRs::knobs_applied(config),
        }
    }

    /// Whether the same seed gives the same run: raft-rs draws its election timeouts from
    /// an unseeded generator.
    pub fn seed_reproducible(self) -> bool {
        self != EngineKind::RaftRs
    }

    /// The name in flags and JSON.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Raft => "raft",
            EngineKind::Null => "null",
            EngineKind::RaftRs => "raft-rs",
        }
    }
}

/// How a runtime builds the replica of node `config.id` from what its storage recovered.
pub trait BuildReplica: Replica + Sized {
    /// Builds it; the error says what the engine cannot do with this configuration.
    fn build(config: Config, recovered: Recovered, now_ns: u64) -> Result<Self, String>;
}

impl BuildReplica for Pinraft {
    fn build(config: Config, r: Recovered, now_ns: u64) -> Result<Pinraft, String> {
        Pinraft::restore(config, r.hard_state, r.snapshot, r.entries, now_ns)
            .map_err(|e| e.to_string())
    }
}

impl BuildReplica for NullReplica {
    fn build(_: Config, _: Recovered, _: u64) -> Result<NullReplica, String> {
        Ok(NullReplica::default())
    }
}

impl BuildReplica for RaftRs {
    /// A fresh raft-rs node. The adapter keeps raft-rs's log in memory only, so a node with
    /// recovered state cannot be built: restart is refused before a run starts.
    fn build(config: Config, recovered: Recovered, _: u64) -> Result<RaftRs, String> {
        let empty = recovered.entries.is_empty()
            && recovered.snapshot.is_none()
            && recovered.hard_state.term == 0;
        if !empty {
            return Err("raft-rs: the adapter cannot restart a node from storage".to_string());
        }
        RaftRs::new(&config)
    }
}
