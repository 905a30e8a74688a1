//! `Simulator`: one thread, a virtual clock, the event queue and one seeded RNG driving `n`
//! engine nodes, the network between them and the logical clients. After every event the
//! node it touched is checked against the invariants. Tests can step it by hand and inject
//! faults between steps; [`super::run`] simply steps it to the end.
//!
//! It never reads a clock, spawns a thread or iterates a hash map: the same configuration
//! gives the same sequence of events, the same trace hash and the same report.

use super::config::SimConfig;
use super::disk::{Held, Input};
use super::invariants::Invariants;
use super::network::{Faults, Network};
use super::queue::{EventQueue, Kind};
use super::trace::{describe, Trace};
use crate::history::Operation;
use crate::storage::SimStorage;
use crate::workload::SnapshotCounts;
use crate::workload::{Client, HostedLoad, OpGen, PacketKinds, RequestCounts};
use pinraft_engine::{Batch, HardState, Node, NodeId, Ready, Role, Term};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Most `ready`/`advance` rounds one input may cause; more means the node never settles.
pub const READY_ROUNDS_MAX: usize = 64;

/// Most events in one run, a bound on a run that would otherwise never end.
pub const EVENTS_MAX: u64 = 20_000_000;

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum End {
    /// Still running.
    Running,
    /// Quiet phase, every request answered and a leader in charge.
    Converged,
    /// The quiet phase ran out.
    QuietTimeUp,
    /// Nothing left to happen.
    QueueEmpty,
    /// [`EVENTS_MAX`] reached.
    EventBudget,
    /// An invariant broke: the run stops at the event that broke it, since the nodes'
    /// states are no longer ones Raft can reach (and the engine's own assertions may fire).
    Violation,
}

impl End {
    /// The name used in text and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            End::Running => "running",
            End::Converged => "converged",
            End::QuietTimeUp => "quiet-time-up",
            End::QueueEmpty => "queue-empty",
            End::EventBudget => "event-budget",
            End::Violation => "violation",
        }
    }
}

/// A simulated cluster, stepped one event at a time.
#[derive(Debug)]
pub struct Simulator {
    pub(super) cfg: SimConfig,
    pub(super) rng: ChaCha8Rng,
    pub(super) now_ns: u64,
    pub(super) queue: EventQueue,
    pub(super) nodes: Vec<Node>,
    /// The seed every node's engine config carries.
    pub(super) engine_seed: u64,
    pub(super) crashed: Vec<bool>,
    /// Per node: the generation of its one live timer event, and when it is due.
    pub(super) timer_gen: Vec<u64>,
    pub(super) timer_at: Vec<u64>,
    pub(super) network: Network,
    pub(super) clients: Vec<Client>,
    pub(super) op_gen: OpGen,
    /// Per client: the generation of its live timer or delayed send.
    pub(super) client_gen: Vec<u64>,
    pub(super) counts: RequestCounts,
    /// Clients with an operation in flight.
    pub(super) outstanding: u64,
    pub(super) quiet: bool,
    pub(super) invariants: Invariants,
    pub(super) trace: Trace,
    pub(super) history: Vec<Operation>,
    pub(super) events_applied: Vec<String>,
    pub(super) events_processed: u64,
    pub(super) end: End,
    /// A hosted load in place of the built-in clients (`Simulator::new_hosted`). Its wake-ups
    /// ride on client 1's timer events (`client_gen[0]`), which its absent clients leave free.
    pub(super) hosted: Option<Box<dyn HostedLoad>>,
    /// Built by `new_hosted`: client replies and timers belong to the hosted load, even
    /// after it was taken back.
    pub(super) is_hosted: bool,
    /// When the hosted load's one live wake-up event is due.
    pub(super) hosted_wake_at: u64,
    /// Client packets: requests sent to nodes and replies sent back, one packet each.
    pub(super) client_packets: u64,
    /// Packets between nodes by what they carry.
    pub(super) packet_kinds: PacketKinds,
    /// Per node: its simulated disk, which outlives its crashes.
    pub(super) disks: Vec<SimStorage>,
    /// Per node: the `Ready` waiting for its fsync, if any (with a fsync latency only).
    pub(super) held: Vec<Option<Held>>,
    /// Per node: the generation of its one live `Synced` event.
    pub(super) sync_gen: Vec<u64>,
    /// Per node: inputs that arrived while it waited for its fsync, oldest first.
    pub(super) inbox: Vec<Vec<Input>>,
    /// Draws what crashes do to unsynced writes. A stream of its own, so that crash damage
    /// never changes what the network or the clients draw.
    pub(super) disk_rng: ChaCha8Rng,
    /// Restarts performed.
    pub(super) restarts: u64,
    /// Elections started by node incarnations that a restart replaced.
    pub(super) elections_retired: u64,
    /// Snapshot counters of node incarnations replaced by restarts.
    pub(super) snapshots_retired: SnapshotCounts,
    /// Batches resent, and of those fast retransmits, by node incarnations that were
    /// replaced by a restart.
    pub(super) resent_retired: (u64, u64),
}

