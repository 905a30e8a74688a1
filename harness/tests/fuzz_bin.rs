//! `pinraft fuzz` through the built binary: exit codes, the stdout/stderr split, and a
//! printed replay command run as printed. `fuzz_cli.rs` covers the rendering itself.

use std::process::{Command, Output};

fn pinraft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinraft")).args(args).output().expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[test]
fn a_passing_campaign_exits_0_with_its_totals_on_stdout() {
    let out = pinraft(&["fuzz", "--seeds", "20", "--from", "100", "--jobs", "2"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("pinraft fuzz: seeds 100..=119, faults all, "), "{stdout}");
    for row in [
        "seeds run",
        "events simulated",
        "simulated time",
        "wall time",
        "violations",
        "liveness failures",
        "unknown checks",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(row)), "{row}: {stdout}");
    }
    assert!(out.stderr.is_empty(), "no progress bar without a terminal: {}", text(&out.stderr));
}

#[test]
fn json_goes_alone_to_stdout() {
    let out = pinraft(&["fuzz", "--seeds", "10", "--faults", "net", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("only JSON");
    assert_eq!(json["seeds"], 10);
    assert_eq!(json["failing_seeds"], serde_json::json!([]));
    assert!(text(&out.stderr).starts_with("pinraft fuzz: seeds 0..=9, faults net"));
}

#[test]
fn a_failure_exits_1_and_its_printed_command_replays_it() {
    let out = pinraft(&["fuzz", "--seeds", "6", "--quiet-timeouts", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let start = stdout.find("FAILED seed ").expect("a failure");
    let block = &stdout[start..];
    let block = &block[..block.find("\n\n").unwrap_or(block.len())];
    let replay = block
        .lines()
        .find_map(|l| l.strip_prefix("  reproduce: pinraft "))
        .expect("a reproduce line");
    let again = pinraft(&replay.split_whitespace().collect::<Vec<_>>());
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stdout).contains(block), "the replay prints the same failure");
}

#[test]
fn bad_input_is_one_line_on_stderr_and_exit_2() {
    for args in [
        &["fuzz", "--faults", "crash"][..],
        &["fuzz", "--seeds", "0"],
        &["fuzz", "--jobs", "0"],
        &["fuzz", "--from", "18446744073709551615", "--seeds", "2"],
    ] {
        let out = pinraft(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
