//! A load thread: many logical clients multiplexed on one thread. Closed loop: every client
//! starts its next operation as soon as the last one completes. Open loop: operations are
//! scheduled at a fixed rate; an operation waiting for an idle client still counts its
//! latency from its scheduled time, so a stall is never hidden (no coordinated omission).
//! A hosted load (`HostedThread`) replaces the logical clients with one `HostedLoad`.

use super::net::{Packet, Replies, Shared};
use super::Clock;
use crate::history::Operation;
use crate::metrics::Latency;
use crate::workload::{
    history_record, Client, ClusterView, HostedLoad, LoadAction, Next, OpGen, RequestCounts,
    WorkloadSpec,
};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pinraft_engine::{ClientRequest, NodeId};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// How often outstanding requests are checked for a timeout.
const TIMEOUT_SCAN_NS: u64 = 5_000_000;
/// A client that was told "no leader known" waits this long before trying the next node.
pub(crate) const REDIRECT_BACKOFF_NS: u64 = 1_000_000;

/// What a load thread hands back.
pub(crate) struct LoadResult {
    pub counts: RequestCounts,
    /// From the scheduled (open loop) or actual (closed loop) send time to the reply.
    pub latency: Latency,
    /// From the actual first send to the reply.
    pub service_latency: Latency,
    /// Every operation, when recording: completed ones and, as `unknown`, open ones.
    pub history: Vec<Operation>,
    /// Operations answered `ok` per `TIMELINE_BUCKET_NS` since the start, warm-up included.
    pub timeline: Vec<u64>,
}

/// Width of a timeline bucket.
pub(crate) const TIMELINE_BUCKET_NS: u64 = 100_000_000;

/// Everything a load thread owns.
pub(crate) struct LoadThread<B> {
    pub index: usize,
    pub threads: usize,
    pub clients: usize,
    /// Client ids start after this (a multiple of `threads`): client `k` of this thread is
    /// `client_base + k * threads + index + 1`.
    pub client_base: u64,
    pub nodes: Vec<Sender<Packet<B>>>,
    pub inbox: Receiver<Replies>,
    pub spec: WorkloadSpec,
    /// Open loop: operations per second for this thread; `None` is closed loop.
    pub rate: Option<f64>,
    pub client_timeout_ns: u64,
    pub rng: ChaCha8Rng,
    pub clock: Clock,
    pub warmup_end_ns: u64,
    pub end_ns: u64,
    pub record_history: bool,
}

struct State {
    clients: Vec<Client>,
    /// The scheduled time of each client's current operation (open loop).
    scheduled: Vec<u64>,
    idle: Vec<usize>,
    backlog: VecDeque<u64>,
    next_arrival_ns: u64,
    retries: BinaryHeap<Reverse<(u64, usize)>>,
    outbox: Vec<Vec<Arc<ClientRequest>>>,
    op_gen: OpGen,
    result: LoadResult,
    measuring: bool,
}

