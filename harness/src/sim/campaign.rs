//! A fuzz campaign's verdicts (issue 7): one seed's case run and judged ([`run_seed`]), and
//! the campaign's totals and per-shape liveness figures ([`Summary`]), folded in seed order
//! so the same seeds always give the same summary, however many threads ran them.
//!
//! A seed fails on a *violation* (an invariant broke during the run, the engine panicked,
//! or the client history is not linearizable: `SimReport::linearizable`, checked within
//! `report::CHECK_STATES_MAX` explored states) or a *liveness failure* (the quiet phase of
//! `--quiet-timeouts` maximal election timeouts ended without a leader followed by a
//! majority and every request answered). A linearizability check that runs out of its
//! budget is *unknown*: counted apart, never a pass.
//!
//! It owns no thread and reads no clock: `cli::fuzz` runs the seeds and times them.

use super::fuzz::{FaultSet, FuzzCase, Shape, FUZZ_QUIET_ELECTION_TIMEOUTS};
use super::report::CHECK_STATES_MAX;
use super::schedule::{replay_tail, run_case, Window};
use super::simulator::End;
use serde::Serialize;

/// The version of the campaign JSON; bumped when a key changes meaning or disappears.
pub const CAMPAIGN_SCHEMA_VERSION: u32 = 1;

/// Events of the trace a failure shows (the last ones before the run ended).
pub const TRACE_TAIL_EVENTS: u64 = 20;

/// A fault window at least this many maximal election timeouts long is *long*: long enough
/// that a cluster which can make progress commits something in it (clients time out after
/// at most two), so a long window with nothing committed is a stall. Only long windows no
/// other fault overlapped (*solo*) count towards a shape's progress figures; loss still
/// acts in them.
pub const LONG_WINDOW_TIMEOUTS: u64 = 5;

/// What a campaign runs: the seeds, the fault set and the bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignSpec {
    /// First seed.
    pub from: u64,
    /// How many seeds, from `from` on.
    pub seeds: u64,
    /// Network faults only, or crashes too.
    pub faults: FaultSet,
    /// Length of the quiet phase in maximal election timeouts.
    pub quiet_timeouts: u64,
    /// Every case's `snapshot_entries_threshold` (0: no snapshots); `None`: as each seed
    /// draws it.
    pub snapshot_every: Option<u64>,
}

impl CampaignSpec {
    /// `seeds` seeds from `from` with the default bounds.
    pub fn new(from: u64, seeds: u64, faults: FaultSet) -> CampaignSpec {
        CampaignSpec {
            from,
            seeds,
            faults,
            quiet_timeouts: FUZZ_QUIET_ELECTION_TIMEOUTS,
            snapshot_every: None,
        }
    }

    /// The `pinraft fuzz` command that runs this campaign (`--jobs` changes nothing but
    /// the wall time, so it is left out).
    pub fn command_line(&self) -> String {
        format!("pinraft fuzz --seeds {} --from {}{}", self.seeds, self.from, self.flags())
    }

    /// The command that replays seed `seed` alone.
    pub fn seed_command_line(&self, seed: u64) -> String {
        format!("pinraft fuzz --seeds 1 --from {seed}{}", self.flags())
    }

    fn flags(&self) -> String {
        let mut flags = format!(" --faults {}", self.faults.as_str());
        if self.quiet_timeouts != FUZZ_QUIET_ELECTION_TIMEOUTS {
            flags.push_str(&format!(" --quiet-timeouts {}", self.quiet_timeouts));
        }
        if let Some(every) = self.snapshot_every {
            flags.push_str(&format!(" --snapshot-every {every}"));
        }
        flags
    }

    /// The budget of each seed's linearizability check, in explored states (the
    /// simulator's own, `report::CHECK_STATES_MAX`).
    pub fn check_states_max(&self) -> u64 {
        CHECK_STATES_MAX
    }

    /// The seeds, in order.
    pub fn range(&self) -> std::ops::Range<u64> {
        self.from..self.from + self.seeds
    }
}

