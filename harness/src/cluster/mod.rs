//! The threaded cluster: every node on its own pinned OS thread, batches moving by pointer
//! through bounded crossbeam channels, faults injected on the sending side, load threads
//! multiplexing many logical clients, and a control plane that plays the timed events.

mod control;
mod load;
mod net;
mod node;

pub use net::NetFaults;

use crate::args::Event;
use crate::history::Operation;
use crate::metrics::{Latency, LatencySummary};
use crate::workload::{HostedLoad, PacketKinds, RequestCounts, WorkloadSpec};
use crossbeam_channel::{bounded, Receiver, Sender};
use load::{HostedThread, LoadThread};
use net::Shared;
use node::{NodeThread, Replica};
use pinraft_engine::{Config, Node};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;

/// Nanoseconds since the start of the run, from the monotonic clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    pub(crate) fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Everything a cluster run needs.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// Node count; ids are 1..=nodes.
    pub nodes: u64,
    /// Measured time, after the warm-up.
    pub duration_ns: u64,
    /// Time before measuring starts; excluded from every figure.
    pub warmup_ns: u64,
    /// Logical clients (closed loop: each keeps one request outstanding).
    pub clients: u64,
    /// Open loop: target operations per second; `None` is closed loop.
    pub rate: Option<u64>,
    /// Threads the clients are spread over.
    pub load_threads: usize,
    /// Keys, mix and value size.
    pub workload: WorkloadSpec,
    /// Engine knobs; `id`, `members` and `seed` are set per node.
    pub engine: Config,
    /// Per-link faults.
    pub faults: NetFaults,
    /// Timed events (kill-leader, partitions, ...), times counted from the start of the run.
    pub events: Vec<Event>,
    /// Seed of every random choice the harness makes (engine timeouts, faults, load).
    pub seed: u64,
    /// A client retries a request unanswered for this long.
    pub client_timeout_ns: u64,
    /// Packets each inbound channel holds; a send to a full channel is a dropped packet.
    pub channel_capacity: usize,
    /// Replace the engine by one that answers every request at once (harness cost).
    pub null_engine: bool,
    /// Keep every operation for a history.
    pub record_history: bool,
    /// End the run once this many packets have been routed (between nodes, lost ones
    /// included, and client packets of a hosted load); `None`: run the whole duration.
    pub max_packets: Option<u64>,
}

impl Default for ClusterConfig {
    fn default() -> ClusterConfig {
        ClusterConfig {
            nodes: 3,
            duration_ns: 3_000_000_000,
            warmup_ns: 1_000_000_000,
            clients: 64,
            rate: None,
            load_threads: 1,
            workload: WorkloadSpec::default(),
            engine: Config::default(),
            faults: NetFaults::default(),
            events: Vec::new(),
            seed: 1,
            client_timeout_ns: 500_000_000,
            channel_capacity: 4_096,
            null_engine: false,
            record_history: false,
            max_packets: None,
        }
    }
}

/// Message counters (JSON `messages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MessageCounts {
    /// Raft messages sent, duplicates included.
    pub sent: u64,
    /// Raft messages stepped by their receiver.
    pub delivered: u64,
    /// Raft messages lost to injected loss, partitions, full channels or dead nodes.
    pub dropped: u64,
    /// Append messages the engine sent again after the resend threshold.
    pub resent: u64,
}

/// Packet counters (JSON `batches`): one packet is one channel send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// Packets sent.
    pub sent: u64,
    /// Packets dropped, for any reason.
    pub dropped: u64,
    /// Of those, packets dropped because the receiver's channel was full.
    pub dropped_full: u64,
    /// Packets sent, by what they carry; they sum to `sent`.
    pub kinds: PacketKinds,
}

