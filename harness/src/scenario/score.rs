//! The score of one run, the classic way: a correctness verdict (any error fails the run),
//! the classic figures (`total_msgs`, `failures`, `duplicates`, `median_latency`), ours
//! (p99 latency, elections, packets per request by kind), and the benchmark tiers.

use super::driver::{KindCounts, Tally};
use super::runner::Mode;
use super::{Benchmarks, Format, Scenario};
use crate::check::{self, Budget, Verdict};
use crate::workload::PacketKinds;
use serde::Serialize;
use std::fmt::Write;

/// The version of the JSON below; bumped when a key changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

/// Explored states the linearizability check may use: a bound in work, not wall time, so
/// the verdict is the same on every machine.
const CHECK_STATES_MAX: u64 = 2_000_000;

/// The tier of `figure`: 0 strictly below the first threshold (bonus), 1 below the second
/// (full), 2 below the third (partial), else 3.
pub fn tier(figure: f64, thresholds: [f64; 3]) -> u8 {
    thresholds.iter().position(|&t| figure < t).map_or(3, |i| i as u8)
}

/// Three thresholds must be finite, not negative and in order.
pub(super) fn check_thresholds(name: &str, t: [f64; 3]) -> Result<[f64; 3], String> {
    if t.iter().any(|x| !x.is_finite() || *x < 0.0) {
        return Err(format!("{name}: thresholds must be numbers of at least 0, got {t:?}"));
    }
    if t[0] > t[1] || t[1] > t[2] {
        return Err(format!("{name}: thresholds must not decrease, got {t:?}"));
    }
    Ok(t)
}

/// `ns` as seconds with `decimals` decimals and an `s`.
pub(crate) fn format_seconds(ns: u64, decimals: usize) -> String {
    format!("{:.decimals$}s", ns as f64 / 1e9)
}

/// The tier of each figure that has thresholds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tiers {
    /// Tier of `total_msgs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_msgs: Option<u8>,
    /// Tier of `failures`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u8>,
    /// Tier of `duplicates`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<u8>,
    /// Tier of `median_latency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_latency: Option<u8>,
}

impl Tiers {
    fn of(b: &Benchmarks, figures: [f64; 4]) -> Tiers {
        let t = |thresholds: Option<[f64; 3]>, figure| thresholds.map(|t| tier(figure, t));
        Tiers {
            total_msgs: t(b.total_msgs, figures[0]),
            failures: t(b.failures, figures[1]),
            duplicates: t(b.duplicates, figures[2]),
            median_latency: t(b.median_latency, figures[3]),
        }
    }

    /// The four tiers in order, `-` where a figure has none.
    pub fn compact(&self) -> String {
        let f = |t: Option<u8>| t.map_or("-".to_string(), |t| t.to_string());
        let all = [self.total_msgs, self.failures, self.duplicates, self.median_latency];
        all.map(f).join(" ")
    }
}

/// Packets by kind. The threaded cluster counts packets between nodes in all
/// (`raft`) but not by kind: those three are `null` there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PacketFigures<T> {
    /// Requests to nodes and replies to clients.
    pub client: T,
    /// Every packet between nodes.
    pub raft: T,
    /// Packets with an append or an append ack.
    pub replication: Option<T>,
    /// Packets of heartbeats only.
    pub heartbeat: Option<T>,
    /// Packets with votes or vote requests.
    pub election: Option<T>,
    /// Client and raft packets.
    pub total: T,
}

/// Replies by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Replies {
    /// `ok`.
    pub ok: u64,
    /// `fail`.
    pub fail: u64,
    /// `redirect`.
    pub redirect: u64,
    /// Client timeouts (our clients only; classic clients never time out).
    pub timeout: u64,
}

/// What a runtime measured, beyond the clients' tally.
#[derive(Clone, Debug, Default)]
pub struct RunFigures {
    /// Packets between nodes (lost ones included).
    pub node_packets: u64,
    /// Client packets (requests and replies).
    pub client_packets: u64,
    /// Packets between nodes by kind, when the runtime counts them.
    pub kinds: Option<PacketKinds>,
    /// Elections started.
    pub elections: u64,
    /// Raft safety violations (the simulator checks after every event).
    pub violations: Vec<String>,
    /// Replicas that died on their own.
    pub died: Vec<String>,
    /// Whether `max_packets` stopped the run.
    pub stopped_early: bool,
    /// When the run ended.
    pub end_ns: u64,
    /// Notes about this mode (knobs it ignores).
    pub notes: Vec<String>,
}

