//! What a cluster run reports: the figures of the measured window, summed over every node
//! thread (every incarnation of a restarted node counts) and every load thread.

use super::control::Played;
use super::load::LoadResult;
use super::node::NodeResult;
use super::ClusterConfig;
use crate::history::Operation;
use crate::metrics::{Latency, LatencySummary};
use crate::workload::{RequestCounts, SnapshotCounts};
use serde::Serialize;

pub use crate::metrics::{BatchCounts, MessageCounts};

/// The measured figures of one run (the window after the warm-up).
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// Length of the measured window in seconds.
    pub duration_s: f64,
    /// Operations answered `ok` in the window.
    pub ops_committed: u64,
    /// `ops_committed / duration_s`.
    pub throughput_ops_s: f64,
    /// Client latency: from the scheduled send (open loop) or the send (closed loop).
    pub latency_us: LatencySummary,
    /// Client latency from the first actual send, whatever the schedule.
    pub service_latency_us: LatencySummary,
    /// Leader commit latency: from a proposal to its commit at the leader.
    pub commit_latency_us: LatencySummary,
    /// Message counters.
    pub messages: MessageCounts,
    /// Packet counters.
    pub batches: BatchCounts,
    /// Packets sent per operation answered `ok`: what replication costs on the wire,
    /// resends included; `null` when nothing was answered.
    pub packets_per_op: Option<f64>,
    /// Elections started.
    pub elections: u64,
    /// Times a node became leader.
    pub leader_changes: u64,
    /// Time no live node was leader, in milliseconds (sampled every millisecond).
    pub leaderless_ms: f64,
    /// Requests by outcome.
    pub requests: RequestCounts,
    /// Operations answered per 100 ms from the start of the run, warm-up included.
    pub timeline_ops_per_100ms: Vec<u64>,
    /// The events played, as `ACTION@TIME`, with what they hit (`kill-leader@2s: node 1`).
    pub events_played: Vec<String>,
    /// fsync calls of every node over the measured window (all zero in memory).
    pub fsyncs: FsyncCounts,
    /// Snapshots taken and installed.
    pub snapshots: SnapshotCounts,
    /// What the nodes recovered from their storage at the start; `None` on fresh storage.
    pub recovered: Option<RecoveredReport>,
    /// Nodes that stopped on their own, each with why (a storage error).
    pub node_errors: Vec<String>,
    /// Which core each thread ran on.
    #[serde(skip)]
    pub core_mapping: Vec<String>,
    /// Every client operation, when recorded (completed, or `unknown` if still open).
    #[serde(skip)]
    pub history: Vec<Operation>,
}

/// fsync calls (JSON `fsyncs`), as the WAL counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FsyncCounts {
    /// fdatasync calls on log segments: one per saved `Ready` that had entries, with
    /// `--fsync always`.
    pub log: u64,
    /// fsync calls on the hard-state file.
    pub hard_state: u64,
    /// fsync calls on node directories.
    pub dir: u64,
    /// fsync calls on snapshot files.
    pub snapshot: u64,
}

/// What a cluster started from (JSON `recovered`). See README, "Recovery", for exactly
/// when `keys` is measured.
#[derive(Clone, Debug, Serialize)]
pub struct RecoveredReport {
    /// Log entries recovered: the most any node had.
    pub entries: u64,
    /// Log entries recovered by each node, node 1 first (after its snapshot, if any).
    pub entries_per_node: Vec<u64>,
    /// The highest snapshot index any node recovered (0: no snapshot).
    pub snapshot_index: u64,
    /// The highest term in any node's hard state.
    pub term: u64,
    /// Milliseconds to read every node's storage (in parallel) before the cluster started.
    pub load_ms: f64,
    /// Milliseconds from the start of the cluster (after loading) until a leader had applied
    /// its whole recovered log; `None` if that did not happen during the run.
    pub recovery_ms: Option<f64>,
    /// Keys in that leader's state machine at that moment.
    pub keys: Option<u64>,
    /// That leader's applied index at that moment.
    pub applied_index: Option<u64>,
}

/// What the storage held when the run began, before any thread started.
pub(crate) struct Loaded {
    /// Entries each node recovered.
    pub entries_per_node: Vec<u64>,
    /// The highest snapshot index recovered.
    pub snapshot_index: u64,
    /// The highest term recovered.
    pub term: u64,
    /// Time spent reading the storage.
    pub load_ns: u64,
    /// Whether any node recovered anything.
    pub recovered: bool,
}