/// The measured figures of one run (the window after the warm-up).
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// Length of the measured window in seconds.
    pub duration_s: f64,
    /// Operations answered `ok` in the window.
    pub ops_committed: u64,
    /// `ops_committed / duration_s`.
    pub throughput_ops_s: f64,
    /// Client latency: from the scheduled send (open loop) or the send (closed loop).
    pub latency_us: LatencySummary,
    /// Client latency from the first actual send, whatever the schedule.
    pub service_latency_us: LatencySummary,
    /// Leader commit latency: from a proposal to its commit at the leader.
    pub commit_latency_us: LatencySummary,
    /// Message counters.
    pub messages: MessageCounts,
    /// Packet counters.
    pub batches: BatchCounts,
    /// Elections started.
    pub elections: u64,
    /// Times a node became leader.
    pub leader_changes: u64,
    /// Time no live node was leader, in milliseconds (sampled every millisecond).
    pub leaderless_ms: f64,
    /// Requests by outcome.
    pub requests: RequestCounts,
    /// Operations answered per 100 ms from the start of the run, warm-up included.
    pub timeline_ops_per_100ms: Vec<u64>,
    /// The events played, as `ACTION@TIME`, with what they hit (`kill-leader@2s: node 1`).
    pub events_played: Vec<String>,
    /// Which core each thread ran on.
    #[serde(skip)]
    pub core_mapping: Vec<String>,
    /// Every client operation, when recorded (completed, or `unknown` if still open).
    #[serde(skip)]
    pub history: Vec<Operation>,
}

/// Runs the cluster for the warm-up and the measured duration, then stops every thread.
/// `progress` is called about every 100 ms with the elapsed fraction.
pub fn run(cfg: &ClusterConfig, progress: &mut dyn FnMut(f64)) -> anyhow::Result<RunReport> {
    anyhow::ensure!(cfg.nodes >= 1, "a cluster needs at least one node");
    anyhow::ensure!(cfg.load_threads >= 1, "at least one load thread is needed");
    anyhow::ensure!(cfg.clients >= 1, "at least one client is needed");
    // Only a hosted load counts its packets where the control plane can see them.
    anyhow::ensure!(cfg.max_packets.is_none(), "max_packets needs a hosted load (run_hosted)");
    crate::args::check_event_nodes(&cfg.events, cfg.nodes).map_err(anyhow::Error::msg)?;
    // Core ids are read once here, before any thread is pinned (DESIGN.md's pinning trap).
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let n = cfg.nodes as usize;
    let (node_tx, node_rx): (Vec<_>, Vec<_>) =
        (0..n).map(|_| bounded(cfg.channel_capacity)).unzip();
    let (load_tx, load_rx): (Vec<_>, Vec<_>) =
        (0..cfg.load_threads).map(|_| bounded(cfg.channel_capacity)).unzip();
    let shared = Arc::new(Shared::new(n));
    let clock = Clock { start: Instant::now() };
    let warmup_end_ns = cfg.warmup_ns;
    let end_ns = cfg.warmup_ns + cfg.duration_ns;
    let mut mapping = Vec::new();
    let mut pin = |name: String, slot: usize| {
        let core = (!cores.is_empty()).then(|| cores[slot % cores.len()]);
        mapping.push(format!("{name}: {}", core.map_or("unpinned".into(), |c| c.id.to_string())));
        core
    };
    let node_handles = spawn_nodes(cfg, node_rx, &node_tx, &load_tx, &shared, clock, &mut pin)?;
    drop(load_tx);
    let per_thread =
        |l: usize| (cfg.clients as usize + cfg.load_threads - 1 - l) / cfg.load_threads;
    let mut load_handles = Vec::new();
    for (l, inbox) in load_rx.into_iter().enumerate() {
        let thread = LoadThread {
            index: l,
            threads: cfg.load_threads,
            clients: per_thread(l),
            nodes: node_tx.clone(),
            inbox,
            spec: cfg.workload.clone(),
            rate: cfg.rate.map(|r| r as f64 / cfg.load_threads as f64),
            client_timeout_ns: cfg.client_timeout_ns,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ (0xC1E7 + l as u64)),
            clock,
            warmup_end_ns,
            end_ns,
            record_history: cfg.record_history,
        };
        let core = pin(format!("load{}", l + 1), n + l);
        load_handles.push(spawn(format!("load{}", l + 1), core, move || thread.run())?);
    }
    let played = control::play(cfg, &shared, &node_tx, clock, warmup_end_ns, end_ns, progress);
    let loads: Vec<_> =
        load_handles.into_iter().map(|h| h.join().expect("load thread panicked")).collect();
    for tx in &node_tx {
        let _ = tx.send(net::Packet::Stop);
    }
    drop(node_tx);
    let nodes: Vec<_> =
        node_handles.into_iter().map(|h| h.join().expect("node thread panicked")).collect();
    Ok(assemble(cfg, played, nodes, loads, mapping))
}

