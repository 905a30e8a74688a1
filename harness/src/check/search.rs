//! The search for one part of a history: Wing and Gong's depth-first search over
//! linearization points with Lowe's cache of visited configurations, as Porcupine's
//! `checkSingle` does it.
//!
//! The call and return events of the part's operations form a doubly linked list in time
//! order (a call before a return at the same instant, so touching operations count as
//! concurrent). Walking from the head, every call met before the first return is a candidate
//! to take effect next. Linearizing one *lifts* its call and return out of the list and
//! restarts from the head; meeting a return means its operation should already be
//! linearized, so the search backtracks: it pops the last choice, *unlifts* it and tries the
//! next candidate. A (linearized set, state) pair already explored is never explored again:
//! the rest of the search from there depends on nothing else.
//!
//! Work is bounded by the [`Meter`]: each new configuration costs one unit.

use std::time::Instant;

use super::cache::{Bits, Cache};
use super::linearizability::{Model, Op};
use super::Budget;

/// The end of the list.
const NIL: usize = usize::MAX;

/// How often (in explored states) a wall-clock budget reads the clock.
const CLOCK_READ_INTERVAL_STATES: u64 = 1024;

/// What the search of one part found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// Every completed operation has a place.
    Linearizable,
    /// No linearization: the operations involved and the longest linearizable prefix,
    /// as indices into the whole history.
    Violation { involved: Vec<usize>, prefix: Vec<usize> },
    /// The budget ran out first.
    OutOfBudget,
}

/// Spends a [`Budget`] across the parts of one check.
#[derive(Debug)]
pub(crate) struct Meter {
    budget: Budget,
    states_explored: u64,
}

impl Meter {
    /// A meter with nothing spent.
    pub(crate) fn new(budget: Budget) -> Self {
        Meter { budget, states_explored: 0 }
    }

    /// Pays for one new state; false when the budget is exhausted.
    fn spend(&mut self) -> bool {
        self.states_explored += 1;
        match self.budget {
            Budget::States(max) => self.states_explored <= max,
            // Reads the clock on the first state and every interval after it.
            Budget::Deadline(at) => {
                (self.states_explored - 1) % CLOCK_READ_INTERVAL_STATES != 0 || Instant::now() < at
            }
        }
    }
}

/// The events of one part as a doubly linked list (node 0 is the head sentinel).
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
    /// The part-local operation of each node.
    op: Vec<usize>,
    /// Whether each node is a return event.
    is_return: Vec<bool>,
    /// Each operation's return node, `NIL` when its outcome is unknown.
    return_node: Vec<usize>,
}

impl Events {
    /// The list for the operations `ids` of `ops`, in time order.
    fn new<I, O>(ops: &[Op<I, O>], ids: &[usize]) -> Self {
        // (time, is_return, op): calls sort before returns at the same time.
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ids.len());
        for (local, &global) in ids.iter().enumerate() {
            events.push((ops[global].call_ns, false, local));
            if let Some(ret) = ops[global].return_ns() {
                events.push((ret, true, local));
            }
        }
        events.sort_unstable();
        let len = events.len() + 1;
        let mut list = Events {
            next: (1..=len).map(|n| if n == len { NIL } else { n }).collect(),
            prev: (0..len).map(|n| n.wrapping_sub(1)).collect(),
            op: vec![NIL; len],
            is_return: vec![false; len],
            return_node: vec![NIL; ids.len()],
        };
        for (i, &(_, is_return, local)) in events.iter().enumerate() {
            list.op[i + 1] = local;
            list.is_return[i + 1] = is_return;
            if is_return {
                list.return_node[local] = i + 1;
            }
        }
        list
    }

    fn unlink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = next;
        if next != NIL {
            self.prev[next] = prev;
        }
    }

    /// Puts back a node unlinked last; its own links still name its old neighbours.
    fn relink(&mut self, node: usize) {
        let (prev, next) = (self.prev[node], self.next[node]);
        self.next[prev] = node;
        if next != NIL {
            self.prev[next] = node;
        }
    }

    /// Takes call `node` and its return out of the list.
    fn lift(&mut self, node: usize) {
        self.unlink(node);
        let ret = self.return_node[self.op[node]];
        if ret != NIL {
            self.unlink(ret);
        }
    }

    /// Undoes the last `lift(node)`, in reverse order.
    fn unlift(&mut self, node: usize) {
        let ret = self.return_node[self.op[node]];
        if ret != NIL {
            self.relink(ret);
        }
        self.relink(node);
    }

    /// The candidates to take effect next (calls before the first return) and the
    /// operation of that first return, if any: the operations a stuck search involves.
    fn frontier(&self) -> Vec<usize> {
        let mut ops = Vec::new();
        let mut node = self.next[0];
        while node != NIL {
            ops.push(self.op[node]);
            if self.is_return[node] {
                break;
            }
            node = self.next[node];
        }
        ops
    }
}

/// One linearized operation on the search stack: its call node and the state before it.
struct Frame<S> {
    node: usize,
    state_before: S,
}

/// The deepest point the search reached, in part-local operation ids.
struct Deepest {
    prefix: Vec<usize>,
    involved: Vec<usize>,
}

impl Deepest {
    /// The starting point: nothing linearized yet.
    fn start(events: &Events) -> Self {
        Deepest { prefix: Vec::new(), involved: events.frontier() }
    }

    /// Records the current point if it is deeper than any before.
    fn offer<S>(&mut self, stack: &[Frame<S>], events: &Events) {
        if stack.len() > self.prefix.len() {
            self.prefix = stack.iter().map(|frame| events.op[frame.node]).collect();
            self.involved = events.frontier();
        }
    }

    /// The violation, with part-local ids mapped back to history indices.
    fn into_found(mut self, ids: &[usize]) -> Found {
        self.involved.sort_unstable();
        self.involved.dedup();
        Found::Violation {
            involved: self.involved.iter().map(|&local| ids[local]).collect(),
            prefix: self.prefix.iter().map(|&local| ids[local]).collect(),
        }
    }
}

/// Searches for a linearization of the operations `ids` of `ops` (one part).
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    ids: &[usize],
    meter: &mut Meter,
) -> Found {
    let mut events = Events::new(ops, ids);
    let mut linearized = Bits::new(ids.len());
    let mut cache = Cache::new(&linearized);
    let mut stack: Vec<Frame<M::State>> = Vec::new();
    let mut deepest = Deepest::start(&events);
    let mut state = model.init();
    let mut pending = ids.iter().filter(|&&i| ops[i].return_ns().is_some()).count();
    let mut node = events.next[0];
    while pending > 0 {
        if node == NIL || events.is_return[node] {
            // A completed operation is due: undo the last choice and try the next one.
            let Some(frame) = stack.pop() else { return deepest.into_found(ids) };
            let local = events.op[frame.node];
            linearized.clear(local);
            pending += usize::from(events.return_node[local] != NIL);
            state = frame.state_before;
            events.unlift(frame.node);
            node = events.next[frame.node];
            continue;
        }
        let local = events.op[node];
        let op = &ops[ids[local]];
        let Some(after) = model.step(&state, &op.input, op.output()) else {
            node = events.next[node];
            continue;
        };
        if !cache.insert(&linearized, local, &after) {
            node = events.next[node];
            continue;
        }
        if !meter.spend() {
            return Found::OutOfBudget;
        }
        let state_before = std::mem::replace(&mut state, after);
        stack.push(Frame { node, state_before });
        linearized.set(local);
        pending -= usize::from(events.return_node[local] != NIL);
        events.lift(node);
        deepest.offer(&stack, &events);
        node = events.next[0];
    }
    Found::Linearizable
}