/// The stream of the run's seed that `Simulator::disk_rng` draws from (the simulator's main
/// RNG is stream 0; a fuzz case draws its parameters from stream 1).
const DISK_RNG_STREAM: u64 = 2;

impl Simulator {
    /// A cluster at time 0: every node a follower, every client about to start, the fault
    /// events and the end of the fault phase queued.
    pub fn new(cfg: &SimConfig) -> Result<Simulator, String> {
        let mut sim = Simulator::build(cfg)?;
        sim.schedule_start();
        Ok(sim)
    }

    /// A cluster at time 0 whose clients are `load`'s (`cfg.clients` start no operation of
    /// their own): the load is woken when it asks, hears every reply, and its actions are
    /// performed at once. The fault events and the end of the fault phase are queued as in
    /// [`Simulator::new`].
    pub fn new_hosted(cfg: &SimConfig, load: Box<dyn HostedLoad>) -> Result<Simulator, String> {
        let mut sim = Simulator::build(cfg)?;
        sim.hosted = Some(load);
        sim.is_hosted = true;
        for event in sim.cfg.events.clone() {
            sim.queue.push(event.at_ns, Kind::Fault { event });
        }
        sim.queue.push(sim.cfg.duration_ns, Kind::QuietStart);
        for i in 0..sim.nodes.len() {
            sim.reschedule_timer(i);
        }
        sim.reschedule_hosted();
        Ok(sim)
    }

