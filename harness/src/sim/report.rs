//! `SimReport`: the figures of one simulated run, as JSON (DESIGN.md's keys) and as the
//! aligned plain-text summary `pinraft sim` prints.

use super::config::SimConfig;
use super::network::{BatchCounts, MessageCounts};
use super::simulator::{End, Simulator, EVENTS_MAX};
use super::trace::format_time;
use crate::check::{self, Budget, Verdict};
use crate::history::Operation;
use crate::metrics::per_op;
use crate::storage::SimStorageStats;
use crate::workload::RequestCounts;
use crate::workload::SnapshotCounts;
use pinraft_engine::NodeId;
use serde::Serialize;
use std::fmt::Write;

/// Explored states the end-of-run linearizability check may use: a bound in work, not wall
/// time, so the verdict is the same on every machine.
pub const CHECK_STATES_MAX: u64 = 2_000_000;

/// The version of the JSON below; bumped when a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run measured and found.
#[derive(Clone, Debug, Serialize)]
pub struct SimReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that replays this run.
    pub reproduce: String,
    /// The seed.
    pub seed: u64,
    /// Every parameter.
    pub config: SimConfig,
    /// FNV-1a 64 of every event processed, 16 hex digits.
    pub trace_hash: String,
    /// Distinct client requests committed.
    pub ops_committed: u64,
    /// Log entries committed (requests, retries committed twice, leaders' no-ops).
    pub entries_committed: u64,
    /// Requests by outcome (DESIGN.md, "Conventions").
    pub requests: RequestCounts,
    /// Elections started (campaigns, summed over nodes).
    pub elections: u64,
    /// Terms that elected a leader.
    pub leaders_elected: u64,
    /// Raft messages sent and dropped.
    pub messages: MessageCounts,
    /// Packets (batches) sent, dropped and duplicated.
    pub batches: BatchCounts,
    /// Packets sent per client request committed; `null` when none was.
    pub packets_per_op: Option<f64>,
    /// Safety violations, empty when every invariant held (a history that is not
    /// linearizable is one).
    pub violations: Vec<String>,
    /// Whether the client history is linearizable: `null` when the check ran out of its
    /// budget of explored states (never taken as a pass).
    pub linearizable: Option<bool>,
    /// True when something was unanswered or no leader was in charge at the end.
    pub liveness_failure: bool,
    /// What failed to converge, empty when live.
    pub liveness_problems: Vec<String>,
    /// The leader at the end (0: none).
    pub leader: NodeId,
    /// Nodes down at the end of the run (crashed and not restarted).
    pub crashed: Vec<NodeId>,
    /// Restarts of crashed nodes from their disks.
    pub restarts: u64,
    /// Snapshots over the run, every node and incarnation: `taken`, `installed`,
    /// `chunks_sent`.
    pub snapshots: SnapshotCounts,
    /// What the simulated disks did, summed over nodes: `saves`, `syncs`, `bytes_written`,
    /// `tail_cuts` (torn last records cut at recovery) and `entries_lost` (written, not
    /// synced, lost to a crash).
    pub storage: SimStorageStats,
    /// What each fault event did (the cluster's key for the same list; `events_applied`
    /// below is the simulator's older name, kept for the tools that read it).
    pub events_played: Vec<String>,
    /// What each fault event did.
    pub events_applied: Vec<String>,
    /// Virtual time at the end of the run.
    pub end_ns: u64,
    /// Events processed.
    pub events_processed: u64,
    /// Why the run ended.
    pub end: End,
    /// Every client operation, when `record_history` was set (not part of the JSON; the
    /// history is always recorded and checked).
    #[serde(skip)]
    pub history: Vec<Operation>,
    /// One line per event, when `record_trace` was set (not part of the JSON).
    #[serde(skip)]
    pub trace: Vec<String>,
}

