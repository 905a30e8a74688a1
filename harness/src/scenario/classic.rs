//! The classic course simulator's JSON config, read as it is: `lifetime`, `replicas`,
//! `requests`, `mix`, `start_wait`, `end_wait`, `drops`, `seed`, `max_packets`, `events`
//! and `tests`. Times are seconds (numbers). Unknown keys inside `tests`, unknown event
//! types and out-of-range values are errors; an unknown top-level key is ignored with a
//! note, as the classic simulator ignored it.

use super::{
    Benchmarks, ClassicEvent, Faults, Format, Scenario, ScriptAction, ScriptedEvent, Tests,
    Workload, S,
};
use crate::args::PPM;
use crate::knobs::Knobs;
use crate::replica::EngineKind;
use serde_json::{Map, Value};

/// The classic simulator's limits and defaults.
const REPLICAS: (u64, u64) = (3, 21);
const REQUESTS_MAX: u64 = 1_000_000;
const SECONDS_MAX: f64 = 3_600.0;
const MIX_DEFAULT: f64 = 0.8;
const START_WAIT_DEFAULT_S: f64 = 5.0;
const END_WAIT_DEFAULT_S: f64 = 2.0;
const MAX_PACKETS_DEFAULT: u64 = 20_000;
const MAX_PACKETS_MAX: u64 = 900_000;
const FAIL_FRACTION_DEFAULT: f64 = 0.5;

const KEYS: [&str; 11] = [
    "lifetime",
    "replicas",
    "requests",
    "mix",
    "start_wait",
    "end_wait",
    "drops",
    "seed",
    "max_packets",
    "events",
    "tests",
];

/// Parses and validates a classic config.
pub(super) fn parse(text: &str) -> Result<Scenario, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    let Value::Object(conf) = value else {
        return Err("a classic config is a JSON object".to_string());
    };
    let lifetime = required(&conf, "lifetime")?;
    let lifetime = seconds(lifetime, "lifetime", f64::MIN_POSITIVE, SECONDS_MAX)?;
    let replicas = whole(required(&conf, "replicas")?, "replicas", REPLICAS.0, REPLICAS.1)?;
    let requests = whole(required(&conf, "requests")?, "requests", 0, REQUESTS_MAX)?;
    let mix = optional(&conf, "mix", |v| fraction(v, "mix"))?.unwrap_or(MIX_DEFAULT);
    let start_wait = optional(&conf, "start_wait", |v| seconds(v, "start_wait", 0.0, SECONDS_MAX))?
        .unwrap_or(START_WAIT_DEFAULT_S);
    let end_wait = optional(&conf, "end_wait", |v| seconds(v, "end_wait", 0.0, SECONDS_MAX))?
        .unwrap_or(END_WAIT_DEFAULT_S);
    let drops = optional(&conf, "drops", |v| fraction(v, "drops"))?.unwrap_or(0.0);
    let seed = optional(&conf, "seed", |v| whole(v, "seed", 0, u64::MAX))?.unwrap_or(0);
    let max_packets =
        optional(&conf, "max_packets", |v| whole(v, "max_packets", requests, MAX_PACKETS_MAX))?
            .unwrap_or(MAX_PACKETS_DEFAULT);
    let events = match conf.get("events") {
        None => Vec::new(),
        Some(v) => parse_events(v, lifetime)?,
    };
    let tests = match conf.get("tests") {
        None => Tests::default(),
        Some(v) => parse_tests(v)?,
    };
    let notes = conf
        .keys()
        .filter(|k| !KEYS.contains(&k.as_str()))
        .map(|k| format!("unknown key '{k}' ignored (the classic simulator ignored it too)"))
        .collect();
    Ok(Scenario {
        format: Format::Classic,
        nodes: replicas,
        seed,
        start_wait_ns: ns(start_wait),
        duration_ns: ns(lifetime),
        end_wait_ns: ns(end_wait),
        max_packets,
        workload: Workload::Classic { requests, get_ppm: ppm(mix) },
        engine_kind: EngineKind::Raft,
        engine: Knobs::default(),
        faults: Faults { loss_ppm: ppm(drops), ..Faults::default() },
        events,
        tests,
        notes,
    })
}

fn required<'a>(conf: &'a Map<String, Value>, key: &str) -> Result<&'a Value, String> {
    conf.get(key).ok_or_else(|| format!("missing required key '{key}'"))
}

fn optional<T>(
    conf: &Map<String, Value>,
    key: &str,
    read: impl FnOnce(&Value) -> Result<T, String>,
) -> Result<Option<T>, String> {
    conf.get(key).map(read).transpose()
}

fn number(value: &Value, key: &str) -> Result<f64, String> {
    value.as_f64().ok_or_else(|| format!("{key}: expected a number, got {value}"))
}

