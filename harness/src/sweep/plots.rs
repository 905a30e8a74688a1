//! The sweep's SVG plots: for each swept numeric parameter, throughput and client latency
//! (p50 solid, p99 dashed) against it, one line per combination of the other swept
//! parameters, medians with min-max whiskers when repeated.

use super::grid::{Axis, Grid};
use super::params::XOf;
use super::stats::{self, LATENCY_P50, LATENCY_P99, PACKETS_PER_OP, THROUGHPUT};
use super::Results;
use crate::plot::{write_svg, Chart, Line, Sample};
use std::path::{Path, PathBuf};

/// Fixed parameters named in a plot's subtitle, when not swept.
const SUBTITLE_FLAGS: &[&str] = &[
    "nodes",
    "clients",
    "rate",
    "batch",
    "inflight",
    "resend-policy",
    "resend",
    "loss",
    "delay",
    "engine",
    "duration",
    "warmup",
];

/// Points that differ only in one parameter: a line of a plot.
struct Group {
    /// The other swept parameters' values, e.g. `resend 5ms, loss 20%`.
    label: String,
    /// Indices of its points.
    points: Vec<usize>,
}

/// Writes every plot into `dir`; returns the files written and the swept parameters that
/// have no numeric axis (so no plot).
pub fn write_all(
    results: &Results,
    dir: &Path,
) -> anyhow::Result<(Vec<PathBuf>, Vec<&'static str>)> {
    write_figures(results, dir, &[Figure::Throughput, Figure::Latency])
}

/// The plots a sweep can draw against each swept parameter, by file name prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Figure {
    /// `throughput-vs-FLAG.svg`.
    Throughput,
    /// `latency-vs-FLAG.svg`: p50 solid, p99 dashed.
    Latency,
    /// `p99-vs-FLAG.svg`: p99 alone.
    P99,
    /// `packets-vs-FLAG.svg`: packets sent per operation committed.
    Packets,
}

/// [`write_all`] with a choice of figures.
pub fn write_figures(
    results: &Results,
    dir: &Path,
    figures: &[Figure],
) -> anyhow::Result<(Vec<PathBuf>, Vec<&'static str>)> {
    let (mut written, mut skipped) = (Vec::new(), Vec::new());
    for (k, axis) in results.grid.swept() {
        let Some(x_of) = axis.param.x else {
            skipped.push(axis.param.flag);
            continue;
        };
        let groups = groups(&results.grid, k);
        let line = |g: &Group, style: usize, key: &str, label: String, dashed: bool| Line {
            label,
            style,
            dashed,
            samples: samples(results, g, x_of, key),
        };
        // One line per group: a figure of its own.
        let single = |title: &str, y_label: &str, key: &str| {
            let mut chart = base_chart(results, axis, title);
            chart.y_label = y_label.into();
            chart.lines = (groups.iter().enumerate())
                .map(|(i, g)| line(g, i, key, g.label.clone(), false))
                .collect();
            chart
        };
        let throughput = single("Throughput", "throughput (ops/s)", THROUGHPUT);
        let mut latency = base_chart(results, axis, "Client latency p50 and p99");
        latency.y_label = "client latency (µs)".into();
        latency.style_key = vec![("p50".into(), false), ("p99".into(), true)];
        for (i, g) in groups.iter().enumerate() {
            latency.lines.push(line(g, i, LATENCY_P50, g.label.clone(), false));
            latency.lines.push(line(g, i, LATENCY_P99, String::new(), true));
        }
        let p99 = single("Client latency p99", "client latency p99 (µs)", LATENCY_P99);
        let packets =
            single("Packets per operation", "packets sent per operation committed", PACKETS_PER_OP);
        let charts = [
            (Figure::Throughput, "throughput", throughput),
            (Figure::Latency, "latency", latency),
            (Figure::P99, "p99", p99),
            (Figure::Packets, "packets", packets),
        ];
        for (_, name, chart) in charts.into_iter().filter(|(f, _, _)| figures.contains(f)) {
            let path = dir.join(format!("{name}-vs-{}.svg", axis.param.flag));
            write_svg(&path, &chart)?;
            written.push(path);
        }
    }
    Ok((written, skipped))
}

/// Groups the points by the values of every swept axis but `k`, in grid order.
fn groups(grid: &Grid, k: usize) -> Vec<Group> {
    let mut keyed: Vec<(Vec<usize>, Group)> = Vec::new();
    for point in &grid.points {
        let mut key = point.values.clone();
        key[k] = usize::MAX;
        match keyed.iter_mut().find(|(other, _)| *other == key) {
            Some((_, group)) => group.points.push(point.index),
            None => {
                let parts: Vec<String> = (grid.swept().filter(|(j, _)| *j != k))
                    .map(|(j, a)| format!("{} {}", a.param.flag, a.values[point.values[j]]))
                    .collect();
                keyed.push((key, Group { label: parts.join(", "), points: vec![point.index] }));
            }
        }
    }
    keyed.into_iter().map(|(_, g)| g).collect()
}

/// A group's samples of one figure, in x order.
fn samples(results: &Results, group: &Group, x_of: XOf, key: &str) -> Vec<Sample> {
    let mut samples: Vec<Sample> = (group.points.iter())
        .filter_map(|&p| {
            let s = stats::spread(&results.runs[p], key)?;
            let x = x_of.at(&results.grid.points[p].args);
            Some(Sample { x, y: s.median, y_min: s.min, y_max: s.max })
        })
        .collect();
    samples.sort_by(|a, b| a.x.total_cmp(&b.x));
    samples
}

/// Title, subtitle and x axis of a plot against `axis`.
fn base_chart(results: &Results, axis: &Axis, figure: &str) -> Chart {
    let name = axis.param.axis.split(" (").next().unwrap_or(axis.param.flag);
    Chart {
        title: format!("{figure} vs {name}"),
        subtitle: subtitle(results),
        x_label: axis.param.axis.to_string(),
        x_ticks_at_data: true,
        show_points: true,
        ..Chart::default()
    }
}

/// The fixed parameters and what a point stands for.
fn subtitle(results: &Results) -> String {
    let grid = &results.grid;
    let fixed = (grid.axes.iter())
        .filter(|a| !a.is_swept() && SUBTITLE_FLAGS.contains(&a.param.flag))
        .filter(|a| {
            !matches!(
                (a.param.flag, a.values[0].as_str()),
                ("delay", "0ns-0ns") | ("engine", "raft")
            )
        })
        .map(|a| format!("{} {}", a.param.flag, a.values[0]));
    let mut parts: Vec<String> = fixed.collect();
    parts.push(if results.repeat > 1 {
        format!("median of {} runs, bars min-max", results.repeat)
    } else {
        "one run per point".to_string()
    });
    parts.join(", ")
}
