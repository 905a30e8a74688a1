//! Every engine knob comes from one definition (`pinraft_harness::knobs::KNOBS`): its flag
//! works on `pinraft run` and `pinraft sim`, its `Config` names are the JSON keys of both
//! results, and a TOML `[engine]` table takes the same names.

use pinraft_harness::knobs::{Unit, KNOBS};
use std::process::Command;

/// A valid value that is no default, for each knob's flag. A knob missing here fails
/// `the_test_values_cover_every_knob`.
const VALUES: &[(&str, &str)] = &[
    ("election-timeout", "200ms-400ms"),
    ("heartbeat", "40ms"),
    ("resend-policy", "fixed"),
    ("resend", "7ms"),
    ("resend-min", "300us"),
    ("batch", "17"),
    ("inflight", "3"),
    ("snapshot-every", "1234"),
    ("snapshot-chunk", "999"),
];

fn value(flag: &str) -> &'static str {
    VALUES.iter().find(|(f, _)| *f == flag).map(|(_, v)| *v).unwrap()
}

fn pinraft(args: &[String]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_pinraft")).args(args).output().expect("runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON only")
}

/// Every knob's flag with its test value.
fn flags() -> Vec<String> {
    KNOBS.iter().flat_map(|k| [format!("--{}", k.flag), value(k.flag).to_string()]).collect()
}

/// The values each knob's fields must hold in a result: a number, or a choice's name.
fn expected() -> Vec<(&'static str, serde_json::Value)> {
    KNOBS
        .iter()
        .flat_map(|k| {
            let values = k.parse(value(k.flag)).unwrap();
            let json = values.into_iter().map(move |v| match k.unit {
                Unit::Choice(names) => serde_json::json!(names[v as usize]),
                _ => serde_json::json!(v),
            });
            k.fields.iter().map(|f| f.name).zip(json).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_test_values_cover_every_knob() {
    for knob in KNOBS {
        assert!(VALUES.iter().any(|(f, _)| *f == knob.flag), "no test value for --{}", knob.flag);
    }
}

#[test]
fn every_knob_reaches_the_run_json_under_its_config_names() {
    let mut args: Vec<String> =
        ["run", "--duration", "200ms", "--warmup", "0ms", "--json"].map(String::from).to_vec();
    args.extend(flags());
    let json = pinraft(&args);
    for (name, v) in expected() {
        assert_eq!(json["config"][name], v, "config.{name}");
    }
    let reproduce = json["reproduce"].as_str().unwrap();
    for knob in KNOBS {
        assert!(reproduce.contains(&format!(" --{} ", knob.flag)), "{reproduce}");
    }
}

#[test]
fn every_knob_reaches_the_sim_json_under_its_config_names() {
    let mut args: Vec<String> = ["sim", "--duration", "300ms", "--json"].map(String::from).to_vec();
    args.extend(flags());
    let json = pinraft(&args);
    for (name, v) in expected() {
        assert_eq!(json["config"][name], v, "config.{name}: {}", json["config"]);
    }
}

#[test]
fn every_knob_is_read_from_a_toml_engine_table_by_its_config_names() {
    let mut table = String::new();
    for knob in KNOBS {
        let values = knob.parse(value(knob.flag)).unwrap();
        for (field, v) in knob.fields.iter().zip(values) {
            let text = match knob.unit {
                Unit::Count => v.to_string(),
                Unit::Duration | Unit::DurationRange => format!("\"{}ns\"", v),
                Unit::Choice(names) => format!("\"{}\"", names[v as usize]),
            };
            table += &format!("{} = {text}\n", field.name);
        }
    }
    let text = format!("[run]\nduration = \"1s\"\n\n[engine]\n{table}");
    let scenario = pinraft_harness::scenario::parse_toml(&text).unwrap();
    let json = serde_json::to_value(&scenario.engine).unwrap();
    for (name, v) in expected() {
        assert_eq!(json[name], v, "engine.{name}");
    }
}