/// Sums what every thread handed back into the report.
pub(crate) fn assemble(
    cfg: &ClusterConfig,
    played: Played,
    nodes: Vec<NodeResult>,
    loads: Vec<LoadResult>,
    core_mapping: Vec<String>,
    loaded: Loaded,
) -> RunReport {
    let mut requests = RequestCounts::default();
    let (mut latency, mut service) = (Latency::new(), Latency::new());
    let mut history = Vec::new();
    let mut timeline = vec![0; loads.first().map_or(0, |l| l.timeline.len())];
    for l in loads {
        timeline.iter_mut().zip(&l.timeline).for_each(|(t, x)| *t += x);
        requests.add(&l.counts);
        latency.merge(&l.latency);
        service.merge(&l.service_latency);
        history.extend(l.history);
    }
    let sums = NodeSums::of(&nodes);
    let recovered = loaded.recovered.then(|| {
        let restored = nodes.iter().filter_map(|r| r.restored).min_by_key(|r| r.at_ns);
        RecoveredReport {
            entries: loaded.entries_per_node.iter().copied().max().unwrap_or(0),
            entries_per_node: loaded.entries_per_node,
            snapshot_index: loaded.snapshot_index,
            term: loaded.term,
            load_ms: loaded.load_ns as f64 / 1e6,
            recovery_ms: restored.map(|r| r.at_ns as f64 / 1e6),
            keys: restored.map(|r| r.keys),
            applied_index: restored.map(|r| r.applied_index),
        }
    });
    let mut node_errors: Vec<(u64, String)> =
        nodes.iter().filter_map(|r| r.error.clone().map(|e| (r.id, e))).collect();
    node_errors.sort();
    let duration_s = cfg.duration_ns as f64 / 1e9;
    RunReport {
        duration_s,
        ops_committed: requests.answered,
        throughput_ops_s: requests.answered as f64 / duration_s,
        latency_us: latency.summary_us(),
        service_latency_us: service.summary_us(),
        commit_latency_us: sums.commit.summary_us(),
        messages: sums.messages,
        batches: sums.batches,
        packets_per_op: crate::metrics::per_op(sums.batches.sent, requests.answered),
        elections: sums.elections,
        leader_changes: sums.leader_changes,
        leaderless_ms: played.leaderless_ns as f64 / 1e6,
        requests,
        timeline_ops_per_100ms: timeline,
        events_played: played.events,
        fsyncs: sums.fsyncs,
        snapshots: sums.snapshots,
        recovered,
        node_errors: node_errors.into_iter().map(|(_, e)| e).collect(),
        core_mapping,
        history,
    }
}

/// The node threads' counters, summed.
struct NodeSums {
    commit: Latency,
    messages: MessageCounts,
    batches: BatchCounts,
    fsyncs: FsyncCounts,
    snapshots: SnapshotCounts,
    elections: u64,
    leader_changes: u64,
}

impl NodeSums {
    fn of(nodes: &[NodeResult]) -> NodeSums {
        let mut sums = NodeSums {
            commit: Latency::new(),
            messages: MessageCounts::default(),
            batches: BatchCounts::default(),
            fsyncs: FsyncCounts::default(),
            snapshots: SnapshotCounts::default(),
            elections: 0,
            leader_changes: 0,
        };
        for r in nodes {
            sums.commit.merge(&r.commit_latency);
            sums.messages.sent += r.counters.messages_sent;
            sums.messages.delivered += r.counters.messages_delivered;
            sums.messages.dropped += r.counters.messages_dropped;
            sums.messages.resent += r.stats.batches_resent;
            sums.messages.fast_retransmits += r.stats.fast_retransmits;
            sums.batches.sent += r.counters.batches_sent;
            sums.batches.dropped += r.counters.batches_dropped;
            sums.batches.dropped_full += r.counters.batches_dropped_full;
            sums.batches.duplicated += r.counters.batches_duplicated;
            sums.batches.kinds.add(&r.counters.kinds);
            sums.fsyncs.log += r.syncs.log;
            sums.fsyncs.hard_state += r.syncs.hard_state;
            sums.fsyncs.dir += r.syncs.dir;
            sums.fsyncs.snapshot += r.syncs.snapshot;
            sums.snapshots.add(&r.stats);
            sums.elections += r.stats.elections;
            sums.leader_changes += r.stats.terms_led;
        }
        sums
    }
}
