//! Scenario files and their scoring (issue 8): a TOML format of our own and the classic
//! course simulator's JSON configs, read as they are, run on the threaded cluster in real
//! time or in the simulator in virtual time, and scored the classic way (correctness,
//! packets, failures, duplicate replies, median latency, benchmark tiers).
//!
//! - `classic` — the classic JSON format; `native` — the TOML format. Both parse into one
//!   [`Scenario`], every field validated, every error one line.
//! - `classic_clients` — the classic client model (8 clients, private keys, a new request
//!   id on every retry); `session_clients` — our own clients (shared keys, one request
//!   outstanding, retries with the same id), closed or open loop.
//! - `driver` — the [`Driver`]: a client model plus the scripted events, hosted by either
//!   runtime through [`crate::workload::HostedLoad`], tallying every reply.
//! - `score` — the figures, the correctness verdict and the benchmark tiers of one run.
//! - `runner` — one scenario on the simulator or the threaded cluster.
//!
//! This module decides nothing about Raft: what the engine does wrong shows up as an error
//! in the score, never as a workaround here.

mod classic;
mod classic_clients;
mod driver;
mod native;
mod runner;
mod score;
mod session_clients;

pub use classic_clients::{CLASSIC_CLIENTS, RETRY_BACKOFF_MAX_NS, RETRY_BACKOFF_NS};
pub use driver::{Driver, KindCounts, Tally, EVENT_RETRY_NS};
pub use runner::{check_engine, run, Mode};
pub use score::{
    tier, PacketFigures, Replies, RunContext, RunFigures, Score, Tiers, SCHEMA_VERSION,
};

use crate::args::Action;
use crate::knobs::Knobs;
use crate::replica::EngineKind;
use crate::workload::WorkloadSpec;
use pinraft_engine::Config;
use std::fmt;
use std::path::Path;

/// Nanoseconds in a second.
pub(crate) const S: u64 = 1_000_000_000;

/// In the simulator, every packet (requests and replies included) takes this long to
/// arrive unless the scenario says otherwise: a hop on a LAN, like the classic simulator's
/// local sockets. The threaded cluster has real transit times instead.
pub const SIM_DELAY_DEFAULT_NS: (u64, u64) = (100_000, 500_000);

/// Which format a scenario file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The classic course simulator's JSON config.
    Classic,
    /// Our TOML format.
    Toml,
}

impl Format {
    /// The name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Classic => "classic",
            Format::Toml => "toml",
        }
    }
}

/// A scenario, whatever its format: everything one run needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The format it was read from.
    pub format: Format,
    /// Cluster size; ids 1..=nodes.
    pub nodes: u64,
    /// The file's seed (the command line may override it).
    pub seed: u64,
    /// From the start of the run to the first request.
    pub start_wait_ns: u64,
    /// The time over which requests are issued (classic `lifetime`).
    pub duration_ns: u64,
    /// After that, before the run ends: replies still on their way.
    pub end_wait_ns: u64,
    /// The run stops once this many packets have been routed (a scoring rule, not an error).
    pub max_packets: u64,
    /// Who sends what.
    pub workload: Workload,
    /// Which engine the nodes run (`[cluster] engine`, `pinraft scenario --engine`).
    pub engine_kind: EngineKind,
    /// Engine knobs (`[engine]`, by their `Config` names).
    pub engine: Knobs,
    /// Network faults.
    pub faults: Faults,
    /// Timed events, sorted by time; times count from the first request.
    pub events: Vec<ScriptedEvent>,
    /// Correctness limits and benchmark thresholds.
    pub tests: Tests,
    /// Things worth saying that are not errors (an ignored key, a knob one mode ignores).
    pub notes: Vec<String>,
}

impl Scenario {
    /// The engine configuration of node 1 (runtimes set each node's id).
    pub fn engine_config(&self, seed: u64) -> Config {
        Config { id: 1, members: (1..=self.nodes).collect(), seed, ..self.engine.0.clone() }
    }

    /// When the run ends, from its start.
    pub fn end_ns(&self) -> u64 {
        self.start_wait_ns + self.duration_ns + self.end_wait_ns
    }
}

/// The client model and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Workload {
    /// The classic model: [`CLASSIC_CLIENTS`] clients, `requests` evenly spaced over the
    /// duration, each a get with probability `get_ppm`.
    Classic {
        /// Requests issued in all.
        requests: u64,
        /// Probability (ppm) that a request is a get.
        get_ppm: u32,
    },
    /// Our own clients: one request outstanding each, the same id on every retry.
    Session {
        /// Logical clients.
        clients: u64,
        /// Open loop: operations per second; `None` is closed loop.
        rate: Option<u64>,
        /// Keys, mix and value size.
        spec: WorkloadSpec,
        /// A client retries at the next node after waiting this long.
        client_timeout_ns: u64,
    },
}

