//! `pinraft report`: runs the standard set of experiments (the default run, the clients
//! sweep, the batch x resend x loss sweep, the Figure 16 election experiment) one after
//! another with a progress bar, writes their data and plots under `OUT/report/`, and renders
//! `OUT/REPORT.md` beside the published figures of `OUT/published.toml`. With
//! `--from-results` it only renders, from the data already there.

use crate::report::{self, plan::Plan, PUBLISHED_FILE};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `pinraft report`.
#[derive(Args, Clone, Debug)]
pub struct ReportArgs {
    /// Short runs and few trials (tests, CI): the same sections, numbers that say nothing.
    #[arg(long)]
    pub quick: bool,
    /// Render REPORT.md from the data already under OUT/report/; run nothing.
    #[arg(long, conflicts_with = "quick")]
    pub from_results: bool,
    /// Directory of REPORT.md and published.toml; the data go to OUT/report/.
    #[arg(long, value_name = "OUT", default_value = "results")]
    pub out: PathBuf,
    /// The published figures (default: OUT/published.toml, else the copy built in).
    #[arg(long, value_name = "FILE")]
    pub published: Option<PathBuf>,
}

impl ReportArgs {
    /// Parses report flags (without the program and subcommand names), as `pinraft report`.
    pub fn try_parse_flags<I, T>(flags: I) -> Result<ReportArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        super::parse_flags("pinraft-report", flags)
    }
}

/// Runs (or only renders) the report; bad input is an error before anything runs.
pub fn run(args: &ReportArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.published {
        anyhow::ensure!(path.exists(), "--published {}: no such file", path.display());
    } else if !args.out.join(PUBLISHED_FILE).exists() {
        eprintln!(
            "note: no {} in {}; using the published figures built into this binary",
            PUBLISHED_FILE,
            args.out.display()
        );
    }
    let published = args.published.as_deref();
    let path = if args.from_results {
        report::render(&args.out, published)?
    } else {
        let plan = Plan::standard(args.quick);
        eprintln!("{}", plan.command(&args.out));
        report::generate(&plan, &args.out, published)?
    };
    eprintln!("report written to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
