//! `pinraft sweep`: every point of a grid of `pinraft run` flags, each run `--repeat` times
//! one after another (never in parallel: the node threads need the cores), with a progress
//! bar on stderr, a table on stdout (stderr with `--json`), and `sweep.csv`, `sweep.json`
//! and SVG plots in `--out`. A point is exactly one `pinraft run`: the same flags, the
//! same cluster, the same JSON.

use crate::cli::run;
use crate::cluster;
use crate::knobs::KnobLists;
use crate::sweep::grid::{self, Grid};
use crate::sweep::{csv, plots, table, Results};
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Progress-bar steps per run.
const STEPS_PER_RUN: u64 = 1_000;

/// Flags of `pinraft sweep`. Every list flag takes a comma list of `pinraft run` values
/// (`--batch 1,8,64`, `--loss 0,5%,20%`); a flag not given keeps `pinraft run`'s default.
#[derive(Args, Clone, Debug, Default)]
pub struct SweepArgs {
    /// Cluster sizes.
    #[arg(long, value_name = "LIST")]
    pub nodes: Option<String>,
    /// Logical clients (closed loop).
    #[arg(long, value_name = "LIST")]
    pub clients: Option<String>,
    /// Open-loop target rates in ops/s.
    #[arg(long, value_name = "LIST")]
    pub rate: Option<String>,
    /// Load threads.
    #[arg(long, value_name = "LIST")]
    pub load_threads: Option<String>,
    /// Engine knob lists (`--batch 1,64`, `--resend 5ms,20ms`, ...).
    #[command(flatten)]
    pub knobs: KnobLists,
    /// Packet loss probabilities (0,5%,20%).
    #[arg(long, value_name = "LIST")]
    pub loss: Option<String>,
    /// Packet duplication probabilities.
    #[arg(long, value_name = "LIST")]
    pub dup: Option<String>,
    /// Packet delay ranges (0ns,1ms-5ms).
    #[arg(long, value_name = "LIST")]
    pub delay: Option<String>,
    /// Fractions of gets.
    #[arg(long, value_name = "LIST")]
    pub mix: Option<String>,
    /// Distinct key counts.
    #[arg(long, value_name = "LIST")]
    pub keys: Option<String>,
    /// Put value sizes in bytes.
    #[arg(long, value_name = "LIST")]
    pub value_size: Option<String>,
    /// Client retry timeouts, with units.
    #[arg(long, value_name = "LIST")]
    pub client_timeout: Option<String>,
    /// Inbound channel capacities in packets.
    #[arg(long, value_name = "LIST")]
    pub channel_capacity: Option<String>,
    /// Engines (raft,null).
    #[arg(long, value_name = "LIST")]
    pub engine: Option<String>,
    /// Storage backends (mem,wal); wal needs --data-dir.
    #[arg(long, value_name = "LIST")]
    pub storage: Option<String>,
    /// WAL fsync policies (always,interval,never).
    #[arg(long, value_name = "LIST")]
    pub fsync: Option<String>,
    /// WAL fsync intervals, with units (1ms,10ms).
    #[arg(long, value_name = "LIST")]
    pub fsync_interval: Option<String>,
    /// Directory for the runs that store a WAL: run K writes DIR/run-K, which must not exist.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Measured time of each run.
    #[arg(long, value_name = "LIST", default_value = "2s")]
    pub duration: String,
    /// Warm-up of each run, excluded from every figure.
    #[arg(long, value_name = "LIST", default_value = "500ms")]
    pub warmup: String,
    /// Timed events for every run (one value: its commas separate events).
    #[arg(long)]
    pub events: Option<String>,
    /// Runs per point; the table shows their median and min-max spread.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub repeat: u64,
    /// Run repeat r of every point before repeat r+1 of any (alternated runs: drift over
    /// the sitting hits every point alike); seeds are as without it.
    #[arg(long)]
    pub interleave: bool,
    /// Base seed: run k of the sweep (points and repeats in order, from 0) uses seed + k.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for sweep.csv, sweep.json and the SVG plots.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Print a JSON summary on stdout; the table goes to stderr.
    #[arg(long)]
    pub json: bool,
}

