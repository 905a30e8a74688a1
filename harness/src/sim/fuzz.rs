//! Random simulator configurations for fuzzing.
//!
//! Two generators. [`random_config`] (the original): one fuzz seed derives a cluster size
//! (1 to 7 nodes), fault probabilities, delays, engine knobs and a list of `--events`, so
//! `pinraft sim` replays it. [`FuzzCase::new`] (the `pinraft fuzz` campaign, issue 7): one
//! seed derives every parameter of a 3-7 node run and a schedule of fault *shapes*, some
//! of which the event language cannot express (a partial partition, a one-way link, a
//! deaf node, a candidate's crash, a crash between a write and its fsync); `pinraft fuzz
//! --seeds 1 --from SEED --faults SET` replays it. Both crash at most a minority for good
//! (a campaign case also crashes nodes that restart from their disks, any number at once),
//! so every case must pass: no violation, and after the quiet phase a leader and every
//! request answered.
//!
//! This module only draws parameters. Applying the shapes is `schedule`'s job.

use super::config::SimConfig;
use crate::args::{format_duration, Action, Event, PPM};
use crate::knobs::Knobs;
use crate::storage::SyncPolicy;
use crate::workload::WorkloadSpec;
use pinraft_engine::{Config, ResendPolicy};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;

const MS: u64 = 1_000_000;
const US: u64 = 1_000;

/// The longest fsync a `--faults all` case draws, in microseconds (DESIGN.md measured
/// 0.2-0.4 ms on this machine's disk; the range reaches well past it on both sides).
pub const FUZZ_FSYNC_LATENCY_US_MAX: u64 = 5_000;

/// A crash-restart shape keeps its node down for at most this many maximal election
/// timeouts (zero included: a restart at the next event).
pub const RESTART_DOWNTIME_TIMEOUTS_MAX: u64 = 3;

/// Most fault events in one configuration of [`random_config`].
pub const FUZZ_EVENTS_MAX: usize = 5;

/// The election timeout's spread (max - min) in a [`FuzzCase`] is at least this many
/// maximal network delays.
pub const SPREAD_DELAYS_MIN: u64 = 3;

/// Most fault shapes a calm [`FuzzCase`] applies: a few faults, healed after one to ten
/// maximal election timeouts.
pub const CALM_SHAPES_MAX: usize = 4;

/// Most fault shapes a storm [`FuzzCase`] (one seed in two) applies: many faults, healed
/// after one or two election timeouts, so leadership churns through several terms, and
/// appends of one entry each, so a new leader's followers catch up slowly. With swarm
/// testing (every seed draws its cuts from a random subset of the shapes, see
/// `random_schedule`), that is what the interleavings behind Raft's Figure 8 need: an
/// engine that commits an old
/// term's entry by counting replicas passed 55,000 seeds of calm schedules, and fails
/// about 1.5 seeds in 10,000 of these (`fuzz_scenarios.rs` has the directed test).
pub const STORM_SHAPES_MAX: usize = 20;

/// Most timed faults (heals included) in one [`FuzzCase`] schedule.
pub const SCHEDULE_FAULTS_MAX: usize = 2 * STORM_SHAPES_MAX;

/// The quiet phase of a campaign case lasts at most this many maximal election timeouts
/// (`--quiet-timeouts`): within it the cluster must elect a leader followed by a majority
/// and answer every outstanding request, or the case is a liveness failure. Clients time
/// out after one to two maximal election timeouts, and with up to three crashed nodes a
/// request may need four attempts, so twenty leaves room for several failed elections too.
pub const FUZZ_QUIET_ELECTION_TIMEOUTS: u64 = 20;

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
        engine: Knobs(Config {
            election_timeout_min_ns: 100 * MS,
            election_timeout_max_ns: 200 * MS,
            heartbeat_interval_ns: rng.gen_range(10..99) * MS,
            resend_policy: ResendPolicy::ALL[rng.gen_range(0..ResendPolicy::ALL.len())],
            resend_threshold_ns: rng.gen_range(1..80) * MS,
            resend_min_ns: rng.gen_range(50..=1_000) * US,
            batch_entries_max: rng.gen_range(1..8),
            inflight_batches_max: rng.gen_range(1..9),
            ..Config::default()
        }),
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