impl SimReport {
    /// No violation and nothing left unanswered.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && !self.liveness_failure
    }

    /// "ok", "FAILED", or "not checked" when the run stopped at a violation.
    pub fn liveness(&self) -> &'static str {
        match (self.liveness_failure, self.end) {
            (true, _) => "FAILED",
            (false, End::Violation) => "not checked",
            (false, _) => "ok",
        }
    }

    /// The aligned plain-text summary, one figure per line, ending with the trace hash.
    pub fn summary(&self) -> String {
        let r = &self.requests;
        let rows: Vec<(&str, String)> = vec![
            ("ops committed", self.ops_committed.to_string()),
            ("entries committed", self.entries_committed.to_string()),
            ("requests answered", r.answered.to_string()),
            ("requests unanswered", r.unanswered.to_string()),
            ("replies ok", r.ok.to_string()),
            ("replies redirect", r.redirect.to_string()),
            ("replies fail", r.fail.to_string()),
            ("client timeouts", r.timeout.to_string()),
            ("elections", self.elections.to_string()),
            ("leaders elected", self.leaders_elected.to_string()),
            ("leader at end", node_or_none(self.leader)),
            ("crashed", list_or_none(&self.crashed)),
            ("restarts", self.restarts.to_string()),
            (
                "snapshots",
                format!(
                    "{} taken, {} installed ({} chunks sent)",
                    self.snapshots.taken, self.snapshots.installed, self.snapshots.chunks_sent
                ),
            ),
            ("disk saves", self.storage.saves.to_string()),
            ("disk syncs", self.storage.syncs.to_string()),
            ("disk bytes written", self.storage.bytes_written.to_string()),
            ("disk tail cuts", self.storage.tail_cuts.to_string()),
            ("entries lost", self.storage.entries_lost.to_string()),
            ("messages sent", self.messages.sent.to_string()),
            ("messages dropped", self.messages.dropped.to_string()),
            ("packets sent", self.batches.sent.to_string()),
            ("packets dropped", self.batches.dropped.to_string()),
            ("packets duplicated", self.batches.duplicated.to_string()),
            ("virtual time", format_time(self.end_ns)),
            ("events processed", self.events_processed.to_string()),
            ("violations", self.violations.len().to_string()),
            ("linearizable", linearizable_text(self.linearizable).to_string()),
            ("end of run", self.end.as_str().to_string()),
            ("liveness", self.liveness().to_string()),
            ("trace hash", self.trace_hash.clone()),
        ];
        let mut out = String::new();
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<22}{value:>20}");
        }
        for line in &self.events_applied {
            let _ = writeln!(out, "event: {line}");
        }
        for line in &self.violations {
            let _ = writeln!(out, "violation: {line}");
        }
        for line in &self.liveness_problems {
            let _ = writeln!(out, "liveness: {line}");
        }
        out
    }
}

fn linearizable_text(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown",
    }
}

fn node_or_none(node: NodeId) -> String {
    if node == 0 {
        "none".to_string()
    } else {
        node.to_string()
    }
}

fn list_or_none(nodes: &[NodeId]) -> String {
    if nodes.is_empty() {
        return "none".to_string();
    }
    nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
}

impl Simulator {
    /// The report of the run so far (call it after [`Simulator::run_to_end`]).
    pub fn report(&self) -> SimReport {
        let mut requests = self.counts;
        requests.unanswered = self.outstanding;
        let leader = self.stable_leader();
        let liveness_problems = self.liveness_problems(leader);
        let history = self.history_with_unanswered();
        let mut violations = self.invariants.violations();
        let linearizable = match check::check_kv(&history, Budget::States(CHECK_STATES_MAX)) {
            Verdict::Linearizable => Some(true),
            Verdict::NotLinearizable(v) => {
                let involved: Vec<String> =
                    v.involved.iter().map(|&i| history[i].to_string()).collect();
                let key = v.key.as_deref().unwrap_or("-");
                violations.push(format!(
                    "the client history is not linearizable: key {key}, operations involved: {}",
                    involved.join("; ")
                ));
                Some(false)
            }
            Verdict::Unknown => None,
        };
        let (resent, fast_retransmits) = self.batches_resent();
        SimReport {
            schema_version: SCHEMA_VERSION,
            reproduce: self.cfg.command_line(),
            seed: self.cfg.seed,
            config: self.cfg.clone(),
            trace_hash: format!("{:016x}", self.trace.hash()),
            ops_committed: self.invariants.ops_committed(),
            entries_committed: self.invariants.entries_committed(),
            requests,
            elections: self.elections(),
            leaders_elected: self.invariants.leaders_elected(),
            messages: MessageCounts { resent, fast_retransmits, ..self.network.messages },
            batches: BatchCounts { kinds: self.packet_kinds, ..self.network.batches },
            packets_per_op: per_op(self.network.batches.sent, self.invariants.ops_committed()),
            violations,
            linearizable,
            liveness_failure: !liveness_problems.is_empty(),
            liveness_problems,
            leader: leader.unwrap_or(0),
            crashed: (1..=self.cfg.nodes).filter(|&n| self.is_crashed(n)).collect(),
            restarts: self.restarts,
            snapshots: self.snapshot_counts(),
            storage: self.disk_stats(),
            events_played: self.events_applied.clone(),
            events_applied: self.events_applied.clone(),
            end_ns: self.now_ns,
            events_processed: self.events_processed,
            history: if self.cfg.record_history { history } else { Vec::new() },
            end: self.end,
            trace: self.trace.lines().to_vec(),
        }
    }

    /// What failed to converge. Not judged after a violation: the run stopped early.
    fn liveness_problems(&self, leader: Option<NodeId>) -> Vec<String> {
        let mut problems = Vec::new();
        if self.end == End::Violation {
            return problems;
        }
        if self.outstanding > 0 {
            problems.push(format!("{} requests unanswered at the end", self.outstanding));
        }
        if leader.is_none() {
            problems.push("no leader followed by a majority at the end".to_string());
        }
        if self.end == End::EventBudget {
            problems.push(format!("the run hit the bound of {EVENTS_MAX} events"));
        }
        problems
    }
}
