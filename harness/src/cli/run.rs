//! `pinraft run` (and `pinraft` with no arguments): one run of the threaded cluster, a
//! table on stdout (stderr with `--json`), and a JSON result.

use crate::args::{self, Event};
use crate::cluster::{self, ClusterConfig, NetFaults, RunReport, StorageConfig};
use crate::env::Environment;
use crate::knobs::{EngineFlags, Knobs};
use crate::metrics::LatencySummary;
use crate::replica::EngineKind;
use crate::storage::SyncPolicy;
use crate::workload::WorkloadSpec;
use anyhow::Context;
use clap::{Args, ValueEnum};
use pinraft_engine::Config;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Version of the JSON result layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the nodes keep their hard state and log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// In memory: the CPU-only benchmark; a crashed node restarts from what it had.
    Mem,
    /// A write-ahead log per node, under --data-dir.
    Wal,
}

/// When the write-ahead log is fsynced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncKind {
    /// Before every send that depends on the write: one fsync per Ready (group commit).
    Always,
    /// At most every --fsync-interval (unsafe: acknowledged writes can be lost).
    Interval,
    /// Never (unsafe: for measuring what fsync costs).
    Never,
}

/// Flags of `pinraft run`.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Nodes in the cluster (ids 1..=n).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub nodes: u64,
    /// Measured time (with a unit: 3s, 500ms).
    #[arg(long, default_value = "3s", value_parser = args::parse_duration)]
    pub duration: u64,
    /// Warm-up before measuring, excluded from every figure.
    #[arg(long, default_value = "1s", value_parser = args::parse_duration)]
    pub warmup: u64,
    /// Logical clients; closed loop: one request outstanding each.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub clients: u64,
    /// Open loop: target operations per second (latency counted from the scheduled time).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: Option<u64>,
    /// Threads the clients are spread over (at most one per core is sensible).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub load_threads: u64,
    /// The engine knobs (`--batch`, `--resend`, ...; see `knobs.rs`).
    #[command(flatten)]
    pub knobs: EngineFlags,
    /// Packet loss between nodes: a fraction (0.4) or a percentage (40%).
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub loss: u32,
    /// Packet duplication between nodes.
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub dup: u32,
    /// Added delay per packet, a range like 1ms-5ms (0ns: none).
    #[arg(long, default_value = "0ns", value_parser = args::parse_duration_range)]
    pub delay: (u64, u64),
    /// Fraction of operations that are gets.
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub mix: u32,
    /// Distinct keys.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Bytes per put value.
    #[arg(long, default_value_t = 16)]
    pub value_size: usize,
    /// A client retries a request unanswered for this long.
    #[arg(long, default_value = "500ms", value_parser = args::parse_duration)]
    pub client_timeout: u64,
    /// Timed events, e.g. kill-leader@2s,heal@3s (times from the start, warm-up included).
    #[arg(long, default_value = "", value_parser = args::parse_event_list)]
    pub events: args::EventList,
    /// Packets each node's inbound channel holds.
    #[arg(long, default_value_t = 4_096, value_parser = clap::value_parser!(u64).range(1..))]
    pub channel_capacity: u64,
    /// The replica: raft, or null (answers at once; measures the harness).
    #[arg(long, value_enum, default_value_t = EngineKind::Raft)]
    pub engine: EngineKind,
    /// Where the nodes keep their hard state and log: mem, or wal (under --data-dir).
    #[arg(long, value_enum, default_value_t = StorageKind::Mem)]
    pub storage: StorageKind,
    /// The cluster's directory with --storage wal: node N writes DIR/node-N. A directory an
    /// earlier run left is recovered.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// When the WAL is fsynced: always (every Ready), interval, never.
    #[arg(long, value_enum, default_value_t = FsyncKind::Always)]
    pub fsync: FsyncKind,
    /// The longest time WAL entries stay unsynced with --fsync interval.
    #[arg(long, default_value = "10ms", value_parser = args::parse_duration)]
    pub fsync_interval: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print only the JSON result on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON result to this file (default for a plain `pinraft`: results/runs/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also plot the throughput timeline (ops per 100 ms, events marked) as an SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
    /// Record every client operation and write the history (JSON Lines) to this file, for
    /// `pinraft check`.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

/// `pinraft run`'s default `--snapshot-every`. Measured (3 nodes, 64 clients, 1,000 keys):
/// throughput as without snapshots or higher, p99 88-90 us against 116-134 us, and memory
/// bounded (148 MB against 2.95 GB after 10 s). Each snapshot encodes every key on the
/// node's thread (0.5 s per million keys), so with millions of keys raise it.
pub const RUN_SNAPSHOT_EVERY: u64 = 100_000;

/// `pinraft run`'s engine defaults: the engine's own, with snapshots every
/// [`RUN_SNAPSHOT_EVERY`] entries for pinraft. The raft-rs adapter keeps its whole log and
/// never snapshots, so its default threshold is 0 (and one given for it is refused), and
/// its default `batch_entries_max` is [`RAFT_RS_BATCH_DEFAULT`], its best here.
pub fn run_defaults(engine: EngineKind) -> Config {
    let base = Config::default();
    match engine {
        EngineKind::Raft => Config { snapshot_entries_threshold: RUN_SNAPSHOT_EVERY, ..base },
        EngineKind::Null => Config { snapshot_entries_threshold: 0, ..base },
        EngineKind::RaftRs => Config {
            snapshot_entries_threshold: 0,
            batch_entries_max: RAFT_RS_BATCH_DEFAULT,
            ..base
        },
    }
}

/// raft-rs's default `batch_entries_max` (its `max_size_per_msg`: 4096 x 64 bytes = 256 KiB).
/// Measured in results/compare-tuning (batch 64, 256, 4096 x inflight 1-256 at 64 and 1024
/// clients): raft-rs gains 19-27% at 64 clients over batch 256, while pinraft is at its
/// best with its own default of 256, so each engine runs at its best unless told otherwise.
pub const RAFT_RS_BATCH_DEFAULT: usize = 4_096;

impl Default for RunArgs {
    fn default() -> RunArgs {
        super::parse_flags("pinraft-run", std::iter::empty::<&str>()).expect("defaults parse")
    }
}

impl RunArgs {
    /// The cluster configuration these flags describe, or a one-line error.
    pub fn cluster_config(&self) -> anyhow::Result<ClusterConfig> {
        let events = self.events.0.clone();
        args::check_event_nodes(&events, self.nodes).map_err(anyhow::Error::msg)?;
        let engine = Config {
            id: 1,
            members: (1..=self.nodes).collect(),
            seed: self.seed,
            ..self.engine_config()
        };
        engine.validate().map_err(|e| anyhow::anyhow!("invalid engine configuration: {e}"))?;
        self.check_engine_support(&events, &engine)?;
        anyhow::ensure!(self.duration > 0, "--duration must be positive");
        let storage = self.storage_config()?;
        Ok(ClusterConfig {
            nodes: self.nodes,
            duration_ns: self.duration,
            warmup_ns: self.warmup,
            clients: self.clients,
            rate: self.rate,
            load_threads: self.load_threads as usize,
            workload: WorkloadSpec {
                keys: self.keys,
                get_ppm: self.mix,
                value_size: self.value_size,
            },
            engine,
            faults: NetFaults {
                loss_ppm: self.loss,
                dup_ppm: self.dup,
                delay_min_ns: self.delay.0,
                delay_max_ns: self.delay.1,
            },
            events,
            seed: self.seed,
            client_timeout_ns: self.client_timeout,
            channel_capacity: self.channel_capacity as usize,
            engine_kind: self.engine,
            record_history: self.history.is_some(),
            max_packets: None,
            storage,
        })
    }

    /// Refuses what the chosen engine cannot do, naming it: the raft-rs adapter has no
    /// durable log (so no restart) and takes no snapshots.
    fn check_engine_support(&self, events: &[Event], engine: &Config) -> anyhow::Result<()> {
        if self.engine != EngineKind::RaftRs {
            return Ok(());
        }
        if let Some(e) = events.iter().find(|e| matches!(e.action, args::Action::Restart(_))) {
            anyhow::bail!(
                "event '{e}' is not supported with --engine raft-rs (the adapter cannot restart \
                 a node: its log lives in memory only)"
            );
        }
        anyhow::ensure!(
            engine.snapshot_entries_threshold == 0,
            "--snapshot-every is not supported with --engine raft-rs (the adapter never \
             snapshots); leave it out or give 0"
        );
        Ok(())
    }

    /// The storage these flags describe, or a one-line error.
    fn storage_config(&self) -> anyhow::Result<StorageConfig> {
        match (self.storage, &self.data_dir) {
            (StorageKind::Mem, None) => Ok(StorageConfig::Mem),
            (StorageKind::Mem, Some(_)) => {
                anyhow::bail!("--data-dir needs --storage wal (mem writes nothing to disk)")
            }
            (StorageKind::Wal, None) => {
                anyhow::bail!("--storage wal needs --data-dir DIR (node N writes DIR/node-N)")
            }
            (StorageKind::Wal, Some(_)) if self.engine == EngineKind::Null => {
                anyhow::bail!("--storage wal needs --engine raft (the null engine has no log)")
            }
            (StorageKind::Wal, Some(_)) if self.engine == EngineKind::RaftRs => {
                anyhow::bail!(
                    "--storage wal is not supported with --engine raft-rs (the adapter keeps \
                     raft-rs's log in its own MemStorage)"
                )
            }
            (StorageKind::Wal, Some(dir)) => {
                let sync = match self.fsync {
                    FsyncKind::Always => SyncPolicy::Always,
                    FsyncKind::Interval if self.fsync_interval == 0 => {
                        anyhow::bail!("--fsync-interval must be positive")
                    }
                    FsyncKind::Interval => {
                        SyncPolicy::Interval { interval_ns: self.fsync_interval }
                    }
                    FsyncKind::Never => SyncPolicy::Never,
                };
                Ok(StorageConfig::Wal { dir: dir.clone(), sync })
            }
        }
    }

    /// The one-line warning of a run whose acknowledged writes can be lost, if it is one.
    pub fn unsafe_warning(&self) -> Option<String> {
        let why = match (self.storage, self.fsync) {
            (StorageKind::Mem, _) | (_, FsyncKind::Always) => return None,
            (_, FsyncKind::Interval) => format!(
                "--fsync interval sends before the log is on disk (synced every {} at most)",
                args::format_duration(self.fsync_interval)
            ),
            (_, FsyncKind::Never) => "--fsync never leaves the log to the OS".to_string(),
        };
        Some(format!(
            "unsafe: {why}: a power loss can lose acknowledged writes; for comparison only"
        ))
    }

    /// The engine knobs of this run: `pinraft run`'s defaults with the flags given applied.
    pub fn engine_config(&self) -> Config {
        self.knobs.config(&run_defaults(self.engine))
    }

    /// The command that repeats this run, every parameter spelled out.
    pub fn reproduce(&self) -> String {
        let d = args::format_duration;
        let mut cmd = format!(
            "pinraft run --nodes {} --duration {} --warmup {} --clients {}",
            self.nodes,
            d(self.duration),
            d(self.warmup),
            self.clients
        );
        if let Some(rate) = self.rate {
            cmd += &format!(" --rate {rate}");
        }
        cmd += &format!(" --load-threads {}", self.load_threads);
        cmd += &EngineFlags::reproduce(&self.engine_config());
        cmd += &format!(
            " --loss {} --dup {} --delay {}-{} --mix {} --keys {} \
             --value-size {} --client-timeout {} --channel-capacity {} --engine {} --storage {} \
             --fsync {} --fsync-interval {}",
            args::format_ppm(self.loss),
            args::format_ppm(self.dup),
            d(self.delay.0),
            d(self.delay.1),
            args::format_ppm(self.mix),
            self.keys,
            self.value_size,
            d(self.client_timeout),
            self.channel_capacity,
            self.engine.name(),
            value_name(self.storage),
            value_name(self.fsync),
            d(self.fsync_interval),
        );
        if let Some(dir) = &self.data_dir {
            cmd += &format!(" --data-dir {}", dir.display());
        }
        cmd += &format!(" --seed {}", self.seed);
        if !self.events.0.is_empty() {
            let events: Vec<String> = self.events.0.iter().map(Event::to_string).collect();
            cmd += &format!(" --events {}", events.join(","));
        }
        cmd
    }
}

/// The name clap gives a flag's value.
fn value_name(value: impl ValueEnum) -> String {
    value.to_possible_value().expect("no skipped values").get_name().to_string()
}

/// Where the nodes kept their state (JSON `config.storage`).
#[derive(Serialize)]
struct StorageJson {
    /// `mem` or `wal`.
    backend: StorageKind,
    /// The cluster's directory (wal).
    data_dir: Option<String>,
    /// `always`, `interval` or `never` (wal).
    fsync: Option<FsyncKind>,
    /// The sync interval (wal with `interval`).
    fsync_interval_ns: Option<u64>,
    /// Whether an acknowledged write survives a power loss.
    safe: bool,
}

/// Every parameter of a run, engine knobs under their DESIGN.md names (JSON `config`).
#[derive(Serialize)]
struct ConfigJson {
    engine: EngineKind,
    /// Per engine knob: `applied`, `mapped: ...` or `not applicable: ...`.
    engine_knobs_applied: std::collections::BTreeMap<&'static str, String>,
    nodes: u64,
    duration_ns: u64,
    warmup_ns: u64,
    clients: u64,
    rate_ops_s: Option<u64>,
    load_threads: u64,
    keys: u64,
    get_ppm: u32,
    value_size: usize,
    loss_ppm: u32,
    dup_ppm: u32,
    delay_min_ns: u64,
    delay_max_ns: u64,
    client_timeout_ns: u64,
    channel_capacity: u64,
    events: Vec<String>,
    #[serde(flatten)]
    knobs: Knobs,
    storage: StorageJson,
}

/// A run's JSON result.
#[derive(Serialize)]
pub struct RunJson {
    schema_version: u32,
    reproduce: String,
    config: ConfigJson,
    env: Environment,
    seed: u64,
    /// Whether the same seed gives the same run (false for raft-rs: unseeded timeouts).
    seed_reproducible: bool,
    #[serde(flatten)]
    report: RunReport,
}

/// Runs the cluster as the flags say and prints the result.
pub fn run(args: &RunArgs, default_out: bool) -> anyhow::Result<ExitCode> {
    let cfg = args.cluster_config()?;
    eprintln!("{}", args.reproduce());
    if let Some(warning) = args.unsafe_warning() {
        eprintln!("{warning}");
    }
    let bar = progress_bar();
    let report = cluster::run(&cfg, &mut |f| bar.set_position((f * 100.0) as u64))?;
    bar.finish_and_clear();
    if let Some(path) = &args.history {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        crate::history::write_jsonl(std::io::BufWriter::new(file), &report.history)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("history of {} operations written to {}", report.history.len(), path.display());
    }
    if let Some(path) = &args.timeline {
        crate::plot::timeline_svg(path, &cfg, &report.timeline_ops_per_100ms)?;
        eprintln!("timeline written to {}", path.display());
    }
    let json = to_json(args, &cfg, report);
    let text = serde_json::to_string_pretty(&json)?;
    let out = args.out.clone().or_else(|| default_out.then(default_out_path));
    if let Some(path) = &out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{text}");
        eprint!("{}", table(&json));
    } else {
        print!("{}", table(&json));
    }
    if let Some(path) = out {
        eprintln!("result written to {}", path.display());
    }
    for error in &json.report.node_errors {
        eprintln!("pinraft: {error}");
    }
    Ok(if json.report.node_errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Builds the JSON result of a finished run.
pub fn to_json(args: &RunArgs, cfg: &ClusterConfig, report: RunReport) -> RunJson {
    let mut env = Environment::capture();
    env.core_mapping = report.core_mapping.clone();
    RunJson {
        schema_version: SCHEMA_VERSION,
        reproduce: args.reproduce(),
        config: ConfigJson {
            engine: args.engine,
            engine_knobs_applied: args.engine.knobs_applied(&cfg.engine).into_iter().collect(),
            nodes: cfg.nodes,
            duration_ns: cfg.duration_ns,
            warmup_ns: cfg.warmup_ns,
            clients: cfg.clients,
            rate_ops_s: cfg.rate,
            load_threads: cfg.load_threads as u64,
            keys: cfg.workload.keys,
            get_ppm: cfg.workload.get_ppm,
            value_size: cfg.workload.value_size,
            loss_ppm: cfg.faults.loss_ppm,
            dup_ppm: cfg.faults.dup_ppm,
            delay_min_ns: cfg.faults.delay_min_ns,
            delay_max_ns: cfg.faults.delay_max_ns,
            client_timeout_ns: cfg.client_timeout_ns,
            channel_capacity: cfg.channel_capacity as u64,
            events: cfg.events.iter().map(Event::to_string).collect(),
            knobs: Knobs(cfg.engine.clone()),
            storage: storage_json(&cfg.storage),
        },
        env,
        seed: cfg.seed,
        seed_reproducible: args.engine.seed_reproducible(),
        report,
    }
}

fn storage_json(storage: &StorageConfig) -> StorageJson {
    let safe = storage.is_safe();
    match storage {
        StorageConfig::Mem => StorageJson {
            backend: StorageKind::Mem,
            data_dir: None,
            fsync: None,
            fsync_interval_ns: None,
            safe,
        },
        StorageConfig::Wal { dir, sync } => {
            let (fsync, interval) = match *sync {
                SyncPolicy::Always => (FsyncKind::Always, None),
                SyncPolicy::Interval { interval_ns } => (FsyncKind::Interval, Some(interval_ns)),
                SyncPolicy::Never => (FsyncKind::Never, None),
            };
            StorageJson {
                backend: StorageKind::Wal,
                data_dir: Some(dir.display().to_string()),
                fsync: Some(fsync),
                fsync_interval_ns: interval,
                safe,
            }
        }
    }
}

fn progress_bar() -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(100);
    let style =
        indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}% {elapsed}/{duration}")
            .expect("static template");
    bar.set_style(style);
    bar
}

