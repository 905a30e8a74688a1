//! `pinraft compare`: every engine on the same grid of `pinraft run` points, in one sitting,
//! alternating engines point by point (for each point and repeat, every engine runs once
//! before the next repeat), so that drift in the machine hits every engine alike. It takes
//! every flag of `pinraft sweep` (each `pinraft run` flag as a comma list) with other
//! defaults: `--engine raft,raft-rs --clients 1,64,256,1024 --loss 0,10% --repeat 3`, and
//! writes `compare.csv` (one row per run, with an `engine` column), `compare.json`,
//! `throughput-vs-clients.svg` and `p99-vs-clients.svg` into `--out` (`results/compare`).
//! The table has one row per point: the median and spread of each engine's figures, and
//! its throughput as a ratio to pinraft's (`raft`) at the same point.

use crate::cli::sweep::{self as sweep_cli, SweepArgs};
use crate::replica::EngineKind;
use crate::sweep::grid::Grid;
use crate::sweep::plots::{self, Figure};
use crate::sweep::stats::{self, LATENCY_P50, LATENCY_P99, THROUGHPUT};
use crate::sweep::{csv, Results};
use anyhow::Context;
use clap::{ArgMatches, Command, FromArgMatches};
use comfy_table::{presets, CellAlignment, Table};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The flags of `pinraft compare`: those of `pinraft sweep`, with the defaults of a
/// comparison.
#[derive(Clone, Debug)]
pub struct CompareArgs(pub SweepArgs);

/// Defaults that differ from `pinraft sweep`'s: (argument id, value).
const DEFAULTS: &[(&str, &str)] = &[
    ("engine", "raft,raft-rs"),
    ("clients", "1,64,256,1024"),
    ("loss", "0,10%"),
    ("repeat", "3"),
    ("out", "results/compare"),
];

