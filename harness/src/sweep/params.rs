//! The flags of `pinraft run` a sweep can vary, in the order the grid nests them, each
//! with the axis label (and unit) of a plot against it and where a run sits on that axis.

use crate::cli::run::RunArgs;

/// A flag of `pinraft run` that a sweep accepts as a comma list.
pub struct Param {
    /// The flag without its dashes, as `pinraft run` spells it.
    pub flag: &'static str,
    /// Axis label of a plot against this parameter, with its unit.
    pub axis: &'static str,
    /// Where a point sits on that axis; `None` for a parameter that is not a number.
    pub x: Option<fn(&RunArgs) -> f64>,
}

/// Milliseconds of a nanosecond count, for axes.
fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Percent of a parts-per-million probability, for axes.
fn pct(ppm: u32) -> f64 {
    f64::from(ppm) / 1e4
}

/// Every sweepable flag, in the order the grid nests them (the last one varies fastest).
/// `--events` (itself a comma list) and `--seed` (derived per run) are not sweepable.
pub static PARAMS: &[Param] = &[
    Param { flag: "nodes", axis: "cluster size (nodes)", x: Some(|a| a.nodes as f64) },
    Param {
        flag: "clients",
        axis: "clients (closed loop, 1 outstanding each)",
        x: Some(|a| a.clients as f64),
    },
    Param {
        flag: "rate",
        axis: "offered load (ops/s, open loop)",
        x: Some(|a| a.rate.unwrap_or(0) as f64),
    },
    Param { flag: "load-threads", axis: "load threads", x: Some(|a| a.load_threads as f64) },
    Param {
        flag: "batch",
        axis: "batch_entries_max (entries per append)",
        x: Some(|a| a.batch as f64),
    },
    Param {
        flag: "inflight",
        axis: "inflight_batches_max (batches per follower)",
        x: Some(|a| a.inflight as f64),
    },
    Param {
        flag: "snapshot-every",
        axis: "snapshot_entries_threshold (entries)",
        x: Some(|a| a.snapshot_every as f64),
    },
    Param { flag: "resend", axis: "resend threshold (ms)", x: Some(|a| ms(a.resend)) },
    Param { flag: "heartbeat", axis: "heartbeat interval (ms)", x: Some(|a| ms(a.heartbeat)) },
    Param {
        flag: "election-timeout",
        axis: "election timeout, middle of the range (ms)",
        x: Some(|a| (ms(a.election_timeout.0) + ms(a.election_timeout.1)) / 2.0),
    },
    Param { flag: "loss", axis: "packet loss (%)", x: Some(|a| pct(a.loss)) },
    Param { flag: "dup", axis: "packet duplication (%)", x: Some(|a| pct(a.dup)) },
    Param {
        flag: "delay",
        axis: "added packet delay, middle of the range (ms)",
        x: Some(|a| (ms(a.delay.0) + ms(a.delay.1)) / 2.0),
    },
    Param { flag: "mix", axis: "gets (% of operations)", x: Some(|a| pct(a.mix)) },
    Param { flag: "keys", axis: "distinct keys", x: Some(|a| a.keys as f64) },
    Param { flag: "value-size", axis: "put value size (bytes)", x: Some(|a| a.value_size as f64) },
    Param {
        flag: "client-timeout",
        axis: "client retry timeout (ms)",
        x: Some(|a| ms(a.client_timeout)),
    },
    Param {
        flag: "channel-capacity",
        axis: "inbound channel capacity (packets)",
        x: Some(|a| a.channel_capacity as f64),
    },
    Param { flag: "engine", axis: "engine", x: None },
    Param { flag: "storage", axis: "storage", x: None },
    Param { flag: "fsync", axis: "fsync policy", x: None },
    Param {
        flag: "fsync-interval",
        axis: "fsync interval (ms)",
        x: Some(|a| ms(a.fsync_interval)),
    },
    Param { flag: "duration", axis: "measured duration (s)", x: Some(|a| a.duration as f64 / 1e9) },
    Param { flag: "warmup", axis: "warm-up (s)", x: Some(|a| a.warmup as f64 / 1e9) },
];
