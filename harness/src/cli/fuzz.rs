//! `pinraft fuzz --seeds N [--from S] [--jobs J] [--faults net|all] [--json]`: N seeded
//! simulations (issue 7). Each seed derives every parameter of its run (`sim::FuzzCase`):
//! 3-7 nodes, loss, duplication, reordering, delays, engine knobs, and a schedule of fault
//! shapes (partitions of every shape; with `--faults all`, crashes of leaders, followers
//! and candidates, and crash-restarts of any node, mid-fsync ones included, on disks with
//! a fsync latency drawn from the seed). Invariants are checked after every event, the
//! client history for linearizability at the end, and after the fault phase a quiet phase
//! of at most `--quiet-timeouts` maximal election timeouts must elect a leader and answer
//! everything.
//!
//! Output: a progress bar on stderr (only on a terminal); each failing seed with its
//! parameters, the command that replays it alone and the last events of its trace; then
//! the totals and the liveness figures per fault shape. With `--json`, stdout holds only
//! the JSON (`sim::Summary` plus `wall_ms`) and the failures go to stderr. Seeds run on
//! `--jobs` threads and are reported in seed order, so everything but the wall time and
//! the progress bar is the same for the same arguments. Exit 0 when every seed passed,
//! 1 on a violation or a liveness failure, 3 when the only trouble is an unknown check;
//! bad flags exit 2.

use crate::sim::{
    run_seed, CampaignSpec, FaultSet, SeedResult, Summary, FUZZ_QUIET_ELECTION_TIMEOUTS,
    LONG_WINDOW_TIMEOUTS,
};
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Most worker threads.
pub const JOBS_MAX: u64 = 256;

/// Flags of `pinraft fuzz`.
#[derive(Args, Clone, Debug)]
pub struct FuzzArgs {
    /// Seeds to run.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Worker threads (results are reported in seed order whatever the count).
    #[arg(long, default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=JOBS_MAX))]
    pub jobs: u64,
    /// Fault set: `net` (loss, duplication, reordering, delays, partitions) or `all`
    /// (also crashes of leaders, followers and candidates, and crash-restarts).
    #[arg(long, default_value = "all", value_parser = FaultSet::parse)]
    pub faults: FaultSet,
    /// Length of the quiet phase, in maximal election timeouts: the liveness bound.
    #[arg(long, default_value_t = FUZZ_QUIET_ELECTION_TIMEOUTS,
          value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub quiet_timeouts: u64,
    /// Print only the JSON result on stdout.
    /// Snapshot every this many applied entries in every case (0: never); by default each
    /// `--faults all` seed draws it (half of them snapshot every 2-40 entries).
    #[arg(long)]
    pub snapshot_every: Option<u64>,
    #[arg(long)]
    pub json: bool,
}

impl FuzzArgs {
    /// Parses the words after `pinraft fuzz` (a printed `reproduce` command minus its first
    /// two words replays it).
    pub fn parse_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<FuzzArgs, String> {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            args: FuzzArgs,
        }
        let words = std::iter::once("pinraft-fuzz").chain(words);
        Wrapper::try_parse_from(words).map(|w| w.args).map_err(|e| e.to_string())
    }

    /// The campaign these flags describe; an error when the seed range overflows.
    pub fn spec(&self) -> Result<CampaignSpec, String> {
        if self.from.checked_add(self.seeds).is_none() {
            return Err(format!(
                "--from {} --seeds {}: the seed range overflows",
                self.from, self.seeds
            ));
        }
        Ok(CampaignSpec {
            from: self.from,
            seeds: self.seeds,
            faults: self.faults,
            quiet_timeouts: self.quiet_timeouts,
            snapshot_every: self.snapshot_every,
        })
    }
}

/// What `pinraft fuzz` prints, and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The parameter line and the campaign's command, printed before the seeds run (to
    /// stdout, or with `--json` to stderr).
    pub header: String,
    /// Everything else for stdout.
    pub stdout: String,
    /// Everything for stderr (the progress bar aside).
    pub stderr: String,
    /// 0 passed, 1 a violation or liveness failure, 3 only unknown checks.
    pub code: u8,
}

/// Runs `pinraft fuzz` with a progress bar and writes its output.
pub fn run(args: &FuzzArgs) -> anyhow::Result<ExitCode> {
    let bar = indicatif::ProgressBar::new(args.seeds);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} seeds, {msg} (eta {eta})",
        )
        .expect("a valid template"),
    );
    let spec = args.spec().map_err(anyhow::Error::msg)?;
    let header = header(&spec);
    if args.json {
        eprint!("{header}");
    } else {
        print!("{header}");
        std::io::stdout().flush()?;
    }
    let mut failed = 0;
    let rendered = render_with(args, |r| {
        failed += u64::from(!r.passed());
        bar.set_message(format!("{failed} failed"));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    std::io::stderr().lock().write_all(rendered.stderr.as_bytes())?;
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.stdout.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::from(rendered.code))
}

/// Runs the campaign and formats its output without printing it; `progress` sees every
/// seed as it finishes (not in seed order).
pub fn render_with(args: &FuzzArgs, progress: impl FnMut(&SeedResult)) -> anyhow::Result<Rendered> {
    let spec = args.spec().map_err(anyhow::Error::msg)?;
    let header = header(&spec);
    let started = Instant::now();
    let summary = run_campaign(&spec, args.jobs as usize, progress);
    let wall = started.elapsed();
    let failures = failures_text(&summary);
    let code = if !summary.passed() {
        1
    } else if summary.unknown > 0 {
        3
    } else {
        0
    };
    let (stdout, stderr) = if args.json {
        let mut json = serde_json::to_value(&summary)?;
        json["reproduce"] = format!("{} --json", summary.reproduce).into();
        json["wall_ms"] = (wall.as_millis() as u64).into();
        (serde_json::to_string_pretty(&json)? + "\n", failures)
    } else {
        (failures + &totals(&summary, wall) + &shape_table(&summary), String::new())
    };
    Ok(Rendered { header, stdout, stderr, code })
}