/// The score of one run of one file.
#[derive(Clone, Debug, Serialize)]
pub struct Score {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that repeats this run.
    pub reproduce: String,
    /// The scenario file.
    pub file: String,
    /// Its format.
    pub format: Format,
    /// Where it ran.
    pub mode: Mode,
    /// The seed used.
    pub seed: u64,
    /// No correctness error.
    pub correct: bool,
    /// Correctness errors, one line each.
    pub errors: Vec<String>,
    /// Remarks that are not errors.
    pub notes: Vec<String>,
    /// Every packet routed, client traffic included, a batch counted as one.
    pub total_msgs: u64,
    /// Fail replies plus unanswered requests (plus, open loop, arrivals never sent).
    pub failures: u64,
    /// Replies to an already completed request id.
    pub duplicates: u64,
    /// Median latency of every reply (ok, fail, redirect), in seconds.
    pub median_latency: f64,
    /// 99th percentile of the same, in seconds.
    pub p99_latency: f64,
    /// Elections started.
    pub elections: u64,
    /// Operations the workload issued (the denominator of `packets_per_request`).
    pub requests: u64,
    /// Request ids sent (classic: every attempt).
    pub request_ids: u64,
    /// Replies by outcome.
    pub replies: Replies,
    /// Gets sent and unanswered.
    pub gets: KindCounts,
    /// Puts sent and unanswered.
    pub puts: KindCounts,
    /// Open loop: arrivals that never found an idle client.
    pub not_sent: u64,
    /// Packets by kind.
    pub packets: PacketFigures<u64>,
    /// Packets by kind per request.
    pub packets_per_request: PacketFigures<f64>,
    /// The packet limit (`null`: none).
    pub max_packets: Option<u64>,
    /// Whether the limit stopped the run.
    pub stopped_early: bool,
    /// When the run ended, from its start.
    pub end_ns: u64,
    /// Whether the history of every request id is linearizable (`null`: the check ran
    /// out of its budget, which is not a failure).
    pub linearizable: Option<bool>,
    /// What each event did.
    pub events_played: Vec<String>,
    /// Tiers, when the file has benchmarks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Tiers>,
}

/// Where a run happened and what it measured: the inputs of [`Score::new`].
pub struct RunContext<'a> {
    /// The scenario.
    pub scenario: &'a Scenario,
    /// Its file name, as given.
    pub file: String,
    /// Where it ran.
    pub mode: Mode,
    /// The seed used.
    pub seed: u64,
}

impl Score {
    /// The verdict and figures of a finished run.
    pub fn new(ctx: &RunContext, tally: &Tally, run: &RunFigures) -> Score {
        let sc = ctx.scenario;
        let mut errors = tally.errors.clone();
        if tally.errors_total > tally.errors.len() as u64 {
            errors.push(format!("... and {} more", tally.errors_total - tally.errors.len() as u64));
        }
        errors.extend(run.died.iter().cloned());
        errors.extend(run.violations.iter().map(|v| format!("safety violation: {v}")));
        let linearizable = match check::check_kv(&tally.history, Budget::States(CHECK_STATES_MAX)) {
            Verdict::Linearizable => Some(true),
            Verdict::NotLinearizable(v) => {
                let key = v.key.as_deref().unwrap_or("-");
                let ops: Vec<String> =
                    v.involved.iter().map(|&i| tally.history[i].to_string()).collect();
                errors.push(format!(
                    "the history is not linearizable: key {key}, operations involved: {}",
                    ops.join("; ")
                ));
                Some(false)
            }
            Verdict::Unknown => None,
        };
        fail_fraction(&mut errors, "get", tally.gets, sc.tests.get_fail_ppm);
        fail_fraction(&mut errors, "put", tally.puts, sc.tests.put_fail_ppm);
        let mut notes = sc.notes.clone();
        notes.extend(run.notes.iter().cloned());
        if linearizable.is_none() {
            notes.push(format!(
                "the linearizability check ran out of its budget of {CHECK_STATES_MAX} states"
            ));
        }
        let mut latencies = tally.latencies_ns.clone();
        latencies.sort_unstable();
        let seconds = |ns: u64| ns as f64 / 1e9;
        let median = latencies.get(latencies.len() / 2).map_or(0.0, |&ns| seconds(ns));
        let p99_rank = (latencies.len() * 99).div_ceil(100).saturating_sub(1);
        let p99 = latencies.get(p99_rank).map_or(0.0, |&ns| seconds(ns));
        let failures = tally.fail + tally.gets.unanswered + tally.puts.unanswered + tally.not_sent;
        let packets = packet_counts(run);
        let figures = [packets.total as f64, failures as f64, tally.duplicates as f64, median];
        Score {
            schema_version: SCHEMA_VERSION,
            reproduce: reproduce(&ctx.file, ctx.mode, ctx.seed),
            file: ctx.file.clone(),
            format: sc.format,
            mode: ctx.mode,
            seed: ctx.seed,
            correct: errors.is_empty(),
            errors,
            notes,
            total_msgs: packets.total,
            failures,
            duplicates: tally.duplicates,
            median_latency: median,
            p99_latency: p99,
            elections: run.elections,
            requests: tally.operations,
            request_ids: tally.gets.sent + tally.puts.sent,
            replies: Replies {
                ok: tally.ok,
                fail: tally.fail,
                redirect: tally.redirect,
                timeout: tally.timeouts,
            },
            gets: tally.gets,
            puts: tally.puts,
            not_sent: tally.not_sent,
            packets_per_request: per_request(&packets, tally.operations),
            packets,
            max_packets: (sc.max_packets != u64::MAX).then_some(sc.max_packets),
            stopped_early: run.stopped_early,
            end_ns: run.end_ns,
            linearizable,
            events_played: tally.events_played.clone(),
            tiers: sc.tests.benchmarks.as_ref().map(|b| Tiers::of(b, figures)),
        }
    }

