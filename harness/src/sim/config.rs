//! `SimConfig`: every parameter of a simulated run, its defaults, its validation, and the
//! two ways it is printed back: the `seed=` parameter line and the `pinraft sim` command
//! that replays the run.

use crate::args::{self, Action, Event, PPM};
use crate::knobs::{Knobs, KNOBS};
use crate::storage::SyncPolicy;
use crate::workload::WorkloadSpec;
use pinraft_engine::{Config, NodeId, MEMBERS_MAX};
use serde::Serialize;

/// Most logical clients in one run.
pub const CLIENTS_MAX: u64 = 10_000;

/// The default quiet phase lasts this many maximal election timeouts: room for several
/// failed elections, a winner, and every outstanding request to be retried and answered.
pub const QUIET_ELECTION_TIMEOUTS: u64 = 20;

/// The longest virtual fsync a run may have.
pub const FSYNC_LATENCY_MAX_NS: u64 = 1_000_000_000;

/// The interval of `--fsync interval` unless `--fsync-interval` says otherwise.
pub const FSYNC_INTERVAL_DEFAULT_NS: u64 = 10_000_000;

/// Every parameter of a run. One seed derives every random choice; the rest is spelled out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimConfig {
    /// The seed of the run's one RNG.
    pub seed: u64,
    /// Cluster size; node ids are 1..=nodes.
    pub nodes: u64,
    /// Probability (ppm) that a packet between nodes is lost, in the fault phase.
    pub loss_ppm: u32,
    /// Probability (ppm) that a packet is delivered twice, in the fault phase.
    pub dup_ppm: u32,
    /// Probability (ppm) that a packet is held back so later ones overtake it.
    pub reorder_ppm: u32,
    /// Shortest network delay, for every packet, request and reply.
    pub delay_min_ns: u64,
    /// Longest network delay.
    pub delay_max_ns: u64,
    /// Length of the fault phase.
    pub duration_ns: u64,
    /// Longest quiet phase: the run ends earlier once every request is answered.
    pub quiet_ns: u64,
    /// Logical clients, ids 1..=clients, each with one request outstanding.
    pub clients: u64,
    /// Keys, get/put mix and value size.
    pub workload: WorkloadSpec,
    /// A client retries at another node after waiting this long for a reply.
    pub client_timeout_ns: u64,
    /// Timed faults of the fault phase.
    pub events: Vec<Event>,
    /// The engine knobs (JSON: their `Config` names, flattened here); id, members and seed
    /// are set per node.
    #[serde(flatten)]
    pub engine: Knobs,
    /// When each node's simulated disk syncs: JSON `fsync` (`always`, `interval`, `never`)
    /// and, for `interval`, `fsync_interval_ns`. With `interval` and `never` a node sends
    /// before its writes are durable, so a crash can lose what it acknowledged.
    #[serde(flatten)]
    pub fsync: SyncPolicy,
    /// How long one fsync takes in virtual time. A node waits for it: what its `Ready`
    /// sends goes out only once the `Ready`'s writes are synced, and a crash meanwhile
    /// loses them. Zero: a save is durable at once.
    pub fsync_latency_ns: u64,
    /// Probability (ppm) that a crash lets its unsynced writes reach the disk with the last
    /// record torn or one of its bits flipped (half each); otherwise they are lost whole.
    pub crash_damage_ppm: u32,
    /// Keep every client operation for the history (`SimReport::history`).
    #[serde(skip)]
    pub record_history: bool,
    /// Keep one readable line per event (`SimReport::trace`).
    #[serde(skip)]
    pub record_trace: bool,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        let engine = Config::default();
        SimConfig {
            seed: 0,
            nodes: 3,
            loss_ppm: 0,
            dup_ppm: 0,
            reorder_ppm: 0,
            delay_min_ns: 1_000_000,
            delay_max_ns: 5_000_000,
            duration_ns: 10_000_000_000,
            quiet_ns: QUIET_ELECTION_TIMEOUTS * engine.election_timeout_max_ns,
            clients: 8,
            workload: WorkloadSpec { keys: 16, get_ppm: PPM / 2, value_size: 16 },
            client_timeout_ns: 500_000_000,
            events: Vec::new(),
            engine: Knobs(engine),
            fsync: SyncPolicy::Always,
            fsync_latency_ns: 0,
            crash_damage_ppm: 0,
            record_history: false,
            record_trace: false,
        }
    }
}

impl SimConfig {
    /// The engine configuration of node `id`; `seed` is derived from the run's RNG.
    pub fn engine_config(&self, id: NodeId, seed: u64) -> Config {
        Config { id, members: (1..=self.nodes).collect(), seed, ..self.engine.0.clone() }
    }

