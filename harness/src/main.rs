//! The `pinraft` command. See README.md for the subcommands; with no arguments it runs the
//! default benchmark and writes its JSON under results/runs/.

use clap::{Parser, Subcommand};
use pinraft_harness::cli;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "pinraft", version, about = "A Raft engine and the harness that measures it")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// One run of the threaded cluster.
    Run(cli::run::RunArgs),
    /// A grid of runs (any `run` flag as a comma list): a table, CSV, JSON and SVG plots.
    Sweep(Box<cli::sweep::SweepArgs>),
    /// Every engine on the same grid in one sitting, alternating engines run by run: a table
    /// with ratios to pinraft's, CSV, JSON and SVG plots (default: raft and raft-rs).
    Compare(Box<cli::compare::CompareArgs>),
    /// Scenario files (TOML, or the classic simulator's JSON), run and scored.
    Scenario(cli::scenario::ScenarioArgs),
    /// The standard experiments: results/REPORT.md with plots, beside published figures.
    Report(cli::report::ReportArgs),
    /// A deterministic simulated run: the same seed prints the same output, byte for byte.
    Sim(cli::sim::SimArgs),
    /// N seeded simulations with random faults: every failing seed with the command that
    /// replays it.
    Fuzz(cli::fuzz::FuzzArgs),
    /// Linearizability of a recorded history: prints linearizable (exit 0), not
    /// linearizable (exit 1) or unknown (exit 3).
    Check(cli::check::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => cli::run::run(&cli::run::RunArgs::default(), true),
        Some(Command::Run(args)) => cli::run::run(&args, false),
        Some(Command::Sweep(args)) => cli::sweep::run(&args),
        Some(Command::Compare(args)) => cli::compare::run(&args),
        Some(Command::Scenario(args)) => cli::scenario::run(&args),
        Some(Command::Report(args)) => cli::report::run(&args),
        Some(Command::Sim(args)) => cli::sim::run(&args),
        Some(Command::Fuzz(args)) => cli::fuzz::run(&args),
        Some(Command::Check(args)) => cli::check::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pinraft: {error:#}");
            ExitCode::from(2)
        }
    }
}
