//! Scenario files: every example parses; every way a file can be wrong is a one-line error
//! naming what is wrong. (`main.rs` does not route `pinraft scenario` yet, so the exit code
//! 2 for bad input is tested through `cli::scenario::execute`, which returns the error that
//! main prints as one line before exiting 2.)

use pinraft_harness::args::Action;
use pinraft_harness::cli::scenario::{execute, ScenarioArgs};
use pinraft_harness::scenario::{
    self, ClassicEvent, Format, ScriptAction, ScriptedEvent, Workload,
};
use std::path::{Path, PathBuf};

const S: u64 = 1_000_000_000;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_file_parses() {
    let classic = files("scenarios/classic", "json");
    let toml = files("scenarios/toml", "toml");
    assert!(classic.len() >= 10 && toml.len() >= 3, "{classic:?} {toml:?}");
    for path in classic.iter().chain(&toml) {
        let sc = scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(sc.notes.is_empty(), "{}: {:?}", path.display(), sc.notes);
    }
}

#[test]
fn a_classic_config_reads_as_the_classic_simulator_read_it() {
    let sc = scenario::parse_classic(
        r#"{"lifetime": 30, "replicas": 5, "requests": 300, "drops": 0.15, "seed": 7,
            "events": [{"type": "kill_leader", "time": 16}, {"type": "part_easy", "time": 8}],
            "tests": {"benchmarks": {"total_msgs": [1000, 3000, 4000],
                      "median_latency": [0.00015, 0.005, 0.05]},
                      "maximum_put_fail_fraction": 0.25}}"#,
    )
    .unwrap();
    assert_eq!(sc.format, Format::Classic);
    assert_eq!((sc.nodes, sc.seed, sc.duration_ns), (5, 7, 30 * S));
    assert_eq!((sc.start_wait_ns, sc.end_wait_ns), (5 * S, 2 * S), "defaults 5 s and 2 s");
    assert_eq!(sc.end_ns(), 37 * S);
    assert_eq!(sc.max_packets, 20_000);
    assert_eq!(sc.workload, Workload::Classic { requests: 300, get_ppm: 800_000 });
    assert_eq!(sc.faults.loss_ppm, 150_000);
    let classic = |at_ns, e| ScriptedEvent { at_ns, action: ScriptAction::Classic(e) };
    assert_eq!(
        sc.events,
        vec![classic(8 * S, ClassicEvent::PartEasy), classic(16 * S, ClassicEvent::KillLeader)],
        "sorted by time, which counts from the first request"
    );
    assert_eq!((sc.tests.get_fail_ppm, sc.tests.put_fail_ppm), (500_000, 250_000));
    let b = sc.tests.benchmarks.unwrap();
    assert_eq!(b.total_msgs, Some([1000.0, 3000.0, 4000.0]));
    assert_eq!(b.failures, None);
    assert_eq!(b.median_latency, Some([0.00015, 0.005, 0.05]));
}

