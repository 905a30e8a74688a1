//! `pinraft sweep`'s machinery, apart from running the cluster: expanding comma lists of
//! the flags in `params` into a grid of `pinraft run` points (`grid`), summarising repeats
//! (`stats`), the CSV (`csv`), the table (`table`), the SVG plots (`plots`), and the
//! sweep's JSON. The command itself (flags, progress, running each point) lives in
//! `cli::sweep`.

pub mod csv;
pub mod grid;
pub mod params;
pub mod plots;
pub mod stats;
pub mod table;

use grid::Grid;
use serde::Serialize;
use serde_json::Value;
use stats::{Spread, METRICS};
use std::collections::BTreeMap;

/// Version of the sweep JSON layout.
pub const SCHEMA_VERSION: u32 = 1;

/// A finished sweep: the grid and the JSON result of every run.
pub struct Results {
    /// The points.
    pub grid: Grid,
    /// `runs[p]`: the run JSON (`pinraft run --json`) of each repeat of point `p`.
    pub runs: Vec<Vec<Value>>,
    /// Runs per point.
    pub repeat: u64,
    /// The base seed; run `k` (points and repeats in order) used `grid::run_seed(seed, k)`.
    pub seed: u64,
}

/// The sweep's JSON: parameters, a summary per point and, in `sweep.json`, every run.
#[derive(Serialize)]
pub struct SweepJson<'a> {
    schema_version: u32,
    reproduce: String,
    seed: u64,
    repeat: u64,
    swept: Vec<&'static str>,
    axes: Vec<AxisJson<'a>>,
    points: Vec<PointJson<'a>>,
}

/// One parameter and its values.
#[derive(Serialize)]
struct AxisJson<'a> {
    flag: &'static str,
    values: &'a [String],
}

/// One point: its swept values, the seeds of its runs, median and spread of each figure.
#[derive(Serialize)]
struct PointJson<'a> {
    index: usize,
    params: BTreeMap<&'static str, &'a str>,
    seeds: Vec<u64>,
    summary: BTreeMap<&'static str, Spread>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runs: Option<&'a [Value]>,
}

impl Results {
    /// The command that repeats this sweep.
    pub fn reproduce(&self) -> String {
        self.grid.reproduce(self.repeat, self.seed)
    }

    /// The swept values of point `p`, by flag.
    fn params(&self, p: usize) -> BTreeMap<&'static str, &str> {
        let point = &self.grid.points[p];
        let swept = self.grid.swept();
        swept.map(|(k, axis)| (axis.param.flag, axis.values[point.values[k]].as_str())).collect()
    }

    /// The JSON of the sweep; with `with_runs`, every run's full result too.
    pub fn to_json(&self, with_runs: bool) -> SweepJson<'_> {
        let points = (self.grid.points.iter().zip(&self.runs))
            .map(|(point, runs)| PointJson {
                index: point.index,
                params: self.params(point.index),
                seeds: runs.iter().filter_map(|r| r.get("seed")?.as_u64()).collect(),
                summary: METRICS
                    .iter()
                    .filter_map(|m| Some((m.key, stats::spread(runs, m.key)?)))
                    .collect(),
                runs: with_runs.then_some(runs.as_slice()),
            })
            .collect();
        SweepJson {
            schema_version: SCHEMA_VERSION,
            reproduce: self.reproduce(),
            seed: self.seed,
            repeat: self.repeat,
            swept: self.grid.swept().map(|(_, a)| a.param.flag).collect(),
            axes: self
                .grid
                .axes
                .iter()
                .map(|a| AxisJson { flag: a.param.flag, values: &a.values })
                .collect(),
            points,
        }
    }

    /// One CSV row per point and repeat: `point`, `repeat`, `param.FLAG` for each swept
    /// flag, then the run's JSON flattened.
    pub fn csv_rows(&self) -> Vec<csv::Row> {
        let mut rows = Vec::new();
        for (p, runs) in self.runs.iter().enumerate() {
            for (r, run) in runs.iter().enumerate() {
                let mut row = vec![
                    ("point".to_string(), p.to_string()),
                    ("repeat".to_string(), (r + 1).to_string()),
                ];
                row.extend(
                    self.params(p).into_iter().map(|(f, v)| (format!("param.{f}"), v.to_string())),
                );
                csv::flatten("", run, &mut row);
                rows.push(row);
            }
        }
        rows
    }
}
