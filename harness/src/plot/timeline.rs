//! The throughput timeline of one run (`pinraft run --timeline FILE.svg`): operations
//! answered per 100 ms from the start, warm-up included, with the end of the warm-up and
//! every timed event drawn as a vertical line, so a fault's effect is visible over time.

use super::{write_svg, Chart, Line, Marker, Sample};
use crate::args::{format_duration, format_ppm};
use crate::cluster::ClusterConfig;
use std::path::Path;

/// Width of one timeline bucket in seconds.
const BUCKET_S: f64 = 0.1;

/// The chart of a run's `timeline_ops_per_100ms`.
pub fn timeline_chart(cfg: &ClusterConfig, timeline: &[u64]) -> Chart {
    let samples = timeline.iter().enumerate().map(|(i, &ops)| {
        let y = ops as f64;
        Sample { x: (i as f64 + 0.5) * BUCKET_S, y, y_min: y, y_max: y }
    });
    let mut markers = Vec::new();
    if cfg.warmup_ns > 0 {
        markers.push(Marker { x: cfg.warmup_ns as f64 / 1e9, label: "end of warm-up".into() });
    }
    for event in &cfg.events {
        markers.push(Marker { x: event.at_ns as f64 / 1e9, label: event.to_string() });
    }
    let e = &cfg.engine;
    let load =
        cfg.rate.map_or(format!("{} clients", cfg.clients), |r| format!("{r} ops/s open loop"));
    let subtitle = format!(
        "{} nodes, {load}, batch {}, inflight {}, resend {}, loss {}, seed {}{}",
        cfg.nodes,
        e.batch_entries_max,
        e.inflight_batches_max,
        format_duration(e.resend_threshold_ns),
        format_ppm(cfg.faults.loss_ppm),
        cfg.seed,
        match cfg.engine_kind {
            crate::replica::EngineKind::Raft => String::new(),
            other => format!(", {} engine", other.name()),
        },
    );
    Chart {
        title: "Throughput over time (ops answered per 100 ms)".into(),
        subtitle,
        x_label: "time since start (s)".into(),
        y_label: "ops answered per 100 ms".into(),
        linear_only: true,
        lines: vec![Line {
            label: String::new(),
            style: 0,
            dashed: false,
            samples: samples.collect(),
        }],
        markers,
        ..Chart::default()
    }
}

/// Writes the timeline chart of a run to `path`.
pub fn timeline_svg(path: &Path, cfg: &ClusterConfig, timeline: &[u64]) -> anyhow::Result<()> {
    write_svg(path, &timeline_chart(cfg, timeline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_events;

    #[test]
    fn events_and_the_warm_up_are_marked() {
        let cfg = ClusterConfig {
            events: parse_events("kill-leader@2s").unwrap(),
            ..ClusterConfig::default()
        };
        let chart = timeline_chart(&cfg, &[10, 20, 0, 30]);
        let labels: Vec<&str> = chart.markers.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["end of warm-up", "kill-leader@2s"]);
        assert_eq!(chart.lines[0].samples.len(), 4);
        let svg = super::super::render_svg(&chart).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("kill-leader@2s"));
    }
}
