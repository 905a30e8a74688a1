//! The election experiment, in the style of the Raft paper's Figure 16: five nodes, no client
//! load, the leader crashed at a uniform moment within its heartbeat interval (the heartbeat
//! is half the minimum election timeout, as in the paper), and the time until a new leader
//! exists, per election timeout range, many trials each.
//!
//! Two runtimes. The simulator (virtual time, deterministic, cheap: a thousand trials per
//! range) with a chosen one-way delay for every packet; there the clock stops at the crash
//! and again when a leader is followed by a majority, both exactly. The threaded cluster
//! (real time: five pinned threads on this machine's cores, a fresh cluster per trial); there
//! the crash load polls who leads every [`CLUSTER_POLL_NS`] and stops the clock when a live
//! node leads, which its followers learn within one channel hop (microseconds).
//!
//! This module runs trials and holds their raw outcomes; statistics and plots are computed
//! from the data file by `render`, so the report can be regenerated without running again.

use super::crash_load::CrashLoad;
use super::plan::{ElectionPlan, SimSetup, ELECTION_NODES};
use crate::cluster::{self, ClusterConfig};
use crate::knobs::Knobs;
use crate::sim::{End, SimConfig, Simulator};
use pinraft_engine::{Config, NodeId};
use serde::{Deserialize, Serialize};

/// Version of election.json.
pub const SCHEMA_VERSION: u32 = 1;

const MS: u64 = 1_000_000;
/// How often the crash load looks for a leader in the simulator (virtual time).
pub const SIM_POLL_NS: u64 = 5 * MS;
/// How often the crash load looks for a leader in the threaded cluster.
pub const CLUSTER_POLL_NS: u64 = 200_000;
/// The simulator's fault phase: longer than any trial, so it never ends mid-trial.
const SIM_HORIZON_NS: u64 = 3_600_000 * MS;
/// The threaded cluster waits this long past twice the maximum timeout for a new leader.
const CLUSTER_CAP_EXTRA_NS: u64 = 100 * MS;

/// One crash of one leader.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Trial {
    /// The seed of this trial's cluster.
    pub seed: u64,
    /// The leader crashed; `None` when no first leader was elected within the cap.
    pub crashed_node: Option<NodeId>,
    /// When the crash happened, from the start of the trial (ms).
    pub crash_at_ms: Option<f64>,
    /// From the crash until a live node led (ms); `None` if none did within the cap.
    pub elected_ms: Option<f64>,
    /// From the crash until a leader was followed by a majority (ms; simulator only).
    pub stable_ms: Option<f64>,
}

/// Every trial of one timeout range.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RangeTrials {
    /// Shortest election timeout (ms).
    pub min_ms: u64,
    /// Longest election timeout (ms).
    pub max_ms: u64,
    /// Heartbeat interval: half the minimum timeout (ns).
    pub heartbeat_ns: u64,
    /// Longest wait for a first leader, and for a new one after the crash (ns).
    pub cap_ns: u64,
    /// The trials, in order.
    pub trials: Vec<Trial>,
}

/// One runtime and network: its ranges.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    /// `sim` or `cluster`.
    pub runtime: String,
    /// `paper-delays`, `lan-delays`, `threaded`.
    pub name: String,
    /// One-way packet delay, uniform in this range (ns; 0-0 in the threaded cluster, where
    /// a packet takes what a channel hop takes).
    pub delay_ns: (u64, u64),
    /// `stable` (a leader followed by a majority) or `elected` (a live node leads).
    pub measure: String,
    /// The ranges.
    pub ranges: Vec<RangeTrials>,
}

/// election.json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ElectionData {
    /// Layout version.
    pub schema_version: u32,
    /// Cluster size.
    pub nodes: u64,
    /// Every runtime and network.
    pub setups: Vec<Setup>,
}

/// The heartbeat interval of a range: half the minimum timeout, as in the paper.
pub fn heartbeat_ns(min_ms: u64) -> u64 {
    min_ms * MS / 2
}

/// Rough wall time of one simulated trial, for progress bars only.
pub const SIM_TRIAL_WALL_NS: u64 = MS;

/// Runs every trial of the plan. `progress(label, planned_ns, fraction)` is called as
/// trials finish, with the range's label and planned wall time.
pub fn run(
    plan: &ElectionPlan,
    seed: u64,
    progress: &mut dyn FnMut(&str, u64, f64),
) -> anyhow::Result<ElectionData> {
    let mut setups = Vec::new();
    for setup in &plan.sim {
        let mut ranges = Vec::new();
        for (k, &(min, max)) in plan.sim_ranges_ms.iter().enumerate() {
            let label = format!("election, simulator ({}), {min}-{max} ms", setup.name);
            let range_seed = seed.wrapping_add(1_000_000 * k as u64);
            let planned = setup.trials as u64 * SIM_TRIAL_WALL_NS;
            let trials =
                sim_range(setup, (min, max), range_seed, &mut |f| progress(&label, planned, f))?;
            ranges.push(trials);
        }
        setups.push(Setup {
            runtime: "sim".into(),
            name: setup.name.into(),
            delay_ns: setup.delay_ns,
            measure: "stable".into(),
            ranges,
        });
    }
    let mut ranges = Vec::new();
    for (k, &(min, max)) in plan.cluster_ranges_ms.iter().enumerate() {
        let label = format!("election, threaded cluster, {min}-{max} ms");
        let range_seed = seed.wrapping_add(1_000_000 * k as u64);
        let planned = plan.cluster_trials as u64 * cluster_trial_ns((min, max));
        let trials = cluster_range(plan.cluster_trials, (min, max), range_seed, &mut |f| {
            progress(&label, planned, f)
        })?;
        ranges.push(trials);
    }
    setups.push(Setup {
        runtime: "cluster".into(),
        name: "threaded".into(),
        delay_ns: (0, 0),
        measure: "elected".into(),
        ranges,
    });
    Ok(ElectionData { schema_version: SCHEMA_VERSION, nodes: ELECTION_NODES, setups })
}

