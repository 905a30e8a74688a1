//! # pinraft-benches
//!
//! The fixtures the benchmarks drive, kept out of the benchmark files so that the wall-clock
//! benchmarks (criterion: `benches/engine.rs`, `benches/cluster.rs`) and the instruction-count
//! benchmarks (gungraun: `benches/engine_instructions.rs`) measure the very same code paths.
//!
//! - [`HandCluster`]: engine nodes in one thread, messages delivered by hand. No threads, no
//!   channels, no clock: every input is fixed, so instruction counts repeat exactly.
//! - [`BenchCluster`]: the harness's cluster (pinned node threads, bounded crossbeam
//!   channels, the node loop `pinraft run` runs) for any engine, the benchmark thread as its
//!   only client.
//! - [`Echo`]: a driver thread and an echo thread on two cores, passing a batch back and
//!   forth: the channel floor.
//!
//! [`HandCluster`] reads no clock, takes no seed from the environment and iterates no hash
//! map: the instruction-count gate (`benches/gate.sh`) depends on it.

#![deny(missing_docs)]

mod cluster;
mod echo;
mod hand;

pub use cluster::{BenchCluster, PUTS_PER_CLUSTER_MAX};
pub use echo::{message_batch, Echo};
pub use hand::{HandCluster, LOG_ENTRIES_MAX};

use core_affinity::CoreId;
use std::sync::OnceLock;

/// The batch sizes every engine benchmark sweeps (`batch_entries_max`, and puts proposed at
/// once).
pub const BATCHES: [usize; 4] = [1, 8, 64, 256];

/// Rounds a fresh [`HandCluster`] runs before a one-shot measurement, so that the round
/// measured is a steady-state one (past the first allocations of every buffer) and always the
/// same one.
pub const WARM_ROUNDS: usize = 8;

/// The machine's cores, read once. `core_affinity::get_core_ids` reads the *calling* thread's
/// CPU mask, so the first call must come from a thread nobody pinned: the benchmark thread,
/// which this crate never pins (it pins only the threads it spawns, and spawns them only from
/// the benchmark thread).
pub fn core_ids() -> &'static [CoreId] {
    static CORES: OnceLock<Vec<CoreId>> = OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// Spawns a named thread pinned to `core` (none: unpinned).
fn spawn_pinned<T: Send + 'static>(
    name: String,
    core: Option<CoreId>,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            if let Some(core) = core {
                core_affinity::set_for_current(core);
            }
            body()
        })
        .expect("spawn a benchmark thread")
}