/// Which faults a campaign draws from (`--faults`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultSet {
    /// Network faults only: loss, duplication, reordering, delays and every partition shape.
    Net,
    /// The network faults plus crashes: of leaders, followers and candidates, for good (a
    /// minority at most), and of any node at any time, a node between a write and its fsync
    /// among them, restarting from its disk. The disks take a fsync latency drawn from the
    /// seed and crashes may tear the last unsynced record.
    All,
}

impl FaultSet {
    /// The name on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultSet::Net => "net",
            FaultSet::All => "all",
        }
    }

    /// `net` or `all`; the error is one line.
    pub fn parse(text: &str) -> Result<FaultSet, String> {
        match text {
            "net" => Ok(FaultSet::Net),
            "all" => Ok(FaultSet::All),
            _ => Err(format!("invalid fault set '{text}': expected net or all")),
        }
    }
}

/// A fault shape: how a timed fault cuts or crashes the cluster. Nodes named by a shape are
/// chosen when it is applied, from the case's own RNG; shapes that name the leader wait for
/// one (`schedule::LEADER_WAIT_NS` apart) until the fault phase ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shape {
    /// The leader cut off from every other node, both ways.
    IsolateLeader,
    /// One node, chosen at random (perhaps the leader), cut off both ways.
    IsolateNode,
    /// A minority holding the leader cut from the majority, both ways.
    MinorityWithLeader,
    /// A minority without the leader cut from the majority that holds it, both ways.
    MajorityWithLeader,
    /// One link cut one way only: leader to a follower, or a follower to the leader.
    OneWayLink,
    /// A node that can send but hears nothing: every link into it cut.
    DeafNode,
    /// Two nodes cut from each other both ways, both still linked to every other node (so
    /// both see a third). One of the two is the leader half of the time.
    Partial,
    /// The leader crashes (stays down).
    CrashLeader,
    /// A follower crashes.
    CrashFollower,
    /// The next node seen campaigning, from this time on, crashes mid-election.
    CrashCandidate,
    /// Any live node crashes, and restarts from its disk after a downtime of up to
    /// [`RESTART_DOWNTIME_TIMEOUTS_MAX`] maximal election timeouts.
    CrashRestart,
    /// The next node seen between a write and its fsync, from this time on, crashes (losing
    /// that write), and restarts from its disk as `crash-restart` does.
    CrashMidSync,
}

impl Shape {
    /// Every shape, in the order reports list them.
    pub const ALL: [Shape; 12] = [
        Shape::IsolateLeader,
        Shape::IsolateNode,
        Shape::MinorityWithLeader,
        Shape::MajorityWithLeader,
        Shape::OneWayLink,
        Shape::DeafNode,
        Shape::Partial,
        Shape::CrashLeader,
        Shape::CrashFollower,
        Shape::CrashCandidate,
        Shape::CrashRestart,
        Shape::CrashMidSync,
    ];

    /// The crashes for good.
    const CRASHES: [Shape; 3] = [Shape::CrashLeader, Shape::CrashFollower, Shape::CrashCandidate];

    /// The crashes followed by a restart.
    const RESTARTS: [Shape; 2] = [Shape::CrashRestart, Shape::CrashMidSync];

    /// The shapes that cut links (healed by a heal or the quiet phase).
    const CUTS: [Shape; 7] = [
        Shape::IsolateLeader,
        Shape::IsolateNode,
        Shape::MinorityWithLeader,
        Shape::MajorityWithLeader,
        Shape::OneWayLink,
        Shape::DeafNode,
        Shape::Partial,
    ];

    /// The name in schedules and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::IsolateLeader => "isolate-leader",
            Shape::IsolateNode => "isolate-node",
            Shape::MinorityWithLeader => "minority-with-leader",
            Shape::MajorityWithLeader => "majority-with-leader",
            Shape::OneWayLink => "one-way-link",
            Shape::DeafNode => "deaf-node",
            Shape::Partial => "partial",
            Shape::CrashLeader => "crash-leader",
            Shape::CrashFollower => "crash-follower",
            Shape::CrashCandidate => "crash-candidate",
            Shape::CrashRestart => "crash-restart",
            Shape::CrashMidSync => "crash-mid-sync",
        }
    }

    /// A crash for good (permanent), rather than a cut (healed) or a crash-restart.
    pub fn is_crash(self) -> bool {
        Shape::CRASHES.contains(&self)
    }

    /// A crash followed by a restart from the node's disk.
    pub fn is_restart(self) -> bool {
        Shape::RESTARTS.contains(&self)
    }

    /// Position in [`Shape::ALL`], for bit sets and tables.
    pub fn index(self) -> usize {
        Shape::ALL.iter().position(|&s| s == self).expect("every shape is listed")
    }
}