    /// Checks every rule; the error is one line fit for stderr.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=MEMBERS_MAX as u64).contains(&self.nodes) {
            return Err(format!("nodes: {} is out of range 1..={MEMBERS_MAX}", self.nodes));
        }
        if !(1..=CLIENTS_MAX).contains(&self.clients) {
            return Err(format!("clients: {} is out of range 1..={CLIENTS_MAX}", self.clients));
        }
        for (name, ppm) in [
            ("loss", self.loss_ppm),
            ("dup", self.dup_ppm),
            ("reorder", self.reorder_ppm),
            ("crash-damage", self.crash_damage_ppm),
        ] {
            if ppm > PPM {
                return Err(format!("{name}: {ppm} ppm is above 100%"));
            }
        }
        if self.workload.get_ppm > PPM {
            return Err(format!("mix: {} ppm is above 100%", self.workload.get_ppm));
        }
        if self.delay_min_ns > self.delay_max_ns {
            return Err("delay: the minimum is above the maximum".to_string());
        }
        if self.duration_ns == 0 || self.client_timeout_ns == 0 || self.workload.keys == 0 {
            return Err("duration, client timeout and keys must be greater than zero".to_string());
        }
        if self.fsync_latency_ns > FSYNC_LATENCY_MAX_NS {
            return Err(format!(
                "fsync latency: {} is above {}",
                args::format_duration(self.fsync_latency_ns),
                args::format_duration(FSYNC_LATENCY_MAX_NS)
            ));
        }
        if self.fsync == (SyncPolicy::Interval { interval_ns: 0 }) {
            return Err("fsync interval: must be greater than zero".to_string());
        }
        self.engine_config(1, 0).validate().map_err(|e| format!("engine config: {e}"))?;
        self.validate_events()
    }

    fn validate_events(&self) -> Result<(), String> {
        args::check_event_nodes(&self.events, self.nodes)?;
        for event in &self.events {
            if event.at_ns >= self.duration_ns {
                return Err(format!(
                    "event '{event}': after the fault phase, which ends at {}",
                    args::format_duration(self.duration_ns)
                ));
            }
        }
        self.validate_restarts()
    }

    /// A `restart:N` must follow an event that crashed node N, or one that may have (a
    /// `kill-leader` or `kill-follower` picks its node at run time; a restart of a node that
    /// turns out to be up is a no-op, recorded as such). Events run in time order, events
    /// at the same time in the order given.
    fn validate_restarts(&self) -> Result<(), String> {
        #[derive(Clone, Copy, PartialEq)]
        enum Down {
            No,
            Maybe,
            Yes,
        }
        let mut down = vec![Down::No; self.nodes as usize];
        for event in &self.events {
            match event.action {
                Action::Crash(node) => down[node as usize - 1] = Down::Yes,
                Action::KillLeader | Action::KillFollower => {
                    for d in down.iter_mut().filter(|d| **d == Down::No) {
                        *d = Down::Maybe;
                    }
                }
                Action::Restart(node) => {
                    if down[node as usize - 1] == Down::No {
                        return Err(format!(
                            "event '{event}': node {node} is up then (no earlier event \
                             crashes it)"
                        ));
                    }
                    down[node as usize - 1] = Down::No;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The parameter line printed first: `seed=N` and every parameter.
    pub fn describe(&self) -> String {
        let fields = self.flags();
        let pairs: Vec<String> =
            fields.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join(" ")
    }

    /// The `pinraft sim` command that replays this run, every parameter spelled out.
    pub fn command_line(&self) -> String {
        let mut line = String::from("pinraft sim");
        for (flag, value) in self.flags() {
            if (flag == "events" && self.events.is_empty()) || value.is_empty() {
                continue;
            }
            line.push_str(&format!(" --{flag} {value}"));
        }
        line
    }

    /// Every parameter as (flag name, value in the flag's syntax); an empty value is a flag
    /// that does not apply (`fsync-interval` without `--fsync interval`).
    fn flags(&self) -> Vec<(&'static str, String)> {
        let d = args::format_duration;
        let p = args::format_ppm;
        let events: Vec<String> = self.events.iter().map(|e| e.to_string()).collect();
        let events = if events.is_empty() { "none".to_string() } else { events.join(",") };
        // The snapshot knobs do nothing without snapshots, and replay commands of runs
        // without them stay as they were before the knobs existed.
        let snapshots = self.engine.snapshot_entries_threshold > 0;
        let knobs = KNOBS.iter().map(|k| {
            let applies = snapshots || !k.flag.starts_with("snapshot-");
            (k.flag, if applies { k.format(&self.engine) } else { String::new() })
        });
        let mut flags = vec![
            ("seed", self.seed.to_string()),
            ("nodes", self.nodes.to_string()),
            ("duration", d(self.duration_ns)),
            ("quiet", d(self.quiet_ns)),
            ("clients", self.clients.to_string()),
            ("loss", p(self.loss_ppm)),
            ("dup", p(self.dup_ppm)),
            ("reorder", p(self.reorder_ppm)),
            ("delay", format!("{}-{}", d(self.delay_min_ns), d(self.delay_max_ns))),
            ("events", events),
            ("keys", self.workload.keys.to_string()),
            ("mix", p(self.workload.get_ppm)),
            ("value-size", self.workload.value_size.to_string()),
            ("client-timeout", d(self.client_timeout_ns)),
        ];
        flags.extend(knobs);
        flags.extend([
            ("fsync", self.fsync.name().to_string()),
            (
                "fsync-interval",
                match self.fsync {
                    SyncPolicy::Interval { interval_ns } => d(interval_ns),
                    _ => String::new(),
                },
            ),
            ("fsync-latency", d(self.fsync_latency_ns)),
            ("crash-damage", p(self.crash_damage_ppm)),
        ]);
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_the_command_line_spells_everything_out() {
        let cfg = SimConfig::default();
        assert_eq!(cfg.validate(), Ok(()));
        assert_eq!(
            cfg.command_line(),
            "pinraft sim --seed 0 --nodes 3 --duration 10s --quiet 6s --clients 8 --loss 0% \
             --dup 0% --reorder 0% --delay 1ms-5ms --keys 16 --mix 50% --value-size 16 \
             --client-timeout 500ms --election-timeout 150ms-300ms --heartbeat 50ms \
             --resend-policy adaptive --resend 20ms --resend-min 200us --batch 256 --inflight 1 \
             --fsync always --fsync-latency 0ns --crash-damage 0%"
        );
        let interval = SimConfig {
            fsync: SyncPolicy::Interval { interval_ns: 5_000_000 },
            ..SimConfig::default()
        };
        assert!(interval.command_line().contains(" --fsync interval --fsync-interval 5ms "));
        assert!(cfg.describe().starts_with("seed=0 nodes=3 duration=10s"));
    }

    #[test]
    fn bad_configurations_are_one_line_errors() {
        let events = |text: &str| SimConfig {
            events: args::parse_events(text).unwrap(),
            ..SimConfig::default()
        };
        let cases = [
            (SimConfig { nodes: 0, ..SimConfig::default() }, "nodes"),
            (SimConfig { nodes: 65, ..SimConfig::default() }, "nodes"),
            (SimConfig { clients: 0, ..SimConfig::default() }, "clients"),
            (SimConfig { loss_ppm: PPM + 1, ..SimConfig::default() }, "loss"),
            (
                SimConfig {
                    engine: Knobs(Config {
                        heartbeat_interval_ns: 500_000_000,
                        ..Config::default()
                    }),
                    ..SimConfig::default()
                },
                "engine config",
            ),
            (events("crash:4@1s"), "out of range"),
            (events("restart:1@1s"), "node 1 is up then"),
            (events("crash:1@1s,restart:1@2s,restart:1@3s"), "node 1 is up then"),
            (events("restart:1@1s,crash:1@2s"), "node 1 is up then"),
            (SimConfig { crash_damage_ppm: PPM + 1, ..SimConfig::default() }, "crash-damage"),
            (SimConfig { fsync_latency_ns: 2_000_000_000, ..SimConfig::default() }, "fsync"),
            (
                SimConfig {
                    fsync: SyncPolicy::Interval { interval_ns: 0 },
                    ..SimConfig::default()
                },
                "fsync interval",
            ),
            (events("heal@10s"), "after the fault phase"),
        ];
        for (cfg, want) in cases {
            let err = cfg.validate().unwrap_err();
            assert!(err.contains(want) && !err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_restart_must_follow_a_crash_that_may_have_hit_its_node() {
        for ok in [
            "crash:2@1s,restart:2@2s",
            "crash:2@1s,restart:2@1s",
            "kill-leader@1s,restart:3@2s",
            "kill-follower@1s,restart:1@2s,crash:1@3s,restart:1@4s",
        ] {
            let cfg = SimConfig { events: args::parse_events(ok).unwrap(), ..SimConfig::default() };
            assert_eq!(cfg.validate(), Ok(()), "{ok}");
        }
    }

    #[test]
    fn the_fsync_policy_is_flat_in_json() {
        let json = |fsync| serde_json::to_value(SimConfig { fsync, ..SimConfig::default() });
        let always = json(SyncPolicy::Always).unwrap();
        assert_eq!(always["fsync"], "always");
        assert!(always.get("fsync_interval_ns").is_none());
        assert_eq!(always["fsync_latency_ns"], 0);
        assert_eq!(always["crash_damage_ppm"], 0);
        let interval = json(SyncPolicy::Interval { interval_ns: 7 }).unwrap();
        assert_eq!(
            (&interval["fsync"], &interval["fsync_interval_ns"]),
            (&"interval".into(), &7.into())
        );
    }
}
