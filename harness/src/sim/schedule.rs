//! Runs one campaign case: steps a `Simulator` event by event and applies the case's fault
//! schedule at its times (a fault is applied right after the first event at or past its
//! time, so the same case always applies it at the same point), and the restarts that
//! crash-restart shapes call for (any still due when the fault phase ends happen then). It
//! also measures what each fault did while it lasted (a *window*: from the fault to the next
//! heal, to its node's restart or, for crashes and cuts never healed, to the quiet phase):
//! client operations committed, elections, leaders elected. That is how a partial
//! partition's effect on progress is reported.
//!
//! Node choices a shape leaves open come from the case's own RNG (`choice_seed`), never the
//! simulator's, so the simulated network draws the same numbers whatever the schedule
//! decides. It judges nothing: the report and the windows go back to `campaign`.

use super::fuzz::{Fault, FuzzCase, ScheduledFault, Shape, RESTART_DOWNTIME_TIMEOUTS_MAX};
use super::report::SimReport;
use super::simulator::{End, Simulator};
use super::trace::{format_time, Trace};
use super::EVENT_RETRY_NS;
use pinraft_engine::{NodeId, Role};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A shape that names the leader and finds none looks again after this long, until the
/// fault phase ends (then it is skipped, and says so in the report's events).
pub const LEADER_WAIT_NS: u64 = EVENT_RETRY_NS;

/// What the cluster did while one fault lasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The fault.
    pub shape: Shape,
    /// How long it lasted in virtual time.
    pub duration_ns: u64,
    /// Client operations committed meanwhile.
    pub ops_committed: u64,
    /// Elections started meanwhile (summed over nodes).
    pub elections: u64,
    /// Terms that elected a leader meanwhile.
    pub leaders_elected: u64,
    /// Another fault's window was open during part of this one, so what happened in it
    /// is not this shape's doing alone.
    pub overlapped: bool,
}

/// The outcome of one case.
#[derive(Clone, Debug)]
pub struct CaseRun {
    /// The simulator's report (of the run up to the panic, if one happened).
    pub report: SimReport,
    /// The message of a panic in the engine or the simulator (an assertion that fired):
    /// a failure as grave as a violation.
    pub panic: Option<String>,
    /// Every fault window, in the order they closed.
    pub windows: Vec<Window>,
    /// The shapes actually applied (a bit per position in [`Shape::ALL`]); a shape that
    /// waited for a leader until the fault phase ended is not in it.
    pub shapes_applied: u16,
}

/// Runs `case` from start to end, catching a panic. Errors are invalid configurations.
pub fn run_case(case: &FuzzCase) -> Result<CaseRun, String> {
    let mut sim = Simulator::new(&case.config)?;
    let mut driver = Driver::new(case, None);
    let panic = run_catching(&mut driver, &mut sim);
    let report = sim.report();
    Ok(CaseRun { report, panic, windows: driver.windows, shapes_applied: driver.applied })
}

/// Replays `case` and returns its trace from event `from_event` on (events are counted as
/// the report's `events_processed` counts them): only the tail is formatted, so a replay
/// of millions of events stays cheap. A panic ends the trace with its message.
pub fn replay_tail(case: &FuzzCase, from_event: u64) -> Result<Vec<String>, String> {
    let mut sim = Simulator::new(&case.config)?;
    let mut driver = Driver::new(case, Some(from_event));
    let panic = run_catching(&mut driver, &mut sim);
    let mut lines = sim.trace.lines().to_vec();
    if let Some(message) = panic {
        lines.push(format!("{} panic: {message}", format_time(sim.now_ns)));
    }
    Ok(lines)
}

/// Runs the driver to the end; a panic's message if one fired. The simulator is left as
/// the panic found it: its counters and trace are still worth reading.
fn run_catching(driver: &mut Driver, sim: &mut Simulator) -> Option<String> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| driver.run(sim)));
    let payload = run.err()?;
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    Some(message)
}

#[derive(Clone, Copy, Debug)]
struct Snapshot {
    at_ns: u64,
    ops_committed: u64,
    elections: u64,
    leaders_elected: u64,
}

