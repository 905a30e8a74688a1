//! The standard set of experiments behind REPORT.md, in its full and its quick form: the
//! default run, the clients sweep, the batch x loss sweep, the resend policy x threshold x
//! loss sweep, the engines side by side, and the election experiment. The quick form has the same shape with short runs and few trials (tests, CI);
//! its numbers say nothing.

use crate::cli::run::RunArgs;
use crate::sweep::plots::Figure;

/// Nodes in the election experiment, as in the Raft paper's Figure 16.
pub const ELECTION_NODES: u64 = 5;

/// The election timeout ranges of Figure 16 (ms): the top graph's six, then 12-24.
pub const FIGURE16_RANGES_MS: [(u64, u64); 7] =
    [(150, 150), (150, 151), (150, 155), (150, 175), (150, 200), (150, 300), (12, 24)];

/// A sweep: `pinraft sweep` lists by flag name, repeated `repeat` times.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// Directory under report/ and the name the report uses.
    pub name: &'static str,
    /// `(flag, comma list)`; flags not given keep `pinraft run`'s defaults.
    pub lists: Vec<(&'static str, String)>,
    /// Runs per point.
    pub repeat: u64,
    /// The plots against each swept numeric parameter (`pinraft compare`'s are its own).
    pub figures: &'static [Figure],
}

/// The plots of `pinraft sweep`.
const SWEEP_FIGURES: &[Figure] = &[Figure::Throughput, Figure::Latency];

impl SweepSpec {
    /// The list given for `flag`.
    pub fn list(&self, flag: &str) -> Option<String> {
        self.lists.iter().find(|(f, _)| *f == flag).map(|(_, v)| v.clone())
    }
}

/// One simulated network for the election experiment.
#[derive(Clone, Debug)]
pub struct SimSetup {
    /// A short name (`paper-delays`), used in file names and tables.
    pub name: &'static str,
    /// One-way delay of every packet, uniform in this range (ns).
    pub delay_ns: (u64, u64),
    /// Trials per range with a randomised timeout.
    pub trials: usize,
    /// Trials for a zero-width range (the paper ran 100 there).
    pub trials_fixed: usize,
    /// Longest virtual wait for a first leader, and for a new one after the crash (ns).
    pub cap_ns: u64,
}

/// The election experiment.
#[derive(Clone, Debug)]
pub struct ElectionPlan {
    /// Timeout ranges (ms) for the simulator.
    pub sim_ranges_ms: Vec<(u64, u64)>,
    /// Simulated networks.
    pub sim: Vec<SimSetup>,
    /// Timeout ranges (ms) for the threaded cluster.
    pub cluster_ranges_ms: Vec<(u64, u64)>,
    /// Trials (fresh clusters) per range in the threaded cluster.
    pub cluster_trials: usize,
}

/// Everything `pinraft report` runs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The quick form.
    pub quick: bool,
    /// Base seed of every run.
    pub seed: u64,
    /// The default benchmark (`pinraft run` with its defaults; shorter when quick).
    pub default_run: RunArgs,
    /// Latency and throughput against client count, raft and null engines.
    pub clients: SweepSpec,
    /// Batch x loss, under the default resend policy.
    pub batching: SweepSpec,
    /// Resend policy x threshold x loss, at batch 64.
    pub resend: SweepSpec,
    /// Every engine side by side (`pinraft compare`'s grid).
    pub compare: SweepSpec,
    /// Figure 16.
    pub election: ElectionPlan,
}

/// `(min, max)` ms pairs as owned ranges.
fn ranges(list: &[(u64, u64)]) -> Vec<(u64, u64)> {
    list.to_vec()
}

impl Plan {
    /// The standard set; `quick` shrinks every duration and trial count.
    pub fn standard(quick: bool) -> Plan {
        let (duration, warmup) = if quick { ("150ms", "350ms") } else { ("2s", "500ms") };
        let timing = |lists: &mut Vec<(&'static str, String)>| {
            lists.push(("duration", duration.to_string()));
            lists.push(("warmup", warmup.to_string()));
        };
        let mut clients = vec![
            ("clients", if quick { "1,64,1024" } else { "1,4,16,64,256,1024" }.to_string()),
            ("engine", "raft,null".to_string()),
        ];
        timing(&mut clients);
        let mut batching = vec![
            ("batch", if quick { "1,64" } else { "1,8,64,256" }.to_string()),
            ("resend-policy", "adaptive".to_string()),
        ];
        if !quick {
            batching.push(("loss", "0,1%,10%".to_string()));
        }
        timing(&mut batching);
        let mut resend = vec![
            ("batch", "64".to_string()),
            ("resend-policy", "fixed,adaptive".to_string()),
            ("resend", if quick { "20ms" } else { "5ms,20ms" }.to_string()),
            ("loss", if quick { "0,10%" } else { "0,1%,10%,40%" }.to_string()),
        ];
        timing(&mut resend);
        let mut compare = vec![
            ("clients", if quick { "1,64" } else { "1,64,256,1024" }.to_string()),
            ("loss", if quick { "0" } else { "0,10%" }.to_string()),
            ("engine", "raft,raft-rs".to_string()),
        ];
        timing(&mut compare);
        let mut default_run = RunArgs::default();
        if quick {
            (default_run.duration, default_run.warmup) = (150_000_000, 350_000_000);
        }
        Plan {
            quick,
            seed: 1,
            default_run,
            clients: SweepSpec {
                name: "clients",
                lists: clients,
                repeat: if quick { 1 } else { 3 },
                figures: SWEEP_FIGURES,
            },
            batching: SweepSpec {
                name: "batching",
                lists: batching,
                repeat: 1,
                figures: SWEEP_FIGURES,
            },
            resend: SweepSpec {
                name: "resend",
                lists: resend,
                repeat: if quick { 1 } else { 3 },
                figures: &[Figure::Throughput, Figure::P99, Figure::Packets],
            },
            compare: SweepSpec {
                name: "compare",
                lists: compare,
                repeat: if quick { 1 } else { 3 },
                figures: &[],
            },
            election: ElectionPlan::standard(quick),
        }
    }

    /// The `pinraft report` command that runs this plan.
    pub fn command(&self, out: &std::path::Path) -> String {
        let quick = if self.quick { " --quick" } else { "" };
        format!("pinraft report{quick} --out {}", out.display())
    }
}

impl ElectionPlan {
    fn standard(quick: bool) -> ElectionPlan {
        const MS: u64 = 1_000_000;
        let (trials, trials_fixed, cap_ns) =
            if quick { (20, 2, 3_000 * MS) } else { (1_000, 100, 30_000 * MS) };
        let setup = |name, delay_ns| SimSetup { name, delay_ns, trials, trials_fixed, cap_ns };
        // The paper's broadcast time (about 15 ms) on every packet, and a LAN's.
        let sim = vec![
            setup("paper-delays", (5 * MS, 10 * MS)),
            setup("lan-delays", (MS / 20, MS * 3 / 20)),
        ];
        ElectionPlan {
            sim_ranges_ms: ranges(&FIGURE16_RANGES_MS),
            sim,
            cluster_ranges_ms: if quick { vec![(12, 24)] } else { ranges(&FIGURE16_RANGES_MS) },
            cluster_trials: if quick { 2 } else { 40 },
        }
    }
}
