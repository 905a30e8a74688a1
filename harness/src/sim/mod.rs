//! The deterministic simulator (issue 3; TigerBeetle's VOPR is the model): one thread, a
//! virtual clock, an event queue ordered by (time, sequence) and one seeded RNG from which
//! every random choice derives. It drives the real engine through packet loss, delay,
//! duplication, reordering, partitions, crashes and restarts from simulated disks, checks
//! Raft's safety properties after every event, and ends with a quiet phase in which the
//! cluster must converge: a leader, and every request answered. The same configuration
//! always replays the same run.
//!
//! - `config` — `SimConfig`: every parameter, validation, the replay command line
//! - `simulator` — `Simulator`: the event loop, stepped by hand or run to the end;
//!   `control` — its crash, restart, cut, heal and leader accessors for fault events and
//!   tests; `disk` — each node's simulated disk, the save after every `Ready` and the
//!   virtual fsync a node waits for
//! - `network` — per-packet faults and link cuts; message and packet counts
//! - `faults` — the `--events` actions (kill-leader, split, heal, ...); `fuzz` — random
//!   configurations for hunting bugs
//! - `schedule`, `campaign` — `pinraft fuzz`: a seed's fault shapes applied while the
//!   simulator steps, and the verdicts and per-shape figures of a campaign
//! - `clients` — the logical clients and their history
//! - `invariants` — the safety properties, one function per property; `model` — the
//!   reference key-value store they check replies against
//! - `queue`, `trace` — the event queue and the trace hash
//! - `report` — `SimReport`, its JSON and its text summary
//!
//! It owns no thread, clock or file, and never works around an engine bug: what the engine
//! does wrong shows up as a violation.

mod campaign;
mod clients;
mod config;
mod control;
mod disk;
mod faults;
mod fuzz;
pub mod invariants;
mod model;
mod network;
mod queue;
mod report;
mod schedule;
mod simulator;
mod trace;

pub use campaign::{
    run_seed, CampaignSpec, Check, Failure, SeedResult, ShapeStats, Summary,
    CAMPAIGN_SCHEMA_VERSION, LONG_WINDOW_TIMEOUTS, TRACE_TAIL_EVENTS,
};
pub use clients::CLIENT_BACKOFF_NS;
pub use config::{
    SimConfig, CLIENTS_MAX, FSYNC_INTERVAL_DEFAULT_NS, FSYNC_LATENCY_MAX_NS,
    QUIET_ELECTION_TIMEOUTS,
};
pub use disk::INBOX_INPUTS_MAX;
pub use faults::EVENT_RETRY_NS;
pub use fuzz::{
    random_config, Fault, FaultSet, FuzzCase, ScheduledFault, Shape, CALM_SHAPES_MAX,
    FUZZ_EVENTS_MAX, FUZZ_QUIET_ELECTION_TIMEOUTS, SCHEDULE_FAULTS_MAX, SPREAD_DELAYS_MIN,
    STORM_SHAPES_MAX,
};
pub use network::{BatchCounts, MessageCounts};
pub use report::{SimReport, SCHEMA_VERSION};
pub use schedule::{replay_tail, run_case, CaseRun, Window, LEADER_WAIT_NS};
pub use simulator::{End, Simulator, EVENTS_MAX, READY_ROUNDS_MAX};
pub use trace::format_time;

/// Runs one simulation from start to end. Errors are invalid configurations, one line each.
pub fn run(cfg: &SimConfig) -> Result<SimReport, String> {
    let mut sim = Simulator::new(cfg)?;
    sim.run_to_end();
    Ok(sim.report())
}