impl Snapshot {
    fn of(sim: &Simulator) -> Snapshot {
        Snapshot {
            at_ns: sim.now_ns,
            ops_committed: sim.invariants.ops_committed(),
            elections: sim.elections(),
            leaders_elected: sim.invariants.leaders_elected(),
        }
    }
}

/// A fault window still open.
struct Open {
    shape: Shape,
    then: Snapshot,
    overlapped: bool,
    /// The node a crash-restart took down: its restart closes the window.
    node: Option<NodeId>,
}

struct Driver {
    /// Faults not yet applied, latest first (the next one is popped from the end).
    pending: Vec<ScheduledFault>,
    rng: ChaCha8Rng,
    /// Candidates still to crash (one per `crash-candidate` whose time has come).
    candidates_to_crash: u32,
    /// Nodes waiting for their fsync still to crash (one per `crash-mid-sync` due).
    syncing_to_crash: u32,
    /// Crashed nodes to restart, and when, latest first (the next one is popped from the end).
    restarts: Vec<(u64, NodeId)>,
    /// Open windows: the shape, the counters when it began, whether it overlapped, and for
    /// a crash-restart the node whose restart closes it.
    open: Vec<Open>,
    windows: Vec<Window>,
    applied: u16,
    /// Start keeping trace lines at this event.
    trace_from: Option<u64>,
}

impl Driver {
    fn new(case: &FuzzCase, trace_from: Option<u64>) -> Driver {
        let mut pending = case.schedule.clone();
        pending.reverse();
        Driver {
            pending,
            rng: ChaCha8Rng::seed_from_u64(case.choice_seed),
            candidates_to_crash: 0,
            syncing_to_crash: 0,
            restarts: Vec::new(),
            open: Vec::new(),
            windows: Vec::new(),
            applied: 0,
            trace_from,
        }
    }

    /// The fault phase event by event, then the quiet phase to the end.
    fn run(&mut self, sim: &mut Simulator) {
        while !sim.quiet && self.step(sim) {
            if sim.quiet {
                break;
            }
            if self.candidates_to_crash > 0 {
                self.crash_a_candidate(sim);
            }
            if self.syncing_to_crash > 0 {
                self.crash_a_syncing_node(sim);
            }
            while self.restarts.last().is_some_and(|&(at_ns, _)| at_ns <= sim.now_ns) {
                let (_, id) = self.restarts.pop().expect("checked");
                self.restart(sim, id);
            }
            while self.pending.last().is_some_and(|f| f.at_ns <= sim.now_ns) {
                let fault = self.pending.pop().expect("checked");
                self.apply(sim, fault);
            }
        }
        if sim.end == End::Running {
            for (_, id) in std::mem::take(&mut self.restarts).into_iter().rev() {
                self.restart(sim, id);
            }
        }
        self.close_all(sim, true);
        for (count, shape) in [
            (self.candidates_to_crash, "crash-candidate"),
            (self.syncing_to_crash, "crash-mid-sync"),
        ] {
            if sim.end == End::Running && count > 0 {
                sim.note_fault(shape, "skipped: no such node before the quiet phase");
            }
        }
        for fault in std::mem::take(&mut self.pending).into_iter().rev() {
            // Only leader waits re-queued past the fault phase can be left here.
            let name = fault.to_string();
            sim.note_fault(&name, "skipped: the fault phase ended");
        }
        while self.step(sim) {}
    }

    /// One simulator event, switching the trace on at `trace_from`.
    fn step(&mut self, sim: &mut Simulator) -> bool {
        if self.trace_from.is_some_and(|from| sim.events_processed >= from) {
            sim.trace = Trace::new(true);
            self.trace_from = None;
        }
        sim.step()
    }

