//! `pinraft sim` as a user sees it, through `cli::sim::render` (the text `run` prints):
//! the parameter line first, byte-identical output for the same command, the JSON keys of
//! DESIGN.md, a `reproduce` command that replays the run, and bad input rejected as a
//! clap error (exit 2) or a one-line error, never a panic.

use clap::Parser;
use pinraft_harness::cli::sim::{render, Rendered, SimArgs};

#[derive(Parser)]
#[command(name = "pinraft-sim")]
struct Cmd {
    #[command(flatten)]
    args: SimArgs,
}

fn parse(flags: &str) -> Result<SimArgs, clap::Error> {
    let argv = std::iter::once("sim").chain(flags.split_whitespace());
    Cmd::try_parse_from(argv).map(|c| c.args)
}

fn output(flags: &str) -> Rendered {
    render(&parse(flags).unwrap()).unwrap().0
}

const QUICK: &str = "--seed 5 --nodes 5 --duration 2s --loss 0.2 --delay 1ms-8ms --clients 3 \
                     --events kill-leader@500ms,isolate:2@1s,heal@1500ms";

#[test]
fn the_same_command_prints_the_same_bytes() {
    let a = output(QUICK);
    let b = output(QUICK);
    assert_eq!(a, b);
    assert!(a.passed, "{}", a.stdout);
    assert_ne!(a.stdout, output(&QUICK.replace("--seed 5", "--seed 6")).stdout);
}

#[test]
fn the_text_output_starts_with_every_parameter_and_ends_with_the_trace_hash() {
    let out = output(QUICK);
    let first = out.stdout.lines().next().unwrap();
    assert!(first.starts_with("seed=5 nodes=5 duration=2s"), "{first}");
    for param in [
        "loss=20%",
        "delay=1ms-8ms",
        "clients=3",
        "events=kill-leader@500ms,isolate:2@1s,heal@1500ms",
        "election-timeout=150ms-300ms",
        "batch=256",
        "inflight=1",
        "quiet=6s",
    ] {
        assert!(first.contains(param), "{param} missing from {first}");
    }
    let summary: Vec<&str> = out.stdout.lines().collect();
    assert!(summary[1].starts_with("reproduce: pinraft sim --seed 5 --nodes 5"));
    for row in [
        "ops committed",
        "requests answered",
        "requests unanswered",
        "elections",
        "messages sent",
        "messages dropped",
        "packets sent",
        "packets dropped",
        "violations",
        "trace hash",
    ] {
        assert!(summary.iter().any(|l| l.starts_with(row)), "{row} missing:\n{}", out.stdout);
    }
    assert!(out.stdout.contains("event: kill-leader@500ms: crashed node"));
    assert!(out.stderr.is_empty());
}

#[test]
fn json_has_the_documented_keys_and_stdout_holds_only_json() {
    let out = output(&format!("{QUICK} --json"));
    let json: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["seed"], 5);
    assert!(json["reproduce"].as_str().unwrap().ends_with("--json"));
    assert_eq!(json["trace_hash"].as_str().unwrap().len(), 16);
    assert!(json["ops_committed"].as_u64().unwrap() > 0);
    for key in ["answered", "unanswered", "ok", "redirect", "fail", "timeout"] {
        assert!(json["requests"][key].is_u64(), "requests.{key}");
    }
    assert!(json["elections"].as_u64().unwrap() >= 2);
    for key in ["sent", "dropped"] {
        assert!(json["messages"][key].is_u64() && json["batches"][key].is_u64(), "{key}");
    }
    assert_eq!(json["violations"], serde_json::json!([]));
    assert_eq!(json["config"]["loss_ppm"], 200_000);
    assert_eq!(json["config"]["election_timeout_min_ns"], 150_000_000);
    assert!(json.get("history").is_none());
    assert!(out.stderr.starts_with("seed=5 "), "the parameter echo goes to stderr");
}

#[test]
fn the_reproduce_command_replays_the_run() {
    let first = output(&format!("{QUICK} --json"));
    let json: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let command = json["reproduce"].as_str().unwrap();
    let flags = command.strip_prefix("pinraft sim ").unwrap();
    let again = output(flags);
    assert_eq!(again.stdout, first.stdout);
}

#[test]
fn bad_flags_are_clap_errors_with_exit_code_2() {
    for flags in [
        "--bogus",
        "--nodes 0",
        "--nodes 65",
        "--clients 0",
        "--loss 1.5",
        "--loss 140%",
        "--duration 10",
        "--delay 5ms-1ms",
        "--events explode@1s",
        "--events kill-leader",
        "--mix 2",
        "--seed -1",
        "--fsync sometimes",
        "--fsync-latency 5",
        "--crash-damage 2",
    ] {
        let err = parse(flags).err().unwrap_or_else(|| panic!("{flags} must be rejected"));
        assert_eq!(err.exit_code(), 2, "{flags}");
    }
}

#[test]
fn invalid_combinations_are_one_line_errors() {
    for (flags, want) in [
        ("--events crash:4@1s", "out of range 1..=3"),
        ("--events restart:1@1s", "node 1 is up then"),
        ("--fsync interval --fsync-interval 0ns", "fsync interval"),
        ("--fsync-latency 2s", "fsync latency"),
        ("--duration 2s --events heal@3s", "after the fault phase"),
        ("--heartbeat 200ms", "heartbeat_interval_ns"),
        ("--batch 0", "batch_entries_max"),
    ] {
        let err =
            render(&parse(flags).unwrap()).err().unwrap_or_else(|| panic!("{flags} must fail"));
        let text = format!("{err:#}");
        assert!(text.contains(want) && !text.contains('\n'), "{flags}: {text}");
    }
}

#[test]
fn a_run_that_cannot_converge_fails_with_the_reason() {
    let out = output("--duration 1s --events crash:1@500ms,crash:2@500ms --quiet 2s");
    assert!(!out.passed);
    assert!(out.stdout.contains("liveness: "), "{}", out.stdout);
    assert!(out.stdout.contains("FAILED"));
}

#[test]
fn the_flag_defaults_are_the_simulator_defaults() {
    use pinraft_harness::sim::SimConfig;
    assert_eq!(SimArgs::default().config(), SimConfig::default());
}

#[test]
fn restarts_and_the_disks_are_in_the_json_and_the_replay_command() {
    let flags = "--seed 3 --duration 2s --clients 3 --fsync-latency 300us --crash-damage 50% \
                 --events crash:2@500ms,restart:2@700ms,kill-leader@1s,restart:1@1200ms";
    let out = output(&format!("{flags} --json"));
    assert!(out.passed, "{}", out.stdout);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(json["restarts"].as_u64().unwrap() >= 1, "{}", out.stdout);
    for key in ["saves", "syncs", "bytes_written", "tail_cuts", "entries_lost"] {
        assert!(json["storage"][key].is_u64(), "storage.{key}");
    }
    assert!(json["storage"]["syncs"].as_u64().unwrap() > 0);
    assert_eq!(json["config"]["fsync"], "always");
    assert_eq!(json["config"]["fsync_latency_ns"], 300_000);
    assert_eq!(json["config"]["crash_damage_ppm"], 500_000);
    let command = json["reproduce"].as_str().unwrap();
    assert!(command.contains("--fsync always --fsync-latency 300us --crash-damage 50%"));
    let again = output(command.strip_prefix("pinraft sim ").unwrap());
    assert_eq!(again.stdout, out.stdout);
    let text = output(flags).stdout;
    assert!(text.contains("event: restart:2@700ms: restarted node 2 in term"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("restarts ")), "{text}");
}