/// Seconds in [low, high].
fn seconds(value: &Value, key: &str, low: f64, high: f64) -> Result<f64, String> {
    let x = number(value, key)?;
    if !(low..=high).contains(&x) {
        let low = if low > 0.0 { "above 0".to_string() } else { format!("at least {low}") };
        return Err(format!("{key}: {x} s is out of range: {low} and at most {high} seconds"));
    }
    Ok(x)
}

fn fraction(value: &Value, key: &str) -> Result<f64, String> {
    let x = number(value, key)?;
    if !(0.0..=1.0).contains(&x) {
        return Err(format!("{key}: {x} is out of range: a fraction between 0 and 1"));
    }
    Ok(x)
}

fn whole(value: &Value, key: &str, low: u64, high: u64) -> Result<u64, String> {
    let x = match value.as_u64() {
        Some(x) => x,
        None => match value.as_f64() {
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= u64::MAX as f64 => f as u64,
            Some(f) if f < 0.0 => {
                return Err(format!("{key}: {value} is out of range {low}..={high}"))
            }
            _ => return Err(format!("{key}: expected a whole number, got {value}")),
        },
    };
    if !(low..=high).contains(&x) {
        return Err(format!("{key}: {x} is out of range {low}..={high}"));
    }
    Ok(x)
}

fn ns(seconds: f64) -> u64 {
    (seconds * S as f64).round() as u64
}

fn ppm(fraction: f64) -> u32 {
    (fraction * f64::from(PPM)).round() as u32
}

fn parse_events(value: &Value, lifetime: f64) -> Result<Vec<ScriptedEvent>, String> {
    let Value::Array(list) = value else {
        return Err("events: expected a list of {\"type\", \"time\"} objects".to_string());
    };
    let mut events = Vec::new();
    for (i, event) in list.iter().enumerate() {
        let Value::Object(event) = event else {
            return Err(format!(
                "events[{i}]: expected an object like {{\"type\": \"kill_leader\", \"time\": 8}}"
            ));
        };
        if let Some(key) = event.keys().find(|k| *k != "type" && *k != "time") {
            return Err(format!("events[{i}]: unknown key '{key}' (type, time)"));
        }
        let kind = match event.get("type") {
            Some(Value::String(name)) => ClassicEvent::parse(name).ok_or_else(|| {
                format!(
                    "events[{i}]: unknown event type '{name}' (kill_leader, kill_non_leader, \
                     part_easy, part_hard, part_end)"
                )
            })?,
            Some(other) => return Err(format!("events[{i}]: type must be a string, got {other}")),
            None => return Err(format!("events[{i}]: missing 'type'")),
        };
        let time = event.get("time").ok_or_else(|| format!("events[{i}]: missing 'time'"))?;
        let time = seconds(time, &format!("events[{i}].time"), 0.0, lifetime)?;
        events.push(ScriptedEvent { at_ns: ns(time), action: ScriptAction::Classic(kind) });
    }
    events.sort_by_key(|e| e.at_ns);
    Ok(events)
}

fn parse_tests(value: &Value) -> Result<Tests, String> {
    let Value::Object(tests) = value else {
        return Err("tests: expected an object".to_string());
    };
    let known = ["benchmarks", "maximum_get_fail_fraction", "maximum_put_fail_fraction"];
    if let Some(key) = tests.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("tests: unknown key '{key}' ({})", known.join(", ")));
    }
    let limit = |key: &str| -> Result<u32, String> {
        let x = optional(tests, key, |v| fraction(v, &format!("tests.{key}")))?;
        Ok(ppm(x.unwrap_or(FAIL_FRACTION_DEFAULT)))
    };
    let benchmarks = tests.get("benchmarks").map(parse_benchmarks).transpose()?;
    Ok(Tests {
        get_fail_ppm: limit("maximum_get_fail_fraction")?,
        put_fail_ppm: limit("maximum_put_fail_fraction")?,
        benchmarks,
    })
}

fn parse_benchmarks(value: &Value) -> Result<Benchmarks, String> {
    let Value::Object(marks) = value else {
        return Err("tests.benchmarks: expected an object".to_string());
    };
    let known = ["total_msgs", "failures", "duplicates", "median_latency"];
    if let Some(key) = marks.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("tests.benchmarks: unknown key '{key}' ({})", known.join(", ")));
    }
    let read = |key: &str| -> Result<Option<[f64; 3]>, String> {
        let name = format!("tests.benchmarks.{key}");
        let Some(value) = marks.get(key) else { return Ok(None) };
        let list = match value {
            Value::Array(list) if list.len() == 3 => list,
            _ => return Err(format!("{name}: expected three thresholds, like [1000, 2000, 5000]")),
        };
        let mut t = [0.0; 3];
        for (slot, v) in t.iter_mut().zip(list) {
            *slot = number(v, &name)?;
        }
        super::score::check_thresholds(&name, t).map(Some)
    };
    Ok(Benchmarks {
        total_msgs: read("total_msgs")?,
        failures: read("failures")?,
        duplicates: read("duplicates")?,
        median_latency: read("median_latency")?,
    })
}
