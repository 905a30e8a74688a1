//! `pinraft run --storage`: a WAL per node on disk, a second run that recovers the first
//! and still reads its acknowledged puts, crash and restart in memory and on disk, storage
//! errors that stop a node, and the command line's errors. Behaviour only, never timing.

use pinraft_harness::check::{check_kv, Budget, Verdict};
use pinraft_harness::history::{read_jsonl, Operation, Outcome};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir()
            .join(format!("pinraft-cluster-storage-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// The cluster's data directory (not created: the first run creates it).
    fn data(&self) -> String {
        self.0.join("data").display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pinraft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinraft")).args(args).output().expect("runs")
}

/// A short run with few clients; `extra` flags last. Returns the JSON and stderr.
fn run(extra: &[&str]) -> (Value, String) {
    run_for(&["--duration", "400ms", "--warmup", "100ms"], extra)
}

/// A run of the given `--duration` and `--warmup` with few clients.
fn run_for(times: &[&str], extra: &[&str]) -> (Value, String) {
    let mut args = vec!["run", "--clients", "8", "--client-timeout", "100ms", "--json"];
    args.extend_from_slice(times);
    args.extend_from_slice(extra);
    let out = pinraft(&args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    (serde_json::from_slice(&out.stdout).expect("stdout is JSON only"), stderr)
}

fn exit_2(args: &[&str], message: &str) {
    let out = pinraft(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(message), "{args:?}: expected '{message}' in: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn a_wal_run_writes_segments_and_a_hard_state_per_node() {
    let tmp = TempDir::new("segments");
    let (json, stderr) = run(&["--storage", "wal", "--data-dir", &tmp.data()]);
    for id in 1..=3 {
        let node = tmp.path().join(format!("data/node-{id}"));
        let segment = std::fs::metadata(node.join("wal-000001.log")).unwrap();
        assert!(segment.len() > 1_000, "node {id} logged entries: {} bytes", segment.len());
        assert!(node.join("hard_state").is_file(), "node {id} saved its term and vote");
    }
    let storage = &json["config"]["storage"];
    assert_eq!(storage["backend"], "wal");
    assert_eq!(storage["fsync"], "always");
    assert_eq!(storage["safe"], true);
    assert!(json["fsyncs"]["log"].as_u64().unwrap() > 0, "{}", json["fsyncs"]);
    assert!(json["recovered"].is_null(), "a fresh directory recovers nothing");
    assert!(!stderr.contains("unsafe"), "{stderr}");
    let reproduce = json["reproduce"].as_str().unwrap();
    assert!(
        reproduce.contains("--storage wal --fsync always --fsync-interval 10ms"),
        "{reproduce}"
    );
    assert!(reproduce.contains(&format!("--data-dir {}", tmp.data())), "{reproduce}");
}

#[test]
fn the_default_storage_is_memory_and_says_so() {
    let (json, _) = run(&[]);
    let storage = &json["config"]["storage"];
    assert_eq!(storage["backend"], "mem");
    assert!(storage["fsync"].is_null() && storage["data_dir"].is_null());
    assert_eq!(json["fsyncs"]["log"], 0);
    assert!(json["recovered"].is_null());
}

fn history(path: &Path) -> Vec<Operation> {
    read_jsonl(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap()
}

/// Puts on 20 keys, then a second run on the same directory that only reads: it recovers
/// the first run's log, and every get agrees with the puts the first run acknowledged (the
/// two histories, one after the other, are linearizable).
#[test]
fn a_second_run_recovers_the_first_and_reads_its_acknowledged_puts() {
    let tmp = TempDir::new("recover");
    let (h1, h2) = (tmp.path().join("h1.jsonl"), tmp.path().join("h2.jsonl"));
    let data = tmp.data();
    let common = ["--storage", "wal", "--data-dir", &data, "--keys", "20"];
    let mut first = common.to_vec();
    first.extend_from_slice(&["--mix", "0", "--history", h1.to_str().unwrap()]);
    let (json1, _) = run(&first);
    assert!(json1["ops_committed"].as_u64().unwrap() > 50, "{}", json1["requests"]);
    let mut second = common.to_vec();
    second.extend_from_slice(&["--mix", "100%", "--history", h2.to_str().unwrap()]);
    let (json2, _) = run(&second);

    let recovered = &json2["recovered"];
    assert!(recovered["entries"].as_u64().unwrap() > 50, "{recovered}");
    assert_eq!(recovered["entries_per_node"].as_array().unwrap().len(), 3);
    let first_ops = history(&h1);
    let acked_keys: std::collections::BTreeSet<&str> = first_ops
        .iter()
        .filter(|op| op.outcome == Outcome::Ok && op.value.is_some())
        .map(|op| op.key.as_str())
        .collect();
    let keys = recovered["keys"].as_u64().expect("the state machine came back in the run");
    assert!(keys >= acked_keys.len() as u64 && keys <= 20, "{keys} keys: {recovered}");
    assert!(recovered["recovery_ms"].as_f64().unwrap() > 0.0 && recovered["load_ms"].is_f64());

    let second_ops = history(&h2);
    let gets_with_values =
        second_ops.iter().filter(|op| op.output.as_deref().is_some_and(|v| !v.is_empty())).count();
    assert!(gets_with_values > 50, "gets read the recovered values: {gets_with_values}");
    let clients1: std::collections::BTreeSet<u64> = first_ops.iter().map(|op| op.client).collect();
    assert!(
        second_ops.iter().all(|op| !clients1.contains(&op.client)),
        "new client ids after a recovery"
    );
    let offset = first_ops.iter().map(|op| op.return_ns.unwrap_or(op.call_ns)).max().unwrap() + 1;
    let mut both = first_ops;
    both.extend(second_ops.into_iter().map(|mut op| {
        op.call_ns += offset;
        op.return_ns = op.return_ns.map(|t| t + offset);
        op
    }));
    match check_kv(&both, Budget::States(20_000_000)) {
        Verdict::Linearizable => {}
        other => panic!("the recovered cluster lost or changed a write: {other:?}"),
    }
}

/// Node 1 crashes and comes back; then node 2 crashes. Commits in the last 400 ms need a
/// majority of nodes 1 and 3, so the restarted node is serving. Restarting a node that runs
/// is a recorded no-op, like crashing one that is down.
fn crash_and_restart(storage: &[&str]) {
    let events = "restart:3@100ms,crash:1@300ms,crash:1@400ms,restart:1@700ms,crash:2@1100ms";
    let mut args = vec!["--events", events, "--seed", "3"];
    args.extend_from_slice(storage);
    let (json, _) = run_for(&["--duration", "1800ms", "--warmup", "0s"], &args);
    let played: Vec<&str> =
        json["events_played"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(played.len(), 5, "{played:?}");
    assert!(played[0].ends_with("node 3 was running already"), "{played:?}");
    assert!(played[2].ends_with("node 1 was down already"), "{played:?}");
    assert!(played[3].contains("node 1 restarted from a log of"), "{played:?}");
    let timeline: Vec<u64> = json["timeline_ops_per_100ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert!(timeline[14..18].iter().sum::<u64>() > 0, "commits with node 1 back: {timeline:?}");
    assert_eq!(json["node_errors"].as_array().unwrap().len(), 0);
}

#[test]
fn crash_and_restart_with_a_wal_keep_committing() {
    let tmp = TempDir::new("restart");
    crash_and_restart(&["--storage", "wal", "--data-dir", &tmp.data()]);
}

#[test]
fn crash_and_restart_in_memory_keep_committing() {
    crash_and_restart(&[]);
}

#[test]
fn unsafe_fsync_policies_warn_and_say_so_in_the_json() {
    let tmp = TempDir::new("unsafe");
    let data = tmp.data();
    let (json, stderr) = run(&["--storage", "wal", "--data-dir", &data, "--fsync", "never"]);
    assert_eq!(stderr.lines().filter(|l| l.starts_with("unsafe: --fsync never")).count(), 1);
    assert_eq!(json["config"]["storage"]["safe"], false);
    assert_eq!(json["fsyncs"]["log"], 0, "never means never");
    let interval = ["--fsync", "interval", "--fsync-interval", "5ms"];
    let (json, stderr) = run(&[&["--storage", "wal", "--data-dir", &data][..], &interval].concat());
    assert!(stderr.lines().any(|l| l.starts_with("unsafe: --fsync interval")), "{stderr}");
    let storage = &json["config"]["storage"];
    assert_eq!(
        (storage["fsync"].as_str(), storage["fsync_interval_ns"].as_u64()),
        (Some("interval"), Some(5_000_000))
    );
    assert_eq!(storage["safe"], false);
}

#[test]
fn bad_storage_flags_exit_2_with_one_clear_line() {
    exit_2(&["run", "--storage", "wal"], "--storage wal needs --data-dir");
    exit_2(&["run", "--data-dir", "/tmp/x"], "--data-dir needs --storage wal");
    exit_2(&["run", "--storage", "disk"], "invalid value 'disk'");
    exit_2(&["run", "--fsync", "sometimes"], "invalid value 'sometimes'");
    exit_2(&["run", "--fsync-interval", "10"], "a unit is required");
    let null = ["run", "--storage", "wal", "--data-dir", "/tmp/x", "--engine", "null"];
    exit_2(&null, "--storage wal needs --engine raft");
    exit_2(&["sweep", "--storage", "mem,wal"], "--storage wal needs --data-dir");
}

#[test]
fn a_directory_of_another_cluster_size_exits_2() {
    let tmp = TempDir::new("size");
    let data = tmp.data();
    run(&["--storage", "wal", "--data-dir", &data]);
    exit_2(
        &["run", "--nodes", "5", "--storage", "wal", "--data-dir", &data],
        "holds the storage of a 3-node cluster, not 5 nodes",
    );
}

#[test]
fn a_corrupt_log_at_startup_exits_2() {
    let tmp = TempDir::new("corrupt");
    let data = tmp.data();
    run(&["--storage", "wal", "--data-dir", &data]);
    // One flipped byte in the first record: damage that is not a torn tail.
    let segment = tmp.path().join("data/node-2/wal-000001.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[20] ^= 0xFF;
    std::fs::write(&segment, bytes).unwrap();
    exit_2(&["run", "--storage", "wal", "--data-dir", &data], "node 2: cannot start");
    let out = pinraft(&["run", "--storage", "wal", "--data-dir", &data]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt WAL segment"));
}

/// A file-size limit (with SIGXFSZ ignored, so a write past it fails with EFBIG) makes the
/// WAL fail mid-run: the node stops with the error, the run finishes, says why, exits 1.
#[test]
fn a_storage_error_stops_the_node_and_the_run_exits_1() {
    let tmp = TempDir::new("efbig");
    let command = format!(
        "trap '' XFSZ; ulimit -f 64; exec {} run --duration 600ms --warmup 0s --clients 8 \
         --storage wal --data-dir {} --json",
        env!("CARGO_BIN_EXE_pinraft"),
        tmp.data()
    );
    let out = Command::new("sh").args(["-c", &command]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let json: Value = serde_json::from_slice(&out.stdout).expect("the JSON is still written");
    let errors = json["node_errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    let first = errors[0].as_str().unwrap();
    assert!(first.contains("stopped: storage error: File too large"), "{first}");
    assert!(stderr.contains(&format!("pinraft: {first}")), "{stderr}");
}

/// The named regression: a single node that crashes after acknowledging puts must
/// still have them when it restarts from its storage. Gets after the restart read them
/// back, and the whole history is linearizable.
fn single_node_crash_keeps_acknowledged_writes(storage: &[&str]) {
    let tmp = TempDir::new("single");
    let history_file = tmp.path().join("h.jsonl");
    let mut args = vec!["--nodes", "1", "--keys", "5", "--mix", "50%"];
    args.extend_from_slice(&["--events", "crash:1@400ms,restart:1@500ms"]);
    args.extend_from_slice(&["--history", history_file.to_str().unwrap()]);
    args.extend_from_slice(storage);
    let (json, _) = run_for(&["--duration", "1s", "--warmup", "0s"], &args);
    let played = json["events_played"].to_string();
    assert!(played.contains("node 1 restarted from a log of"), "{played}");
    let ops = history(&history_file);
    let restart_ns = 500_000_000;
    let acked_before = ops.iter().filter(|op| {
        op.value.is_some() && op.return_ns.is_some_and(|t| t < restart_ns - 100_000_000)
    });
    assert!(acked_before.count() > 10, "puts acknowledged before the crash");
    let read_after = ops.iter().filter(|op| {
        op.call_ns > restart_ns && op.output.as_deref().is_some_and(|v| !v.is_empty())
    });
    assert!(read_after.count() > 10, "gets after the restart read values");
    match check_kv(&ops, Budget::States(20_000_000)) {
        Verdict::Linearizable => {}
        other => panic!("the restarted node lost or changed a write: {other:?}"),
    }
}

#[test]
fn a_single_node_that_crashes_after_acknowledging_still_has_the_write_in_its_wal() {
    let tmp = TempDir::new("single-wal");
    single_node_crash_keeps_acknowledged_writes(&["--storage", "wal", "--data-dir", &tmp.data()]);
}

#[test]
fn a_single_node_that_crashes_after_acknowledging_still_has_the_write_in_memory() {
    single_node_crash_keeps_acknowledged_writes(&[]);
}

/// Section 7 on the threaded cluster: with a snapshot every 200 entries, follower 3 is down
/// while the others commit hundreds of entries; back from its storage, it is behind the
/// leader's compacted log and catches up through an installed snapshot. The whole history
/// is linearizable. Then the cluster recovers from its directory: a snapshot plus the log
/// after it.
#[test]
fn a_restarted_follower_catches_up_through_a_snapshot_on_the_cluster() {
    let tmp = TempDir::new("snapshot-catch-up");
    let (h, data) = (tmp.path().join("h.jsonl"), tmp.data());
    let events = "crash:3@100ms,restart:3@700ms,crash:1@1100ms";
    let args = [
        "--storage",
        "wal",
        "--data-dir",
        &data,
        "--snapshot-every",
        "200",
        "--keys",
        "16",
        "--events",
        events,
        "--history",
        h.to_str().unwrap(),
        "--seed",
        "5",
    ];
    let (json, _) = run_for(&["--duration", "1500ms", "--warmup", "0s"], &args);
    let snapshots = &json["snapshots"];
    assert!(snapshots["taken"].as_u64().unwrap() > 3, "{snapshots}");
    assert!(snapshots["installed"].as_u64().unwrap() >= 1, "{snapshots}");
    assert!(json["fsyncs"]["snapshot"].as_u64().unwrap() > 0, "{}", json["fsyncs"]);
    match check_kv(&history(&h), Budget::States(20_000_000)) {
        Verdict::Linearizable => {}
        other => panic!("a snapshot lost or changed a write: {other:?}"),
    }
    let (again, _) = run(&["--storage", "wal", "--data-dir", &data, "--snapshot-every", "200"]);
    let recovered = &again["recovered"];
    assert!(recovered["snapshot_index"].as_u64().unwrap() > 200, "{recovered}");
    assert!(recovered["keys"].as_u64().is_some_and(|k| k <= 16 && k > 0), "{recovered}");
}