impl SweepArgs {
    /// Parses sweep flags (without the program and subcommand names), as `pinraft sweep`.
    pub fn try_parse_flags<I, T>(flags: I) -> Result<SweepArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        super::parse_flags("pinraft-sweep", flags)
    }

    /// The list given for a `pinraft run` flag, by its name.
    pub fn list(&self, flag: &str) -> Option<String> {
        if let Some(list) = self.knobs.get(flag) {
            return Some(list.to_string());
        }
        let given = match flag {
            "nodes" => &self.nodes,
            "clients" => &self.clients,
            "rate" => &self.rate,
            "load-threads" => &self.load_threads,
            "loss" => &self.loss,
            "dup" => &self.dup,
            "delay" => &self.delay,
            "mix" => &self.mix,
            "keys" => &self.keys,
            "value-size" => &self.value_size,
            "client-timeout" => &self.client_timeout,
            "channel-capacity" => &self.channel_capacity,
            "engine" => &self.engine,
            "storage" => &self.storage,
            "fsync" => &self.fsync,
            "fsync-interval" => &self.fsync_interval,
            "duration" => return Some(self.duration.clone()),
            "warmup" => return Some(self.warmup.clone()),
            _ => return None,
        };
        given.clone()
    }
}

/// Runs the sweep; bad input is an error before anything runs.
pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let mut grid =
        Grid::expand(&|flag| args.list(flag), args.events.as_deref(), args.data_dir.as_deref())?;
    grid.interleave = args.interleave;
    check_run_dirs(&grid, args.repeat)?;
    let warnings: std::collections::BTreeSet<String> =
        grid.points.iter().filter_map(|p| p.args.unsafe_warning()).collect();
    warnings.iter().for_each(|w| eprintln!("{w}"));
    let runs_total = grid.points.len() as u64 * args.repeat;
    eprintln!("{}", grid.reproduce(args.repeat, args.seed));
    let wall_ns: u64 =
        grid.points.iter().map(|p| (p.args.warmup + p.args.duration) * args.repeat).sum();
    eprintln!(
        "{} points, {} run(s) each: {runs_total} runs, about {:.0} s of warm-up and measuring",
        grid.points.len(),
        args.repeat,
        (wall_ns as f64 / 1e9).ceil()
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let runs = run_points(&grid, args)?;
    let results = Results { grid, runs, repeat: args.repeat, seed: args.seed };
    let files = write_outputs(&results, &args.out)?;
    let json = args.json.then(|| serde_json::to_string_pretty(&results.to_json(false)));
    print_outputs(json.transpose()?, &table::render(&results), &files)
}

