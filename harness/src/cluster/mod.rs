//! The threaded cluster: every node on its own pinned OS thread, batches moving by pointer
//! through bounded crossbeam channels, faults injected on the sending side, load threads
//! multiplexing many logical clients, a control plane that plays the timed events (crashes
//! and restarts among them), and each node's storage, in memory or a write-ahead log.

mod control;
mod disk;
mod handle;
mod load;
mod net;
mod node;
mod nodes;
mod report;
mod transport;

pub use disk::{node_dir, StorageConfig};
pub use handle::{Cluster, View};
pub use net::NetFaults;
pub use report::{BatchCounts, FsyncCounts, MessageCounts, RecoveredReport, RunReport};

use crate::args::Event;
use crate::replica::{BuildReplica, EngineKind, NullReplica, Pinraft, RaftRs};
use crate::workload::{HostedLoad, WorkloadSpec};
use crossbeam_channel::{bounded, Sender};
use load::{HostedThread, LoadThread};
use net::{Packet, Replies, Shared};
use nodes::{Nodes, Wiring};
use pinraft_engine::{Config, Payload};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use report::Loaded;
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
    /// The engine the nodes run.
    pub engine_kind: EngineKind,
    /// Keep every operation for a history.
    pub record_history: bool,
    /// End the run once this many packets have been routed (between nodes, lost ones
    /// included, and client packets of a hosted load); `None`: run the whole duration.
    pub max_packets: Option<u64>,
    /// Where the nodes keep their hard state and log.
    pub storage: StorageConfig,
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
            engine_kind: EngineKind::Raft,
            record_history: false,
            max_packets: None,
            storage: StorageConfig::Mem,
        }
    }
}

/// Calls `$body` with `$R` the replica type of `$kind`: the one place an engine name turns
/// into a type.
macro_rules! with_engine {
    ($kind:expr, $R:ident => $body:expr) => {
        match $kind {
            EngineKind::Raft => {
                type $R = Pinraft;
                $body
            }
            EngineKind::Null => {
                type $R = NullReplica;
                $body
            }
            EngineKind::RaftRs => {
                type $R = RaftRs;
                $body
            }
        }
    };
}

/// Runs the cluster for the warm-up and the measured duration, then stops every thread.
/// `progress` is called about every 100 ms with the elapsed fraction. Storage that cannot be
/// read is an error before anything runs.
pub fn run(cfg: &ClusterConfig, progress: &mut dyn FnMut(f64)) -> anyhow::Result<RunReport> {
    with_engine!(cfg.engine_kind, R => run_with::<R>(cfg, progress))
}

fn run_with<R: BuildReplica>(
    cfg: &ClusterConfig,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<RunReport> {
    anyhow::ensure!(cfg.load_threads >= 1, "at least one load thread is needed");
    anyhow::ensure!(cfg.clients >= 1, "at least one client is needed");
    // Only a hosted load counts its packets where the control plane can see them.
    anyhow::ensure!(cfg.max_packets.is_none(), "max_packets needs a hosted load (run_hosted)");
    let (load_tx, load_rx): (Vec<_>, Vec<_>) =
        (0..cfg.load_threads).map(|_| bounded(cfg.channel_capacity)).unzip();
    let mut started = start::<R>(cfg, load_tx)?;
    let warmup_end_ns = cfg.warmup_ns;
    let end_ns = cfg.warmup_ns + cfg.duration_ns;
    let threads = cfg.load_threads;
    let per_thread = |l: usize| (cfg.clients as usize + threads - 1 - l) / threads;
    // Client ids continue after those in a recovered log: the state machine remembers the
    // last request of each client, and must not take a new client's first request for an
    // old one. A multiple of the thread count keeps `(client - 1) % threads` the thread.
    let client_base = started.max_client_id.div_ceil(threads as u64) * threads as u64;
    let mut load_handles = Vec::new();
    for (l, inbox) in load_rx.into_iter().enumerate() {
        let thread = LoadThread {
            index: l,
            threads,
            clients: per_thread(l),
            client_base,
            nodes: started.node_tx.clone(),
            inbox,
            spec: cfg.workload.clone(),
            rate: cfg.rate.map(|r| r as f64 / threads as f64),
            client_timeout_ns: cfg.client_timeout_ns,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ (0xC1E7 + l as u64)),
            clock: started.clock,
            warmup_end_ns,
            end_ns,
            record_history: cfg.record_history,
        };
        let core = started.pin(format!("load{}", l + 1), cfg.nodes as usize + l);
        load_handles.push(spawn(format!("load{}", l + 1), core, move || thread.run())?);
    }
    let played = control::play(
        cfg,
        &started.shared,
        &mut started.nodes,
        started.clock,
        warmup_end_ns,
        end_ns,
        progress,
    );
    let loads: Vec<_> =
        load_handles.into_iter().map(|h| h.join().expect("load thread panicked")).collect();
    let finished = started.nodes.finish();
    if let Some(id) = finished.panicked.first() {
        panic!("node thread {id} panicked");
    }
    Ok(report::assemble(cfg, played, finished.results, loads, started.mapping, started.loaded))
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
    with_engine!(cfg.engine_kind, R => run_hosted_with::<R, L>(cfg, load, progress))
}

