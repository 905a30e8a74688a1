//! `pinraft compare` end to end, checking behaviour, never timing: a tiny comparison of
//! pinraft and raft-rs writes one CSV row per run with an `engine` column, runs the engines
//! alternately, writes its JSON with a ratio per point and its two plots; bad input exits 2
//! before anything runs.

use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pinraft-compare-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn pinraft(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pinraft")).args(args).output().expect("runs")
}

#[test]
fn a_tiny_comparison_alternates_engines_and_writes_its_files() {
    let out = scratch("tiny");
    let dir = out.to_str().unwrap();
    let args = [
        "compare",
        "--clients",
        "1,4",
        "--loss",
        "0",
        "--repeat",
        "2",
        "--duration",
        "200ms",
        "--warmup",
        "50ms",
        "--out",
        dir,
        "--json",
    ];
    let run = pinraft(&args);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("stdout is JSON");
    assert_eq!(json["engines"], serde_json::json!(["raft", "raft-rs"]));
    assert!(json["reproduce"].as_str().unwrap().starts_with("pinraft compare "));
    let ratios = json["ratios"].as_array().unwrap();
    assert_eq!(ratios.len(), 4, "2 client counts x 2 engines");
    for r in ratios.iter().filter(|r| r["engine"] == "raft") {
        assert_eq!(r["throughput_ratio_to_raft"], 1.0);
    }
    // The runs' lines on stderr, in the order they ran: engines alternate within a point.
    let engines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| if l.contains("engine raft-rs") { "raft-rs" } else { "raft" })
        .collect();
    assert_eq!(
        engines,
        ["raft", "raft-rs", "raft", "raft-rs", "raft", "raft-rs", "raft", "raft-rs"]
    );
    let csv = std::fs::read_to_string(out.join("compare.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("engine,point,repeat,"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 8, "one row per run");
    assert_eq!(rows.iter().filter(|r| r.starts_with("raft-rs,")).count(), 4);
    for name in ["compare.json", "throughput-vs-clients.svg", "p99-vs-clients.svg"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn bad_compare_input_exits_2_before_anything_runs() {
    let out = scratch("bad");
    let dir = out.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["compare", "--engine", "raft,raft", "--out", dir],
        &["compare", "--engine", "raft,etcd", "--out", dir],
        &["compare", "--clients", "0,64", "--out", dir],
        &["compare", "--loss", "10", "--out", dir],
        &["compare", "--repeat", "0", "--out", dir],
        &["compare", "--interleave", "--out", dir],
    ];
    for args in cases {
        let run = pinraft(args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    assert!(!out.exists(), "nothing ran, nothing was written");
}
