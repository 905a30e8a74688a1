//! Short runs of the threaded cluster that check behaviour, never timing: commits survive a
//! leader kill and heavy loss, the JSON result has every key, bad flags exit 2.

use pinraft_harness::args::parse_events;
use pinraft_harness::check::{check_kv, Budget, Verdict};
use pinraft_harness::cluster::{self, ClusterConfig, NetFaults};
use pinraft_harness::history::Outcome;
use pinraft_harness::replica::EngineKind;
use pinraft_harness::workload::WorkloadSpec;
use std::process::Command;

const MS: u64 = 1_000_000;

fn short(duration_ms: u64) -> ClusterConfig {
    ClusterConfig {
        duration_ns: duration_ms * MS,
        warmup_ns: 0,
        clients: 16,
        client_timeout_ns: 200 * MS,
        ..ClusterConfig::default()
    }
}

#[test]
fn a_leader_kill_mid_run_is_survived_and_commits_continue() {
    let cfg = ClusterConfig { events: parse_events("kill-leader@600ms").unwrap(), ..short(2_000) };
    let report = cluster::run(&cfg, &mut |_| {}).unwrap();
    assert_eq!(report.events_played.len(), 1);
    assert!(report.events_played[0].contains("node"), "{:?}", report.events_played);
    assert!(report.leader_changes >= 2, "a new leader after the first: {report:?}");
    // Buckets of 100 ms: before the kill, and in the last half second (well after a new
    // election, whose timeout is at most 300 ms).
    let t = &report.timeline_ops_per_100ms;
    assert!(t[3..6].iter().all(|&n| n > 0), "commits before the kill: {t:?}");
    assert!(t[15..20].iter().all(|&n| n > 0), "commits continue after the kill: {t:?}");
}

/// Half gets on a few keys, through a leader kill and 20% loss: every answered get must
/// agree with the puts before it (the history is linearizable), and retries after lost
/// replies must not apply a put twice (a duplicate would break the same check).
#[test]
fn answered_gets_agree_with_the_puts_before_them() {
    let cfg = ClusterConfig {
        workload: WorkloadSpec { keys: 8, get_ppm: 500_000, value_size: 16 },
        clients: 8,
        faults: NetFaults { loss_ppm: 200_000, ..NetFaults::default() },
        events: parse_events("kill-leader@400ms").unwrap(),
        record_history: true,
        ..short(1_000)
    };
    let report = cluster::run(&cfg, &mut |_| {}).unwrap();
    let history = &report.history;
    let gets = history.iter().filter(|op| op.output.is_some()).count();
    assert!(gets > 50, "enough answered gets to mean something: {gets}");
    assert!(history.iter().any(|op| op.outcome == Outcome::Ok && op.value.is_some()));
    match check_kv(history, Budget::States(20_000_000)) {
        Verdict::Linearizable => {}
        other => panic!("the cluster's history is not linearizable: {other:?}"),
    }
}

#[test]
fn forty_percent_loss_still_commits() {
    let faults = NetFaults { loss_ppm: 400_000, ..NetFaults::default() };
    let cfg = ClusterConfig { faults, ..short(1_500) };
    let report = cluster::run(&cfg, &mut |_| {}).unwrap();
    assert!(report.ops_committed > 100, "{report:?}");
    assert!(report.batches.dropped > 0 && report.messages.resent > 0, "{report:?}");
}

#[test]
fn the_null_engine_answers_everything() {
    let cfg = ClusterConfig { engine_kind: EngineKind::Null, ..short(300) };
    let report = cluster::run(&cfg, &mut |_| {}).unwrap();
    assert!(report.ops_committed > 0);
    assert_eq!(report.messages.sent, 0, "no replication");
}

fn pinraft(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pinraft")).args(args).output().expect("runs")
}

#[test]
fn run_json_has_every_key() {
    let out = pinraft(&["run", "--duration", "300ms", "--warmup", "100ms", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON only");
    for key in [
        "schema_version",
        "reproduce",
        "config",
        "env",
        "seed",
        "duration_s",
        "ops_committed",
        "throughput_ops_s",
        "latency_us",
        "commit_latency_us",
        "messages",
        "batches",
        "packets_per_op",
        "elections",
        "leader_changes",
        "requests",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "mean"] {
        assert!(
            json["latency_us"].get(key).is_some() && json["commit_latency_us"].get(key).is_some()
        );
    }
    for key in ["sent", "delivered", "dropped", "resent"] {
        assert!(json["messages"].get(key).is_some(), "messages.{key}");
    }
    for key in ["answered", "unanswered", "ok", "redirect", "fail", "timeout"] {
        assert!(json["requests"].get(key).is_some(), "requests.{key}");
    }
    for key in [
        "election_timeout_min_ns",
        "election_timeout_max_ns",
        "heartbeat_interval_ns",
        "resend_threshold_ns",
        "batch_entries_max",
        "inflight_batches_max",
    ] {
        assert!(json["config"].get(key).is_some(), "config.{key}");
    }
    for key in ["cores", "cpu_model", "rustc", "git_commit", "os", "core_mapping"] {
        assert!(json["env"].get(key).is_some(), "env.{key}");
    }
    assert!(json["reproduce"].as_str().unwrap().starts_with("pinraft run --nodes 3"));
}

#[test]
fn bad_flags_exit_2_with_one_clear_line() {
    let cases: &[&[&str]] = &[
        &["run", "--loss", "1.5"],
        &["run", "--duration", "3"],
        &["run", "--nodes", "0"],
        &["run", "--events", "explode@1s"],
        &["run", "--events", "crash:9@1s"],
        &["run", "--election-timeout", "300ms-150ms"],
        &["run", "--heartbeat", "500ms"],
        &["run", "--batch", "0"],
        &["run", "--no-such-flag"],
    ];
    for args in cases {
        let out = pinraft(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.lines().any(|l| l.contains("error") || l.starts_with("pinraft:")),
            "{args:?}: {stderr}"
        );
    }
}