    /// The aligned plain-text report of the run, one figure per line.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "== {} ({}, {}, seed {})",
            self.file,
            self.format.as_str(),
            self.mode.as_str(),
            self.seed
        );
        let tiers = self.tiers.unwrap_or_default();
        let tier = |t: Option<u8>| t.map_or(String::new(), |t| format!("   tier {t}"));
        let rows: Vec<(&str, String)> = vec![
            ("correct", if self.correct { "yes" } else { "NO" }.to_string()),
            ("total_msgs", format!("{}{}", self.total_msgs, tier(tiers.total_msgs))),
            ("failures", format!("{}{}", self.failures, tier(tiers.failures))),
            ("duplicates", format!("{}{}", self.duplicates, tier(tiers.duplicates))),
            (
                "median_latency",
                format!("{:.6}s{}", self.median_latency, tier(tiers.median_latency)),
            ),
            ("p99_latency", format!("{:.6}s", self.p99_latency)),
            ("elections", self.elections.to_string()),
            ("requests", format!("{} ({} request ids)", self.requests, self.request_ids)),
            (
                "replies",
                format!(
                    "ok {}, fail {}, redirect {}, timeout {}",
                    self.replies.ok, self.replies.fail, self.replies.redirect, self.replies.timeout
                ),
            ),
            (
                "unanswered",
                format!(
                    "gets {} of {}, puts {} of {}{}",
                    self.gets.unanswered,
                    self.gets.sent,
                    self.puts.unanswered,
                    self.puts.sent,
                    if self.not_sent > 0 {
                        format!(", {} never sent", self.not_sent)
                    } else {
                        String::new()
                    }
                ),
            ),
            ("packets", packet_line(&self.packets, |x| x.to_string())),
            ("per request", packet_line(&self.packets_per_request, |x| format!("{x:.2}"))),
            ("linearizable", linearizable_text(self.linearizable).to_string()),
        ];
        for (name, value) in rows {
            let _ = writeln!(out, "{name:<16}{value}");
        }
        if self.stopped_early {
            let limit = self.max_packets.unwrap_or(0);
            let at = format_seconds(self.end_ns, 3);
            let _ = writeln!(out, "{:<16}max_packets ({limit}) reached at {at}", "stopped");
        }
        let lines =
            [("event", &self.events_played), ("error", &self.errors), ("note", &self.notes)];
        for (name, list) in lines {
            for line in list {
                let _ = writeln!(out, "{name:<16}{line}");
            }
        }
        out
    }
}

fn linearizable_text(verdict: Option<bool>) -> &'static str {
    match verdict {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "unknown (budget)",
    }
}

fn packet_line<T: Copy>(p: &PacketFigures<T>, show: impl Fn(T) -> String) -> String {
    let opt = |x: Option<T>| x.map_or("-".to_string(), &show);
    format!(
        "total {}: client {}, raft {} (replication {}, heartbeat {}, election {})",
        show(p.total),
        show(p.client),
        show(p.raft),
        opt(p.replication),
        opt(p.heartbeat),
        opt(p.election)
    )
}

fn packet_counts(run: &RunFigures) -> PacketFigures<u64> {
    PacketFigures {
        client: run.client_packets,
        raft: run.node_packets,
        replication: run.kinds.map(|k| k.replication),
        heartbeat: run.kinds.map(|k| k.heartbeat),
        election: run.kinds.map(|k| k.election),
        total: run.client_packets + run.node_packets,
    }
}

fn per_request(p: &PacketFigures<u64>, requests: u64) -> PacketFigures<f64> {
    let per = |x: u64| if requests == 0 { 0.0 } else { x as f64 / requests as f64 };
    PacketFigures {
        client: per(p.client),
        raft: per(p.raft),
        replication: p.replication.map(per),
        heartbeat: p.heartbeat.map(per),
        election: p.election.map(per),
        total: per(p.total),
    }
}

/// More unanswered requests of a kind than the fraction (ppm) of those sent allows.
fn fail_fraction(errors: &mut Vec<String>, kind: &str, counts: KindCounts, limit_ppm: u32) {
    let limit = u128::from(limit_ppm) * u128::from(counts.sent);
    if u128::from(counts.unanswered) * 1_000_000 > limit {
        errors.push(format!(
            "{} of {} {kind}s unanswered, more than maximum_{kind}_fail_fraction {} allows",
            counts.unanswered,
            counts.sent,
            f64::from(limit_ppm) / 1e6
        ));
    }
}

fn reproduce(file: &str, mode: Mode, seed: u64) -> String {
    let sim = if mode == Mode::Sim { " --sim" } else { "" };
    format!("pinraft scenario {file}{sim} --seed {seed}")
}
