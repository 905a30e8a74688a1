//! The example scenarios run: every classic file passes correctness in the simulator, the
//! TOML examples too, the same command prints the same bytes, `--json` has the promised
//! keys, and a short classic file passes on the threaded cluster. (The 37-second files on
//! the cluster are run by hand: see the issue 8 report.)

use pinraft_harness::cli::scenario::{render, ScenarioArgs};
use std::path::{Path, PathBuf};

fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

fn sim(files: Vec<PathBuf>, json: bool) -> ScenarioArgs {
    ScenarioArgs { files, sim: true, seed: None, engine: None, json }
}

#[test]
fn every_classic_file_passes_correctness_in_the_simulator() {
    let (stdout, _, scores) = render(&sim(files("scenarios/classic", "json"), false)).unwrap();
    assert!(scores.len() >= 10);
    for s in &scores {
        assert!(s.correct, "{}: {:?}\n{stdout}", s.file, s.errors);
        assert_eq!(s.linearizable, Some(true), "{}", s.file);
        assert_eq!(s.duplicates, 0, "{}", s.file);
        assert!(s.requests > 0 && s.replies.ok > 0, "{}", s.file);
        assert!(!s.stopped_early, "{}", s.file);
        let p = &s.packets;
        let kinds = p.replication.unwrap() + p.heartbeat.unwrap() + p.election.unwrap();
        assert_eq!(kinds, p.raft, "{}: every packet between nodes has a kind", s.file);
        assert_eq!(p.total, p.client + p.raft);
    }
    let table = stdout.lines().rev().take(scores.len() + 1).collect::<Vec<_>>();
    assert!(table.last().unwrap().starts_with("file "), "the table ends the output: {table:?}");
}

#[test]
fn every_toml_example_passes_correctness_in_the_simulator() {
    let (stdout, _, scores) = render(&sim(files("scenarios/toml", "toml"), false)).unwrap();
    for s in &scores {
        assert!(s.correct, "{}: {:?}\n{stdout}", s.file, s.errors);
        assert_eq!(s.linearizable, Some(true), "{}", s.file);
    }
    let open = scores.iter().find(|s| s.file.ends_with("open-loop-kill-leader.toml")).unwrap();
    assert!(open.events_played[0].contains("crashed node"), "{:?}", open.events_played);
    assert!(open.tiers.is_some());
}

#[test]
fn the_same_command_prints_the_same_bytes() {
    let pick = |name: &str| {
        files("scenarios/classic", "json").into_iter().find(|p| p.ends_with(name)).unwrap()
    };
    let args = sim(vec![pick("partitions-and-kills.json"), pick("drops-30.json")], false);
    let (a, _, _) = render(&args).unwrap();
    let (b, _, _) = render(&args).unwrap();
    assert_eq!(a, b);
    let json = ScenarioArgs { json: true, seed: Some(77), ..args };
    let (a, err_a, _) = render(&json).unwrap();
    let (b, err_b, _) = render(&json).unwrap();
    assert_eq!((a, err_a), (b, err_b));
}

#[test]
fn json_is_a_list_with_the_promised_keys_and_stdout_holds_only_it() {
    let files = files("scenarios/classic", "json");
    let pick: Vec<PathBuf> =
        files.into_iter().filter(|p| p.ends_with("kill-leader.json")).collect();
    let (stdout, stderr, _) = render(&ScenarioArgs { seed: Some(5), ..sim(pick, true) }).unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("stdout is only JSON");
    let list = json.as_array().expect("a list");
    assert_eq!(list.len(), 1);
    let run = &list[0];
    for key in [
        "schema_version",
        "reproduce",
        "file",
        "correct",
        "errors",
        "total_msgs",
        "failures",
        "duplicates",
        "median_latency",
        "p99_latency",
        "elections",
        "packets",
        "packets_per_request",
        "tiers",
    ] {
        assert!(run.get(key).is_some(), "missing {key}: {run}");
    }
    assert_eq!(run["seed"], 5, "--seed overrides the file's seed");
    assert_eq!(run["mode"], "sim");
    assert!(run["reproduce"].as_str().unwrap().ends_with("--sim --seed 5"));
    assert!(run["tiers"]["total_msgs"].is_u64());
    assert!(stderr.contains("== ") && stderr.contains("\nfile "), "reports go to stderr");
}

#[test]
fn a_short_classic_file_passes_on_the_threaded_cluster() {
    let short = files("scenarios/classic", "json")
        .into_iter()
        .filter(|p| p.ends_with("short-kill-leader.json"));
    let files = short.collect();
    let args = ScenarioArgs { files, sim: false, seed: None, engine: None, json: false };
    let (stdout, _, scores) = render(&args).unwrap();
    let s = &scores[0];
    assert!(s.correct, "{:?}\n{stdout}", s.errors);
    assert_eq!(s.mode.as_str(), "cluster");
    assert!(s.events_played[0].contains("crashed node"), "{:?}", s.events_played);
    assert!(s.replies.ok >= 30, "most of the 40 requests answered: {stdout}");
    assert!(s.packets.raft > 0 && s.packets.client > 0);
    let p = &s.packets;
    let kinds = p.replication.unwrap() + p.heartbeat.unwrap() + p.election.unwrap();
    assert_eq!(kinds, p.raft, "every packet between nodes has a kind:\n{stdout}");
    assert!(p.replication.unwrap() > 0 && p.election.unwrap() > 0, "{stdout}");
    assert!(s.packets_per_request.replication.is_some(), "the table shows kinds too");
}

/// A classic file whose `max_packets` is a fraction of what the run needs: the cluster stops
/// as soon as the limit is reached, not at the end of the run, like the classic simulator.
#[test]
fn max_packets_stops_a_cluster_run_where_the_limit_is_reached() {
    let dir = std::env::temp_dir().join(format!("pinraft-max-packets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("max-packets.json");
    // 60 requests over 3 s need several hundred packets (each one two client packets and
    // a replication round), plus heartbeats and an election.
    let config = r#"{"lifetime": 3, "replicas": 3, "requests": 60, "start_wait": 0.5,
                     "end_wait": 0.5, "seed": 3, "max_packets": 120}"#;
    std::fs::write(&file, config).unwrap();
    let files = vec![file];
    let args = ScenarioArgs { files, sim: false, seed: None, engine: None, json: false };
    let (stdout, _, scores) = render(&args).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let s = &scores[0];
    assert!(s.stopped_early, "{stdout}");
    assert!(stdout.contains("stopped"), "the report says so: {stdout}");
    // The control plane looks every millisecond: a handful of packets may pass the limit,
    // never the hundreds the rest of the run would have routed.
    assert!((120..=160).contains(&s.total_msgs), "total_msgs {}: {stdout}", s.total_msgs);
    assert!(s.requests < 40, "most requests were never sent: {}\n{stdout}", s.requests);
    let p = &s.packets;
    assert_eq!(p.replication.unwrap() + p.heartbeat.unwrap() + p.election.unwrap(), p.raft);
    assert_eq!(p.total, p.client + p.raft);
}
