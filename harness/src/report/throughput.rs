//! The throughput experiments: the default run and the sweeps, each exactly what `pinraft
//! run` and `pinraft sweep` would do with the same flags, written as the same files (a run's
//! JSON; a sweep's sweep.csv, sweep.json and SVG plots in its own directory).

use super::plan::SweepSpec;
use crate::cli::compare;
use crate::cli::run::{self, RunArgs};
use crate::cluster;
use crate::sweep::grid::{self, Grid};
use crate::sweep::plots::{self, Figure};
use crate::sweep::{csv, Results};
use anyhow::Context;
use serde_json::Value;
use std::path::Path;

/// Runs `args` once; its JSON result.
pub fn run_one(args: &RunArgs, progress: &mut dyn FnMut(f64)) -> anyhow::Result<Value> {
    let cfg = args.cluster_config()?;
    let report = cluster::run(&cfg, progress)?;
    Ok(serde_json::to_value(run::to_json(args, &cfg, report))?)
}

/// The grid of a sweep spec.
pub fn grid(spec: &SweepSpec) -> anyhow::Result<Grid> {
    Grid::expand(&|flag| spec.list(flag), None, None)
        .with_context(|| format!("sweep '{}'", spec.name))
}

/// Planned wall time of a sweep (warm-up and measured time of every run), in ns.
pub fn sweep_wall_ns(grid: &Grid, repeat: u64) -> u64 {
    grid.points.iter().map(|p| (p.args.warmup + p.args.duration) * repeat).sum()
}

/// Runs every point of the sweep `repeat` times (seed + k for run k, as `pinraft sweep`
/// does) and writes sweep.csv, sweep.json and the plots into `dir`. `progress(k, f)` is
/// called with the run index and the fraction of that run done.
pub fn run_sweep(
    spec: &SweepSpec,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(usize, f64),
) -> anyhow::Result<()> {
    let grid = grid(spec)?;
    let runs = run_in_order(spec, &grid, &grid.order(spec.repeat), seed, progress)?;
    write_sweep(&Results { grid, runs, repeat: spec.repeat, seed }, spec.figures, dir)
}

/// Runs the comparison of a spec whose lists include `engine`, alternating engines as
/// `pinraft compare` does, and writes compare.csv, compare.json and the plots into `dir`.
/// `progress(k, f)` is called with the index of the run in order and the fraction of that
/// run done.
pub fn run_compare(
    spec: &SweepSpec,
    seed: u64,
    dir: &Path,
    progress: &mut dyn FnMut(usize, f64),
) -> anyhow::Result<()> {
    let grid = grid(spec)?;
    let plan = compare::Plan::new(&grid)?;
    let runs = run_in_order(spec, &grid, &plan.order(spec.repeat), seed, progress)?;
    let results = Results { grid, runs, repeat: spec.repeat, seed };
    fresh_dir(dir)?;
    compare::write_outputs(&results, &plan, dir)?;
    Ok(())
}

/// Creates the report's directory for one sweep, or removes the plots a previous report
/// left in it: a plot against a parameter this sweep no longer varies would otherwise stay
/// and be linked from REPORT.md. The directory belongs to the report (never a user's
/// `pinraft sweep --out`).
fn fresh_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "svg") {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs repeat `r` of point `p` for each `(p, r)` of `order`, with seed
/// `seed + p * repeat + r` whatever the order; the runs' JSON by point, in repeat order.
fn run_in_order(
    spec: &SweepSpec,
    grid: &Grid,
    order: &[(usize, usize)],
    seed: u64,
    progress: &mut dyn FnMut(usize, f64),
) -> anyhow::Result<Vec<Vec<Value>>> {
    let mut runs = vec![Vec::with_capacity(spec.repeat as usize); grid.points.len()];
    for (i, &(p, r)) in order.iter().enumerate() {
        let point = &grid.points[p];
        let mut args = point.args.clone();
        args.seed = grid::run_seed(seed, p * spec.repeat as usize + r);
        let json = run_one(&args, &mut |f| progress(i, f))
            .with_context(|| format!("'{}', {}", spec.name, grid.label(point, true)))?;
        runs[p].push(json);
    }
    Ok(runs)
}

/// Writes a sweep's files into `dir`, as `pinraft sweep --out dir` does, with `figures`.
fn write_sweep(results: &Results, figures: &[Figure], dir: &Path) -> anyhow::Result<()> {
    fresh_dir(dir)?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write("sweep.csv", csv::to_csv(&results.csv_rows()))?;
    write("sweep.json", serde_json::to_string_pretty(&results.to_json(true))? + "\n")?;
    plots::write_figures(results, dir, figures)?;
    Ok(())
}
