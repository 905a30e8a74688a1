//! Random configurations (`sim::random_config`: cluster size, faults, engine knobs and fault
//! events, never crashing a majority) must pass: no violation, and everything answered after
//! the quiet phase. The quick test runs in the suite; the deep one is for hunting
//! (`SIM_FUZZ_SEEDS=100000 SIM_FUZZ_START=0 cargo test --test sim_fuzz -- --ignored`).
//! A failure prints the `pinraft sim` command that replays it.

use pinraft_harness::sim::{self, random_config};

fn fuzz(seeds: std::ops::Range<u64>) {
    let mut failed = Vec::new();
    for seed in seeds {
        let report = sim::run(&random_config(seed)).unwrap();
        if !report.passed() {
            failed.push(format!("{}\n{}", report.reproduce, report.summary()));
        }
    }
    assert!(failed.is_empty(), "{} failing seeds:\n{}", failed.len(), failed.join("\n"));
}

#[test]
fn random_configurations_pass() {
    fuzz(0..200);
}

#[test]
#[ignore = "a long hunt; run by hand"]
fn random_configurations_pass_deep() {
    let var = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let start = var("SIM_FUZZ_START", 1_000);
    fuzz(start..start + var("SIM_FUZZ_SEEDS", 10_000));
}