/// What happens at a scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Apply a shape.
    Apply(Shape),
    /// Remove every cut (crashed nodes stay down until their restart, if any).
    Heal,
}

/// A fault at a time in the fault phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledFault {
    /// Nanoseconds from the start of the run.
    pub at_ns: u64,
    /// What happens.
    pub fault: Fault,
}

impl fmt::Display for ScheduledFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.fault {
            Fault::Apply(shape) => shape.as_str(),
            Fault::Heal => "heal",
        };
        write!(f, "{name}@{}", format_duration(self.at_ns))
    }
}

/// One campaign case: the simulator configuration and the fault schedule a seed derives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuzzCase {
    /// The fuzz seed, also the simulation seed.
    pub seed: u64,
    /// The fault set it was drawn from.
    pub faults: FaultSet,
    /// Every simulator parameter (no `--events`: the schedule replaces them).
    pub config: SimConfig,
    /// Timed faults, sorted by time, all inside the fault phase.
    pub schedule: Vec<ScheduledFault>,
    /// Seed of the RNG that picks the nodes a shape names when it is applied.
    pub choice_seed: u64,
}

impl FuzzCase {
    /// The case of `seed`: 3-7 nodes, loss 0-40%, duplication and reordering 0-30%, delays
    /// up to 50 ms, election timeouts from 100 ms with a spread of at least
    /// [`SPREAD_DELAYS_MIN`] maximal delays, heartbeat, resend, batch and pipelining knobs,
    /// 1-12 clients on 1-8 keys, and up to [`SCHEDULE_FAULTS_MAX`] timed faults: a calm
    /// schedule, or a storm with appends of one entry each ([`STORM_SHAPES_MAX`]). With
    /// `all`, a fsync latency of 10 us to [`FUZZ_FSYNC_LATENCY_US_MAX`] and a probability
    /// that a crash tears the last unsynced record (`--fsync always` in every case: the
    /// other policies lose acknowledged writes by design). The quiet phase lasts
    /// `quiet_timeouts` maximal election timeouts.
    pub fn new(seed: u64, faults: FaultSet, quiet_timeouts: u64) -> FuzzCase {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // The simulator seeds stream 0 with the same seed: draw the case from another.
        rng.set_stream(1);
        let storm = rng.gen_range(0..2) == 0;
        let mut config = case_config(&mut rng, seed, quiet_timeouts);
        if storm {
            // Entries travel one per round trip, so a new leader's followers catch up
            // slowly and old entries sit on a majority before its own does.
            config.engine.batch_entries_max = 1;
            config.engine.inflight_batches_max = 1;
        }
        let schedule = random_schedule(&mut rng, &config, faults, storm);
        let choice_seed = rng.gen();
        if faults == FaultSet::All {
            // Drawn last, so a `net` case draws exactly what it always did.
            config.fsync_latency_ns = rng.gen_range(10..=FUZZ_FSYNC_LATENCY_US_MAX) * US;
            config.crash_damage_ppm = rng.gen_range(0..=PPM);
            // Half the cases snapshot every few entries and ship snapshots in small chunks,
            // so lagging and restarted followers catch up through InstallSnapshot.
            if rng.gen_bool(0.5) {
                config.engine.snapshot_entries_threshold = rng.gen_range(2..=40);
                config.engine.snapshot_chunk_bytes = rng.gen_range(16..=512);
            }
        }
        FuzzCase { seed, faults, config, schedule, choice_seed }
    }

    /// The schedule as `shape@time` words, `none` when empty.
    pub fn schedule_text(&self) -> String {
        if self.schedule.is_empty() {
            return "none".to_string();
        }
        self.schedule.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(",")
    }

    /// `seed=` and every parameter, then the schedule.
    pub fn describe(&self) -> String {
        format!(
            "{} faults={} schedule={}",
            self.config.describe(),
            self.faults.as_str(),
            self.schedule_text()
        )
    }

