//! Latency histograms and their summaries. Each thread records into its own histogram;
//! the histograms are merged once at the end, so nothing is shared on the hot path.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency recorded exactly: 60 s in nanoseconds. Longer ones saturate.
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// A latency histogram in nanoseconds, 3 significant digits.
#[derive(Clone, Debug)]
pub struct Latency {
    histogram: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Latency {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Latency {
        let histogram =
            Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3).expect("static bounds are valid");
        Latency { histogram }
    }

    /// Records one latency; values beyond the bounds saturate instead of failing.
    pub fn record_ns(&mut self, ns: u64) {
        self.histogram.saturating_record(ns.max(1));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latency) {
        self.histogram.add(&other.histogram).expect("same bounds");
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// The summary in microseconds.
    pub fn summary_us(&self) -> LatencySummary {
        let h = &self.histogram;
        if h.is_empty() {
            return LatencySummary::default();
        }
        let us = |ns: u64| ns as f64 / 1_000.0;
        LatencySummary {
            count: h.len(),
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1_000.0,
        }
    }
}

/// Percentiles of a latency distribution in microseconds (JSON keys under `*_us`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for us in 1..=500 {
            a.record_ns(us * 1_000);
        }
        for us in 501..=1_000 {
            b.record_ns(us * 1_000);
        }
        a.merge(&b);
        let s = a.summary_us();
        assert_eq!(s.count, 1_000);
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.002;
        assert!(close(s.p50, 500.0), "{s:?}");
        assert!(close(s.p99, 990.0), "{s:?}");
        assert!(close(s.max, 1_000.0), "{s:?}");
        assert!(close(s.mean, 500.5), "{s:?}");
    }

    #[test]
    fn empty_and_saturating() {
        assert_eq!(Latency::new().summary_us(), LatencySummary::default());
        let mut l = Latency::new();
        l.record_ns(u64::MAX);
        l.record_ns(0);
        assert_eq!(l.count(), 2);
    }
}

/// Raft message counters (JSON `messages`), the same keys in the simulator and the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageCounts {
    /// Raft messages sent (in the cluster, the copies of a duplicated packet too).
    pub sent: u64,
    /// Raft messages stepped by their receiver.
    pub delivered: u64,
    /// Raft messages lost to injected loss, partitions, full queues or dead nodes.
    pub dropped: u64,
    /// Append batches the engine sent again: after the resend timeout, or to repair a gap.
    pub resent: u64,
    /// Of those, gaps a follower reported that the leader repaired at once (fast
    /// retransmit, adaptive resend policy).
    pub fast_retransmits: u64,
}

/// `packets / ops`, or `None` when no operation committed (JSON `packets_per_op`).
pub fn per_op(packets: u64, ops: u64) -> Option<f64> {
    (ops > 0).then(|| packets as f64 / ops as f64)
}

/// Packet counters (JSON `batches`): one packet is one batch for one destination, the same
/// keys in the simulator and the cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// Packets sent (in the cluster, where the sender makes the copy, duplicates too).
    pub sent: u64,
    /// Packets dropped, for any reason.
    pub dropped: u64,
    /// Of those, packets dropped because the receiver's queue was full (cluster only).
    pub dropped_full: u64,
    /// Extra copies made by injected duplication.
    pub duplicated: u64,
    /// Packets sent by nodes, by what they carry.
    pub kinds: crate::workload::PacketKinds,
}