/// The trials of one range in the simulator.
fn sim_range(
    setup: &SimSetup,
    (min, max): (u64, u64),
    seed: u64,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<RangeTrials> {
    let count = if min == max { setup.trials_fixed } else { setup.trials };
    let mut trials = Vec::with_capacity(count);
    for t in 0..count {
        trials.push(sim_trial(setup, (min, max), seed.wrapping_add(t as u64))?);
        progress((t + 1) as f64 / count as f64);
    }
    Ok(RangeTrials {
        min_ms: min,
        max_ms: max,
        heartbeat_ns: heartbeat_ns(min),
        cap_ns: setup.cap_ns,
        trials,
    })
}

/// One simulated trial: a fresh five-node cluster, one crash, the clock stopped exactly.
fn sim_trial(setup: &SimSetup, (min, max): (u64, u64), seed: u64) -> anyhow::Result<Trial> {
    let heartbeat = heartbeat_ns(min);
    let cfg = SimConfig {
        seed,
        nodes: ELECTION_NODES,
        delay_min_ns: setup.delay_ns.0,
        delay_max_ns: setup.delay_ns.1,
        duration_ns: SIM_HORIZON_NS,
        clients: 1,
        engine: Knobs(Config {
            election_timeout_min_ns: min * MS,
            election_timeout_max_ns: max * MS,
            heartbeat_interval_ns: heartbeat,
            ..Config::default()
        }),
        ..SimConfig::default()
    };
    let load = CrashLoad::new(SIM_POLL_NS, max * MS, heartbeat, false, seed);
    let mut sim = Simulator::new_hosted(&cfg, Box::new(load)).map_err(anyhow::Error::msg)?;
    let mut trial =
        Trial { seed, crashed_node: None, crash_at_ms: None, elected_ms: None, stable_ms: None };
    let crash = loop {
        if sim.now_ns() > setup.cap_ns || !step(&mut sim, seed)? {
            return Ok(trial);
        }
        if let Some(id) = (1..=ELECTION_NODES).find(|&id| sim.is_crashed(id)) {
            break (id, sim.now_ns());
        }
    };
    trial.crashed_node = Some(crash.0);
    trial.crash_at_ms = Some(ms(crash.1));
    loop {
        let since = sim.now_ns() - crash.1;
        if trial.elected_ms.is_none() && sim.current_leader().is_some() {
            trial.elected_ms = Some(ms(since));
        }
        if sim.stable_leader().is_some() {
            trial.stable_ms = Some(ms(since));
            return Ok(trial);
        }
        if since > setup.cap_ns || !step(&mut sim, seed)? {
            return Ok(trial);
        }
    }
}

/// One simulator step; an invariant violation is an engine bug and ends the experiment.
fn step(sim: &mut Simulator, seed: u64) -> anyhow::Result<bool> {
    let more = sim.step();
    anyhow::ensure!(
        sim.end() != End::Violation,
        "election trial with seed {seed}: an invariant broke: {:?}",
        sim.invariants()
    );
    Ok(more)
}

/// The trials of one range in the threaded cluster, one fresh cluster each.
fn cluster_range(
    count: usize,
    (min, max): (u64, u64),
    seed: u64,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<RangeTrials> {
    let mut trials = Vec::with_capacity(count);
    for t in 0..count {
        let trial = cluster_trial((min, max), seed.wrapping_add(t as u64), &mut |f| {
            progress((t as f64 + f.clamp(0.0, 1.0)) / count as f64)
        })?;
        trials.push(trial);
    }
    Ok(RangeTrials {
        min_ms: min,
        max_ms: max,
        heartbeat_ns: heartbeat_ns(min),
        cap_ns: cluster_cap_ns(max),
        trials,
    })
}

/// How long the threaded cluster waits for a new leader after the crash.
fn cluster_cap_ns(max_ms: u64) -> u64 {
    2 * max_ms * MS + CLUSTER_CAP_EXTRA_NS
}

/// Wall time of one threaded trial: a first leader (up to twice the maximum timeout), the
/// settling time and the phase, then the cap.
pub fn cluster_trial_ns((min, max): (u64, u64)) -> u64 {
    2 * max * MS + max * MS + heartbeat_ns(min) + cluster_cap_ns(max)
}

/// One trial in the threaded cluster: five pinned node threads and the crash load.
fn cluster_trial(
    (min, max): (u64, u64),
    seed: u64,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<Trial> {
    let heartbeat = heartbeat_ns(min);
    let cfg = ClusterConfig {
        nodes: ELECTION_NODES,
        duration_ns: cluster_trial_ns((min, max)),
        warmup_ns: 0,
        clients: 1,
        engine: Config {
            election_timeout_min_ns: min * MS,
            election_timeout_max_ns: max * MS,
            heartbeat_interval_ns: heartbeat,
            ..Config::default()
        },
        seed,
        ..ClusterConfig::default()
    };
    let load = CrashLoad::new(CLUSTER_POLL_NS, max * MS, heartbeat, true, seed);
    let run = cluster::run_hosted(&cfg, load, progress)?;
    anyhow::ensure!(run.died.is_empty(), "election trial {seed}: nodes {:?} died", run.died);
    let load = run.load;
    let crash = load.crashed;
    let elected = match (crash, load.new_leader_ns) {
        (Some((_, at)), Some(new)) if new - at <= cluster_cap_ns(max) => Some(ms(new - at)),
        _ => None,
    };
    Ok(Trial {
        seed,
        crashed_node: crash.map(|c| c.0),
        crash_at_ms: crash.map(|c| ms(c.1)),
        elected_ms: elected,
        stable_ms: None,
    })
}

/// Milliseconds of a nanosecond count, to the microsecond (the data file stays small).
fn ms(ns: u64) -> f64 {
    (ns / 1_000) as f64 / 1e3
}

impl RangeTrials {
    /// `150-155`.
    pub fn label(&self) -> String {
        format!("{}-{}", self.min_ms, self.max_ms)
    }

    /// Trials that crashed a leader.
    pub fn crashed(&self) -> usize {
        self.trials.iter().filter(|t| t.crashed_node.is_some()).count()
    }

    /// The measured times (ms) of the trials that crashed a leader and saw a new one,
    /// sorted; `measure` is `stable` or `elected`.
    pub fn times_ms(&self, measure: &str) -> Vec<f64> {
        let pick = |t: &Trial| if measure == "stable" { t.stable_ms } else { t.elected_ms };
        let mut v: Vec<f64> = self.trials.iter().filter_map(pick).collect();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// Statistics of one range: over the trials that crashed a leader, a trial without a new
/// leader within the cap counting as longer than every other.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Trials that crashed a leader.
    pub crashed: usize,
    /// Of those, trials with a new leader within the cap.
    pub recovered: usize,
    /// Quantiles and maximum; `None` when they fall among the censored trials.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest.
    pub max: Option<f64>,
    /// Mean; `None` when any trial was censored.
    pub mean: Option<f64>,
}

impl Stats {
    /// The statistics of sorted times out of `crashed` trials.
    pub fn of(sorted: &[f64], crashed: usize) -> Stats {
        let quantile = |q: f64| {
            let rank = ((q * crashed as f64).ceil() as usize).max(1);
            sorted.get(rank - 1).copied()
        };
        let all = sorted.len() == crashed && crashed > 0;
        Stats {
            crashed,
            recovered: sorted.len(),
            p50: quantile(0.5),
            p90: quantile(0.9),
            p99: quantile(0.99),
            max: if all { sorted.last().copied() } else { None },
            mean: all.then(|| sorted.iter().sum::<f64>() / sorted.len() as f64),
        }
    }

    /// A statistic by name (`p50`, `p90`, `p99`, `max`, `mean`).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "p50" => self.p50,
            "p90" => self.p90,
            "p99" => self.p99,
            "max" => self.max,
            "mean" => self.mean,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn censored_trials_rank_above_every_time() {
        let s = Stats::of(&[10.0, 20.0, 30.0], 4);
        assert_eq!((s.p50, s.p90, s.max, s.mean), (Some(20.0), None, None, None));
        let s = Stats::of(&[10.0, 20.0], 2);
        assert_eq!((s.p50, s.max, s.mean), (Some(10.0), Some(20.0), Some(15.0)));
        assert_eq!(Stats::of(&[], 0).p50, None);
    }

    #[test]
    fn a_simulated_trial_crashes_a_leader_and_times_the_next() {
        let setup = SimSetup {
            name: "test",
            delay_ns: (5 * MS, 10 * MS),
            trials: 1,
            trials_fixed: 1,
            cap_ns: 5_000 * MS,
        };
        let a = sim_trial(&setup, (150, 300), 3).unwrap();
        assert_eq!(a, sim_trial(&setup, (150, 300), 3).unwrap(), "deterministic");
        let (elected, stable) = (a.elected_ms.unwrap(), a.stable_ms.unwrap());
        assert!(a.crashed_node.is_some() && elected <= stable, "{a:?}");
        assert!(stable >= 75.0 - 1e-9, "at least min timeout - heartbeat: {stable}");
    }
}