/// A hosted run's results: the cluster's figures, the load back, and what the cluster saw of
/// the load's traffic.
pub struct HostedRun<L> {
    /// The nodes' figures (request counts and client latencies are the load's business).
    pub report: RunReport,
    /// The load, after its last reply.
    pub load: L,
    /// Client packets: request packets sent (one per node per flush) and reply packets
    /// received (every reply a node had for the load in one `Ready`).
    pub client_packets: u64,
    /// Nodes whose thread panicked: replicas that died on their own.
    pub died: Vec<u64>,
    /// When `max_packets` stopped the run, if it did.
    pub stopped_at_ns: Option<u64>,
}

/// Runs the cluster for `cfg`'s duration (the warm-up too, if any) with `load` in place of
/// the logical clients: one load thread wakes it, carries its requests and replies, and
/// performs its crashes and cuts. `cfg.events` are played as in [`run`].
pub fn run_hosted<L: HostedLoad>(
    cfg: &ClusterConfig,
    load: L,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<HostedRun<L>> {
    anyhow::ensure!(cfg.nodes >= 1, "a cluster needs at least one node");
    crate::args::check_event_nodes(&cfg.events, cfg.nodes).map_err(anyhow::Error::msg)?;
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let n = cfg.nodes as usize;
    let (node_tx, node_rx): (Vec<_>, Vec<_>) =
        (0..n).map(|_| bounded(cfg.channel_capacity)).unzip();
    let (load_tx, load_rx) = bounded(cfg.channel_capacity);
    let shared = Arc::new(Shared::new(n));
    let clock = Clock { start: Instant::now() };
    let end_ns = cfg.warmup_ns + cfg.duration_ns;
    let mut mapping = Vec::new();
    let mut pin = |name: String, slot: usize| {
        let core = (!cores.is_empty()).then(|| cores[slot % cores.len()]);
        mapping.push(format!("{name}: {}", core.map_or("unpinned".into(), |c| c.id.to_string())));
        core
    };
    let wake_load = load_tx.clone();
    let load_tx = vec![load_tx];
    let node_handles = spawn_nodes(cfg, node_rx, &node_tx, &load_tx, &shared, clock, &mut pin)?;
    drop(load_tx);
    let thread = HostedThread {
        load,
        nodes: node_tx.clone(),
        inbox: load_rx,
        shared: shared.clone(),
        clock,
        end_ns,
    };
    let core = pin("load1".to_string(), n);
    let load_handle = spawn("load1".to_string(), core, move || thread.run())?;
    let played = control::play(cfg, &shared, &node_tx, clock, cfg.warmup_ns, end_ns, progress);
    // An early stop must not wait for the load's next wake-up: an empty packet wakes it.
    let _ = wake_load.try_send(Vec::new());
    let hosted = load_handle.join().expect("load thread panicked");
    for tx in &node_tx {
        let _ = tx.send(net::Packet::Stop);
    }
    drop(node_tx);
    let (mut nodes, mut died) = (Vec::new(), Vec::new());
    for (k, handle) in node_handles.into_iter().enumerate() {
        match handle.join() {
            Ok(result) => nodes.push(result),
            Err(_) => died.push(k as u64 + 1),
        }
    }
    let stopped_at_ns = played.stopped_at_ns;
    let report = assemble(cfg, played, nodes, Vec::new(), mapping);
    Ok(HostedRun {
        report,
        load: hosted.load,
        client_packets: hosted.client_packets,
        died,
        stopped_at_ns,
    })
}

/// Builds every node and spawns its thread, pinned by explicit core id.
fn spawn_nodes(
    cfg: &ClusterConfig,
    node_rx: Vec<Receiver<net::Packet>>,
    node_tx: &[Sender<net::Packet>],
    load_tx: &[Sender<net::Replies>],
    shared: &Arc<Shared>,
    clock: Clock,
    pin: &mut dyn FnMut(String, usize) -> Option<core_affinity::CoreId>,
) -> anyhow::Result<Vec<std::thread::JoinHandle<node::NodeResult>>> {
    let mut node_handles = Vec::new();
    for (k, inbox) in node_rx.into_iter().enumerate() {
        let id = k as u64 + 1;
        let engine =
            Config { id, members: (1..=cfg.nodes).collect(), seed: cfg.seed, ..cfg.engine.clone() };
        let replica = if cfg.null_engine {
            Replica::Null
        } else {
            Replica::Raft(Box::new(Node::new(engine)?))
        };
        let thread = NodeThread {
            id,
            replica,
            inbox,
            peers: node_tx.to_vec(),
            loads: load_tx.to_vec(),
            shared: shared.clone(),
            faults: cfg.faults,
            rng: node::fault_rng(cfg.seed, id),
            clock,
            warmup_end_ns: cfg.warmup_ns,
        };
        let core = pin(format!("node{id}"), k);
        node_handles.push(spawn(format!("node{id}"), core, move || thread.run())?);
    }
    Ok(node_handles)
}

fn spawn<T: Send + 'static>(
    name: String,
    core: Option<core_affinity::CoreId>,
    body: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<std::thread::JoinHandle<T>> {
    let handle = std::thread::Builder::new().name(name).spawn(move || {
        if let Some(core) = core {
            core_affinity::set_for_current(core);
        }
        body()
    })?;
    Ok(handle)
}

fn assemble(
    cfg: &ClusterConfig,
    played: control::Played,
    nodes: Vec<node::NodeResult>,
    loads: Vec<load::LoadResult>,
    core_mapping: Vec<String>,
) -> RunReport {
    let mut requests = RequestCounts::default();
    let (mut latency, mut service, mut commit) = (Latency::new(), Latency::new(), Latency::new());
    let mut history = Vec::new();
    let mut timeline = vec![0; loads.first().map_or(0, |l| l.timeline.len())];
    for l in loads {
        timeline.iter_mut().zip(&l.timeline).for_each(|(t, x)| *t += x);
        requests.add(&l.counts);
        latency.merge(&l.latency);
        service.merge(&l.service_latency);
        history.extend(l.history);
    }
    let (mut messages, mut batches) = (MessageCounts::default(), BatchCounts::default());
    let (mut elections, mut leader_changes) = (0, 0);
    for r in &nodes {
        commit.merge(&r.commit_latency);
        messages.sent += r.counters.messages_sent;
        messages.delivered += r.counters.messages_delivered;
        messages.dropped += r.counters.messages_dropped;
        messages.resent += r.stats.batches_resent;
        batches.sent += r.counters.batches_sent;
        batches.dropped += r.counters.batches_dropped;
        batches.dropped_full += r.counters.batches_dropped_full;
        batches.kinds.add(&r.counters.kinds);
        elections += r.stats.elections;
        leader_changes += r.stats.terms_led;
    }
    let duration_s = cfg.duration_ns as f64 / 1e9;
    RunReport {
        duration_s,
        ops_committed: requests.answered,
        throughput_ops_s: requests.answered as f64 / duration_s,
        latency_us: latency.summary_us(),
        service_latency_us: service.summary_us(),
        commit_latency_us: commit.summary_us(),
        messages,
        batches,
        elections,
        leader_changes,
        leaderless_ms: played.leaderless_ns as f64 / 1e6,
        requests,
        timeline_ops_per_100ms: timeline,
        events_played: played.events,
        core_mapping,
        history,
    }
}
