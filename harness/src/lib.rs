//! # pinraft-harness
//!
//! Everything around the engine: the deterministic simulator, the threaded cluster, fault
//! injection, client load, metrics, checkers and the `pinraft` command's subcommands.

pub mod args;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod env;
pub mod history;
pub mod knobs;
pub mod metrics;
pub mod plot;
pub mod replica;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod storage;
pub mod sweep;
pub mod workload;