/// The linearizability verdict of one seed's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// Linearizable.
    Linearizable,
    /// Not linearizable: a violation.
    NotLinearizable,
    /// The budget ran out.
    Unknown,
    /// Not checked: the engine panicked.
    NotChecked,
}

/// One seed's outcome, compact: a campaign keeps only what the summary needs, plus the
/// details of a failure.
#[derive(Clone, Debug)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// The shapes applied (a bit per position in [`Shape::ALL`]).
    pub shapes: u16,
    /// Events processed.
    pub events: u64,
    /// Virtual time at the end.
    pub end_ns: u64,
    /// Restarts of crashed nodes from their disks.
    pub restarts: u64,
    /// Written entries crashes took before they were synced.
    pub entries_lost: u64,
    /// Torn or corrupt last records cut at recovery.
    pub tail_cuts: u64,
    /// Invariant violations found, a panic counting as one (not the linearizability
    /// check's verdict: that is `check`).
    pub violations: usize,
    /// The history's verdict.
    pub check: Check,
    /// No leader or something unanswered at the end of the quiet phase.
    pub liveness_failure: bool,
    /// For a converged run: how long the quiet phase took.
    pub quiet_used_ns: Option<u64>,
    /// The case's maximal election timeout, the unit of the liveness figures.
    pub election_timeout_max_ns: u64,
    /// What each fault did while it lasted.
    pub windows: Vec<Window>,
    /// The simulator's trace hash (same seed, same hash).
    pub trace_hash: String,
    /// Everything needed to understand and replay a failure.
    pub failure: Option<Box<Failure>>,
}

impl SeedResult {
    /// An invariant broke or the history is not linearizable.
    pub fn violation(&self) -> bool {
        self.violations > 0 || self.check == Check::NotLinearizable
    }

    /// No violation and no liveness failure (an unknown check still passes).
    pub fn passed(&self) -> bool {
        !self.violation() && !self.liveness_failure
    }
}

/// A failing seed, as printed and as JSON.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// What failed: `panic`, `violation`, `not-linearizable`, `liveness`.
    pub kinds: Vec<&'static str>,
    /// `seed=` and every parameter, then the fault schedule.
    pub parameters: String,
    /// The command that replays this seed alone.
    pub reproduce: String,
    /// Every violation and liveness problem, one line each.
    pub problems: Vec<String>,
    /// What each fault did.
    pub events_applied: Vec<String>,
    /// The last events before the run ended.
    pub trace_tail: Vec<String>,
}

/// Runs and judges one seed. A failure is replayed once more to format its trace tail.
pub fn run_seed(spec: &CampaignSpec, seed: u64) -> SeedResult {
    let mut case = FuzzCase::new(seed, spec.faults, spec.quiet_timeouts);
    if let Some(every) = spec.snapshot_every {
        case.config.engine.snapshot_entries_threshold = every;
    }
    let run = run_case(&case).expect("fuzz cases are valid by construction");
    let report = &run.report;
    let check = match (&run.panic, report.linearizable) {
        (Some(_), _) => Check::NotChecked,
        (None, Some(true)) => Check::Linearizable,
        (None, Some(false)) => Check::NotLinearizable,
        (None, None) => Check::Unknown,
    };
    // The report counts a history that is not linearizable among its violations.
    let invariant_violations =
        report.violations.len() - usize::from(check == Check::NotLinearizable);
    let converged = report.end == End::Converged;
    let mut result = SeedResult {
        seed,
        shapes: run.shapes_applied,
        events: report.events_processed,
        end_ns: report.end_ns,
        restarts: report.restarts,
        entries_lost: report.storage.entries_lost,
        tail_cuts: report.storage.tail_cuts,
        violations: invariant_violations + usize::from(run.panic.is_some()),
        check,
        liveness_failure: report.liveness_failure && run.panic.is_none(),
        quiet_used_ns: converged.then(|| report.end_ns.saturating_sub(case.config.duration_ns)),
        election_timeout_max_ns: case.config.engine.election_timeout_max_ns,
        windows: run.windows.clone(),
        trace_hash: report.trace_hash.clone(),
        failure: None,
    };
    if !result.passed() {
        let mut problems = report.violations.clone();
        problems.extend(run.panic.iter().map(|p| format!("panic: {p}")));
        if result.liveness_failure {
            problems.extend(report.liveness_problems.iter().map(|p| format!("liveness: {p}")));
        }
        let from_event = report.events_processed.saturating_sub(TRACE_TAIL_EVENTS);
        let trace_tail = replay_tail(&case, from_event).expect("valid");
        let kinds = [
            (run.panic.is_some(), "panic"),
            (invariant_violations > 0, "violation"),
            (check == Check::NotLinearizable, "not-linearizable"),
            (result.liveness_failure, "liveness"),
        ];
        result.failure = Some(Box::new(Failure {
            seed,
            kinds: kinds.iter().filter(|k| k.0).map(|k| k.1).collect(),
            parameters: case.describe(),
            reproduce: spec.seed_command_line(seed),
            problems,
            events_applied: report.events_applied.clone(),
            trace_tail,
        }));
    }
    result
}