/// Runs every seed of `spec` on `jobs` threads and folds the results in seed order.
pub fn run_campaign(
    spec: &CampaignSpec,
    jobs: usize,
    mut progress: impl FnMut(&SeedResult),
) -> Summary {
    let mut summary = Summary::new(spec);
    if jobs <= 1 {
        for seed in spec.range() {
            let result = run_seed(spec, seed);
            progress(&result);
            summary.add(result);
        }
        return summary;
    }
    let next = AtomicU64::new(0);
    let (tx, rx) = crossbeam_channel::bounded::<(u64, SeedResult)>(jobs * 4);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= spec.seeds || tx.send((i, run_seed(spec, spec.from + i))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Workers take seeds in order, so at most about `jobs` results wait here.
        let mut waiting = BTreeMap::new();
        let mut in_order = 0;
        for (i, result) in rx {
            progress(&result);
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&in_order) {
                summary.add(result);
                in_order += 1;
            }
        }
    });
    summary
}

/// What runs: the seeds, the fault set and the bounds, and the command that runs it again.
fn header(spec: &CampaignSpec) -> String {
    let last = spec.from + spec.seeds.saturating_sub(1);
    format!(
        "pinraft fuzz: seeds {}..={last}, faults {}, quiet phase at most {} election timeouts, \
         linearizability budget {} states per seed\nreproduce: {}\n",
        spec.from,
        spec.faults.as_str(),
        spec.quiet_timeouts,
        spec.check_states_max(),
        spec.command_line()
    )
}

/// Every failure: its parameters, its replay command, what went wrong, its last events.
pub fn failures_text(s: &Summary) -> String {
    let mut out = String::new();
    for f in &s.failures {
        let _ = writeln!(out, "\nFAILED seed {}: {}", f.seed, f.kinds.join(", "));
        let _ = writeln!(out, "  parameters: {}", f.parameters);
        let _ = writeln!(out, "  reproduce: {}", f.reproduce);
        for line in &f.events_applied {
            let _ = writeln!(out, "  fault: {line}");
        }
        for line in &f.problems {
            let _ = writeln!(out, "  problem: {line}");
        }
        let _ = writeln!(out, "  last events:");
        for line in &f.trace_tail {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

fn totals(s: &Summary, wall: Duration) -> String {
    let rows = [
        ("seeds run", s.seeds.to_string()),
        ("events simulated", s.events.to_string()),
        ("simulated time", format!("{:.3}s", s.simulated_ns as f64 / 1e9)),
        ("wall time", format!("{:.3}s", wall.as_secs_f64())),
        ("restarts", s.restarts.to_string()),
        ("unsynced entries lost", s.entries_lost.to_string()),
        ("torn records cut", s.tail_cuts.to_string()),
        ("violations", s.violations.to_string()),
        ("not linearizable", s.not_linearizable.to_string()),
        ("liveness failures", s.liveness_failures.to_string()),
        ("unknown checks", s.unknown.to_string()),
        ("worst quiet phase", format!("{:.2} election timeouts", s.quiet_timeouts_max)),
    ];
    let mut out = String::from("\n");
    for (name, value) in rows {
        let _ = writeln!(out, "{name:<20}{value:>30}");
    }
    for (name, seeds) in [("failing seeds", &s.failing_seeds), ("unknown seeds", &s.unknown_seeds)]
    {
        if !seeds.is_empty() {
            let seeds: Vec<String> = seeds.iter().map(|x| x.to_string()).collect();
            let _ = writeln!(out, "{name}: {}", seeds.join(" "));
        }
    }
    out
}

/// Liveness per fault shape. `quiet` is the worst quiet phase a converged seed needed (in
/// maximal election timeouts); `windows` counts every application, `solo` the long windows
/// no other fault overlapped, of which `stalled` committed nothing; leaders and ops are
/// per election timeout of solo window.
fn shape_table(s: &Summary) -> String {
    let mut out = format!(
        "\nliveness per fault shape (quiet: worst quiet phase, in election timeouts; windows: \
         while the fault lasted; solo: no other fault meanwhile, at least {LONG_WINDOW_TIMEOUTS} \
         election timeouts long; stalled: nothing committed; leaders, ops: per election \
         timeout of solo window)\n"
    );
    let columns =
        ["seeds", "viol", "live", "unkn", "quiet", "windows", "solo", "stalled", "leaders", "ops"];
    let _ = write!(out, "{:<22}", "shape");
    for name in columns {
        let _ = write!(out, "{name:>8}");
    }
    out.push('\n');
    for r in &s.shapes {
        let per = |x: u64| {
            if r.long_window_timeouts > 0.0 {
                format!("{:.2}", x as f64 / r.long_window_timeouts)
            } else {
                "-".to_string()
            }
        };
        let cells = [
            r.seeds.to_string(),
            r.violations.to_string(),
            r.liveness_failures.to_string(),
            r.unknown.to_string(),
            format!("{:.2}", r.quiet_timeouts_max),
            r.windows.to_string(),
            r.windows_long.to_string(),
            r.windows_long_stalled.to_string(),
            per(r.long_window_leaders),
            per(r.long_window_ops),
        ];
        let _ = write!(out, "{:<22}", r.shape);
        for cell in cells {
            let _ = write!(out, "{cell:>8}");
        }
        out.push('\n');
    }
    out
}
