//! Our own clients in a scenario: `workload::Client`, the client both runtimes use for
//! `pinraft run` and `pinraft sim` (shared keys, one request outstanding, the same request
//! id on every retry, a timeout that moves on to the next node). Closed loop: each client
//! starts its next operation when the last one completes. Open loop: operations arrive at
//! a fixed rate and wait, in order, for an idle client.
//!
//! A reply to an operation the client completed already is a duplicate; the correctness
//! of the values read is the history check's business (keys are shared, so no client can
//! know on its own what a get must read).

use super::driver::{Kind, Tally};
use crate::workload::WorkloadSpec;
use crate::workload::{
    history_record, Client, ClusterView, LoadAction, Next, OpGen, RequestCounts,
};
use pinraft_engine::{ClientReply, Op};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};

/// After a redirect that names no leader, a client waits this long before trying the next
/// node (the simulator's own clients wait as long).
const REDIRECT_BACKOFF_NS: u64 = 10_000_000;

#[derive(Debug)]
pub(super) struct SessionClients {
    clients: Vec<Client>,
    op_gen: OpGen,
    rng: ChaCha8Rng,
    /// Open loop: nanoseconds between arrivals; `None` is closed loop.
    interval_ns: Option<u64>,
    next_arrival_ns: u64,
    /// Operations start in [start_ns, stop_ns).
    start_ns: u64,
    stop_ns: u64,
    started: bool,
    idle: Vec<usize>,
    /// Open loop: arrivals waiting for an idle client.
    backlog: VecDeque<u64>,
    /// Retries waiting out a backoff: (due time, client index) -> ().
    delayed: BTreeMap<(u64, usize), ()>,
    timeout_ns: u64,
    counts: RequestCounts,
}

impl SessionClients {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        clients: u64,
        nodes: u64,
        rate: Option<u64>,
        spec: &WorkloadSpec,
        timeout_ns: u64,
        start_ns: u64,
        duration_ns: u64,
        mut rng: ChaCha8Rng,
    ) -> SessionClients {
        let clients: Vec<Client> =
            (1..=clients).map(|c| Client::new(c, nodes, rng.gen_range(1..=nodes))).collect();
        SessionClients {
            idle: (0..clients.len()).rev().collect(),
            clients,
            op_gen: OpGen::new(spec),
            rng,
            interval_ns: rate.map(|r| (1_000_000_000 / r).max(1)),
            next_arrival_ns: start_ns,
            start_ns,
            stop_ns: start_ns + duration_ns,
            started: false,
            backlog: VecDeque::new(),
            delayed: BTreeMap::new(),
            timeout_ns,
            counts: RequestCounts::default(),
        }
    }

    pub(super) fn next_wake_ns(&self) -> u64 {
        let start = if self.started { u64::MAX } else { self.start_ns };
        let arrival = match self.interval_ns {
            Some(_) if self.next_arrival_ns < self.stop_ns => self.next_arrival_ns,
            _ => u64::MAX,
        };
        let retry = self.delayed.keys().next().map_or(u64::MAX, |&(at, _)| at);
        let timeout = self.clients.iter().filter_map(|c| c.deadline_ns(self.timeout_ns)).min();
        start.min(arrival).min(retry).min(timeout.unwrap_or(u64::MAX))
    }

    pub(super) fn wake(&mut self, now_ns: u64, out: &mut Vec<LoadAction>, tally: &mut Tally) {
        if !self.started && now_ns >= self.start_ns {
            self.started = true;
        }
        if let Some(interval) = self.interval_ns {
            while self.next_arrival_ns <= now_ns && self.next_arrival_ns < self.stop_ns {
                self.backlog.push_back(self.next_arrival_ns);
                self.next_arrival_ns += interval;
            }
        }
        self.start_operations(now_ns, out, tally);
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now_ns {
                break;
            }
            let (_, k) = *entry.key();
            entry.remove();
            if let Some(o) = self.clients[k].outstanding() {
                let (to, request) = (o.target, o.request.clone());
                self.clients[k].sent(to, now_ns);
                out.push(LoadAction::Send { to, request });
            }
        }
        for k in 0..self.clients.len() {
            let next = self.clients[k].on_tick(now_ns, self.timeout_ns, &mut self.counts);
            self.follow(k, next, now_ns, out, tally);
        }
    }

    /// Closed loop: every idle client starts (before the stop time). Open loop: waiting
    /// arrivals go to idle clients, oldest first.
    fn start_operations(&mut self, now_ns: u64, out: &mut Vec<LoadAction>, tally: &mut Tally) {
        if !self.started || now_ns >= self.stop_ns && self.interval_ns.is_none() {
            return;
        }
        while let Some(&k) = self.idle.last() {
            if self.interval_ns.is_some() && self.backlog.pop_front().is_none() {
                break;
            }
            self.idle.pop();
            let client = &mut self.clients[k];
            let op = self.op_gen.op(&mut self.rng, client.id(), client.next_seq());
            tally.operations += 1;
            tally.sent(if matches!(op, Op::Get { .. }) { Kind::Get } else { Kind::Put });
            let (to, request) = client.start(op, now_ns);
            out.push(LoadAction::Send { to, request });
        }
    }

    pub(super) fn on_reply(
        &mut self,
        reply: ClientReply,
        now_ns: u64,
        _view: &ClusterView,
        out: &mut Vec<LoadAction>,
        tally: &mut Tally,
    ) {
        let (c, s) = (reply.client, reply.seq);
        let Some(k) = tally.client_index(c, self.clients.len()) else { return };
        let client = &mut self.clients[k];
        match client.outstanding() {
            Some(o) if o.request.seq == s => tally.latency(now_ns.saturating_sub(o.sent_ns)),
            _ if s < client.next_seq() => return tally.duplicates += 1,
            _ => return tally.error(format!("a reply to request id {c}.{s}, never sent")),
        }
        let before = self.counts;
        let next = client.on_reply(&reply, now_ns, REDIRECT_BACKOFF_NS, &mut self.counts);
        tally.fail += self.counts.fail - before.fail;
        tally.redirect += self.counts.redirect - before.redirect;
        self.follow(k, next, now_ns, out, tally);
        self.start_operations(now_ns, out, tally);
    }

    fn follow(
        &mut self,
        k: usize,
        next: Next,
        now_ns: u64,
        out: &mut Vec<LoadAction>,
        tally: &mut Tally,
    ) {
        match next {
            Next::Ignore => {}
            Next::Done(done) => {
                tally.ok += 1;
                tally.history.push(history_record(&done.request, done.call_ns, Some(&done)));
                self.idle.push(k);
            }
            Next::Retry { to, at_ns, request } if at_ns <= now_ns => {
                out.push(LoadAction::Send { to, request });
            }
            Next::Retry { at_ns, .. } => {
                self.delayed.insert((at_ns, k), ());
            }
        }
    }

    /// The end of the run: operations in flight are unanswered; arrivals still waiting for
    /// a client were never sent.
    pub(super) fn finish(&mut self, tally: &mut Tally) {
        for client in &self.clients {
            if let Some(o) = client.outstanding() {
                let kind =
                    if matches!(o.request.op, Op::Get { .. }) { Kind::Get } else { Kind::Put };
                tally.unanswered(kind);
                tally.history.push(history_record(&o.request, o.call_ns, None));
            }
        }
        tally.not_sent += self.backlog.len() as u64;
        tally.timeouts = self.counts.timeout;
    }
}
