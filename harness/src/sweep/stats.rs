//! What a point's repeats add up to: the median and the min-max spread of the figures that
//! the table, the plots and the JSON summary show. Pure functions over run JSON values.

use serde::Serialize;
use serde_json::Value;

/// A figure of a run, named by its dotted CSV column (`latency_us.p50`).
pub struct Metric {
    /// Dotted path into the run's JSON, the same as its CSV column.
    pub key: &'static str,
    /// Column header in the table, with its unit.
    pub header: &'static str,
    /// The table shows the min-max spread of repeats, not only the median.
    pub spread: bool,
}

/// Client-facing throughput.
pub const THROUGHPUT: &str = "throughput_ops_s";
/// Client latency, median.
pub const LATENCY_P50: &str = "latency_us.p50";
/// Client latency, 99th percentile.
pub const LATENCY_P99: &str = "latency_us.p99";
/// Packets sent per operation committed.
pub const PACKETS_PER_OP: &str = "packets_per_op";

/// The figures summarised for every point, in table order.
pub static METRICS: &[Metric] = &[
    Metric { key: THROUGHPUT, header: "throughput (ops/s)", spread: true },
    Metric { key: LATENCY_P50, header: "latency p50 (µs)", spread: true },
    Metric { key: LATENCY_P99, header: "latency p99 (µs)", spread: true },
    Metric { key: "commit_latency_us.p50", header: "commit p50 (µs)", spread: false },
    Metric { key: "commit_latency_us.p99", header: "commit p99 (µs)", spread: false },
    Metric { key: "messages.resent", header: "resent", spread: false },
    Metric { key: PACKETS_PER_OP, header: "packets/op", spread: false },
    Metric { key: "leader_changes", header: "leader changes", spread: false },
];

/// The median of some repeats and their range.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1] })
    }
}

/// The number at a dotted path of a run's JSON (`latency_us.p50`).
pub fn get(run: &Value, key: &str) -> Option<f64> {
    key.split('.').try_fold(run, |v, part| v.get(part))?.as_f64()
}

/// The spread of one figure over a point's repeats.
pub fn spread(runs: &[Value], key: &str) -> Option<Spread> {
    let values: Vec<f64> = runs.iter().filter_map(|r| get(r, key)).collect();
    Spread::of(&values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(s, Spread { median: 2.0, min: 1.0, max: 3.0 });
        assert_eq!(Spread::of(&[4.0, 1.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn dotted_paths() {
        let runs = vec![
            serde_json::json!({"latency_us": {"p50": 10.0}, "throughput_ops_s": 5}),
            serde_json::json!({"latency_us": {"p50": 30.0}, "throughput_ops_s": 7}),
        ];
        assert_eq!(spread(&runs, LATENCY_P50).unwrap().median, 20.0);
        assert_eq!(spread(&runs, THROUGHPUT).unwrap().max, 7.0);
        assert_eq!(spread(&runs, "latency_us.p99"), None);
    }
}
