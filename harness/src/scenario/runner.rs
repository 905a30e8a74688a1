//! One scenario, run on the simulator (virtual time, deterministic) or on the threaded
//! cluster (real time), with its [`Driver`] hosted in place of the runtime's own clients,
//! then scored.

use super::driver::Driver;
use super::score::{RunContext, RunFigures, Score};
use super::{Scenario, ScriptAction, SIM_DELAY_DEFAULT_NS};
use crate::args::Action;
use crate::cluster::{self, ClusterConfig, NetFaults};
use crate::replica::EngineKind;
use crate::sim::{SimConfig, Simulator};
use crate::workload::WorkloadSpec;
use serde::Serialize;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Where a scenario runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The deterministic simulator, in virtual time.
    Sim,
    /// The threaded cluster, in real time.
    Cluster,
}

impl Mode {
    /// The name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sim => "sim",
            Mode::Cluster => "cluster",
        }
    }
}

/// Whether `scenario`'s engine can run in `mode` with its events: the simulator runs
/// pinraft's engine only (it checks invariants on the engine's own log), and the raft-rs
/// adapter cannot restart a node (its log lives in memory only) or snapshot.
pub fn check_engine(scenario: &Scenario, mode: Mode) -> Result<(), String> {
    let engine = scenario.engine_kind;
    if engine == EngineKind::Raft {
        return Ok(());
    }
    let name = engine.name();
    if mode == Mode::Sim {
        return Err(format!("engine {name}: the simulator runs the raft engine only (drop --sim)"));
    }
    if engine == EngineKind::RaftRs {
        let restarts = scenario
            .events
            .iter()
            .any(|e| matches!(e.action, ScriptAction::Design(Action::Restart(_))));
        if restarts {
            return Err(format!("engine {name}: restart:N is not supported (no durable log)"));
        }
        if scenario.engine.snapshot_entries_threshold > 0 {
            return Err(format!(
                "engine {name}: snapshots are not supported (snapshot_entries_threshold must be 0)"
            ));
        }
    }
    Ok(())
}

/// Runs `scenario` (read from `file`) with `seed` and scores it. Errors are invalid
/// configurations the runtime rejected, one line each.
pub fn run(scenario: &Scenario, file: &str, mode: Mode, seed: u64) -> Result<Score, String> {
    let (run, mut driver) = match mode {
        Mode::Sim => run_sim(scenario, seed)?,
        Mode::Cluster => run_cluster(scenario, seed)?,
    };
    let ctx = RunContext { scenario, file: file.to_string(), mode, seed };
    Ok(Score::new(&ctx, driver.finish(), &run))
}

fn sim_config(scenario: &Scenario, seed: u64) -> SimConfig {
    let (delay_min_ns, delay_max_ns) = scenario.faults.delay_ns.unwrap_or(SIM_DELAY_DEFAULT_NS);
    SimConfig {
        seed,
        nodes: scenario.nodes,
        loss_ppm: scenario.faults.loss_ppm,
        dup_ppm: scenario.faults.dup_ppm,
        reorder_ppm: scenario.faults.reorder_ppm,
        delay_min_ns,
        delay_max_ns,
        // The fault phase outlasts the run: faults hold to the end, as in the classic
        // simulator, and the simulator's quiet phase never starts.
        duration_ns: scenario.end_ns() + 1,
        quiet_ns: 0,
        // The hosted driver replaces the simulator's clients; one is the minimum it builds.
        clients: 1,
        workload: WorkloadSpec::default(),
        client_timeout_ns: 1,
        events: Vec::new(),
        engine: scenario.engine.clone(),
        record_history: false,
        record_trace: false,
        ..SimConfig::default()
    }
}

/// The simulator, stepped until the end of the run or `max_packets`. A panic anywhere in
/// it (an engine assertion) is a replica dying on its own.
fn run_sim(scenario: &Scenario, seed: u64) -> Result<(RunFigures, Driver), String> {
    let cfg = sim_config(scenario, seed);
    let end_ns = scenario.end_ns();
    let hosted = Driver::new(scenario, seed);
    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<_, String> {
        let mut sim = Simulator::new_hosted(&cfg, Box::new(hosted))?;
        let mut stopped_early = false;
        while sim.now_ns() < end_ns && sim.step() {
            if sim.packets_routed() >= scenario.max_packets {
                stopped_early = true;
                break;
            }
        }
        let report = sim.report();
        let run = RunFigures {
            node_packets: report.batches.sent,
            client_packets: sim.client_packets(),
            kinds: Some(sim.packet_kinds()),
            elections: report.elections,
            violations: report.violations,
            died: Vec::new(),
            stopped_early,
            end_ns: sim.now_ns().min(end_ns),
            notes: Vec::new(),
        };
        let load = sim.take_hosted().expect("hosted").into_any();
        Ok((run, load.downcast::<Driver>().expect("the driver given")))
    }));
    match outcome {
        Ok(Ok((run, hosted))) => Ok((run, *hosted)),
        Ok(Err(e)) => Err(e),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".to_string());
            let run = RunFigures {
                died: vec![format!("a replica died on its own: {message}")],
                end_ns,
                ..RunFigures::default()
            };
            Ok((run, Driver::new(scenario, seed)))
        }
    }
}

/// The threaded cluster, until the end of the run or `max_packets`. A node thread that
/// panicked is a replica dying on its own.
fn run_cluster(scenario: &Scenario, seed: u64) -> Result<(RunFigures, Driver), String> {
    let f = &scenario.faults;
    let (delay_min_ns, delay_max_ns) = f.delay_ns.unwrap_or((0, 0));
    let cfg = ClusterConfig {
        nodes: scenario.nodes,
        duration_ns: scenario.end_ns(),
        warmup_ns: 0,
        engine: scenario.engine_config(seed),
        engine_kind: scenario.engine_kind,
        faults: NetFaults { loss_ppm: f.loss_ppm, dup_ppm: f.dup_ppm, delay_min_ns, delay_max_ns },
        seed,
        max_packets: Some(scenario.max_packets),
        ..ClusterConfig::default()
    };
    let mut notes = Vec::new();
    if f.reorder_ppm > 0 {
        notes.push("faults.reorder applies to the simulator only".to_string());
    }
    let hosted = Driver::new(scenario, seed);
    let run = cluster::run_hosted(&cfg, hosted, &mut |_| {}).map_err(|e| format!("{e:#}"))?;
    let figures = RunFigures {
        node_packets: run.report.batches.sent,
        client_packets: run.client_packets,
        kinds: Some(run.report.batches.kinds),
        elections: run.report.elections,
        violations: Vec::new(),
        died: run.died.iter().map(|n| format!("replica {n} died on its own")).collect(),
        stopped_early: run.stopped_at_ns.is_some(),
        end_ns: run.stopped_at_ns.unwrap_or(scenario.end_ns()),
        notes,
    };
    Ok((figures, run.load))
}