    fn apply(&mut self, sim: &mut Simulator, fault: ScheduledFault) {
        let shape = match fault.fault {
            Fault::Heal => {
                sim.heal();
                sim.note_fault("heal", "healed every cut");
                self.close_all(sim, false);
                return;
            }
            Fault::Apply(shape) => shape,
        };
        let leader = sim.current_leader();
        let needs_leader = matches!(
            shape,
            Shape::IsolateLeader
                | Shape::MinorityWithLeader
                | Shape::MajorityWithLeader
                | Shape::OneWayLink
                | Shape::CrashLeader
        );
        if needs_leader && leader.is_none() {
            let at_ns = sim.now_ns + LEADER_WAIT_NS;
            if at_ns < sim.cfg.duration_ns {
                self.pending.push(ScheduledFault { at_ns, ..fault });
                self.pending.sort_by_key(|f| std::cmp::Reverse(f.at_ns));
            } else {
                sim.note_fault(shape.as_str(), "skipped: no leader before the fault phase ended");
            }
            return;
        }
        match shape {
            Shape::CrashCandidate => self.candidates_to_crash += 1,
            Shape::CrashMidSync => self.syncing_to_crash += 1,
            Shape::CrashRestart => {
                let live: Vec<NodeId> =
                    (1..=sim.cfg.nodes).filter(|&id| !sim.is_crashed(id)).collect();
                match live.choose(&mut self.rng) {
                    Some(&id) => self.crash_for_a_while(sim, shape, id, String::new()),
                    None => sim.note_fault(shape.as_str(), "skipped: every node is down"),
                }
            }
            _ => {
                let done = self.cut_or_crash(sim, shape, leader);
                sim.note_fault(shape.as_str(), &done);
                self.opened(sim, shape, None);
            }
        }
    }

    fn opened(&mut self, sim: &Simulator, shape: Shape, node: Option<NodeId>) {
        self.applied |= 1 << shape.index();
        let overlapped = !self.open.is_empty();
        self.open.iter_mut().for_each(|w| w.overlapped = true);
        self.open.push(Open { shape, then: Snapshot::of(sim), overlapped, node });
    }

    /// Crashes live node `id` and schedules its restart after a downtime drawn from zero to
    /// [`RESTART_DOWNTIME_TIMEOUTS_MAX`] maximal election timeouts.
    fn crash_for_a_while(&mut self, sim: &mut Simulator, shape: Shape, id: NodeId, why: String) {
        let downtime_max = RESTART_DOWNTIME_TIMEOUTS_MAX * sim.cfg.engine.election_timeout_max_ns;
        let at_ns = sim.now_ns + self.rng.gen_range(0..=downtime_max);
        let done = format!("{}{why}, to restart at {}", crash(sim, id), format_time(at_ns));
        sim.note_fault(shape.as_str(), &done);
        self.opened(sim, shape, Some(id));
        self.restarts.push((at_ns, id));
        self.restarts.sort_by_key(|&(at_ns, id)| std::cmp::Reverse((at_ns, id)));
    }

    /// Restarts node `id` from its disk, closing the window of the crash that took it down.
    fn restart(&mut self, sim: &mut Simulator, id: NodeId) {
        let done = sim.restart(id).unwrap_or_else(|why| why);
        sim.note_fault("restart", &done);
        let now = Snapshot::of(sim);
        if let Some(at) = self.open.iter().position(|w| w.node == Some(id)) {
            let window = self.open.remove(at);
            self.windows.push(window.close(now));
        }
    }