    /// The shapes the schedule applies, as a bit set over [`Shape::ALL`].
    pub fn shapes(&self) -> u16 {
        self.schedule.iter().fold(0, |bits, f| match f.fault {
            Fault::Apply(shape) => bits | 1 << shape.index(),
            Fault::Heal => bits,
        })
    }
}

/// Every knob in whole milliseconds, so the parameter line reads well. The election
/// timeout's spread is at least [`SPREAD_DELAYS_MIN`] maximal network delays: randomized
/// timeouts settle elections only when candidates rarely overlap (section 5.2), and with a
/// spread near the delay a cluster that needs every live vote (4 nodes, one crashed) can
/// split its votes for dozens of rounds (`fuzz_regressions.rs`, seed 1914).
fn case_config(rng: &mut ChaCha8Rng, seed: u64, quiet_timeouts: u64) -> SimConfig {
    let nodes = rng.gen_range(3..=7);
    let delay_min_ms = rng.gen_range(0..=5);
    let delay_max_ms = delay_min_ms + rng.gen_range(1..=45);
    let election_min_ms = rng.gen_range(100..=300);
    let spread_min_ms = (SPREAD_DELAYS_MIN * delay_max_ms).max(50);
    let spread_ms = rng.gen_range(spread_min_ms..=spread_min_ms.max(election_min_ms));
    let election_max_ms = election_min_ms + spread_ms;
    SimConfig {
        seed,
        nodes,
        duration_ns: rng.gen_range(1_000..=4_000) * MS,
        quiet_ns: quiet_timeouts * election_max_ms * MS,
        clients: rng.gen_range(1..=12),
        loss_ppm: rng.gen_range(0..=2 * PPM / 5),
        dup_ppm: rng.gen_range(0..=3 * PPM / 10),
        reorder_ppm: rng.gen_range(0..=3 * PPM / 10),
        delay_min_ns: delay_min_ms * MS,
        delay_max_ns: delay_max_ms * MS,
        workload: WorkloadSpec {
            keys: rng.gen_range(1..=8),
            get_ppm: rng.gen_range(0..=PPM),
            value_size: 8,
        },
        client_timeout_ns: rng.gen_range(election_max_ms..=2 * election_max_ms) * MS,
        events: Vec::new(),
        engine: Knobs(Config {
            election_timeout_min_ns: election_min_ms * MS,
            election_timeout_max_ns: election_max_ms * MS,
            heartbeat_interval_ns: rng.gen_range(10..election_min_ms / 2) * MS,
            resend_policy: ResendPolicy::ALL[rng.gen_range(0..ResendPolicy::ALL.len())],
            resend_threshold_ns: rng.gen_range(1..=80) * MS,
            resend_min_ns: rng.gen_range(50..=1_000) * US,
            batch_entries_max: [1, 1, 2, 3, 8, 64, 256][rng.gen_range(0..7)],
            inflight_batches_max: rng.gen_range(1..=8),
            snapshot_entries_threshold: 0,
            snapshot_chunk_bytes: pinraft_engine::Config::default().snapshot_chunk_bytes,
            ..Config::default()
        }),
        fsync: SyncPolicy::Always,
        fsync_latency_ns: 0,
        crash_damage_ppm: 0,
        record_history: false,
        record_trace: false,
    }
}