/// Liveness and progress figures of the seeds in which one shape was applied.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ShapeStats {
    /// The shape's name (`none`: seeds in which no shape was applied).
    pub shape: &'static str,
    /// Seeds that applied it.
    pub seeds: u64,
    /// Of those, seeds with a violation.
    pub violations: u64,
    /// Of those, seeds that failed to converge in the quiet phase.
    pub liveness_failures: u64,
    /// Of those, seeds whose linearizability check ran out of budget.
    pub unknown: u64,
    /// The longest quiet phase a converged seed needed, in maximal election timeouts.
    pub quiet_timeouts_max: f64,
    /// Windows of this shape (one per application).
    pub windows: u64,
    /// Solo windows of at least [`LONG_WINDOW_TIMEOUTS`] maximal election timeouts.
    pub windows_long: u64,
    /// Of those, windows in which no client operation committed.
    pub windows_long_stalled: u64,
    /// Total length of those windows, in maximal election timeouts.
    pub long_window_timeouts: f64,
    /// Client operations committed in those windows.
    pub long_window_ops: u64,
    /// Leaders elected in those windows.
    pub long_window_leaders: u64,
}

impl ShapeStats {
    fn add_seed(&mut self, r: &SeedResult) {
        self.seeds += 1;
        self.violations += u64::from(r.violation());
        self.liveness_failures += u64::from(r.liveness_failure);
        self.unknown += u64::from(r.check == Check::Unknown);
        if let Some(used) = r.quiet_used_ns {
            let timeouts = used as f64 / r.election_timeout_max_ns as f64;
            self.quiet_timeouts_max = self.quiet_timeouts_max.max(timeouts);
        }
    }

    fn add_window(&mut self, w: &Window, election_timeout_max_ns: u64) {
        self.windows += 1;
        if w.overlapped || w.duration_ns < LONG_WINDOW_TIMEOUTS * election_timeout_max_ns {
            return;
        }
        self.windows_long += 1;
        self.windows_long_stalled += u64::from(w.ops_committed == 0);
        self.long_window_timeouts += w.duration_ns as f64 / election_timeout_max_ns as f64;
        self.long_window_ops += w.ops_committed;
        self.long_window_leaders += w.leaders_elected;
    }
}