impl FromArgMatches for CompareArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<CompareArgs, clap::Error> {
        SweepArgs::from_arg_matches(matches).map(CompareArgs)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl clap::Args for CompareArgs {
    fn augment_args(cmd: Command) -> Command {
        DEFAULTS.iter().fold(SweepArgs::augment_args(cmd), |cmd, &(id, value)| {
            cmd.mut_arg(id, |arg| arg.default_value(value))
        })
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// How a compare grid is run and read: which of its axes is the engine, and which points
/// differ only in their engine.
pub(crate) struct Plan {
    /// Position of the `engine` axis in the grid's axes.
    engine_axis: usize,
    /// Each point's engine, by point index.
    engines: Vec<String>,
    /// Points that differ only in their engine, in grid order.
    groups: Vec<Vec<usize>>,
}

impl Plan {
    pub(crate) fn new(grid: &Grid) -> anyhow::Result<Plan> {
        let engine_axis = (grid.axes.iter().position(|a| a.param.flag == "engine"))
            .context("--engine: a comparison needs a list of engines")?;
        let axis = &grid.axes[engine_axis];
        let engines = grid.points.iter().map(|p| axis.values[p.values[engine_axis]].clone());
        let mut keyed: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
        for point in &grid.points {
            let mut key = point.values.clone();
            key[engine_axis] = 0;
            keyed.entry(key).or_default().push(point.index);
        }
        let mut groups: Vec<Vec<usize>> = keyed.into_values().collect();
        groups.sort_by_key(|g| g[0]);
        Ok(Plan { engine_axis, engines: engines.collect(), groups })
    }

    /// Every run in the order it is made: for each group of points, each repeat, each
    /// engine. Run `(p, r)` has seed `run_seed(seed, p * repeat + r)`, as in a sweep.
    pub(crate) fn order(&self, repeat: u64) -> Vec<(usize, usize)> {
        let mut order = Vec::new();
        for group in &self.groups {
            for r in 0..repeat as usize {
                order.extend(group.iter().map(|&p| (p, r)));
            }
        }
        order
    }

    fn engine_of(&self, p: usize) -> &str {
        &self.engines[p]
    }
}

/// Runs the comparison; bad input is an error before anything runs.
pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let args = &args.0;
    anyhow::ensure!(
        !args.interleave,
        "--interleave: pinraft compare already alternates the engines point by point"
    );
    let grid =
        Grid::expand(&|flag| args.list(flag), args.events.as_deref(), args.data_dir.as_deref())?;
    let plan = Plan::new(&grid)?;
    sweep_cli::check_run_dirs(&grid, args.repeat)?;
    let order = plan.order(args.repeat);
    eprintln!("{}", grid.command("pinraft compare", args.repeat, args.seed));
    let wall_ns: u64 = grid.points.iter().map(|p| p.args.warmup + p.args.duration).sum();
    eprintln!(
        "{} points ({} engines), {} run(s) each, alternating engines: {} runs, about {:.0} s",
        grid.points.len(),
        grid.axes[plan.engine_axis].values.len(),
        args.repeat,
        order.len(),
        (wall_ns * args.repeat) as f64 / 1e9
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); grid.points.len()];
    sweep_cli::run_in_order(&grid, args, &order, &mut |p, json| runs[p].push(json))?;
    let results = Results { grid, runs, repeat: args.repeat, seed: args.seed };
    let files = write_outputs(&results, &plan, &args.out)?;
    let json = args.json.then(|| serde_json::to_string_pretty(&to_json(&results, &plan, false)));
    sweep_cli::print_outputs(json.transpose()?, &table(&results, &plan), &files)
}

/// The median throughput of pinraft's engine at the point of `p`'s group, if it ran.
fn ours(results: &Results, plan: &Plan, p: usize) -> Option<f64> {
    let group = plan.groups.iter().find(|g| g.contains(&p))?;
    let ours = group.iter().find(|&&q| plan.engine_of(q) == EngineKind::Raft.name())?;
    stats::spread(&results.runs[*ours], THROUGHPUT).map(|s| s.median)
}

/// The throughput ratio of point `p` to pinraft's at the same point.
fn ratio(results: &Results, plan: &Plan, p: usize) -> Option<f64> {
    let median = stats::spread(&results.runs[p], THROUGHPUT)?.median;
    ours(results, plan, p).filter(|&o| o > 0.0).map(|o| median / o)
}

/// The compare JSON: the sweep JSON of the grid (with every run when `with_runs`), the
/// engines, the order of the runs, and each point's throughput ratio to pinraft's.
fn to_json(results: &Results, plan: &Plan, with_runs: bool) -> Value {
    let mut json = serde_json::to_value(results.to_json(with_runs)).expect("plain data");
    let ratios: Vec<Value> = (0..results.grid.points.len())
        .map(|p| {
            serde_json::json!({
                "point": p,
                "engine": plan.engine_of(p),
                "throughput_ratio_to_raft": ratio(results, plan, p),
            })
        })
        .collect();
    let object = json.as_object_mut().expect("an object");
    object.insert(
        "reproduce".into(),
        results.grid.command("pinraft compare", results.repeat, results.seed).into(),
    );
    object.insert("engines".into(), results.grid.axes[plan.engine_axis].values.clone().into());
    object.insert("order".into(), "alternating: each point and repeat, every engine".into());
    object.insert("ratios".into(), ratios.into());
    json
}

/// Writes compare.csv, compare.json and the plots; returns the files written.
pub(crate) fn write_outputs(
    results: &Results,
    plan: &Plan,
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let write = |name: &str, text: String| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let rows: Vec<csv::Row> = (results.csv_rows().into_iter())
        .map(|mut row| {
            let p: usize = row[0].1.parse().expect("the point column comes first");
            row.insert(0, ("engine".to_string(), plan.engine_of(p).to_string()));
            row
        })
        .collect();
    let json = serde_json::to_string_pretty(&to_json(results, plan, true))? + "\n";
    let mut files = vec![write("compare.csv", csv::to_csv(&rows))?, write("compare.json", json)?];
    let (plots, _) = plots::write_figures(results, dir, &[Figure::Throughput, Figure::P99])?;
    files.extend(plots);
    Ok(files)
}

/// One row per point: the swept parameters, then the engine's throughput, latency p50 and
/// p99 (median and min-max of the repeats) and its throughput as a ratio to pinraft's.
fn table(results: &Results, plan: &Plan) -> String {
    let grid = &results.grid;
    let swept: Vec<_> = grid.swept().filter(|(k, _)| *k != plan.engine_axis).collect();
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    let mut header: Vec<String> = swept.iter().map(|(_, a)| a.param.flag.to_string()).collect();
    let params = header.len() + 1;
    header.extend(["engine", "ops/s", "x raft", "p50 us", "p99 us"].map(String::from));
    table.set_header(header);
    for group in &plan.groups {
        for &p in group {
            let point = &grid.points[p];
            let mut row: Vec<String> =
                swept.iter().map(|(k, a)| a.values[point.values[*k]].clone()).collect();
            row.push(plan.engine_of(p).to_string());
            for key in [THROUGHPUT, LATENCY_P50, LATENCY_P99] {
                row.push(cell(stats::spread(&results.runs[p], key), results.repeat));
            }
            row.insert(
                params + 1,
                ratio(results, plan, p).map_or("-".into(), |r| format!("{r:.2}")),
            );
            table.add_row(row);
        }
    }
    for k in params..params + 4 {
        if let Some(column) = table.column_mut(k) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let note = format!(
        "cells: median of {} runs per engine and point, (min-max); x raft: throughput over \
         pinraft's median at the same point; engines alternated run by run",
        results.repeat
    );
    format!("{table}\n{note}\n")
}

fn cell(spread: Option<stats::Spread>, repeat: u64) -> String {
    let number = |v: f64| if v >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") };
    match spread {
        None => "-".into(),
        Some(s) if repeat <= 1 => number(s.median),
        Some(s) => format!("{} ({}-{})", number(s.median), number(s.min), number(s.max)),
    }
}
