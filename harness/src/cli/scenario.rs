//! `pinraft scenario FILE... [--sim] [--seed N] [--json]`: runs each scenario file (our TOML
//! or the classic simulator's JSON) on the threaded cluster in real time, or with `--sim`
//! in the simulator in virtual time, prints each run's score as it finishes, then a table
//! with one row per file. With `--json`, stdout holds only a JSON list, one object per
//! file; the reports and the table go to stderr. Every file is read and validated before
//! anything runs: a bad file is an error (main prints it as one line and exits 2). Exit 1
//! when any run fails correctness. With `--sim` the same command prints the same bytes.

use crate::replica::EngineKind;
use crate::scenario::{self, Mode, Score};
use clap::Args;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `pinraft scenario`.
#[derive(Args, Clone, Debug)]
pub struct ScenarioArgs {
    /// Scenario files: TOML (.toml) or the classic simulator's JSON (.json).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Run in the deterministic simulator, in virtual time, instead of the threaded cluster.
    #[arg(long)]
    pub sim: bool,
    /// Seed of every random choice, for every file (default: each file's own seed, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The engine for every file, in place of each file's `[cluster] engine` (raft,
    /// raft-rs, null); raft-rs runs on the threaded cluster only.
    #[arg(long, value_enum)]
    pub engine: Option<EngineKind>,
    /// Print only a JSON list on stdout, one object per file.
    #[arg(long)]
    pub json: bool,
}

/// Where a piece of output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Runs every file and hands each piece of output to `emit` as soon as it is ready, so a
/// long cluster run shows its results file by file. Returns every score.
pub fn execute(
    args: &ScenarioArgs,
    emit: &mut dyn FnMut(Stream, &str),
) -> anyhow::Result<Vec<Score>> {
    let scenarios = args
        .files
        .iter()
        .map(|path| scenario::load(path).map(|s| (path.display().to_string(), s)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(anyhow::Error::msg)?;
    let mode = if args.sim { Mode::Sim } else { Mode::Cluster };
    let mut scenarios = scenarios;
    for (file, sc) in &mut scenarios {
        sc.engine_kind = args.engine.unwrap_or(sc.engine_kind);
        scenario::check_engine(sc, mode).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    }
    let reports = if args.json { Stream::Stderr } else { Stream::Stdout };
    let mut scores = Vec::new();
    for (file, sc) in &scenarios {
        let seed = args.seed.unwrap_or(sc.seed);
        if mode == Mode::Cluster {
            let secs = sc.end_ns() as f64 / 1e9;
            emit(Stream::Stderr, &format!("{file}: {secs:.1}s on the threaded cluster...\n"));
        }
        let score =
            scenario::run(sc, file, mode, seed).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
        let mut block = score.summary();
        block.push('\n');
        emit(reports, &block);
        scores.push(score);
    }
    emit(reports, &table(&scores));
    if args.json {
        let mut json = serde_json::to_string_pretty(&scores)?;
        json.push('\n');
        emit(Stream::Stdout, &json);
    }
    Ok(scores)
}

/// What `pinraft scenario` prints, collected: for tests and for `--sim`.
pub fn render(args: &ScenarioArgs) -> anyhow::Result<(String, String, Vec<Score>)> {
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let scores = execute(args, &mut |stream, text| match stream {
        Stream::Stdout => stdout.push_str(text),
        Stream::Stderr => stderr.push_str(text),
    })?;
    Ok((stdout, stderr, scores))
}

/// Runs `pinraft scenario`: exit 0 when every run is correct, 1 otherwise.
pub fn run(args: &ScenarioArgs) -> anyhow::Result<ExitCode> {
    let mut failed_write = None;
    let scores = execute(args, &mut |stream, text| {
        let result = match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|_| out.flush())
            }
            Stream::Stderr => std::io::stderr().lock().write_all(text.as_bytes()),
        };
        if let Err(e) = result {
            failed_write.get_or_insert(e);
        }
    })?;
    if let Some(e) = failed_write {
        return Err(e.into());
    }
    let correct = scores.iter().all(|s| s.correct);
    Ok(if correct { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// One row per run: the verdict, the classic figures, ours, and the tiers.
pub fn table(scores: &[Score]) -> String {
    let header = [
        "file",
        "mode",
        "correct",
        "total_msgs",
        "failures",
        "duplicates",
        "median_s",
        "p99_s",
        "elections",
        "client/req",
        "raft/req",
        "repl/req",
        "hb/req",
        "elect/req",
        "tiers",
    ];
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2}"));
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            let p = &s.packets_per_request;
            vec![
                s.file.clone(),
                s.mode.as_str().to_string(),
                if s.correct { "yes" } else { "NO" }.to_string(),
                s.total_msgs.to_string(),
                s.failures.to_string(),
                s.duplicates.to_string(),
                format!("{:.6}", s.median_latency),
                format!("{:.6}", s.p99_latency),
                s.elections.to_string(),
                format!("{:.2}", p.client),
                format!("{:.2}", p.raft),
                opt(p.replication),
                opt(p.heartbeat),
                opt(p.election),
                s.tiers.map_or("-".to_string(), |t| t.compact()),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i == 0 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row);
    }
    out
}