fn run_hosted_with<R: BuildReplica, L: HostedLoad>(
    cfg: &ClusterConfig,
    load: L,
    progress: &mut dyn FnMut(f64),
) -> anyhow::Result<HostedRun<L>> {
    let (load_tx, load_rx) = bounded(cfg.channel_capacity);
    let wake_load = load_tx.clone();
    let mut started = start::<R>(cfg, vec![load_tx])?;
    let end_ns = cfg.warmup_ns + cfg.duration_ns;
    let thread = HostedThread {
        load,
        nodes: started.node_tx.clone(),
        inbox: load_rx,
        shared: started.shared.clone(),
        clock: started.clock,
        end_ns,
    };
    let core = started.pin("load1".to_string(), cfg.nodes as usize);
    let load_handle = spawn("load1".to_string(), core, move || thread.run())?;
    let played = control::play(
        cfg,
        &started.shared,
        &mut started.nodes,
        started.clock,
        cfg.warmup_ns,
        end_ns,
        progress,
    );
    // An early stop must not wait for the load's next wake-up: an empty packet wakes it.
    let _ = wake_load.try_send(Vec::new());
    let hosted = load_handle.join().expect("load thread panicked");
    let finished = started.nodes.finish();
    let stopped_at_ns = played.stopped_at_ns;
    let report = report::assemble(
        cfg,
        played,
        finished.results,
        Vec::new(),
        started.mapping,
        started.loaded,
    );
    Ok(HostedRun {
        report,
        load: hosted.load,
        client_packets: hosted.client_packets,
        died: finished.panicked,
        stopped_at_ns,
    })
}

/// A cluster whose node threads run.
struct Started<R: BuildReplica> {
    nodes: Nodes<R>,
    node_tx: Vec<Sender<Packet<R::Batch>>>,
    shared: Arc<Shared>,
    clock: Clock,
    /// Core ids, read before any thread was pinned.
    cores: Vec<core_affinity::CoreId>,
    /// Which core each thread runs on.
    mapping: Vec<String>,
    loaded: Loaded,
    /// The highest client id in any recovered log (0 on fresh storage).
    max_client_id: u64,
}

impl<R: BuildReplica> Started<R> {
    /// The core of thread slot `slot`, noted in the mapping under `name`.
    fn pin(&mut self, name: String, slot: usize) -> Option<core_affinity::CoreId> {
        pin(&self.cores, &mut self.mapping, name, slot)
    }
}

fn pin(
    cores: &[core_affinity::CoreId],
    mapping: &mut Vec<String>,
    name: String,
    slot: usize,
) -> Option<core_affinity::CoreId> {
    let core = (!cores.is_empty()).then(|| cores[slot % cores.len()]);
    mapping.push(format!("{name}: {}", core.map_or("unpinned".into(), |c| c.id.to_string())));
    core
}

/// Reads every node's storage, then starts the clock and every node thread, each pinned by
/// explicit core id, sending replies to `load_tx`.
fn start<R: BuildReplica>(
    cfg: &ClusterConfig,
    load_tx: Vec<Sender<Replies>>,
) -> anyhow::Result<Started<R>> {
    anyhow::ensure!(cfg.nodes >= 1, "a cluster needs at least one node");
    crate::args::check_event_nodes(&cfg.events, cfg.nodes).map_err(anyhow::Error::msg)?;
    let engine = Config { id: 1, members: (1..=cfg.nodes).collect(), ..cfg.engine.clone() };
    engine.validate().map_err(|e| anyhow::anyhow!("invalid engine configuration: {e}"))?;
    // Core ids are read once here, before any thread is pinned (DESIGN.md's pinning trap).
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let loading = Instant::now();
    let mut disks = disk::disks(&cfg.storage, cfg.nodes)?;
    let opened = disk::open_all(&mut disks)?;
    let load_ns = loading.elapsed().as_nanos() as u64;
    let snapshot_index = |o: &disk::Opened| o.recovered.snapshot.as_ref().map_or(0, |s| s.index);
    let loaded = Loaded {
        entries_per_node: opened.iter().map(|o| o.recovered.entries.len() as u64).collect(),
        snapshot_index: opened.iter().map(snapshot_index).max().unwrap_or(0),
        term: opened.iter().map(|o| o.recovered.hard_state.term).max().unwrap_or(0),
        load_ns,
        recovered: opened
            .iter()
            .any(|o| !o.recovered.entries.is_empty() || o.recovered.hard_state.term > 0),
    };
    let mut max_client_id = opened
        .iter()
        .flat_map(|o| &o.recovered.entries)
        .filter_map(|e| match &e.payload {
            Payload::Request(request) => Some(request.client),
            Payload::Noop => None,
        })
        .max()
        .unwrap_or(0);
    for snapshot in opened.iter().filter_map(|o| o.recovered.snapshot.as_ref()) {
        let ids = snapshot.client_ids().map_err(|e| anyhow::anyhow!("snapshot: {e}"))?;
        max_client_id = max_client_id.max(ids.last().copied().unwrap_or(0));
    }
    let n = cfg.nodes as usize;
    let (node_tx, inboxes): (Vec<_>, Vec<_>) =
        (0..n).map(|_| bounded(cfg.channel_capacity)).unzip();
    let shared = Arc::new(Shared::new(n));
    let clock = Clock { start: Instant::now() };
    let mut mapping = Vec::new();
    let node_cores =
        (0..n).map(|k| pin(&cores, &mut mapping, format!("node{}", k + 1), k)).collect();
    let wiring = Wiring {
        inboxes,
        peers: node_tx.clone(),
        loads: load_tx,
        shared: shared.clone(),
        clock,
        cores: node_cores,
    };
    let nodes = Nodes::start(cfg, wiring, disks, opened, loaded.recovered)?;
    Ok(Started { nodes, node_tx, shared, clock, cores, mapping, loaded, max_client_id })
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
