//! Same seed, same run: the simulator's report and trace hash depend on the configuration
//! alone. Different seeds give different runs.

use pinraft_harness::args::parse_events;
use pinraft_harness::sim::{self, SimConfig};

fn faulty(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        nodes: 5,
        duration_ns: 3_000_000_000,
        loss_ppm: 200_000,
        dup_ppm: 100_000,
        reorder_ppm: 100_000,
        events: parse_events("kill-follower@500ms,split@1s,heal@2s").unwrap(),
        record_history: true,
        ..SimConfig::default()
    }
}

#[test]
fn the_same_seed_gives_the_same_report_and_trace_hash() {
    for seed in 0..20 {
        let a = sim::run(&faulty(seed)).unwrap();
        let b = sim::run(&faulty(seed)).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash);
        assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        assert_eq!(a.history, b.history);
        assert!(!a.history.is_empty());
    }
}

#[test]
fn different_seeds_give_different_trace_hashes() {
    let mut hashes: Vec<String> =
        (0..50).map(|seed| sim::run(&faulty(seed)).unwrap().trace_hash).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 50);
}

#[test]
fn recording_a_trace_or_history_does_not_change_the_run() {
    let plain = SimConfig { record_history: false, ..faulty(7) };
    let traced = SimConfig { record_trace: true, ..faulty(7) };
    let a = sim::run(&plain).unwrap();
    let b = sim::run(&traced).unwrap();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(a.trace.is_empty() && a.history.is_empty());
    assert!(b.trace.len() as u64 >= b.events_processed, "one line per event at least");
}

#[test]
fn the_history_is_valid_and_matches_the_counts() {
    let report = sim::run(&faulty(3)).unwrap();
    assert!(report.passed(), "{}", report.summary());
    for op in &report.history {
        op.validate().unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let ok = report.history.iter().filter(|op| op.return_ns.is_some()).count() as u64;
    assert_eq!(ok, report.requests.answered);
    assert_eq!(report.history.len() as u64, report.requests.answered + report.requests.unanswered);
}

/// Issue 17: `--resend-policy fixed` is the engine as it was before the adaptive policy, bit
/// for bit. The hashes were printed by `pinraft sim ARGS --json` at commit 6e7858e (before
/// the policy existed) and match these runs with the fixed policy named.
#[test]
fn the_fixed_resend_policy_reproduces_the_trace_hashes_from_before_the_adaptive_policy() {
    let cases = [
        ("--seed 1 --loss 10% --duration 3s", "e7e48206d2f4f1a5"),
        (
            "--seed 2 --nodes 5 --loss 25% --inflight 4 --batch 8 --duration 3s \
             --events kill-leader@1s,split@2s,heal@2500ms",
            "5581a084f10a2785",
        ),
        (
            "--seed 3 --loss 40% --dup 10% --reorder 10% --inflight 3 --batch 2 --resend 5ms \
             --duration 2s",
            "bc66cc8a0f5a81c3",
        ),
        (
            "--seed 4 --nodes 3 --snapshot-every 50 --loss 5% \
             --events crash:2@500ms,restart:2@1500ms --duration 3s",
            "a4113062ceea517f",
        ),
    ];
    for (args, hash) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pinraft"))
            .arg("sim")
            .args(args.split_whitespace())
            .args(["--resend-policy", "fixed", "--json"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["trace_hash"], hash, "pinraft sim {args} --resend-policy fixed");
    }
}
