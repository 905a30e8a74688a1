//! `pinraft report`: runs the standard set of experiments one after another (never in
//! parallel: the node threads need the cores), writes their data under `OUT/report/`, and
//! renders `OUT/REPORT.md` from those files and `OUT/published.toml` alone, so the report can
//! be rendered again without running anything (`--from-results`).
//!
//! - `plan` — the standard set, full and quick
//! - `throughput` — the default run and the sweeps (the same files as `pinraft run`/`sweep`):
//!   clients, batching, resend policy, and the engines side by side
//! - `election`, `crash_load` — the Figure 16 experiment in the simulator and the cluster
//! - `published` — other systems' figures; `meta` — environment.json
//! - `markdown`, `election_text`, `format` — REPORT.md
//!
//! It never edits published.toml, and nothing in REPORT.md is typed by hand but prose.

pub mod crash_load;
pub mod election;
mod election_text;
mod format;
mod markdown;
pub mod meta;
pub mod plan;
pub mod published;
pub mod throughput;

use crate::plot::{cdf_chart, write_svg, Distribution};
use crate::sweep::csv;
use anyhow::Context;
use election::{ElectionData, Setup, Stats};
use meta::{Experiment, Meta};
use plan::Plan;
use published::Published;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The data directory under `--out`, and the prefix of every link in REPORT.md.
pub const DATA_DIR: &str = "report";
/// The report itself, in `--out`.
pub const REPORT_FILE: &str = "REPORT.md";
/// The published figures, in `--out`.
pub const PUBLISHED_FILE: &str = "published.toml";

/// Runs `plan`, writes every data file under `out/report/`, then renders REPORT.md (see
/// [`render`]). Returns the report's path.
pub fn generate(plan: &Plan, out: &Path, published: Option<&Path>) -> anyhow::Result<PathBuf> {
    let data = out.join(DATA_DIR);
    std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
    let started = Instant::now();
    let mode = if plan.quick { "quick" } else { "full" };
    let mut meta = Meta::start(mode, plan.command(out));
    let mut progress = Progress::new(planned_ns(plan)?);
    let t = Instant::now();
    let run = &plan.default_run;
    progress.begin("default run", run.warmup + run.duration);
    let json = throughput::run_one(run, &mut |f| progress.within(f))?;
    write_json(&data.join("default-run.json"), &json)?;
    meta.experiments.push(experiment("default-run", run.reproduce(), t));
    for spec in [&plan.clients, &plan.batching, &plan.resend] {
        let t = Instant::now();
        let grid = throughput::grid(spec)?;
        let runs = (grid.points.len() as u64 * spec.repeat) as f64;
        progress
            .begin(&format!("sweep {}", spec.name), throughput::sweep_wall_ns(&grid, spec.repeat));
        let dir = data.join(spec.name);
        throughput::run_sweep(spec, plan.seed, &dir, &mut |k, f| {
            progress.within((k as f64 + f) / runs)
        })?;
        meta.experiments.push(experiment(spec.name, grid.reproduce(spec.repeat, plan.seed), t));
    }
    let t = Instant::now();
    let spec = &plan.compare;
    let grid = throughput::grid(spec)?;
    let runs = (grid.points.len() as u64 * spec.repeat) as f64;
    progress.begin("compare engines", throughput::sweep_wall_ns(&grid, spec.repeat));
    throughput::run_compare(spec, plan.seed, &data.join(spec.name), &mut |k, f| {
        progress.within((k as f64 + f) / runs)
    })?;
    let command = grid.command("pinraft compare", spec.repeat, plan.seed);
    meta.experiments.push(experiment(spec.name, command, t));
    let t = Instant::now();
    let election = election::run(&plan.election, plan.seed, &mut |label, planned, f| {
        progress.range(label, planned, f)
    })?;
    write_election(&data.join("election"), &election)?;
    meta.experiments.push(experiment("election (no command of its own)", plan.command(out), t));
    progress.finish();
    meta.wall_s = started.elapsed().as_secs_f64();
    write_json(&data.join("environment.json"), &meta)?;
    render(out, published)
}

/// Renders `out/REPORT.md` (and the election CDF plots) from the data files under
/// `out/report/` and the published figures: `published`, else `out/published.toml`, else
/// the copy built into this binary. Runs nothing. Returns the report's path.
pub fn render(out: &Path, published: Option<&Path>) -> anyhow::Result<PathBuf> {
    let data = out.join(DATA_DIR);
    let published = match published {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Published::parse(&text).with_context(|| path.display().to_string())?
        }
        None => Published::load(&out.join(PUBLISHED_FILE))?.0,
    };
    let election: ElectionData = read_json(&data.join("election/election.json"))?;
    write_cdfs(&data.join("election"), &election)?;
    let inputs = markdown::Inputs {
        meta: read_json(&data.join("environment.json"))?,
        default_run: read_json(&data.join("default-run.json"))?,
        clients: read_json(&data.join("clients/sweep.json"))?,
        batching: read_json(&data.join("batching/sweep.json"))?,
        resend: read_optional_json(&data.join("resend/sweep.json"))?,
        compare: read_optional_json(&data.join("compare/compare.json"))?,
        election,
        published,
        svgs: svgs(&data)?,
    };
    let path = out.join(REPORT_FILE);
    std::fs::write(&path, markdown::render(&inputs))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn experiment(name: &str, command: String, started: Instant) -> Experiment {
    Experiment { name: name.to_string(), command, wall_s: started.elapsed().as_secs_f64() }
}

