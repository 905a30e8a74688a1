//! `pinraft sim`: one deterministic simulated run. It prints `seed=` and every parameter,
//! the command that replays the run, then a summary table ending with the trace hash (with
//! `--json`: the JSON alone on stdout, the parameter line on stderr). The same command
//! prints byte-identical output every time. Exit 0 when every invariant held and every
//! request was answered, 1 otherwise; bad flags are clap errors (exit 2).

use crate::args;
use crate::history;
use crate::knobs::{EngineFlags, Knobs};
use crate::sim::{
    self, SimConfig, SimReport, CLIENTS_MAX, FSYNC_INTERVAL_DEFAULT_NS, QUIET_ELECTION_TIMEOUTS,
};
use crate::storage::SyncPolicy;
use crate::workload::WorkloadSpec;
use anyhow::Context;
use clap::Args;
use pinraft_engine::Config;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `pinraft sim`. Engine knobs share their names with `pinraft run`.
#[derive(Args, Clone, Debug)]
pub struct SimArgs {
    /// Seed of every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Nodes in the cluster (ids 1..=n).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub nodes: u64,
    /// Length of the fault phase, in virtual time (with a unit: 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = args::parse_duration)]
    pub duration: u64,
    /// Longest quiet phase after it (default: 20 maximal election timeouts).
    #[arg(long, value_parser = args::parse_duration)]
    pub quiet: Option<u64>,
    /// Logical clients, one request outstanding each.
    #[arg(long, default_value_t = 8,
          value_parser = clap::value_parser!(u64).range(1..=CLIENTS_MAX))]
    pub clients: u64,
    /// Packet loss between nodes in the fault phase: a fraction (0.4) or a percentage (40%).
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub loss: u32,
    /// Packet duplication between nodes in the fault phase.
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub dup: u32,
    /// Packets held back so later ones overtake them, in the fault phase.
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub reorder: u32,
    /// Delay of every packet, request and reply, a range like 1ms-5ms.
    #[arg(long, default_value = "1ms-5ms", value_parser = args::parse_duration_range)]
    pub delay: (u64, u64),
    /// Timed faults, e.g. kill-leader@2s,isolate:3@4s,heal@6s.
    #[arg(long, default_value = "", value_parser = args::parse_event_list)]
    pub events: args::EventList,
    /// Distinct keys.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Fraction of operations that are gets.
    #[arg(long, default_value = "50%", value_parser = args::parse_probability)]
    pub mix: u32,
    /// Bytes per put value.
    #[arg(long, default_value_t = 16)]
    pub value_size: usize,
    /// A client retries at another node after waiting this long.
    #[arg(long, default_value = "500ms", value_parser = args::parse_duration)]
    pub client_timeout: u64,
    /// The engine knobs (`--batch`, `--resend`, ...; see `knobs.rs`), with the engine's
    /// own defaults.
    #[command(flatten)]
    pub knobs: EngineFlags,
    /// When each node's simulated disk syncs: always (before a Ready's messages go out),
    /// interval (the log every --fsync-interval; unsafe) or never (unsafe).
    #[arg(long, default_value = "always",
          value_parser = |text: &str| SyncPolicy::parse(text, FSYNC_INTERVAL_DEFAULT_NS))]
    pub fsync: SyncPolicy,
    /// The longest the log stays unsynced with --fsync interval.
    #[arg(long, default_value = "10ms", value_parser = args::parse_duration)]
    pub fsync_interval: u64,
    /// Virtual time one fsync takes; a node's messages wait for it (0ns: at once).
    #[arg(long, default_value = "0ns", value_parser = args::parse_duration)]
    pub fsync_latency: u64,
    /// Probability that a crash tears the last unsynced record or flips a bit in it.
    #[arg(long, default_value = "0", value_parser = args::parse_probability)]
    pub crash_damage: u32,
    /// Print only the JSON result on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write the client history (JSON Lines) to this file.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Print every event, one line each, to stderr.
    #[arg(long)]
    pub trace: bool,
}

impl Default for SimArgs {
    /// The flags' defaults, as `pinraft sim` with no flags has them.
    fn default() -> SimArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: SimArgs,
        }
        Wrapper::parse_from(["pinraft-sim"]).args
    }
}

impl SimArgs {
    /// The simulator configuration these flags describe.
    pub fn config(&self) -> SimConfig {
        let engine = self.knobs.config(&Config::default());
        SimConfig {
            seed: self.seed,
            nodes: self.nodes,
            loss_ppm: self.loss,
            dup_ppm: self.dup,
            reorder_ppm: self.reorder,
            delay_min_ns: self.delay.0,
            delay_max_ns: self.delay.1,
            duration_ns: self.duration,
            quiet_ns: self
                .quiet
                .unwrap_or(QUIET_ELECTION_TIMEOUTS * engine.election_timeout_max_ns),
            clients: self.clients,
            workload: WorkloadSpec {
                keys: self.keys,
                get_ppm: self.mix,
                value_size: self.value_size,
            },
            client_timeout_ns: self.client_timeout,
            events: self.events.0.clone(),
            engine: Knobs(engine),
            fsync: match self.fsync {
                SyncPolicy::Interval { .. } => {
                    SyncPolicy::Interval { interval_ns: self.fsync_interval }
                }
                policy => policy,
            },
            fsync_latency_ns: self.fsync_latency,
            crash_damage_ppm: self.crash_damage,
            record_history: self.history.is_some(),
            record_trace: self.trace,
        }
    }
}

/// What `pinraft sim` prints, and whether the run passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// Everything for stdout.
    pub stdout: String,
    /// Everything for stderr.
    pub stderr: String,
    /// No violation and nothing unanswered.
    pub passed: bool,
}

/// Runs `pinraft sim` and writes its output. An invalid configuration is an error (main
/// prints it as one line and exits 2); a run with violations or unanswered requests exits 1.
pub fn run(args: &SimArgs) -> anyhow::Result<ExitCode> {
    let (rendered, report) = render(args)?;
    if let Some(path) = &args.history {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        history::write_jsonl(std::io::BufWriter::new(file), &report.history)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    std::io::stderr().lock().write_all(rendered.stderr.as_bytes())?;
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.stdout.as_bytes())?;
    out.flush()?;
    Ok(if rendered.passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Runs the simulation and formats its output without printing it: the parameter line,
/// the replay command and the summary (with `--json`: the JSON on stdout, the parameter line
/// and any `--trace` lines on stderr).
pub fn render(args: &SimArgs) -> anyhow::Result<(Rendered, SimReport)> {
    let cfg = args.config();
    cfg.validate().map_err(anyhow::Error::msg)?;
    let mut report = sim::run(&cfg).map_err(anyhow::Error::msg)?;
    if args.json {
        report.reproduce.push_str(" --json");
    }
    let mut stderr = String::new();
    for line in &report.trace {
        stderr.push_str(line);
        stderr.push('\n');
    }
    let mut stdout = String::new();
    if args.json {
        stderr.push_str(&cfg.describe());
        stderr.push('\n');
        stdout = serde_json::to_string_pretty(&report)?;
        stdout.push('\n');
    } else {
        stdout.push_str(&format!("{}\nreproduce: {}\n", cfg.describe(), report.reproduce));
        stdout.push_str(&report.summary());
    }
    Ok((Rendered { stdout, stderr, passed: report.passed() }, report))
}
