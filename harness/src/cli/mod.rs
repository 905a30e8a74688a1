//! The `pinraft` subcommands. Each module owns its clap arguments and its `run`.

pub mod check;
pub mod fuzz;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod sweep;