impl<B: Send> LoadThread<B> {
    pub(crate) fn run(mut self) -> LoadResult {
        let nodes = self.nodes.len() as u64;
        let mut st = State {
            clients: (0..self.clients)
                .map(|k| {
                    let id = self.client_base + (k * self.threads + self.index + 1) as u64;
                    Client::new(id, nodes, 1)
                })
                .collect(),
            scheduled: vec![0; self.clients],
            idle: (0..self.clients).rev().collect(),
            backlog: VecDeque::new(),
            next_arrival_ns: self.clock.now_ns(),
            retries: BinaryHeap::new(),
            outbox: vec![Vec::new(); self.nodes.len()],
            op_gen: OpGen::new(&self.spec),
            result: LoadResult {
                counts: RequestCounts::default(),
                latency: Latency::new(),
                service_latency: Latency::new(),
                history: Vec::new(),
                timeline: vec![0; (self.end_ns / TIMELINE_BUCKET_NS + 1) as usize],
            },
            measuring: false,
        };
        let mut next_scan = 0;
        loop {
            let now = self.clock.now_ns();
            if now >= self.end_ns {
                break;
            }
            if !st.measuring && now >= self.warmup_end_ns {
                st.measuring = true;
                st.result.counts = RequestCounts::default();
                st.result.latency = Latency::new();
                st.result.service_latency = Latency::new();
            }
            self.start_operations(now, &mut st);
            self.due_retries(now, &mut st);
            if now >= next_scan {
                next_scan = now + TIMEOUT_SCAN_NS;
                self.scan_timeouts(now, &mut st);
            }
            self.flush(&mut st);
            let deadline = self.deadline_ns(&st).min(next_scan);
            let wait = Duration::from_nanos(deadline.saturating_sub(now));
            match self.inbox.recv_timeout(wait) {
                Ok(replies) => {
                    self.on_replies(replies, self.clock.now_ns(), &mut st);
                    // Each batch reads the clock again: a reply to an operation started a
                    // moment ago must not be timed with the older reading.
                    while let Ok(more) = self.inbox.try_recv() {
                        self.on_replies(more, self.clock.now_ns(), &mut st);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.finish(st)
    }

    fn finish(&self, mut st: State) -> LoadResult {
        for client in &st.clients {
            if let Some(out) = client.outstanding() {
                st.result.counts.unanswered += 1;
                if self.record_history {
                    st.result.history.push(history_record(&out.request, out.call_ns, None));
                }
            }
        }
        st.result
    }

    fn deadline_ns(&self, st: &State) -> u64 {
        let retry = st.retries.peek().map_or(u64::MAX, |Reverse((at, _))| *at);
        let arrival = if self.rate.is_some() { st.next_arrival_ns } else { u64::MAX };
        let warmup = if st.measuring { u64::MAX } else { self.warmup_end_ns };
        self.end_ns.min(retry).min(arrival).min(warmup)
    }

    /// Closed loop: every idle client starts. Open loop: scheduled operations start on idle
    /// clients, oldest first.
    fn start_operations(&mut self, now: u64, st: &mut State) {
        if let Some(rate) = self.rate {
            let interval = (1e9 / rate).max(1.0) as u64;
            while st.next_arrival_ns <= now {
                st.backlog.push_back(st.next_arrival_ns);
                st.next_arrival_ns += interval;
            }
        }
        while let Some(&k) = st.idle.last() {
            let scheduled = match self.rate {
                Some(_) => match st.backlog.pop_front() {
                    Some(at) => at,
                    None => break,
                },
                None => now,
            };
            st.idle.pop();
            let client = &mut st.clients[k];
            let op = st.op_gen.op(&mut self.rng, client.id(), client.next_seq());
            let (to, request) = client.start(op, now);
            st.scheduled[k] = scheduled;
            st.outbox[to as usize - 1].push(request);
        }
    }

    fn due_retries(&mut self, now: u64, st: &mut State) {
        while let Some(&Reverse((at, k))) = st.retries.peek() {
            if at > now {
                break;
            }
            st.retries.pop();
            if let Some(out) = st.clients[k].outstanding() {
                let (to, request) = (out.target, out.request.clone());
                st.clients[k].sent(to, now);
                st.outbox[to as usize - 1].push(request);
            }
        }
    }

    fn scan_timeouts(&mut self, now: u64, st: &mut State) {
        for k in 0..st.clients.len() {
            let next = st.clients[k].on_tick(now, self.client_timeout_ns, &mut st.result.counts);
            self.follow(k, next, now, st);
        }
    }

    fn on_replies(&mut self, replies: Replies, now: u64, st: &mut State) {
        for reply in replies {
            let k = (reply.client - self.client_base - 1) as usize / self.threads;
            let next =
                st.clients[k].on_reply(&reply, now, REDIRECT_BACKOFF_NS, &mut st.result.counts);
            self.follow(k, next, now, st);
        }
        // Closed loop: the clients just answered start their next operation at once, in
        // the same outbound batch as any retries.
        self.start_operations(now, st);
        self.flush(st);
    }

    fn follow(&mut self, k: usize, next: Next, now: u64, st: &mut State) {
        match next {
            Next::Ignore => {}
            Next::Done(done) => {
                let bucket = (now / TIMELINE_BUCKET_NS) as usize;
                if let Some(slot) = st.result.timeline.get_mut(bucket) {
                    *slot += 1;
                }
                if st.measuring {
                    st.result.latency.record_ns(now - st.scheduled[k]);
                    st.result.service_latency.record_ns(now - done.call_ns);
                }
                if self.record_history {
                    st.result.history.push(history_record(
                        &done.request,
                        done.call_ns,
                        Some(&done),
                    ));
                }
                st.idle.push(k);
            }
            Next::Retry { to, at_ns, request } if at_ns <= now => {
                st.outbox[to as usize - 1].push(request);
            }
            Next::Retry { at_ns, .. } => st.retries.push(Reverse((at_ns, k))),
        }
    }

    /// One channel operation per node with requests waiting. A full channel loses them:
    /// the clients will time out and retry, as over a real network.
    fn flush(&mut self, st: &mut State) {
        for (to, requests) in st.outbox.iter_mut().enumerate() {
            if !requests.is_empty() {
                let _ = self.nodes[to].try_send(Packet::Requests(std::mem::take(requests)));
            }
        }
    }
}

/// The thread of a hosted load (`cluster::run_hosted`): one `HostedLoad` instead of the
/// logical clients above. It wakes the load when it asks, hands it every reply, and performs
/// its actions: requests go out in one packet per node, crashes and cuts go to the shared
/// state as the control plane would apply them.
pub(crate) struct HostedThread<L, B> {
    pub load: L,
    pub nodes: Vec<Sender<Packet<B>>>,
    pub inbox: Receiver<Replies>,
    pub shared: Arc<Shared>,
    pub clock: Clock,
    pub end_ns: u64,
}

/// What a hosted load thread hands back.
pub(crate) struct HostedResult<L> {
    pub load: L,
    /// Packets of requests sent and of replies received.
    pub client_packets: u64,
}

impl<L: HostedLoad, B: Send> HostedThread<L, B> {
    pub(crate) fn run(mut self) -> HostedResult<L> {
        let mut outbox: Vec<Vec<Arc<ClientRequest>>> = vec![Vec::new(); self.nodes.len()];
        let mut actions = Vec::new();
        let mut client_packets = 0;
        loop {
            let now = self.clock.now_ns();
            if now >= self.end_ns || self.shared.stopped() {
                break;
            }
            if self.load.next_wake_ns() <= now {
                self.load.wake(now, &self.view(), &mut actions);
                self.perform(&mut actions, &mut outbox);
            }
            let sent = self.flush(&mut outbox);
            self.count(sent, &mut client_packets);
            let deadline = self.load.next_wake_ns().min(self.end_ns);
            let wait = Duration::from_nanos(deadline.saturating_sub(now));
            match self.inbox.recv_timeout(wait) {
                Ok(first) => {
                    let view = self.view();
                    let batches = std::iter::once(first)
                        .chain(std::iter::from_fn(|| self.inbox.try_recv().ok()))
                        // An empty packet is the control plane's wake-up call, not a reply.
                        .filter(|replies| !replies.is_empty())
                        .collect::<Vec<_>>();
                    self.count(batches.len() as u64, &mut client_packets);
                    for replies in batches {
                        let now = self.clock.now_ns();
                        for reply in replies {
                            self.load.on_reply(reply, now, &view, &mut actions);
                        }
                    }
                    self.perform(&mut actions, &mut outbox);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        HostedResult { load: self.load, client_packets }
    }

    /// Counts client packets here and in the shared total `max_packets` is checked against.
    fn count(&self, packets: u64, total: &mut u64) {
        if packets > 0 {
            *total += packets;
            self.shared.add_packets(0, packets);
        }
    }

    fn view(&self) -> ClusterView {
        let n = self.nodes.len() as NodeId;
        ClusterView {
            leader: self.shared.leader(),
            alive: (1..=n).map(|id| self.shared.is_alive(id)).collect(),
        }
    }

    fn perform(&self, actions: &mut Vec<LoadAction>, outbox: &mut [Vec<Arc<ClientRequest>>]) {
        for action in actions.drain(..) {
            match action {
                LoadAction::Send { to, request } => outbox[to as usize - 1].push(request),
                LoadAction::Crash(id) => {
                    if self.shared.is_alive(id) {
                        self.shared.mark_dead(id);
                        let _ = self.nodes[id as usize - 1].send(Packet::Crash);
                    }
                }
                LoadAction::Restart(id) => self.shared.request_restart(id),
                LoadAction::Partition(side) => self.shared.partition(&side),
                LoadAction::Heal => self.shared.heal(),
            }
        }
    }

    /// One packet per node with requests waiting; returns how many were sent.
    fn flush(&self, outbox: &mut [Vec<Arc<ClientRequest>>]) -> u64 {
        let mut packets = 0;
        for (to, requests) in outbox.iter_mut().enumerate() {
            if !requests.is_empty() {
                packets += 1;
                let _ = self.nodes[to].try_send(Packet::Requests(std::mem::take(requests)));
            }
        }
        packets
    }
}