/// Network faults. Loss, duplication and reordering apply to packets between nodes only:
/// client traffic is never lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Probability (ppm) that a packet between nodes is lost.
    pub loss_ppm: u32,
    /// Probability (ppm) that a packet between nodes arrives twice.
    pub dup_ppm: u32,
    /// Probability (ppm) that a packet is held back so later ones overtake it (simulator).
    pub reorder_ppm: u32,
    /// Delay range. Simulator: the transit time of every packet (default
    /// [`SIM_DELAY_DEFAULT_NS`]). Cluster: added to packets between nodes (default none).
    pub delay_ns: Option<(u64, u64)>,
}

/// One timed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptedEvent {
    /// When, from the first request.
    pub at_ns: u64,
    /// What happens.
    pub action: ScriptAction,
}

/// An event of either language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptAction {
    /// DESIGN.md's event language (TOML files). Events that need a leader wait for one.
    Design(Action),
    /// The classic simulator's events (JSON files). They never wait: with no leader known,
    /// `kill_leader` does nothing, as it did there.
    Classic(ClassicEvent),
}

/// The classic simulator's event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassicEvent {
    /// Crash the leader; clients forget it.
    KillLeader,
    /// Crash a random live replica other than the leader.
    KillNonLeader,
    /// The leader plus random others form the majority side.
    PartEasy,
    /// A random majority, the leader not protected; clients forget the leader.
    PartHard,
    /// Heal the partition.
    PartEnd,
}

impl ClassicEvent {
    /// The name in classic configs.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassicEvent::KillLeader => "kill_leader",
            ClassicEvent::KillNonLeader => "kill_non_leader",
            ClassicEvent::PartEasy => "part_easy",
            ClassicEvent::PartHard => "part_hard",
            ClassicEvent::PartEnd => "part_end",
        }
    }

    /// The event named `name`, if it is one.
    pub fn parse(name: &str) -> Option<ClassicEvent> {
        [
            ClassicEvent::KillLeader,
            ClassicEvent::KillNonLeader,
            ClassicEvent::PartEasy,
            ClassicEvent::PartHard,
            ClassicEvent::PartEnd,
        ]
        .into_iter()
        .find(|e| e.as_str() == name)
    }
}

impl fmt::Display for ScriptedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = crate::args::format_duration(self.at_ns);
        match self.action {
            ScriptAction::Design(action) => write!(f, "{action}@{at}"),
            ScriptAction::Classic(event) => write!(f, "{}@{at}", event.as_str()),
        }
    }
}

/// Correctness limits and benchmark thresholds (classic `tests`).
#[derive(Clone, Debug, PartialEq)]
pub struct Tests {
    /// Most unanswered gets, as a fraction (ppm) of the gets sent.
    pub get_fail_ppm: u32,
    /// Most unanswered puts, as a fraction (ppm) of the puts sent.
    pub put_fail_ppm: u32,
    /// Three thresholds per figure, when given.
    pub benchmarks: Option<Benchmarks>,
}

impl Default for Tests {
    fn default() -> Tests {
        Tests { get_fail_ppm: 500_000, put_fail_ppm: 500_000, benchmarks: None }
    }
}

/// Three thresholds per figure: strictly below the first is tier 0 (bonus), below the
/// second 1 (full), below the third 2 (partial), else 3. Figures without thresholds get
/// no tier.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Benchmarks {
    /// Packets routed.
    pub total_msgs: Option<[f64; 3]>,
    /// Fail replies plus unanswered requests.
    pub failures: Option<[f64; 3]>,
    /// Replies to an already completed request id.
    pub duplicates: Option<[f64; 3]>,
    /// Median latency, in seconds.
    pub median_latency: Option<[f64; 3]>,
}

/// Reads and validates a scenario file: `.json` is the classic format, `.toml` ours (any
/// other name: JSON if it starts with `{`). The error is one line naming the file.
pub fn load(path: &Path) -> Result<Scenario, String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("toml") => false,
        _ => text.trim_start().starts_with('{'),
    };
    let parsed = if json { classic::parse(&text) } else { native::parse(&text) };
    parsed.map_err(|e| format!("{name}: {}", one_line(&e)))
}

/// Parses a classic JSON config from text.
pub fn parse_classic(text: &str) -> Result<Scenario, String> {
    classic::parse(text).map_err(|e| one_line(&e))
}

/// Parses a TOML scenario from text.
pub fn parse_toml(text: &str) -> Result<Scenario, String> {
    native::parse(text).map_err(|e| one_line(&e))
}

/// Folds a multi-line message (the toml crate's carets) into one line.
fn one_line(message: &str) -> String {
    let parts: Vec<&str> = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    parts.join(" ")
}
