//! The fixed seed ranges CI runs through `pinraft fuzz` (issue 7): every seed derives its
//! own cluster, faults and fault schedule (`sim::FuzzCase`), and every one must pass: no
//! invariant violation, a linearizable history, and a leader with every request answered
//! within the quiet phase of `FUZZ_QUIET_ELECTION_TIMEOUTS` maximal election timeouts.
//! Unknown linearizability verdicts must not occur either. Partial partitions need no
//! exception here: the quiet phase heals them, and what they do to progress while they
//! last is `fuzz_scenarios.rs`'s subject.
//!
//! A failure prints each failing seed with its parameters, its `pinraft fuzz --seeds 1
//! --from SEED --faults ...` replay command and the last events of its trace. Longer hunts:
//! `pinraft fuzz --seeds 100000 --from 0 --jobs 2 --faults all`.

use pinraft_harness::cli::fuzz::{failures_text, run_campaign};
use pinraft_harness::sim::{CampaignSpec, FaultSet, Shape, Summary};

/// Seeds with crashes and restarts, and seeds with network faults only. About 35 s
/// together on two cores in the test profile.
const ALL_SEEDS: u64 = 5_000;
const NET_SEEDS: u64 = 2_500;
const JOBS: usize = 2;

fn campaign(faults: FaultSet, seeds: u64) -> Summary {
    let spec = CampaignSpec::new(0, seeds, faults);
    let summary = run_campaign(&spec, JOBS, |_| {});
    let context = format!(
        "{}\nfailing seeds {:?}, unknown seeds {:?}",
        failures_text(&summary),
        summary.failing_seeds,
        summary.unknown_seeds
    );
    assert_eq!(summary.seeds, seeds);
    assert_eq!(summary.violations, 0, "{context}");
    assert_eq!(summary.unknown, 0, "{context}");
    assert_eq!(summary.liveness_failures, 0, "{context}");
    summary
}

#[test]
fn ci_seed_range_with_crashes_passes() {
    let summary = campaign(FaultSet::All, ALL_SEEDS);
    for shape in Shape::ALL {
        let stats = &summary.shapes[shape.index()];
        assert!(stats.seeds >= ALL_SEEDS / 20, "{} applied in {} seeds", stats.shape, stats.seeds);
    }
    assert!(summary.quiet_timeouts_max > 0.0);
    // Crashes caught writes before their fsync, and some tore the last record.
    assert!(summary.restarts > ALL_SEEDS / 2, "{} restarts", summary.restarts);
    assert!(summary.entries_lost > 0 && summary.tail_cuts > 0, "{summary:?}");
}

#[test]
fn ci_seed_range_with_network_faults_passes() {
    let summary = campaign(FaultSet::Net, NET_SEEDS);
    for shape in Shape::ALL {
        let stats = &summary.shapes[shape.index()];
        if shape.is_crash() || shape.is_restart() {
            assert_eq!(stats.seeds, 0, "no crash with --faults net");
        } else {
            assert!(stats.seeds >= NET_SEEDS / 20, "{} in {} seeds", stats.shape, stats.seeds);
        }
    }
}
