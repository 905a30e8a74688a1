//! The TOML scenario format (README, "Scenario files"). Sections `[cluster]`, `[run]`,
//! `[workload]`, `[engine]`, `[faults]`, `[[events]]` and `[tests]`; every key optional but
//! `[run] duration`. Unknown keys are errors (`deny_unknown_fields`); probabilities are a
//! fraction or a percentage, durations always carry a unit, events use DESIGN.md's names,
//! as `[[events]]` tables (`at`, `action`) or a list `events = ["kill-leader@2s", ...]`
//! placed before the first section.

use super::{Benchmarks, Faults, Format, Scenario, ScriptAction, ScriptedEvent, Tests, Workload};
use crate::args;
use crate::knobs::{self, Knobs};
use crate::replica::EngineKind;
use crate::sim::CLIENTS_MAX;
use crate::workload::WorkloadSpec;
use pinraft_engine::{Config, MEMBERS_MAX};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

/// Longest run phase a file may ask for.
const DURATION_MAX_NS: u64 = 3_600 * super::S;
/// Largest put value.
const VALUE_SIZE_MAX: u64 = 1 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    cluster: ClusterSection,
    run: Option<RunSection>,
    #[serde(default)]
    workload: WorkloadSection,
    /// Read by `knobs::from_toml`, which knows every knob's names.
    #[serde(default)]
    engine: toml::Table,
    #[serde(default)]
    faults: FaultsSection,
    #[serde(default)]
    events: Vec<EventEntry>,
    #[serde(default)]
    tests: TestsSection,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterSection {
    nodes: Option<u64>,
    seed: Option<u64>,
    engine: Option<EngineKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunSection {
    duration: Duration,
    start_wait: Option<Duration>,
    end_wait: Option<Duration>,
    max_packets: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadSection {
    model: Option<String>,
    requests: Option<u64>,
    clients: Option<u64>,
    rate: Option<u64>,
    mix: Option<Probability>,
    keys: Option<u64>,
    value_size: Option<u64>,
    client_timeout: Option<Duration>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsSection {
    loss: Option<Probability>,
    dup: Option<Probability>,
    reorder: Option<Probability>,
    delay: Option<DurationRange>,
}

/// One event: a table `{ at = "2s", action = "kill-leader" }` or a string
/// `"kill-leader@2s"`.
struct EventEntry {
    text: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestsSection {
    maximum_get_fail_fraction: Option<Probability>,
    maximum_put_fail_fraction: Option<Probability>,
    benchmarks: Option<BenchmarksSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchmarksSection {
    total_msgs: Option<[f64; 3]>,
    failures: Option<[f64; 3]>,
    duplicates: Option<[f64; 3]>,
    median_latency: Option<[Duration; 3]>,
}

/// Parses and validates a TOML scenario.
pub(super) fn parse(text: &str) -> Result<Scenario, String> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    let run = file.run.ok_or("missing [run] section: it needs at least duration = \"10s\"")?;
    let nodes = file.cluster.nodes.unwrap_or(3);
    if !(1..=MEMBERS_MAX as u64).contains(&nodes) {
        return Err(format!("cluster.nodes: {nodes} is out of range 1..={MEMBERS_MAX}"));
    }
    let duration_ns = run.duration.0;
    if !(1..=DURATION_MAX_NS).contains(&duration_ns) {
        return Err("run.duration: must be above 0 and at most 1h".to_string());
    }
    let waits =
        [run.start_wait.map_or(super::S, |d| d.0), run.end_wait.map_or(2 * super::S, |d| d.0)];
    if waits.iter().any(|&w| w > DURATION_MAX_NS) {
        return Err("run.start_wait, run.end_wait: at most 1h each".to_string());
    }
    let max_packets = run.max_packets.unwrap_or(u64::MAX);
    if max_packets == 0 {
        return Err("run.max_packets: must be above 0".to_string());
    }
    let mut engine = Knobs::default();
    knobs::from_toml(&file.engine, &mut engine)?;
    let members = (1..=nodes).collect();
    Config { members, ..engine.0.clone() }.validate().map_err(|e| format!("engine: {e}"))?;
    Ok(Scenario {
        format: Format::Toml,
        nodes,
        seed: file.cluster.seed.unwrap_or(0),
        start_wait_ns: waits[0],
        duration_ns,
        end_wait_ns: waits[1],
        max_packets,
        workload: workload(&file.workload)?,
        engine_kind: file.cluster.engine.unwrap_or_default(),
        engine,
        faults: Faults {
            loss_ppm: file.faults.loss.map_or(0, |p| p.0),
            dup_ppm: file.faults.dup.map_or(0, |p| p.0),
            reorder_ppm: file.faults.reorder.map_or(0, |p| p.0),
            delay_ns: file.faults.delay.map(|r| (r.0, r.1)),
        },
        events: events(&file.events, nodes, duration_ns)?,
        tests: tests(&file.tests)?,
        notes: Vec::new(),
    })
}

/// `line N (the line): message`, one line, instead of the toml crate's caret drawing.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let start = span.start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            let source = text.lines().nth(line - 1).unwrap_or("").trim();
            format!("invalid TOML: line {line} ({source}): {message}")
        }
        None => format!("invalid TOML: {message}"),
    }
}

fn workload(w: &WorkloadSection) -> Result<Workload, String> {
    match w.model.as_deref() {
        None | Some("session") => session_workload(w),
        Some("classic") => classic_workload(w),
        Some(other) => Err(format!("workload.model: '{other}' is not session or classic")),
    }
}

/// The classic client model: `requests` over the duration, `mix` gets; nothing else.
fn classic_workload(w: &WorkloadSection) -> Result<Workload, String> {
    let unused = [
        ("clients", w.clients.is_some()),
        ("rate", w.rate.is_some()),
        ("keys", w.keys.is_some()),
        ("value_size", w.value_size.is_some()),
        ("client_timeout", w.client_timeout.is_some()),
    ];
    if let Some((key, _)) = unused.iter().find(|(_, set)| *set) {
        return Err(format!(
            "workload.{key}: not used by the classic model (it has requests and mix)"
        ));
    }
    let requests = w.requests.ok_or("workload.requests: the classic model needs it")?;
    if requests > 1_000_000 {
        return Err(format!("workload.requests: {requests} is above 1000000"));
    }
    Ok(Workload::Classic { requests, get_ppm: w.mix.map_or(800_000, |p| p.0) })
}

fn session_workload(w: &WorkloadSection) -> Result<Workload, String> {
    if w.requests.is_some() {
        return Err(
            "workload.requests: only the classic model has it (model = \"classic\")".to_string()
        );
    }
    let clients = w.clients.unwrap_or(8);
    if !(1..=CLIENTS_MAX).contains(&clients) {
        return Err(format!("workload.clients: {clients} is out of range 1..={CLIENTS_MAX}"));
    }
    if w.rate == Some(0) {
        return Err("workload.rate: must be at least 1 operation per second".to_string());
    }
    let keys = w.keys.unwrap_or(16);
    if keys == 0 {
        return Err("workload.keys: must be at least 1".to_string());
    }
    let value_size = w.value_size.unwrap_or(16);
    if value_size > VALUE_SIZE_MAX {
        return Err(format!("workload.value_size: {value_size} is above {VALUE_SIZE_MAX} bytes"));
    }
    let client_timeout_ns = w.client_timeout.map_or(500_000_000, |d| d.0);
    if client_timeout_ns == 0 {
        return Err("workload.client_timeout: must be above 0".to_string());
    }
    let spec = WorkloadSpec {
        keys,
        get_ppm: w.mix.map_or(500_000, |p| p.0),
        value_size: value_size as usize,
    };
    Ok(Workload::Session { clients, rate: w.rate, spec, client_timeout_ns })
}

fn events(
    entries: &[EventEntry],
    nodes: u64,
    duration_ns: u64,
) -> Result<Vec<ScriptedEvent>, String> {
    let mut events = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let text = &entry.text;
        let event = args::parse_event(text).map_err(|e| format!("events[{i}]: {e}"))?;
        args::check_event_nodes(&[event], nodes).map_err(|e| format!("events[{i}]: {e}"))?;
        if event.at_ns > duration_ns {
            return Err(format!(
                "events[{i}]: '{text}' is after the last request (run.duration is {})",
                args::format_duration(duration_ns)
            ));
        }
        events
            .push(ScriptedEvent { at_ns: event.at_ns, action: ScriptAction::Design(event.action) });
    }
    events.sort_by_key(|e| e.at_ns);
    Ok(events)
}

