//! `pinraft sweep` end to end, checking behaviour, never timing: a tiny sweep writes a CSV
//! with one row per point and repeat and the same columns on every row, its JSON and its
//! SVG plots; bad lists are refused before anything runs; `pinraft run --timeline` draws.
//! The sweep is driven through `cli::sweep::run` (what main calls for `pinraft sweep`).

use pinraft_harness::cli::sweep::{run, SweepArgs};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh, empty directory for one test's output.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pinraft-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Sweeps with these flags (short runs, few clients) into `out`.
fn sweep(out: &Path, flags: &[&str]) -> anyhow::Result<std::process::ExitCode> {
    let mut argv = vec!["--duration", "200ms", "--warmup", "50ms", "--clients", "4"];
    argv.extend_from_slice(flags);
    argv.extend_from_slice(&["--out", out.to_str().unwrap()]);
    run(&SweepArgs::try_parse_flags(argv).expect("valid flags"))
}

/// Splits one CSV line into cells (RFC 4180 quotes).
fn cells(line: &str) -> Vec<String> {
    let (mut out, mut cell, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    out.push(cell);
    out
}

/// The CSV as a header and rows of cells.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).expect("sweep.csv exists");
    let mut lines = text.lines().map(cells);
    let header = lines.next().expect("a header");
    (header, lines.collect())
}

fn column<'a>(header: &[String], row: &'a [String], name: &str) -> &'a str {
    let k = header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    &row[k]
}

#[test]
fn a_tiny_sweep_writes_its_csv_json_and_plots() {
    let out = scratch("tiny");
    sweep(&out, &["--batch", "1,64"]).expect("the sweep runs");
    let (header, rows) = read_csv(&out.join("sweep.csv"));
    assert_eq!(rows.len(), 2, "one row per point and repeat");
    assert!(rows.iter().all(|r| r.len() == header.len()), "the same columns on every row");
    for name in [
        "point",
        "repeat",
        "param.batch",
        "throughput_ops_s",
        "latency_us.p50",
        "latency_us.p99",
        "config.batch_entries_max",
        "messages.resent",
        "reproduce",
    ] {
        assert!(header.iter().any(|h| h == name), "missing column {name}");
    }
    let batches: Vec<&str> =
        rows.iter().map(|r| column(&header, r, "config.batch_entries_max")).collect();
    assert_eq!(batches, ["1", "64"]);
    let seeds: Vec<&str> = rows.iter().map(|r| column(&header, r, "seed")).collect();
    assert_eq!(seeds, ["1", "2"], "a fresh seed per run, derived from --seed");
    for name in ["throughput-vs-batch.svg", "latency-vs-batch.svg"] {
        let svg =
            std::fs::read_to_string(out.join(name)).unwrap_or_else(|_| panic!("{name} written"));
        assert!(svg.starts_with("<svg"), "{name}: {}", &svg[..40.min(svg.len())]);
        assert!(svg.contains("batch_entries_max"), "{name} names its x axis");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(json["points"].as_array().map(Vec::len), Some(2));
    assert_eq!(json["swept"], serde_json::json!(["batch"]));
    assert!(json["reproduce"].as_str().unwrap().contains("--batch 1,64 "));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn repeats_give_one_row_each() {
    let out = scratch("repeat");
    sweep(&out, &["--loss", "0,10%", "--repeat", "2"]).expect("runs");
    let (header, rows) = read_csv(&out.join("sweep.csv"));
    assert_eq!(rows.len(), 4);
    let keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (column(&header, r, "param.loss"), column(&header, r, "repeat")))
        .collect();
    assert_eq!(keys, [("0%", "1"), ("0%", "2"), ("10%", "1"), ("10%", "2")]);
    assert!(
        out.join("throughput-vs-loss.svg").exists() && out.join("latency-vs-loss.svg").exists()
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// `--interleave` changes the order the runs go in, not what each run is: every point keeps
/// its seeds, and the command it records says so.
#[test]
fn interleaved_repeats_keep_their_seeds() {
    let out = scratch("interleave");
    sweep(&out, &["--resend-policy", "fixed,adaptive", "--repeat", "2", "--interleave"])
        .expect("runs");
    let (header, rows) = read_csv(&out.join("sweep.csv"));
    let keys: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (column(&header, r, "param.resend-policy"), column(&header, r, "seed")))
        .collect();
    assert_eq!(keys, [("fixed", "1"), ("fixed", "2"), ("adaptive", "3"), ("adaptive", "4")]);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let reproduce = json["reproduce"].as_str().unwrap();
    assert!(reproduce.contains(" --resend-policy fixed,adaptive "), "{reproduce}");
    assert!(reproduce.ends_with(" --interleave --repeat 2 --seed 1"), "{reproduce}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn bad_lists_are_refused_before_anything_runs() {
    let out = scratch("bad");
    let cases: [(&[&str], &str); 6] = [
        (&["--batch", ""], "--batch: empty list"),
        (&["--batch", "1,,8"], "empty item"),
        (&["--batch", "8,8"], "duplicate value '8'"),
        (&["--resend", "20ms,20000us"], "duplicate value '20000us'"),
        (&["--resend", "5,20ms"], "a unit is required"),
        (&["--loss", "0,150%"], "invalid probability '150%'"),
    ];
    for (flags, want) in cases {
        let err = sweep(&out, flags).expect_err("refused").to_string();
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }
    assert!(!out.exists(), "nothing written");
    let err = SweepArgs::try_parse_flags(["--repeat", "0"]).expect_err("--repeat 0 is refused");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn run_timeline_draws_the_run_and_its_events() {
    let out = scratch("timeline");
    std::fs::create_dir_all(&out).unwrap();
    let file = out.join("timeline.svg");
    let status = Command::new(env!("CARGO_BIN_EXE_pinraft"))
        .args(["run", "--duration", "300ms", "--warmup", "100ms", "--clients", "4"])
        .args(["--events", "kill-leader@250ms", "--timeline", file.to_str().unwrap()])
        .output()
        .expect("runs");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let svg = std::fs::read_to_string(&file).expect("timeline written");
    assert!(svg.starts_with("<svg"));
    for text in
        ["ops answered per 100 ms", "kill-leader@250ms", "end of warm-up", "time since start (s)"]
    {
        assert!(svg.contains(text), "missing {text}");
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// A sweep over the storage backend: every WAL run writes its own directory inside
/// `--data-dir` and starts from empty storage; memory runs write nothing there. A run
/// directory left by an earlier sweep is refused before anything runs.
#[test]
fn a_storage_sweep_gives_each_wal_run_its_own_directory() {
    let out = scratch("storage");
    let data = out.join("data");
    let data_arg = data.to_str().unwrap();
    sweep(&out, &["--storage", "mem,wal", "--repeat", "2", "--data-dir", data_arg])
        .expect("the sweep runs");
    let mut dirs: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["run-3", "run-4"], "runs 3 and 4 are the wal point's repeats");
    assert!(data.join("run-3/node-1/wal-000001.log").is_file());
    let (header, rows) = read_csv(&out.join("sweep.csv"));
    let recovered: Vec<&str> = rows.iter().map(|r| column(&header, r, "recovered")).collect();
    assert!(recovered.iter().all(|r| r.is_empty()), "fresh storage every run: {recovered:?}");
    let again = sweep(&out, &["--storage", "wal", "--repeat", "4", "--data-dir", data_arg]);
    let err = again.expect_err("run-3 exists").to_string();
    assert!(err.contains("run-3 exists already"), "{err}");
    assert!(!data.join("run-1").exists(), "refused before anything ran");
    let _ = std::fs::remove_dir_all(&out);
}
