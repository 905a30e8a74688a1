//! The generic linearizability check: a sequential [`Model`], operations with call and
//! return times ([`Op`]), and [`check`], which splits a history by the model's partition
//! and searches each part (see `search`) within one shared [`Budget`].
//!
//! Unknown outcomes. An operation whose reply never came ([`Completion::Unknown`]) may
//! have taken effect at any moment after its call, or never. The search gives it no return
//! event (its return time is +infinity), so it may be placed anywhere after its call, and it
//! accepts a linearization that never places it: success means every *completed* operation
//! is placed, with whatever subset of the unknown ones. Why this is exact:
//!
//! - "Never" is the same as "after everything else" when no completed operation observes
//!   the effect. Porcupine relies on that: it gives unknown operations an infinite return
//!   time and places them all, at worst at the end. That needs every model step with an
//!   unknown output to succeed in any state (true of a put, an append, a write, and of a cas
//!   read as "applies if the value matches, else no-op"). Leaving them out instead accepts
//!   the same histories without asking that of the model, and spares the search that tail.
//! - A *read-only* operation ([`Model::is_read_only`]) of unknown outcome changes nothing and
//!   its output is unknown, so it constrains nothing: it is dropped before the search.
//! - An operation known not to have happened (Jepsen's `fail` of a read or write) is the
//!   parser's business: it leaves it out of the history. A failed cas is different: it did
//!   not change the value but it did observe it, and the register model checks that.

use std::fmt;
use std::hash::Hash;

use super::search::{self, Found, Meter};
use super::{Budget, Verdict, Violation};

/// A sequential specification: the object a linearizable history must be explainable by.
pub trait Model {
    /// The object's state. The search caches (linearized set, state) pairs, hence `Hash`.
    type State: Clone + Eq + Hash;
    /// What a client asks for.
    type Input;
    /// What a client sees back.
    type Output;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Applies `input` to `state` as one atomic step. `output` is what the client saw, or
    /// `None` when the outcome is unknown (then any output is acceptable). Returns the state
    /// after the step, or `None` when the output is impossible in `state`.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
    ) -> Option<Self::State>;

    /// The independent part of the object `input` touches (a key), or `None` when the object
    /// is one indivisible register. Operations on different parts must commute, so each part
    /// is checked alone (linearizability is compositional: Herlihy and Wing, 1990).
    fn partition<'a>(&self, _input: &'a Self::Input) -> Option<&'a str> {
        None
    }

    /// True when `input` never changes the state (a read). Such an operation with an unknown
    /// outcome constrains nothing and is dropped before the search.
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }
}

/// One operation of a history, in the model's own terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op<I, O> {
    /// The client (process) that issued it; for display only.
    pub client: u64,
    /// What it asked for.
    pub input: I,
    /// When it was called. Only the order of times matters.
    pub call_ns: u64,
    /// How it ended.
    pub completion: Completion<O>,
}

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion<O> {
    /// The client saw `output` at `return_ns` (no earlier than the call; an earlier time is
    /// read as the call time).
    Returned {
        /// What the client saw.
        output: O,
        /// When.
        return_ns: u64,
    },
    /// No reply: it took effect at some moment after its call, or never.
    Unknown,
}

impl<I, O> Op<I, O> {
    /// The output the client saw, `None` when the outcome is unknown.
    pub fn output(&self) -> Option<&O> {
        match &self.completion {
            Completion::Returned { output, .. } => Some(output),
            Completion::Unknown => None,
        }
    }

    /// The return time, `None` (+infinity) when the outcome is unknown.
    pub fn return_ns(&self) -> Option<u64> {
        match self.completion {
            Completion::Returned { return_ns, .. } => Some(return_ns.max(self.call_ns)),
            Completion::Unknown => None,
        }
    }
}

impl<I: fmt::Display, O: fmt::Display> fmt::Display for Op<I, O> {
    /// One line for humans: `client 3 write 4 -> ok [12, 15]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {} {}", self.client, self.input)?;
        match &self.completion {
            Completion::Returned { output, return_ns } => {
                write!(f, " -> {output} [{}, {return_ns}]", self.call_ns)
            }
            Completion::Unknown => write!(f, " -> unknown [{}, ...]", self.call_ns),
        }
    }
}

/// Checks that `ops` is linearizable with respect to `model`, part by part.
///
/// Parts are searched smallest first (ties by key), so a violation in a small part is
/// found before the budget goes into a large one. The budget is shared by all parts; when
/// it runs out the verdict is [`Verdict::Unknown`], never a pass. A violation's indices
/// refer to `ops`.
pub fn check<M: Model>(model: &M, ops: &[Op<M::Input, M::Output>], budget: Budget) -> Verdict {
    let mut meter = Meter::new(budget);
    for (key, ids) in partitions(model, ops) {
        match search::search(model, ops, &ids, &mut meter) {
            Found::Linearizable => {}
            Found::Violation { involved, prefix } => {
                let key = key.map(str::to_owned);
                return Verdict::NotLinearizable(Violation { key, involved, prefix });
            }
            Found::OutOfBudget => return Verdict::Unknown,
        }
    }
    Verdict::Linearizable
}

/// The indices of `ops` grouped by part, unknown read-only operations left out, sorted by
/// (part size, key).
fn partitions<'a, M: Model>(
    model: &M,
    ops: &'a [Op<M::Input, M::Output>],
) -> Vec<(Option<&'a str>, Vec<usize>)> {
    let mut parts: std::collections::BTreeMap<Option<&str>, Vec<usize>> = Default::default();
    for (index, op) in ops.iter().enumerate() {
        if op.output().is_none() && model.is_read_only(&op.input) {
            continue;
        }
        parts.entry(model.partition(&op.input)).or_default().push(index);
    }
    let mut parts: Vec<_> = parts.into_iter().collect();
    parts.sort_by_key(|(key, ids)| (ids.len(), *key));
    parts
}
