//! Checkers: linearizability of client histories.
//!
//! [`check`] decides whether a history of operations, each with a call time and (when the
//! client saw the reply) a return time, can be explained by some order of atomic steps of a
//! sequential [`Model`] that respects real time: Wing and Gong's search with Lowe's cache,
//! the algorithm of Porcupine (see `search`). [`check_kv`] applies it to the project's own
//! histories (key by key); [`check_register`] to Jepsen's etcd register logs ([`jepsen`]).
//! [`edn`] reads Jepsen-style key-value histories.
//!
//! Every check runs within a [`Budget`] and answers [`Verdict::Unknown`] when it runs out:
//! an unfinished search is never a pass. This module reads no clock except for a
//! [`Budget::Deadline`], which only `pinraft check --timeout` uses; the simulator's checks
//! count explored states so that they are deterministic.

mod cache;
pub mod edn;
pub mod jepsen;
pub mod linearizability;
pub mod models;
mod search;

#[cfg(test)]
mod tests;

use std::time::Instant;

pub use linearizability::{check, Completion, Model, Op};
pub use models::{KvModel, KvOp, RegisterModel, RegisterOp};

use crate::history::Operation;

/// How much work a check may do before it gives up with [`Verdict::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// At most this many explored states (new (linearized set, model state) pairs), counted
    /// over all keys. Deterministic: the same history always gets the same verdict.
    States(u64),
    /// Until this instant. Wall-clock, so not deterministic: for `pinraft check --timeout`.
    Deadline(Instant),
}

/// The answer of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Some order of atomic steps explains every completed operation.
    Linearizable,
    /// No order does; the evidence.
    NotLinearizable(Violation),
    /// The budget ran out before the search could decide.
    Unknown,
}

/// The evidence of a history that is not linearizable. Operations are indices into the
/// slice that was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The key (part of the model) with no linearization, `None` for a model with one part.
    pub key: Option<String>,
    /// The operations at the deepest point of the search, in index order: those that could
    /// have taken effect next (all of them failed) and the earliest-returning operation not
    /// yet placed, which had to be placed before anything later.
    pub involved: Vec<usize>,
    /// The longest linearizable prefix the search found, in linearization order.
    pub prefix: Vec<usize>,
}

/// Checks a history of the project's key-value operations, key by key.
pub fn check_kv(ops: &[Operation], budget: Budget) -> Verdict {
    let ops: Vec<KvOp> = ops.iter().map(models::kv_op).collect();
    check(&KvModel, &ops, budget)
}

/// Checks a history of register operations (a register that starts with no value).
pub fn check_register(ops: &[RegisterOp], budget: Budget) -> Verdict {
    check(&RegisterModel::default(), ops, budget)
}