    /// The nodes, clients and network at time 0, nothing queued yet.
    fn build(cfg: &SimConfig) -> Result<Simulator, String> {
        cfg.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let engine_seed: u64 = rng.gen();
        let nodes = (1..=cfg.nodes)
            .map(|id| {
                Node::new(cfg.engine_config(id, engine_seed))
                    .map_err(|e| format!("engine config: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let clients = (1..=cfg.clients)
            .map(|c| Client::new(c, cfg.nodes, rng.gen_range(1..=cfg.nodes)))
            .collect();
        let faults = Faults {
            loss_ppm: cfg.loss_ppm,
            dup_ppm: cfg.dup_ppm,
            reorder_ppm: cfg.reorder_ppm,
            delay_min_ns: cfg.delay_min_ns,
            delay_max_ns: cfg.delay_max_ns,
        };
        let n = cfg.nodes as usize;
        let mut disk_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        disk_rng.set_stream(DISK_RNG_STREAM);
        let sim = Simulator {
            rng,
            now_ns: 0,
            queue: EventQueue::default(),
            nodes,
            engine_seed,
            crashed: vec![false; n],
            timer_gen: vec![0; n],
            timer_at: vec![u64::MAX; n],
            network: Network::new(cfg.nodes, faults),
            clients,
            op_gen: OpGen::new(&cfg.workload),
            client_gen: vec![0; cfg.clients as usize],
            counts: RequestCounts::default(),
            outstanding: 0,
            quiet: false,
            invariants: Invariants::new(),
            trace: Trace::new(cfg.record_trace),
            history: Vec::new(),
            events_applied: Vec::new(),
            events_processed: 0,
            end: End::Running,
            hosted: None,
            is_hosted: false,
            hosted_wake_at: u64::MAX,
            client_packets: 0,
            packet_kinds: PacketKinds::default(),
            disks: vec![SimStorage::new(cfg.fsync); n],
            held: (0..n).map(|_| None).collect(),
            sync_gen: vec![0; n],
            inbox: (0..n).map(|_| Vec::new()).collect(),
            disk_rng,
            restarts: 0,
            elections_retired: 0,
            snapshots_retired: SnapshotCounts::default(),
            resent_retired: (0, 0),
            cfg: cfg.clone(),
        };
        Ok(sim)
    }

    fn schedule_start(&mut self) {
        for client in 1..=self.cfg.clients {
            let at = self.rng.gen_range(0..=self.cfg.delay_max_ns);
            self.queue.push(at, Kind::ClientStart { client });
        }
        for event in self.cfg.events.clone() {
            self.queue.push(event.at_ns, Kind::Fault { event });
        }
        self.queue.push(self.cfg.duration_ns, Kind::QuietStart);
        for i in 0..self.nodes.len() {
            self.reschedule_timer(i);
        }
    }

    /// Processes the next event. Returns false once the run is over.
    pub fn step(&mut self) -> bool {
        if self.end != End::Running {
            return false;
        }
        // A crash or restart made between steps may have broken an invariant.
        if !self.invariants.is_clean() {
            self.end = End::Violation;
            return false;
        }
        if self.quiet && self.outstanding == 0 && self.stable_leader().is_some() {
            self.end = End::Converged;
            return false;
        }
        if self.events_processed >= EVENTS_MAX {
            self.end = End::EventBudget;
            return false;
        }
        let Some((at_ns, kind)) = self.queue.pop() else {
            self.end = End::QueueEmpty;
            return false;
        };
        if at_ns > self.cfg.duration_ns.saturating_add(self.cfg.quiet_ns) {
            self.end = End::QuietTimeUp;
            return false;
        }
        debug_assert!(at_ns >= self.now_ns, "virtual time never goes backwards");
        self.now_ns = at_ns;
        if self.is_stale(&kind) {
            return true;
        }
        self.events_processed += 1;
        self.trace.event(at_ns, &kind);
        self.trace.note(at_ns, || describe(&kind));
        self.dispatch(kind);
        if !self.invariants.is_clean() {
            self.end = End::Violation;
        }
        true
    }

    /// Steps until the run is over.
    pub fn run_to_end(&mut self) {
        while self.step() {}
    }

    /// Steps until virtual time reaches `until_ns` or the run is over.
    pub fn run_until(&mut self, until_ns: u64) {
        while self.now_ns < until_ns && self.step() {}
    }

    /// A timer or delayed client send superseded by a later one: discarded unprocessed.
    fn is_stale(&self, kind: &Kind) -> bool {
        match *kind {
            Kind::Timer { node, gen } => gen != self.timer_gen[node as usize - 1],
            Kind::ClientSend { client, gen, .. } | Kind::ClientTimer { client, gen } => {
                gen != self.client_gen[client as usize - 1]
            }
            Kind::Synced { node, gen } => gen != self.sync_gen[node as usize - 1],
            _ => false,
        }
    }

    fn dispatch(&mut self, kind: Kind) {
        match kind {
            Kind::Deliver { batch } => self.deliver(batch),
            Kind::Timer { node, .. } => {
                let i = node as usize - 1;
                self.timer_at[i] = u64::MAX;
                // A node waiting for its fsync ticks when the fsync is done.
                if self.held[i].is_none() {
                    self.input(node, |_| {});
                }
            }
            Kind::Request { to, request } => {
                let i = to as usize - 1;
                if self.crashed[i] {
                    return;
                }
                if self.held[i].is_some() {
                    return self.hold_input(i, Input::Request(request));
                }
                self.input(to, |node| {
                    node.propose(request);
                });
            }
            Kind::Reply { reply, .. } => self.on_client_reply(reply),
            Kind::ClientStart { client } => self.client_start(client),
            Kind::ClientSend { client, to, request, .. } => {
                self.on_client_send(client, to, request)
            }
            Kind::ClientTimer { client, .. } => self.on_client_timer(client),
            Kind::Fault { event } => self.apply_fault(event),
            Kind::QuietStart => self.start_quiet(),
            Kind::Synced { node, .. } => self.on_synced(node),
        }
    }

    fn deliver(&mut self, batch: Batch) {
        let i = batch.to as usize - 1;
        if self.crashed[i] {
            self.network.dropped(batch.messages.len());
            return;
        }
        if self.held[i].is_some() {
            return self.hold_input(i, Input::Batch(batch));
        }
        let Batch { from, to, messages } = batch;
        self.network.delivered(messages.len());
        self.input(to, |node| {
            for message in messages {
                node.step(from, message);
            }
        });
    }

    /// Feeds node `id` the current time and one input, then settles it.
    fn input(&mut self, id: NodeId, feed: impl FnOnce(&mut Node)) {
        let i = id as usize - 1;
        let before = (self.nodes[i].role(), self.nodes[i].term());
        self.nodes[i].tick(self.now_ns);
        feed(&mut self.nodes[i]);
        self.settle(i, before);
    }

    /// Performs every `Ready` node `i` has, until it has none or one waits for its fsync;
    /// then checks the invariants and re-arms its timer. `before` is its role and term
    /// before the input that started this.
    pub(super) fn settle(&mut self, i: usize, before: (Role, Term)) {
        let id = i as NodeId + 1;
        let mut rounds = 0;
        while self.nodes[i].has_ready() {
            if rounds == READY_ROUNDS_MAX {
                let detail = format!("still has a Ready after {READY_ROUNDS_MAX} rounds");
                self.invariants.contract(self.now_ns, id, detail);
                break;
            }
            rounds += 1;
            if self.perform_ready(i, before) {
                return;
            }
        }
        let node = &self.nodes[i];
        self.invariants.observed(self.now_ns, id, node.role(), node.term(), node);
        let after = (node.role(), node.term());
        if after != before {
            self.trace
                .note(self.now_ns, || format!("node {id} is {:?} in term {}", after.0, after.1));
        }
        self.reschedule_timer(i);
    }

    /// One `ready` round: check what changed and save what must be durable; then, unless
    /// the save waits for its fsync (returns true), release the rest.
    fn perform_ready(&mut self, i: usize, before: (Role, Term)) -> bool {
        let ready = self.nodes[i].ready();
        let node = &self.nodes[i];
        let (id, now, role, term) = (node.id(), self.now_ns, node.role(), node.term());
        // An installed snapshot comes before what the node applied after it; one the node
        // took covers entries it applied in this same `Ready`.
        let (first, last) = match &ready.snapshot {
            Some(s) if s.index < ready.committed.start => (Some(s), None),
            other => (None, other.as_ref()),
        };
        if let Some(snapshot) = first {
            self.invariants.snapshotted(now, id, snapshot);
        }
        self.invariants.appended(now, id, role, term, node, ready.entries.clone());
        self.invariants.applied(now, id, term, node, ready.committed.clone());
        if let Some(snapshot) = last {
            self.invariants.snapshotted(now, id, snapshot);
        }
        for reply in &ready.replies {
            self.invariants.replied(now, id, reply);
        }
        match self.save(i, ready, before) {
            Some(ready) => {
                self.release(i, ready);
                false
            }
            None => true,
        }
    }

    /// What a saved `Ready` does once its writes are as durable as the policy requires: send
    /// the batches, answer the clients, and hand it back to the node.
    pub(super) fn release(&mut self, i: usize, mut ready: Ready) {
        let now = self.now_ns;
        let id = i as NodeId + 1;
        for batch in std::mem::take(&mut ready.messages) {
            self.send_packet(batch);
        }
        for reply in std::mem::take(&mut ready.replies) {
            self.client_packets += 1;
            let delay = self.network.delay(&mut self.rng);
            self.queue.push(now + delay, Kind::Reply { from: id, reply });
        }
        self.nodes[i].advance(ready);
        let node = &self.nodes[i];
        self.invariants.released(id, HardState { term: node.term(), vote: node.vote() });
    }

    fn send_packet(&mut self, batch: Batch) {
        self.packet_kinds.count(&batch.messages);
        let delays = self.network.send(&mut self.rng, batch.from, batch.to, batch.messages.len());
        let Some((&last, copies)) = delays.split_last() else { return };
        for &delay in copies {
            self.queue.push(self.now_ns + delay, Kind::Deliver { batch: batch.clone() });
        }
        self.queue.push(self.now_ns + last, Kind::Deliver { batch });
    }

    /// Keeps exactly one live timer event per node, at its next deadline (never in the past,
    /// so a node that keeps asking for the present still lets time move).
    pub(super) fn reschedule_timer(&mut self, i: usize) {
        if self.crashed[i] {
            return;
        }
        let deadline = self.nodes[i].next_deadline_ns();
        if deadline == u64::MAX {
            self.timer_gen[i] += 1;
            self.timer_at[i] = u64::MAX;
            return;
        }
        let at = deadline.max(self.now_ns + 1);
        if at == self.timer_at[i] {
            return;
        }
        self.timer_gen[i] += 1;
        self.timer_at[i] = at;
        let node = i as NodeId + 1;
        self.queue.push(at, Kind::Timer { node, gen: self.timer_gen[i] });
    }

    fn start_quiet(&mut self) {
        self.quiet = true;
        self.network.quiet();
    }
}