fn default_out_path() -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    PathBuf::from(format!("results/runs/run-{stamp}.json"))
}

/// The human-readable summary.
fn table(json: &RunJson) -> String {
    let r = &json.report;
    let lat = |name: &str, l: &LatencySummary| {
        format!(
            "{name:<22} p50 {:>9.1}  p90 {:>9.1}  p99 {:>9.1}  p99.9 {:>9.1}  max {:>9.1}\n",
            l.p50, l.p90, l.p99, l.p999, l.max
        )
    };
    let c = &json.config;
    let mut s = String::new();
    let mode = c.rate_ops_s.map_or("closed loop".to_string(), |r| format!("open loop {r} ops/s"));
    s += &format!(
        "{} nodes, {} clients ({mode}), batch {}, inflight {}, resend {}, loss {}, engine {:?}\n",
        c.nodes,
        c.clients,
        c.knobs.0.batch_entries_max,
        c.knobs.0.inflight_batches_max,
        args::format_duration(c.knobs.0.resend_threshold_ns),
        args::format_ppm(c.loss_ppm),
        c.engine
    );
    s += &format!(
        "{:<22} {:.0} ops/s ({} ops in {:.1} s)\n",
        "throughput", r.throughput_ops_s, r.ops_committed, r.duration_s
    );
    s += &lat("latency (us)", &r.latency_us);
    if c.rate_ops_s.is_some() {
        s += &lat("service latency (us)", &r.service_latency_us);
    }
    s += &lat("commit latency (us)", &r.commit_latency_us);
    let q = &r.requests;
    s += &format!(
        "{:<22} answered {}  unanswered {}  ok {}  redirect {}  fail {}  timeout {}\n",
        "requests", q.answered, q.unanswered, q.ok, q.redirect, q.fail, q.timeout
    );
    s += &format!(
        "{:<22} sent {}  delivered {}  dropped {}  resent {}\n",
        "messages", r.messages.sent, r.messages.delivered, r.messages.dropped, r.messages.resent
    );
    s += &format!(
        "{:<22} sent {}  dropped {} (channel full {})  messages/batch {:.1}  per op {}\n",
        "batches (packets)",
        r.batches.sent,
        r.batches.dropped,
        r.batches.dropped_full,
        r.messages.sent as f64 / r.batches.sent.max(1) as f64,
        r.packets_per_op.map_or("-".into(), |x| format!("{x:.2}"))
    );
    s += &format!(
        "{:<22} elections {}  leader changes {}  leaderless {:.1} ms\n",
        "leadership", r.elections, r.leader_changes, r.leaderless_ms
    );
    let st = &c.storage;
    if st.backend == StorageKind::Wal {
        let fsync = st.fsync.map_or(String::new(), value_name);
        s += &format!(
            "{:<22} wal, fsync {fsync}{}  fsyncs: log {}  hard state {}  dir {}\n",
            "storage",
            if st.safe { "" } else { " (UNSAFE)" },
            r.fsyncs.log,
            r.fsyncs.hard_state,
            r.fsyncs.dir
        );
    }
    if let Some(rec) = &r.recovered {
        let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        s += &format!(
            "{:<22} {} entries (per node {:?}), term {}, read in {:.1} ms; state machine of {} \
             keys back after {} ms\n",
            "recovered",
            rec.entries,
            rec.entries_per_node,
            rec.term,
            rec.load_ms,
            rec.keys.map_or("-".to_string(), |k| k.to_string()),
            opt(rec.recovery_ms)
        );
    }
    for e in &r.events_played {
        s += &format!("{:<22} {e}\n", "event");
    }
    for e in &r.node_errors {
        s += &format!("{:<22} {e}\n", "node stopped");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The knob help (shared by every command) states `pinraft run`'s own defaults; they
    /// must be the ones `run_defaults` gives.
    #[test]
    fn the_knob_help_states_run_s_own_defaults() {
        let help = |flag| crate::knobs::Knob::by_flag(flag).unwrap().help;
        assert!(help("batch").contains(&RAFT_RS_BATCH_DEFAULT.to_string()));
        assert!(help("snapshot-every").contains(&RUN_SNAPSHOT_EVERY.to_string()));
        assert_eq!(run_defaults(EngineKind::RaftRs).batch_entries_max, RAFT_RS_BATCH_DEFAULT);
        assert_eq!(run_defaults(EngineKind::Raft).snapshot_entries_threshold, RUN_SNAPSHOT_EVERY);
    }
}
