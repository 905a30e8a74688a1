//! Random simulator configurations for fuzzing: one fuzz seed derives a cluster size, fault
//! probabilities, delays, engine knobs and a list of fault events. At most a minority of
//! nodes is ever crashed, so every configuration must pass: no violation, and everything
//! answered after the quiet phase. A failing seed is replayed by its `reproduce` command.

use super::config::SimConfig;
use crate::args::{Action, Event};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MS: u64 = 1_000_000;

/// Most fault events in one fuzzed configuration.
pub const FUZZ_EVENTS_MAX: usize = 5;

/// The configuration fuzz seed `seed` stands for; its simulation seed is `seed` too.
pub fn random_config(seed: u64) -> SimConfig {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let nodes = [1, 2, 3, 3, 5, 5, 7][rng.gen_range(0..7)];
    let duration_ns = rng.gen_range(1_000..4_000) * MS;
    SimConfig {
        seed,
        nodes,
        duration_ns,
        clients: rng.gen_range(1..12),
        loss_ppm: rng.gen_range(0..500_000),
        dup_ppm: rng.gen_range(0..300_000),
        reorder_ppm: rng.gen_range(0..300_000),
        delay_min_ns: 0,
        delay_max_ns: rng.gen_range(1..60) * MS,
        election_timeout_min_ns: 100 * MS,
        election_timeout_max_ns: 200 * MS,
        heartbeat_interval_ns: rng.gen_range(10..99) * MS,
        resend_threshold_ns: rng.gen_range(1..80) * MS,
        batch_entries_max: rng.gen_range(1..8),
        inflight_batches_max: rng.gen_range(1..9),
        events: random_events(&mut rng, nodes, duration_ns),
        ..SimConfig::default()
    }
}

/// Up to [`FUZZ_EVENTS_MAX`] events in the fault phase, crashing at most a minority.
fn random_events(rng: &mut ChaCha8Rng, nodes: u64, duration_ns: u64) -> Vec<Event> {
    let mut crashes_left = (nodes - 1) / 2;
    let mut events = Vec::new();
    for _ in 0..rng.gen_range(0..=FUZZ_EVENTS_MAX) {
        let action = match rng.gen_range(0..7) {
            0 | 1 if crashes_left > 0 => {
                crashes_left -= 1;
                if rng.gen_bool(0.5) {
                    Action::KillLeader
                } else {
                    Action::KillFollower
                }
            }
            2 => Action::IsolateLeader,
            3 => Action::Isolate(rng.gen_range(1..=nodes)),
            4 => Action::Split,
            _ => Action::Heal,
        };
        events.push(Event { at_ns: rng.gen_range(0..duration_ns), action });
    }
    events.sort_by_key(|e| e.at_ns);
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzed_configurations_are_valid_and_replayable() {
        for seed in 0..500 {
            let cfg = random_config(seed);
            assert_eq!(cfg.validate(), Ok(()), "seed {seed}");
            assert_eq!(random_config(seed), cfg);
        }
    }
}