/// With `json` (its text), the JSON on stdout and the table on stderr; otherwise the table
/// on stdout. Then the files written, on stderr.
pub(crate) fn print_outputs(
    json: Option<String>,
    table: &str,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    match json {
        Some(json) => {
            println!("{json}");
            eprint!("{table}");
        }
        None => print!("{table}"),
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    eprintln!("wrote {}", names.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// Runs every point `repeat` times, in the grid's order, one run at a time.
fn run_points(grid: &Grid, args: &SweepArgs) -> anyhow::Result<Vec<Vec<Value>>> {
    let order = grid.order(args.repeat);
    let mut all = vec![Vec::with_capacity(args.repeat as usize); grid.points.len()];
    run_in_order(grid, args, &order, &mut |p, json| all[p].push(json))?;
    Ok(all)
}

/// Runs repeat `r` of point `p` for each `(p, r)` of `order`, one run at a time, with a
/// progress bar over them all; hands each run's JSON to `done`. Run `(p, r)` uses seed
/// `run_seed(seed, p * repeat + r)` and, with a WAL, the directory `DIR/run-K` of
/// `K = p * repeat + r + 1`, whatever the order.
pub(crate) fn run_in_order(
    grid: &Grid,
    args: &SweepArgs,
    order: &[(usize, usize)],
    done: &mut dyn FnMut(usize, Value),
) -> anyhow::Result<()> {
    let total = order.len();
    let bar = progress_bar(total as u64);
    for (i, &(p, r)) in order.iter().enumerate() {
        let point = &grid.points[p];
        let k = p * args.repeat as usize + r;
        let label = grid.label(point, true);
        bar.set_message(format!("{label} (repeat {}/{})", r + 1, args.repeat));
        let mut run_args = point.args.clone();
        run_args.seed = grid::run_seed(args.seed, k);
        run_args.data_dir = run_dir(&point.args, k);
        let json = run_one(&run_args, &mut |f| {
            bar.set_position(
                i as u64 * STEPS_PER_RUN + (f.clamp(0.0, 1.0) * STEPS_PER_RUN as f64) as u64,
            )
        })
        .with_context(|| format!("run {} of {total} ({label})", i + 1))?;
        let line = format!("[{}/{total}] {label}, repeat {}: {}", i + 1, r + 1, brief(&json));
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
        done(p, json);
    }
    bar.finish_and_clear();
    Ok(())
}

/// Run `k`'s own directory (counting from 0) inside the sweep's `--data-dir`, when it
/// stores a WAL: every run starts from empty storage.
fn run_dir(args: &run::RunArgs, k: usize) -> Option<PathBuf> {
    args.data_dir.as_ref().map(|dir| dir.join(format!("run-{}", k + 1)))
}

/// Refuses to start when a run's directory exists already: that run would recover it.
pub(crate) fn check_run_dirs(grid: &Grid, repeat: u64) -> anyhow::Result<()> {
    for point in &grid.points {
        for r in 0..repeat as usize {
            let dir = run_dir(&point.args, point.index * repeat as usize + r);
            if let Some(dir) = dir.filter(|d| d.exists()) {
                anyhow::bail!(
                    "--data-dir: {} exists already; give a fresh directory (every run of a \
                     sweep starts from empty storage)",
                    dir.display()
                );
            }
        }
    }
    Ok(())
}

/// One `pinraft run` with these flags; its JSON result.
fn run_one(args: &run::RunArgs, progress: &mut dyn FnMut(f64)) -> anyhow::Result<Value> {
    let cfg = args.cluster_config()?;
    let report = cluster::run(&cfg, progress)?;
    for error in &report.node_errors {
        eprintln!("pinraft: {error}");
    }
    Ok(serde_json::to_value(run::to_json(args, &cfg, report))?)
}

/// A one-line result: throughput and latency.
fn brief(json: &Value) -> String {
    use crate::sweep::stats::{get, LATENCY_P50, LATENCY_P99, THROUGHPUT};
    let f = |key| get(json, key).unwrap_or(f64::NAN);
    format!(
        "{:.0} ops/s, latency p50 {:.0} us, p99 {:.0} us",
        f(THROUGHPUT),
        f(LATENCY_P50),
        f(LATENCY_P99)
    )
}

/// Writes sweep.csv, sweep.json and the plots; returns the files written.
fn write_outputs(results: &Results, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let write = |name: &str, text: String| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let mut files = vec![
        write("sweep.csv", csv::to_csv(&results.csv_rows()))?,
        write("sweep.json", serde_json::to_string_pretty(&results.to_json(true))? + "\n")?,
    ];
    let (plots, skipped) = plots::write_all(results, dir)?;
    files.extend(plots);
    for flag in skipped {
        eprintln!("note: --{flag} is not a number, so there is no plot against it");
    }
    Ok(files)
}

/// A bar over every run of the sweep, with an ETA; hidden when stderr is not a terminal.
fn progress_bar(runs: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(runs * STEPS_PER_RUN);
    let template = "{bar:30} {percent:>3}% {elapsed_precise} ETA {eta_precise}  {msg}";
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("static template"));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::params::params;

    #[test]
    fn every_sweepable_flag_is_a_sweep_flag() {
        for param in params() {
            let flags = [format!("--{}", param.flag), "LIST".to_string()];
            let args = SweepArgs::try_parse_flags(flags).expect("a sweep flag");
            assert_eq!(args.list(param.flag).as_deref(), Some("LIST"), "--{}", param.flag);
        }
    }
}