#[test]
fn unknown_top_level_classic_keys_are_ignored_with_a_note() {
    let sc =
        scenario::parse_classic(r#"{"lifetime": 5, "replicas": 3, "requests": 10, "wait": 2}"#)
            .unwrap();
    assert_eq!(sc.notes.len(), 1);
    assert!(sc.notes[0].contains("'wait'"), "{:?}", sc.notes);
}

#[test]
fn bad_classic_configs_are_one_line_errors() {
    let base = r#""lifetime": 30, "replicas": 5, "requests": 100"#;
    let cases = [
        ("{\"lifetime\": 30,", "malformed JSON"),
        ("[1, 2]", "JSON object"),
        (r#"{"replicas": 5, "requests": 100}"#, "missing required key 'lifetime'"),
        (
            r#"{"lifetime": 30, "replicas": 2, "requests": 100}"#,
            "replicas: 2 is out of range 3..=21",
        ),
        (r#"{"lifetime": 30, "replicas": 22, "requests": 100}"#, "replicas: 22 is out of range"),
        (r#"{"lifetime": 30, "replicas": 4.5, "requests": 100}"#, "replicas: expected a whole"),
        (r#"{"lifetime": 0, "replicas": 5, "requests": 100}"#, "lifetime"),
        (r#"{"lifetime": -3, "replicas": 5, "requests": 100}"#, "lifetime"),
        (r#"{"lifetime": "30", "replicas": 5, "requests": 100}"#, "lifetime: expected a number"),
        (&format!("{{{base}, \"mix\": 1.5}}"), "mix: 1.5 is out of range"),
        (&format!("{{{base}, \"drops\": -0.1}}"), "drops"),
        (&format!("{{{base}, \"start_wait\": -1}}"), "start_wait"),
        (&format!("{{{base}, \"max_packets\": 50}}"), "max_packets: 50 is out of range 100..="),
        (&format!("{{{base}, \"max_packets\": 1000000}}"), "max_packets"),
        (&format!("{{{base}, \"seed\": -1}}"), "seed"),
        (
            &format!("{{{base}, \"events\": [{{\"type\": \"kill_everyone\", \"time\": 3}}]}}"),
            "unknown event type 'kill_everyone'",
        ),
        (&format!("{{{base}, \"events\": [{{\"type\": \"part_end\"}}]}}"), "missing 'time'"),
        (
            &format!("{{{base}, \"events\": [{{\"type\": \"part_end\", \"time\": 31}}]}}"),
            "events[0].time: 31 s is out of range",
        ),
        (&format!("{{{base}, \"events\": {{}}}}"), "events: expected a list"),
        (
            &format!("{{{base}, \"tests\": {{\"maximum_get_generation_fail_fraction\": 0.1}}}}"),
            "tests: unknown key 'maximum_get_generation_fail_fraction'",
        ),
        (
            &format!("{{{base}, \"tests\": {{\"maximum_get_fail_fraction\": 2}}}}"),
            "tests.maximum_get_fail_fraction: 2 is out of range",
        ),
        (
            &format!("{{{base}, \"tests\": {{\"benchmarks\": {{\"latency\": [1, 2, 3]}}}}}}"),
            "tests.benchmarks: unknown key 'latency'",
        ),
        (
            &format!("{{{base}, \"tests\": {{\"benchmarks\": {{\"failures\": [1, 2]}}}}}}"),
            "expected three thresholds",
        ),
        (
            &format!("{{{base}, \"tests\": {{\"benchmarks\": {{\"failures\": [3, 2, 1]}}}}}}"),
            "must not decrease",
        ),
    ];
    for (text, want) in cases {
        let err = scenario::parse_classic(text).expect_err(text);
        assert!(err.contains(want), "{text}\n  got: {err}\n  want: {want}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_toml_scenario_reads_every_section() {
    let sc = scenario::parse_toml(
        r#"
        [cluster]
        nodes = 7
        seed = 9
        [run]
        duration = "20s"
        start_wait = "500ms"
        end_wait = "1s"
        max_packets = 5000
        [workload]
        clients = 4
        rate = 50
        mix = "25%"
        keys = 3
        value_size = 8
        client_timeout = "1s"
        [engine]
        election_timeout = "200ms-400ms"
        heartbeat = "60ms"
        resend = "10ms"
        batch = 32
        inflight = 2
        [faults]
        loss = 0.1
        dup = "1%"
        reorder = "2%"
        delay = "1ms-2ms"
        [[events]]
        at = "4s"
        action = "isolate:3"
        [[events]]
        at = "2s"
        action = "kill-leader"
        [tests]
        maximum_get_fail_fraction = "10%"
        [tests.benchmarks]
        median_latency = ["1ms", "10ms", "100ms"]
        "#,
    )
    .unwrap();
    assert_eq!(sc.format, Format::Toml);
    assert_eq!((sc.nodes, sc.seed, sc.max_packets), (7, 9, 5_000));
    assert_eq!((sc.start_wait_ns, sc.duration_ns, sc.end_wait_ns), (S / 2, 20 * S, S));
    match &sc.workload {
        Workload::Session { clients, rate, spec, client_timeout_ns } => {
            assert_eq!((*clients, *rate, *client_timeout_ns), (4, Some(50), S));
            assert_eq!((spec.keys, spec.get_ppm, spec.value_size), (3, 250_000, 8));
        }
        other => panic!("{other:?}"),
    }
    let e = &sc.engine;
    assert_eq!((e.election_timeout_min_ns, e.election_timeout_max_ns), (200_000_000, 400_000_000));
    assert_eq!((e.heartbeat_interval_ns, e.resend_threshold_ns), (60_000_000, 10_000_000));
    assert_eq!((e.batch_entries_max, e.inflight_batches_max), (32, 2));
    let f = sc.faults;
    assert_eq!((f.loss_ppm, f.dup_ppm, f.reorder_ppm), (100_000, 10_000, 20_000));
    assert_eq!(f.delay_ns, Some((1_000_000, 2_000_000)));
    let design = |at_ns, a| ScriptedEvent { at_ns, action: ScriptAction::Design(a) };
    assert_eq!(
        sc.events,
        vec![design(2 * S, Action::KillLeader), design(4 * S, Action::Isolate(3))]
    );
    assert_eq!(sc.tests.get_fail_ppm, 100_000);
    let b = sc.tests.benchmarks.unwrap();
    assert_eq!(b.median_latency, Some([0.001, 0.01, 0.1]));
}

#[test]
fn a_minimal_toml_scenario_takes_the_defaults() {
    let sc = scenario::parse_toml("[run]\nduration = \"3s\"\n").unwrap();
    assert_eq!((sc.nodes, sc.seed, sc.max_packets), (3, 0, u64::MAX));
    assert_eq!((sc.start_wait_ns, sc.end_wait_ns), (S, 2 * S));
    assert!(matches!(sc.workload, Workload::Session { clients: 8, rate: None, .. }));
    assert!(sc.events.is_empty() && sc.tests.benchmarks.is_none());
}

#[test]
fn bad_toml_scenarios_are_one_line_errors() {
    let run = "[run]\nduration = \"5s\"\n";
    let cases = [
        ("[cluster]\nnodes = 3\n", "missing [run] section"),
        ("[run]\nduration = 5\n", "a unit is required"),
        ("[run]\nduration = \"5\"\n", "a unit is required"),
        ("[run]\nduration = \"5s\"\nspeed = 2\n", "unknown field `speed`"),
        (&format!("{run}[cluster]\nnodes = 0\n"), "cluster.nodes: 0 is out of range"),
        (&format!("{run}[cluster]\nnode = 3\n"), "unknown field `node`"),
        (&format!("{run}[workload]\nmix = 1.5\n"), "invalid probability"),
        (&format!("{run}[workload]\nmix = \"150%\"\n"), "invalid probability"),
        (&format!("{run}[workload]\nclients = 0\n"), "workload.clients: 0 is out of range"),
        (&format!("{run}[workload]\nrate = 0\n"), "workload.rate"),
        (&format!("{run}[workload]\nkeys = 0\n"), "workload.keys"),
        (&format!("{run}[faults]\nloss = \"40\"\n"), "invalid probability"),
        (&format!("{run}[faults]\ndelay = \"5ms-1ms\"\n"), "the minimum is above the maximum"),
        (&format!("{run}[faults]\njitter = \"1ms\"\n"), "unknown field `jitter`"),
        (&format!("{run}[engine]\nheartbeat = \"500ms\"\n"), "engine: "),
        (&format!("{run}[engine]\nbatch = 0\n"), "engine: "),
        (&format!("{run}[[events]]\nat = \"1s\"\naction = \"explode\"\n"), "unknown action"),
        (&format!("{run}[[events]]\nat = \"1s\"\naction = \"crash:9\"\n"), "out of range 1..=3"),
        (&format!("{run}[[events]]\nat = \"9s\"\naction = \"heal\"\n"), "after the last request"),
        (&format!("{run}[[events]]\nat = \"1s\"\n"), "missing field `action`"),
        (&format!("{run}[tests]\nmaximum_get_generation_fail_fraction = 0.1\n"), "unknown field"),
        (&format!("{run}[tests.benchmarks]\nfailures = [1, 2]\n"), "invalid length"),
        (&format!("{run}[tests.benchmarks]\nmedian_latency = [1, 2, 3]\n"), "a unit is required"),
        ("[run\n", "invalid TOML"),
    ];
    for (text, want) in cases {
        let err = scenario::parse_toml(text).expect_err(text);
        assert!(err.contains(want), "{text}\n  got: {err}\n  want: {want}");
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn a_bad_file_fails_the_command_before_anything_runs() {
    let dir = std::env::temp_dir().join(format!("pinraft-scenario-parse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"lifetime": 30, "replicas": 1, "requests": 10}"#).unwrap();
    let good = root().join("scenarios/classic/no-faults-read-heavy.json");
    let files = vec![good, bad.clone()];
    let args = ScenarioArgs { files, sim: true, seed: None, engine: None, json: false };
    let mut printed = String::new();
    let err = execute(&args, &mut |_, text| printed.push_str(text)).unwrap_err().to_string();
    assert!(err.starts_with(&bad.display().to_string()), "names the file: {err}");
    assert!(err.contains("replicas: 1 is out of range 3..=21") && !err.contains('\n'), "{err}");
    assert!(printed.is_empty(), "nothing ran: {printed}");
    let missing = ScenarioArgs { files: vec![dir.join("none.toml")], ..args };
    let err = execute(&missing, &mut |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_toml_scenario_may_use_the_classic_client_model() {
    let sc = scenario::parse_toml(
        "[run]\nduration = \"30s\"\n[workload]\nmodel = \"classic\"\nrequests = 300\n",
    )
    .unwrap();
    assert_eq!(sc.workload, Workload::Classic { requests: 300, get_ppm: 800_000 });
    let err = |text: &str| scenario::parse_toml(text).unwrap_err();
    let run = "[run]\nduration = \"30s\"\n";
    assert!(err(&format!("{run}[workload]\nmodel = \"classic\"\n")).contains("needs it"));
    let keys = err(&format!("{run}[workload]\nmodel = \"classic\"\nrequests = 3\nkeys = 4\n"));
    assert!(keys.contains("workload.keys: not used by the classic model"), "{keys}");
    assert!(err(&format!("{run}[workload]\nrequests = 3\n")).contains("only the classic model"));
    assert!(err(&format!("{run}[workload]\nmodel = \"fancy\"\n")).contains("'fancy'"));
}