fn tests(t: &TestsSection) -> Result<Tests, String> {
    let d = Tests::default();
    let benchmarks = match &t.benchmarks {
        None => None,
        Some(b) => {
            let check = |name: &str, t: Option<[f64; 3]>| {
                t.map(|t| super::score::check_thresholds(&format!("tests.benchmarks.{name}"), t))
                    .transpose()
            };
            let latency = b.median_latency.map(|t| t.map(|d| d.0 as f64 / super::S as f64));
            Some(Benchmarks {
                total_msgs: check("total_msgs", b.total_msgs)?,
                failures: check("failures", b.failures)?,
                duplicates: check("duplicates", b.duplicates)?,
                median_latency: check("median_latency", latency)?,
            })
        }
    };
    Ok(Tests {
        get_fail_ppm: t.maximum_get_fail_fraction.map_or(d.get_fail_ppm, |p| p.0),
        put_fail_ppm: t.maximum_put_fail_fraction.map_or(d.put_fail_ppm, |p| p.0),
        benchmarks,
    })
}

/// A probability: a number in [0, 1] or a string like "40%" or "0.4"; parts per million.
#[derive(Clone, Copy)]
struct Probability(u32);

/// A duration: a string with a unit ("150ms"); nanoseconds.
#[derive(Clone, Copy)]
struct Duration(u64);