/// Planned wall time of the whole plan, for the progress bar.
fn planned_ns(plan: &Plan) -> anyhow::Result<u64> {
    let mut ns = plan.default_run.warmup + plan.default_run.duration;
    for spec in [&plan.clients, &plan.batching, &plan.resend, &plan.compare] {
        ns += throughput::sweep_wall_ns(&throughput::grid(spec)?, spec.repeat);
    }
    let e = &plan.election;
    for setup in &e.sim {
        ns += (setup.trials * e.sim_ranges_ms.len()) as u64 * election::SIM_TRIAL_WALL_NS;
    }
    for &range in &e.cluster_ranges_ms {
        ns += e.cluster_trials as u64 * election::cluster_trial_ns(range);
    }
    Ok(ns)
}

/// election.json and election.csv (one row per trial).
fn write_election(dir: &Path, data: &ElectionData) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Compact: thousands of trials.
    let path = dir.join("election.json");
    let text = serde_json::to_string(data)? + "\n";
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let mut rows = Vec::new();
    for setup in &data.setups {
        for r in &setup.ranges {
            for (k, t) in r.trials.iter().enumerate() {
                let mut row = vec![
                    ("runtime".to_string(), setup.runtime.clone()),
                    ("setup".to_string(), setup.name.clone()),
                    ("timeout_ms".to_string(), r.label()),
                    ("trial".to_string(), (k + 1).to_string()),
                ];
                csv::flatten("", &serde_json::to_value(t)?, &mut row);
                rows.push(row);
            }
        }
    }
    let path = dir.join("election.csv");
    std::fs::write(&path, csv::to_csv(&rows)).with_context(|| format!("writing {}", path.display()))
}

/// One CDF plot per setup: `cdf-RUNTIME-NAME.svg`.
fn write_cdfs(dir: &Path, data: &ElectionData) -> anyhow::Result<()> {
    for setup in &data.setups {
        let dists: Vec<Distribution> = setup
            .ranges
            .iter()
            .map(|r| {
                let values = r.times_ms(&setup.measure);
                let st = Stats::of(&values, r.crashed());
                let label = if st.crashed == 0 {
                    format!("{} ms: no first leader in {} trials", r.label(), r.trials.len())
                } else {
                    format!("{} ms ({} of {} crashes)", r.label(), st.recovered, st.crashed)
                };
                Distribution { label, values, total: st.crashed }
            })
            .collect();
        let (title, x_label) = cdf_titles(setup);
        let chart = cdf_chart(&title, &cdf_subtitle(setup, data.nodes), &x_label, &dists);
        write_svg(&dir.join(format!("cdf-{}-{}.svg", setup.runtime, setup.name)), &chart)?;
    }
    Ok(())
}

fn cdf_titles(setup: &Setup) -> (String, String) {
    if setup.runtime == "cluster" {
        (
            "Time without a leader after a leader crash: threaded cluster, real time".into(),
            "ms from the crash until a live node leads".into(),
        )
    } else {
        (
            "Time without a leader after a leader crash: simulator, virtual time".into(),
            "ms from the crash until a leader is followed by a majority".into(),
        )
    }
}

fn cdf_subtitle(setup: &Setup, nodes: u64) -> String {
    let delay = if setup.runtime == "cluster" {
        "channel hops between pinned threads".to_string()
    } else {
        let (lo, hi) = (setup.delay_ns.0 as f64 / 1e6, setup.delay_ns.1 as f64 / 1e6);
        format!("one-way delay {lo}-{hi} ms")
    };
    format!(
        "{nodes} nodes, {delay}; heartbeat = half the min timeout; leader crashed at a uniform \
         heartbeat phase"
    )
}

/// Every SVG under `data`, relative to it, sorted.
fn svgs(data: &Path) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    for sub in ["clients", "batching", "resend", "compare", "election"] {
        let dir = data.join(sub);
        // An older report has no resend/ or compare/ (their sections say so).
        if matches!(sub, "resend" | "compare") && !dir.exists() {
            continue;
        }
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().to_string();
            if name.ends_with(".svg") {
                found.push(format!("{sub}/{name}"));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn write_json<T: Serialize + ?Sized>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// [`read_json`] of a file an older report did not write: `None` when it is absent.
fn read_optional_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<Option<T>> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("reading {} (run `pinraft report` first to write the data)", path.display())
    })?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// One bar over the whole plan, in planned milliseconds, with the current step as its
/// message; hidden when stderr is not a terminal, where each step prints one line instead.
struct Progress {
    bar: indicatif::ProgressBar,
    done_ms: u64,
    step_ms: u64,
    label: String,
}

impl Progress {
    fn new(total_ns: u64) -> Progress {
        let bar = if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new((total_ns / 1_000_000).max(1));
            let template = "{bar:30} {percent:>3}% {elapsed_precise} ETA {eta_precise}  {msg}";
            bar.set_style(indicatif::ProgressStyle::with_template(template).expect("static"));
            bar
        } else {
            indicatif::ProgressBar::hidden()
        };
        Progress { bar, done_ms: 0, step_ms: 0, label: String::new() }
    }

    fn begin(&mut self, label: &str, planned_ns: u64) {
        self.done_ms += self.step_ms;
        self.step_ms = planned_ns / 1_000_000;
        self.label = label.to_string();
        self.bar.set_position(self.done_ms);
        self.bar.set_message(label.to_string());
        if self.bar.is_hidden() {
            eprintln!("report: {label}");
        }
    }

    fn within(&mut self, fraction: f64) {
        let f = fraction.clamp(0.0, 1.0);
        self.bar.set_position(self.done_ms + (f * self.step_ms as f64) as u64);
    }

    /// Progress of a step that names itself (a range of the election experiment).
    fn range(&mut self, label: &str, planned_ns: u64, fraction: f64) {
        if label != self.label {
            self.begin(label, planned_ns);
        }
        self.within(fraction);
    }

    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
