//! `pinraft fuzz` as the command renders it (`cli::fuzz::render_with`): the output is the
//! same for the same arguments whatever `--jobs` says (wall time aside), the JSON carries
//! the issue's keys, and a failing seed prints a replay command that replays it exactly.

use pinraft_harness::cli::fuzz::{render_with, FuzzArgs, Rendered};
use pinraft_harness::sim::{run_seed, CampaignSpec, FaultSet};

fn fuzz(words: &str) -> Rendered {
    let args = FuzzArgs::parse_words(words.split_whitespace()).expect("valid flags");
    render_with(&args, |_| {}).expect("runs")
}

/// The output without its one line that may differ between runs.
fn without_wall_time(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with("wall time")).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_same_arguments_print_the_same_output_whatever_the_jobs() {
    let one = fuzz("--seeds 120 --from 500 --faults all --jobs 1");
    let two = fuzz("--seeds 120 --from 500 --faults all --jobs 2");
    // Failures included (this range has some, of the engine bug in fuzz_regressions.rs):
    // their blocks, trace tails and all, are the same too.
    assert_eq!(one.code, two.code, "{}", one.stdout);
    assert_eq!(without_wall_time(&one.stdout), without_wall_time(&two.stdout));
    assert!(one.stdout.contains("wall time"), "{}", one.stdout);
    for row in [
        "seeds run",
        "events simulated",
        "simulated time",
        "violations",
        "liveness failures",
        "unknown checks",
        "restarts",
        "unsynced entries lost",
        "torn records cut",
        "partial",
        "crash-candidate",
        "crash-restart",
        "crash-mid-sync",
    ] {
        assert!(one.stdout.lines().any(|l| l.starts_with(row)), "{row}: {}", one.stdout);
    }
    let json = |r: &Rendered| {
        let mut v: serde_json::Value = serde_json::from_str(&r.stdout).expect("only JSON");
        v.as_object_mut().unwrap().remove("wall_ms").expect("wall_ms");
        v
    };
    let a = fuzz("--seeds 60 --from 7 --faults net --json --jobs 1");
    let b = fuzz("--seeds 60 --from 7 --faults net --json --jobs 2");
    assert_eq!(json(&a), json(&b));
}

#[test]
fn json_carries_the_issue_keys() {
    let out = fuzz("--seeds 40 --from 3 --faults net --json");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("only JSON on stdout");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["seeds"], 40);
    assert_eq!(v["from"], 3);
    assert_eq!(v["faults"], "net");
    for key in ["violations", "liveness_failures", "unknown"] {
        assert_eq!(v[key], 0, "{key}");
    }
    assert_eq!(v["failing_seeds"], serde_json::json!([]));
    assert_eq!(v["reproduce"], "pinraft fuzz --seeds 40 --from 3 --faults net --json");
    assert!(v["events"].as_u64().unwrap() > 0 && v["simulated_ns"].as_u64().unwrap() > 0);
    assert_eq!(v["shapes"].as_array().unwrap().len(), 13);
    for key in ["restarts", "entries_lost", "tail_cuts"] {
        assert_eq!(v[key], 0, "{key}: no crash with --faults net");
    }
    assert!(out.header.starts_with("pinraft fuzz: seeds 3..=42, faults net"), "{}", out.header);
    assert!(out.header.ends_with("reproduce: pinraft fuzz --seeds 40 --from 3 --faults net\n"));
    assert!(out.stderr.is_empty(), "no failure: {}", out.stderr);
}

/// One failure block of the output: from its `FAILED seed` line to the next blank line.
fn failure_block(stdout: &str, seed: u64) -> String {
    let start = stdout.find(&format!("FAILED seed {seed}:")).expect("the seed failed");
    let rest = &stdout[start..];
    rest[..rest.find("\n\n").unwrap_or(rest.len())].to_string()
}

/// A quiet phase of one election timeout is too short for most runs to converge: a way to
/// make failures on purpose and check what they print.
#[test]
fn a_failing_seed_prints_its_parameters_replay_command_and_last_events_and_replays() {
    let out = fuzz("--seeds 12 --from 0 --faults all --quiet-timeouts 1 --jobs 2");
    assert_eq!(out.code, 1, "{}", out.stdout);
    let line = out.stdout.lines().find(|l| l.starts_with("failing seeds: ")).expect("listed");
    let seed: u64 = line["failing seeds: ".len()..].split(' ').next().unwrap().parse().unwrap();
    let block = failure_block(&out.stdout, seed);
    let replay = format!("pinraft fuzz --seeds 1 --from {seed} --faults all --quiet-timeouts 1");
    assert!(block.contains(&format!("  reproduce: {replay}\n")), "{block}");
    assert!(block.contains(&format!("  parameters: seed={seed} nodes=")), "{block}");
    assert!(block.contains(" schedule="), "{block}");
    assert!(block.contains("  problem: liveness: "), "{block}");
    let tail: Vec<&str> = block.lines().skip_while(|l| *l != "  last events:").skip(1).collect();
    assert!((20..=40).contains(&tail.len()), "about 20 events and their notes: {block}");

    let words = replay.strip_prefix("pinraft fuzz ").unwrap();
    let again = fuzz(words);
    assert_eq!(again.code, 1);
    assert_eq!(failure_block(&again.stdout, seed), block, "the command replays the run");
    let spec = CampaignSpec { quiet_timeouts: 1, ..CampaignSpec::new(seed, 1, FaultSet::All) };
    assert_eq!(run_seed(&spec, seed).trace_hash, run_seed(&spec, seed).trace_hash);
}

#[test]
fn bad_flags_are_errors() {
    for words in [
        "--faults crash",
        "--seeds 0",
        "--jobs 0",
        "--jobs 999",
        "--quiet-timeouts 0",
        "--seeds x",
        "--from -1",
    ] {
        assert!(FuzzArgs::parse_words(words.split_whitespace()).is_err(), "{words}");
    }
    let args = FuzzArgs::parse_words(["--from", "18446744073709551615", "--seeds", "2"]).unwrap();
    let err = render_with(&args, |_| {}).unwrap_err().to_string();
    assert!(err.contains("overflows") && !err.contains('\n'), "{err}");
}