    /// Applies `shape` (any but `crash-candidate`) and says what it did.
    fn cut_or_crash(
        &mut self,
        sim: &mut Simulator,
        shape: Shape,
        leader: Option<NodeId>,
    ) -> String {
        let n = sim.cfg.nodes;
        let leader_or_any = leader.unwrap_or(1);
        let others: Vec<NodeId> = (1..=n).filter(|&id| Some(id) != leader).collect();
        match shape {
            Shape::IsolateLeader => isolate(sim, leader_or_any),
            Shape::IsolateNode => isolate(sim, self.rng.gen_range(1..=n)),
            Shape::MinorityWithLeader | Shape::MajorityWithLeader => {
                let size = self.rng.gen_range(1..=(n as usize - 1) / 2);
                let mut group: Vec<NodeId> =
                    others.choose_multiple(&mut self.rng, size).copied().collect();
                if shape == Shape::MinorityWithLeader {
                    group[0] = leader_or_any;
                }
                group.sort_unstable();
                sim.partition(&group);
                format!("cut the minority {} from the majority", set(&group))
            }
            Shape::OneWayLink => {
                let peer = *others.choose(&mut self.rng).expect("3 nodes or more");
                let (from, to) = if self.rng.gen_bool(0.5) {
                    (leader_or_any, peer)
                } else {
                    (peer, leader_or_any)
                };
                sim.cut_link(from, to);
                format!("cut the link {from}->{to} one way")
            }
            Shape::DeafNode => {
                let deaf = self.rng.gen_range(1..=n);
                for from in (1..=n).filter(|&id| id != deaf) {
                    sim.cut_link(from, deaf);
                }
                format!("cut every link into node {deaf}")
            }
            Shape::Partial => {
                let a = match leader {
                    Some(leader) if self.rng.gen_bool(0.5) => leader,
                    _ => self.rng.gen_range(1..=n),
                };
                let b = *(1..=n)
                    .filter(|&id| id != a)
                    .collect::<Vec<_>>()
                    .choose(&mut self.rng)
                    .expect("3 nodes or more");
                sim.cut_link(a, b);
                sim.cut_link(b, a);
                format!("cut {a} and {b} from each other; both still see the others")
            }
            Shape::CrashLeader => crash(sim, leader_or_any),
            Shape::CrashFollower => match others
                .iter()
                .copied()
                .filter(|&id| !sim.is_crashed(id))
                .collect::<Vec<_>>()
                .choose(&mut self.rng)
            {
                Some(&id) => crash(sim, id),
                None => "skipped: no live follower".to_string(),
            },
            Shape::CrashCandidate | Shape::CrashRestart | Shape::CrashMidSync => {
                unreachable!("armed or applied by `apply`")
            }
        }
    }

    /// Crashes the first live candidate, if there is one now.
    fn crash_a_candidate(&mut self, sim: &mut Simulator) {
        let n = sim.cfg.nodes;
        let candidate =
            (1..=n).find(|&id| !sim.is_crashed(id) && sim.node(id).role() == Role::Candidate);
        if let Some(id) = candidate {
            self.candidates_to_crash -= 1;
            let term = sim.node(id).term();
            let done = format!("{} (a candidate in term {term})", crash(sim, id));
            sim.note_fault("crash-candidate", &done);
            self.opened(sim, Shape::CrashCandidate, None);
        }
    }

    /// Crashes the first node waiting for its fsync, if there is one now: its write is lost.
    fn crash_a_syncing_node(&mut self, sim: &mut Simulator) {
        let n = sim.cfg.nodes;
        if let Some(id) = (1..=n).find(|&id| sim.is_syncing(id)) {
            self.syncing_to_crash -= 1;
            let why = " (between a write and its fsync)".to_string();
            self.crash_for_a_while(sim, Shape::CrashMidSync, id, why);
        }
    }

    /// Closes the open windows: every one at the quiet phase, only cuts at a heal.
    fn close_all(&mut self, sim: &Simulator, quiet: bool) {
        let now = Snapshot::of(sim);
        let (closing, open): (Vec<_>, Vec<_>) = self
            .open
            .drain(..)
            .partition(|w| quiet || !(w.shape.is_crash() || w.shape.is_restart()));
        self.open = open;
        self.windows.extend(closing.into_iter().map(|w| w.close(now)));
    }
}

impl Open {
    fn close(self, now: Snapshot) -> Window {
        Window {
            shape: self.shape,
            duration_ns: now.at_ns - self.then.at_ns,
            ops_committed: now.ops_committed - self.then.ops_committed,
            elections: now.elections - self.then.elections,
            leaders_elected: now.leaders_elected - self.then.leaders_elected,
            overlapped: self.overlapped,
        }
    }
}

fn isolate(sim: &mut Simulator, id: NodeId) -> String {
    sim.isolate(id);
    format!("isolated node {id}")
}

fn crash(sim: &mut Simulator, id: NodeId) -> String {
    if sim.is_crashed(id) {
        return format!("node {id} was down already");
    }
    sim.crash(id);
    format!("crashed node {id}")
}

fn set(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    format!("{{{}}}", names.join(","))
}

impl Simulator {
    /// Records what a campaign fault did, in the trace and the report's events.
    fn note_fault(&mut self, name: &str, done: &str) {
        let line = format!("{name}: {done} at {}", format_time(self.now_ns));
        self.trace.note(self.now_ns, || line.clone());
        self.events_applied.push(line);
    }
}