/// A campaign's totals, fed one seed at a time in seed order.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// [`CAMPAIGN_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that runs the campaign again.
    pub reproduce: String,
    /// First seed.
    pub from: u64,
    /// Seeds run.
    pub seeds: u64,
    /// `net` or `all`.
    pub faults: &'static str,
    /// The quiet phase's length in maximal election timeouts: the liveness bound.
    pub quiet_election_timeouts: u64,
    /// The linearizability budget per seed, in explored states.
    pub check_states_max: u64,
    /// Events simulated, summed over seeds.
    pub events: u64,
    /// Virtual time simulated, summed over seeds.
    pub simulated_ns: u64,
    /// Restarts of crashed nodes from their disks, summed over seeds.
    pub restarts: u64,
    /// Written entries crashes took before they were synced, summed over seeds.
    pub entries_lost: u64,
    /// Torn or corrupt last records cut at recovery, summed over seeds.
    pub tail_cuts: u64,
    /// Seeds with a violation (invariants or linearizability).
    pub violations: u64,
    /// Of those, seeds whose history is not linearizable.
    pub not_linearizable: u64,
    /// Seeds that failed to converge in the quiet phase.
    pub liveness_failures: u64,
    /// Seeds whose linearizability check ran out of budget.
    pub unknown: u64,
    /// Every seed with a violation or a liveness failure, ascending.
    pub failing_seeds: Vec<u64>,
    /// Every seed whose linearizability check ran out of budget, ascending.
    pub unknown_seeds: Vec<u64>,
    /// The longest quiet phase a converged seed needed, in maximal election timeouts.
    pub quiet_timeouts_max: f64,
    /// Per shape (then `none`): seeds, failures and progress while the fault lasted.
    pub shapes: Vec<ShapeStats>,
    /// The failing seeds in full.
    pub failures: Vec<Failure>,
}

impl Summary {
    /// Nothing run yet.
    pub fn new(spec: &CampaignSpec) -> Summary {
        let mut shapes: Vec<ShapeStats> = Shape::ALL
            .iter()
            .map(|s| ShapeStats { shape: s.as_str(), ..ShapeStats::default() })
            .collect();
        shapes.push(ShapeStats { shape: "none", ..ShapeStats::default() });
        Summary {
            schema_version: CAMPAIGN_SCHEMA_VERSION,
            reproduce: spec.command_line(),
            from: spec.from,
            seeds: 0,
            faults: spec.faults.as_str(),
            quiet_election_timeouts: spec.quiet_timeouts,
            check_states_max: spec.check_states_max(),
            events: 0,
            simulated_ns: 0,
            restarts: 0,
            entries_lost: 0,
            tail_cuts: 0,
            violations: 0,
            not_linearizable: 0,
            liveness_failures: 0,
            unknown: 0,
            failing_seeds: Vec::new(),
            unknown_seeds: Vec::new(),
            quiet_timeouts_max: 0.0,
            shapes,
            failures: Vec::new(),
        }
    }

    /// Adds one seed's result; seeds must come in order for the sums to be reproducible.
    pub fn add(&mut self, r: SeedResult) {
        self.seeds += 1;
        self.events += r.events;
        self.simulated_ns += r.end_ns;
        self.restarts += r.restarts;
        self.entries_lost += r.entries_lost;
        self.tail_cuts += r.tail_cuts;
        self.violations += u64::from(r.violation());
        self.not_linearizable += u64::from(r.check == Check::NotLinearizable);
        self.liveness_failures += u64::from(r.liveness_failure);
        self.unknown += u64::from(r.check == Check::Unknown);
        if let Some(used) = r.quiet_used_ns {
            let timeouts = used as f64 / r.election_timeout_max_ns as f64;
            self.quiet_timeouts_max = self.quiet_timeouts_max.max(timeouts);
        }
        let none = Shape::ALL.len();
        for (i, stats) in self.shapes.iter_mut().enumerate() {
            let applied = if i == none { r.shapes == 0 } else { r.shapes & 1 << i != 0 };
            if applied {
                stats.add_seed(&r);
            }
        }
        for w in &r.windows {
            self.shapes[w.shape.index()].add_window(w, r.election_timeout_max_ns);
        }
        if !r.passed() {
            self.failing_seeds.push(r.seed);
        }
        if r.check == Check::Unknown {
            self.unknown_seeds.push(r.seed);
        }
        if let Some(failure) = r.failure {
            self.failures.push(*failure);
        }
    }

    /// No violation and no liveness failure.
    pub fn passed(&self) -> bool {
        self.violations == 0 && self.liveness_failures == 0
    }
}