/// A duration range: "150ms-300ms" (or one duration); nanoseconds.
#[derive(Clone, Copy)]
struct DurationRange(u64, u64);

impl<'de> Deserialize<'de> for Probability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Probability, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Probability;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a probability: a fraction in [0, 1] or a percentage like \"40%\"")
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Probability, E> {
                args::parse_probability(&x.to_string()).map(Probability).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<Probability, E> {
                self.visit_f64(x as f64)
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Probability, E> {
                self.visit_f64(x as f64)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Probability, E> {
                args::parse_probability(s).map(Probability).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit, like \"150ms\" or \"2s\"")
            }
            fn visit_i64<E: de::Error>(self, x: i64) -> Result<Duration, E> {
                Err(E::custom(format!("invalid duration {x}: a unit is required, like \"{x}s\"")))
            }
            fn visit_u64<E: de::Error>(self, x: u64) -> Result<Duration, E> {
                self.visit_i64(x as i64)
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Duration, E> {
                Err(E::custom(format!("invalid duration {x}: a unit is required, like \"{x}s\"")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
                args::parse_duration(s).map(Duration).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for EventEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<EventEntry, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EventEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an event: \"kill-leader@2s\" or { at = \"2s\", action = \"kill-leader\" }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<EventEntry, E> {
                Ok(EventEntry { text: s.trim().to_string() })
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<EventEntry, A::Error> {
                let (mut at, mut action): (Option<Duration>, Option<String>) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "at" => at = Some(map.next_value()?),
                        "action" => action = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["at", "action"])),
                    }
                }
                let at = at.ok_or_else(|| de::Error::missing_field("at"))?;
                let action = action.ok_or_else(|| de::Error::missing_field("action"))?;
                let text = format!("{}@{}", action.trim(), args::format_duration(at.0));
                Ok(EventEntry { text })
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for DurationRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DurationRange, D::Error> {
        let text = String::deserialize(d)?;
        let (min, max) = args::parse_duration_range(&text).map_err(de::Error::custom)?;
        Ok(DurationRange(min, max))
    }
}