/// Up to [`SCHEDULE_FAULTS_MAX`] timed faults, calm or a storm, its cuts drawn from a random
/// subset of the cut shapes (swarm testing, Groce et al., ISSTA 2012: the shapes a seed
/// uses come densely instead of diluted by all the others). Each cut is followed,
/// three times in four, by a heal one to ten (storm: one or two) maximal election timeouts
/// later; the rest last until the quiet phase heals them. In `all`, one shape in three is a
/// crash: half of them crash-restarts, the other half crashes for good while those take at
/// most a minority of the nodes (then crash-restarts only).
fn random_schedule(
    rng: &mut ChaCha8Rng,
    cfg: &SimConfig,
    faults: FaultSet,
    storm: bool,
) -> Vec<ScheduledFault> {
    let mut crashes_left = (cfg.nodes - 1) / 2;
    let mut schedule = Vec::new();
    let (shapes_max, heal_timeouts_max) =
        if storm { (STORM_SHAPES_MAX, 2) } else { (CALM_SHAPES_MAX, 10) };
    let cuts: Vec<Shape> = loop {
        let cuts: Vec<Shape> = Shape::CUTS.into_iter().filter(|_| rng.gen_bool(0.5)).collect();
        if !cuts.is_empty() {
            break cuts;
        }
    };
    let count = rng.gen_range(0..=shapes_max);
    for _ in 0..count {
        let at_ns = rng.gen_range(0..cfg.duration_ns / MS) * MS;
        let crash = faults == FaultSet::All && rng.gen_range(0..3) == 0;
        let shape = if !crash {
            cuts[rng.gen_range(0..cuts.len())]
        } else if crashes_left > 0 && rng.gen_bool(0.5) {
            crashes_left -= 1;
            Shape::CRASHES[rng.gen_range(0..Shape::CRASHES.len())]
        } else {
            Shape::RESTARTS[rng.gen_range(0..Shape::RESTARTS.len())]
        };
        schedule.push(ScheduledFault { at_ns, fault: Fault::Apply(shape) });
        if !shape.is_crash() && !shape.is_restart() && rng.gen_range(0..4) != 0 {
            let heal_ns =
                at_ns + rng.gen_range(1..=heal_timeouts_max) * cfg.engine.election_timeout_max_ns;
            if heal_ns < cfg.duration_ns {
                schedule.push(ScheduledFault { at_ns: heal_ns, fault: Fault::Heal });
            }
        }
    }
    schedule.sort_by_key(|f| f.at_ns);
    schedule
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

    #[test]
    fn campaign_cases_are_valid_replayable_and_keep_a_majority_alive() {
        let mut seen = 0u16;
        for seed in 0..2_000 {
            for faults in [FaultSet::Net, FaultSet::All] {
                let case = FuzzCase::new(seed, faults, FUZZ_QUIET_ELECTION_TIMEOUTS);
                assert_eq!(case.config.validate(), Ok(()), "seed {seed}");
                assert_eq!(FuzzCase::new(seed, faults, FUZZ_QUIET_ELECTION_TIMEOUTS), case);
                assert!((3..=7).contains(&case.config.nodes));
                assert!(case.config.loss_ppm <= 400_000);
                let cfg = &case.config;
                let spread =
                    cfg.engine.election_timeout_max_ns - cfg.engine.election_timeout_min_ns;
                assert!(spread >= SPREAD_DELAYS_MIN * cfg.delay_max_ns, "seed {seed}");
                assert!(case.schedule.len() <= SCHEDULE_FAULTS_MAX);
                assert!(case.schedule.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
                assert!(case.schedule.iter().all(|f| f.at_ns < case.config.duration_ns));
                let crashes = case
                    .schedule
                    .iter()
                    .filter(|f| matches!(f.fault, Fault::Apply(s) if s.is_crash()))
                    .count() as u64;
                assert!(crashes <= (case.config.nodes - 1) / 2, "seed {seed}");
                if faults == FaultSet::Net {
                    assert_eq!(crashes, 0);
                    assert!(case.schedule.iter().all(|f| match f.fault {
                        Fault::Apply(shape) => !shape.is_restart(),
                        Fault::Heal => true,
                    }));
                    assert_eq!(case.config.fsync_latency_ns, 0);
                } else {
                    let latency_us = case.config.fsync_latency_ns / US;
                    assert!((10..=FUZZ_FSYNC_LATENCY_US_MAX).contains(&latency_us));
                }
                assert_eq!(case.config.fsync, SyncPolicy::Always);
                seen |= case.shapes();
            }
        }
        assert_eq!(seen, (1 << Shape::ALL.len()) - 1, "every shape is drawn");
    }

    #[test]
    fn names_round_trip() {
        for set in [FaultSet::Net, FaultSet::All] {
            assert_eq!(FaultSet::parse(set.as_str()), Ok(set));
        }
        assert!(FaultSet::parse("crash").is_err());
        let f = ScheduledFault { at_ns: 1_500 * MS, fault: Fault::Apply(Shape::Partial) };
        assert_eq!(f.to_string(), "partial@1500ms");
        assert!(Shape::ALL.iter().enumerate().all(|(i, s)| s.index() == i));
    }
}
