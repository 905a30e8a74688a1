//! The flags of `pinraft run` a sweep can vary, in the order the grid nests them, each
//! with the axis label (and unit) of a plot against it and where a run sits on that axis.

use crate::cli::run::RunArgs;
use crate::knobs::{Knob, Unit, KNOBS};
use std::sync::OnceLock;

/// A flag of `pinraft run` that a sweep accepts as a comma list.
pub struct Param {
    /// The flag without its dashes, as `pinraft run` spells it.
    pub flag: &'static str,
    /// Axis label of a plot against this parameter, with its unit.
    pub axis: &'static str,
    /// Where a point sits on that axis; `None` for a parameter that is not a number.
    pub x: Option<XOf>,
}

/// How a run's position on a parameter's axis is read.
#[derive(Clone, Copy)]
pub enum XOf {
    /// From the run's flags.
    Flags(fn(&RunArgs) -> f64),
    /// From an engine knob of the run's configuration: a count as it is, a duration in ms,
    /// a range at its middle. A choice is no number and has no `XOf`.
    Knob(&'static Knob),
}

impl XOf {
    /// The position of the run `args` on the axis.
    pub fn at(self, args: &RunArgs) -> f64 {
        match self {
            XOf::Flags(f) => f(args),
            XOf::Knob(knob) => {
                let config = args.engine_config();
                let values: Vec<u64> = knob.fields.iter().map(|f| f.get(&config)).collect();
                let mean = values.iter().sum::<u64>() as f64 / values.len() as f64;
                if knob.unit == Unit::Count {
                    mean
                } else {
                    mean / 1e6
                }
            }
        }
    }
}

/// Every sweepable flag, in the order the grid nests them (the last one varies fastest):
/// the load, every engine knob (from [`KNOBS`]), then faults, workload, engine and storage.
/// `--events` (itself a comma list) and `--seed` (derived per run) are not sweepable.
pub fn params() -> &'static [Param] {
    static PARAMS: OnceLock<Vec<Param>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        let knobs = KNOBS.iter().map(|k| {
            let number = !matches!(k.unit, Unit::Choice(_));
            Param { flag: k.flag, axis: k.axis, x: number.then_some(XOf::Knob(k)) }
        });
        LOAD.iter().map(copy).chain(knobs).chain(REST.iter().map(copy)).collect()
    })
}

fn copy(p: &Param) -> Param {
    Param { flag: p.flag, axis: p.axis, x: p.x }
}

/// Milliseconds of a nanosecond count, for axes.
fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Percent of a parts-per-million probability, for axes.
fn pct(ppm: u32) -> f64 {
    f64::from(ppm) / 1e4
}

/// The load's flags, which nest outside the engine knobs.
static LOAD: &[Param] = &[
    Param { flag: "nodes", axis: "cluster size (nodes)", x: Some(XOf::Flags(|a| a.nodes as f64)) },
    Param {
        flag: "clients",
        axis: "clients (closed loop, 1 outstanding each)",
        x: Some(XOf::Flags(|a| a.clients as f64)),
    },
    Param {
        flag: "rate",
        axis: "offered load (ops/s, open loop)",
        x: Some(XOf::Flags(|a| a.rate.unwrap_or(0) as f64)),
    },
    Param {
        flag: "load-threads",
        axis: "load threads",
        x: Some(XOf::Flags(|a| a.load_threads as f64)),
    },
];

/// The flags after the engine knobs.
static REST: &[Param] = &[
    Param { flag: "loss", axis: "packet loss (%)", x: Some(XOf::Flags(|a| pct(a.loss))) },
    Param { flag: "dup", axis: "packet duplication (%)", x: Some(XOf::Flags(|a| pct(a.dup))) },
    Param {
        flag: "delay",
        axis: "added packet delay, middle of the range (ms)",
        x: Some(XOf::Flags(|a| (ms(a.delay.0) + ms(a.delay.1)) / 2.0)),
    },
    Param { flag: "mix", axis: "gets (% of operations)", x: Some(XOf::Flags(|a| pct(a.mix))) },
    Param { flag: "keys", axis: "distinct keys", x: Some(XOf::Flags(|a| a.keys as f64)) },
    Param {
        flag: "value-size",
        axis: "put value size (bytes)",
        x: Some(XOf::Flags(|a| a.value_size as f64)),
    },
    Param {
        flag: "client-timeout",
        axis: "client retry timeout (ms)",
        x: Some(XOf::Flags(|a| ms(a.client_timeout))),
    },
    Param {
        flag: "channel-capacity",
        axis: "inbound channel capacity (packets)",
        x: Some(XOf::Flags(|a| a.channel_capacity as f64)),
    },
    Param { flag: "engine", axis: "engine", x: None },
    Param { flag: "storage", axis: "storage", x: None },
    Param { flag: "fsync", axis: "fsync policy", x: None },
    Param {
        flag: "fsync-interval",
        axis: "fsync interval (ms)",
        x: Some(XOf::Flags(|a| ms(a.fsync_interval))),
    },
    Param {
        flag: "duration",
        axis: "measured duration (s)",
        x: Some(XOf::Flags(|a| a.duration as f64 / 1e9)),
    },
    Param { flag: "warmup", axis: "warm-up (s)", x: Some(XOf::Flags(|a| a.warmup as f64 / 1e9)) },
];
