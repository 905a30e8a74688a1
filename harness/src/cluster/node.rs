//! The node loop, one per node thread, whatever the engine ([`Replica`]) and the transport
//! ([`Transport`]): it blocks until the next packet or timer deadline, ticks, steps every
//! message of every packet it finds, proposes client requests, and performs what the replica
//! has ready: the replica saves its hard state and entries first (one save per `Ready`, so
//! one fsync covers all its entries), then the loop sends, one transport operation per
//! outbound batch, through the faults of each link. No locks on the message path. A storage
//! error stops the node, never the process.

use super::net::{Delayed, NetFaults, Packet, Shared};
use super::transport::{SendError, Transport};
use super::Clock;
use crate::metrics::Latency;
use crate::replica::{Outbound, Output, Replica};
use crate::storage::{MemStorage, Storage, SyncPolicy, SyncStats};
use crate::workload::PacketKinds;
use pinraft_engine::{ClientReply, ClientRequest, Index, NodeId, Role, Stats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Most packets taken from the transport before the node performs a `Ready`: enough to
/// batch a burst, few enough to keep replies flowing.
const DRAIN_PACKETS_MAX: usize = 256;
/// Longest a node sleeps without looking at the clock.
const IDLE_WAIT_MAX: Duration = Duration::from_millis(50);

/// Packet and message counters of one node, as its sender side saw them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NodeCounters {
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub batches_sent: u64,
    pub batches_dropped: u64,
    pub batches_dropped_full: u64,
    /// Extra copies sent by injected duplication.
    pub batches_duplicated: u64,
    /// Packets sent, by what they carry (they sum to `batches_sent`).
    pub kinds: PacketKinds,
}

/// What a node thread hands back when it stops.
pub(crate) struct NodeResult {
    pub id: NodeId,
    pub counters: NodeCounters,
    pub commit_latency: Latency,
    /// Engine counters over the measured window.
    pub stats: Stats,
    /// fsync calls over the measured window.
    pub syncs: SyncStats,
    /// Why the node stopped on its own (a storage error), if it did.
    pub error: Option<String>,
    /// When this node, as leader, first applied its whole recovered log.
    pub restored: Option<Restored>,
    /// In memory: the hard state and log a crash left behind, for a restart.
    pub disk: Option<MemStorage>,
}

/// The moment a recovered cluster has its state machine back: a leader has applied every
/// entry of its recovered log.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Restored {
    pub at_ns: u64,
    /// Keys in the leader's state machine then.
    pub keys: u64,
    /// The leader's applied index then (its recovered last index, or a little past it
    /// when its first new entries committed in the same step).
    pub applied_index: Index,
}

/// Why a node thread ends.
enum Exit {
    /// The run is over.
    Stop,
    /// The control plane crashed the node.
    Crash,
    /// Its storage failed: the message.
    Failed(String),
}

/// Everything a node thread owns.
pub(crate) struct NodeThread<R: Replica, T> {
    pub id: u64,
    pub replica: R,
    pub transport: T,
    pub shared: Arc<Shared>,
    pub faults: NetFaults,
    pub rng: ChaCha8Rng,
    pub clock: Clock,
    pub warmup_end_ns: u64,
    /// Where each `Ready` is saved before its messages are sent; `None` in memory.
    pub storage: Option<Box<dyn Storage + Send>>,
    /// A recovered node's last recovered index, until it has applied that far as leader.
    pub restore_target: Option<Index>,
}

struct Loop<B> {
    delayed: BinaryHeap<Delayed<B>>,
    delayed_seq: u64,
    /// Leader: when each of its proposals was made, oldest first.
    proposed: VecDeque<(Index, u64)>,
    /// What the replica hands out, reused from one `Ready` to the next.
    out: Output<B>,
    replies: Vec<Vec<ClientReply>>,
    counters: NodeCounters,
    commit_latency: Latency,
    stats_at_warmup: Stats,
    syncs_at_warmup: SyncStats,
    measuring: bool,
    restored: Option<Restored>,
}

impl<R: Replica, T: Transport<R::Batch>> NodeThread<R, T> {
    /// Runs until `Stop`, `Crash`, a storage error, or every sender is gone.
    pub(crate) fn run(mut self) -> NodeResult {
        let mut lp = Loop {
            delayed: BinaryHeap::new(),
            delayed_seq: 0,
            proposed: VecDeque::new(),
            out: Output::default(),
            replies: vec![Vec::new(); self.transport.loads()],
            counters: NodeCounters::default(),
            commit_latency: Latency::new(),
            stats_at_warmup: Stats::default(),
            syncs_at_warmup: self.sync_stats(),
            measuring: false,
            restored: None,
        };
        let exit = self.serve(&mut lp);
        self.finish(exit, lp)
    }

    /// The loop: wait, tick, step, perform.
    fn serve(&mut self, lp: &mut Loop<R::Batch>) -> Exit {
        while !self.shared.stopped() {
            let now = self.clock.now_ns();
            let wait =
                Duration::from_nanos(self.deadline_ns(lp).saturating_sub(now)).min(IDLE_WAIT_MAX);
            let first = match self.transport.recv_timeout(wait) {
                Ok(packet) => packet,
                Err(()) => break,
            };
            let now = self.clock.now_ns();
            // The engine reads the time of every message from its last tick: without this, a
            // heartbeat restarts a follower's election timer from when the thread last woke
            // (up to IDLE_WAIT_MAX ago), and followers time out early.
            self.replica.tick(now);
            let mut next = first.or_else(|| self.transport.try_recv());
            let mut taken = 0;
            while let Some(packet) = next {
                if let Some(exit) = self.handle(packet, now, lp) {
                    return exit;
                }
                taken += 1;
                next = if taken < DRAIN_PACKETS_MAX { self.transport.try_recv() } else { None };
            }
            self.deliver_due(now, lp);
            self.start_measuring(now, lp);
            if let Err(message) = self.perform(now, lp) {
                return Exit::Failed(format!("node {} stopped: {message}", self.id));
            }
            self.check_restored(now, lp);
        }
        Exit::Stop
    }

    /// What the thread hands back. A clean stop syncs what `--fsync interval` left
    /// unsynced (no later sync would come); a crash leaves an in-memory node's hard state and
    /// log behind as its disk; a failure takes the node out of the cluster.
    fn finish(mut self, exit: Exit, lp: Loop<R::Batch>) -> NodeResult {
        let mut error = None;
        let mut disk = None;
        match exit {
            Exit::Stop => {
                let storage =
                    self.storage.as_mut().filter(|s| s.sync_policy() != SyncPolicy::Never);
                if let Some(Err(e)) = storage.map(|s| s.sync()) {
                    error = Some(format!("node {} stopped: storage error: {e}", self.id));
                }
            }
            Exit::Crash => {
                if self.storage.is_none() {
                    disk = self.replica.leave_behind();
                }
            }
            Exit::Failed(message) => {
                self.shared.mark_dead(self.id);
                error = Some(message);
            }
        }
        NodeResult {
            id: self.id,
            counters: lp.counters,
            commit_latency: lp.commit_latency,
            stats: diff_stats(self.replica.stats(), lp.stats_at_warmup),
            syncs: diff_syncs(self.sync_stats(), lp.syncs_at_warmup),
            error,
            restored: lp.restored,
            disk,
        }
    }

    fn sync_stats(&self) -> SyncStats {
        self.storage.as_ref().map(|s| s.sync_stats()).unwrap_or_default()
    }

    /// A recovered node that leads and has applied its whole recovered log marks the moment
    /// the cluster has its state machine back.
    fn check_restored(&mut self, now: u64, lp: &mut Loop<R::Batch>) {
        let Some(target) = self.restore_target else {
            return;
        };
        let status = self.replica.status();
        if status.role == Role::Leader && status.applied >= target {
            let keys = self.replica.kv_len();
            lp.restored = Some(Restored { at_ns: now, keys, applied_index: status.applied });
            self.restore_target = None;
        }
    }

    fn deadline_ns(&self, lp: &Loop<R::Batch>) -> u64 {
        let timer = self.replica.next_deadline_ns();
        let delayed = lp.delayed.peek().map_or(u64::MAX, |d| d.due_ns);
        let warmup = if lp.measuring { u64::MAX } else { self.warmup_end_ns };
        timer.min(delayed).min(warmup)
    }

    /// Returns why the thread must stop, if it must.
    fn handle(
        &mut self,
        packet: Packet<R::Batch>,
        now: u64,
        lp: &mut Loop<R::Batch>,
    ) -> Option<Exit> {
        match packet {
            Packet::Peer { from, batch, messages, due_ns } if due_ns > now => {
                lp.delayed_seq += 1;
                lp.delayed.push(Delayed { due_ns, seq: lp.delayed_seq, from, messages, batch });
            }
            Packet::Peer { from, batch, messages, .. } => {
                self.step_batch(from, batch, messages, lp)
            }
            Packet::Requests(requests) => self.propose(requests, now, lp),
            Packet::Crash => return Some(Exit::Crash),
            Packet::Stop => return Some(Exit::Stop),
        }
        None
    }

    fn step_batch(
        &mut self,
        from: NodeId,
        batch: R::Batch,
        messages: u64,
        lp: &mut Loop<R::Batch>,
    ) {
        lp.counters.messages_delivered += messages;
        self.replica.step(from, batch);
    }

    fn propose(&mut self, requests: Vec<Arc<ClientRequest>>, now: u64, lp: &mut Loop<R::Batch>) {
        for request in requests {
            if let Some(index) = self.replica.propose(request) {
                lp.proposed.push_back((index, now));
            }
        }
    }

    fn deliver_due(&mut self, now: u64, lp: &mut Loop<R::Batch>) {
        while lp.delayed.peek().is_some_and(|d| d.due_ns <= now) {
            let d = lp.delayed.pop().expect("peeked");
            self.step_batch(d.from, d.batch, d.messages, lp);
        }
    }

    /// At the end of the warm-up every figure starts from zero.
    fn start_measuring(&mut self, now: u64, lp: &mut Loop<R::Batch>) {
        if lp.measuring || now < self.warmup_end_ns {
            return;
        }
        lp.measuring = true;
        lp.counters = NodeCounters::default();
        lp.commit_latency = Latency::new();
        lp.syncs_at_warmup = self.sync_stats();
        lp.stats_at_warmup = self.replica.stats();
    }

    /// Performs what the replica has ready; an error is a storage failure, and the node
    /// must stop.
    fn perform(&mut self, now: u64, lp: &mut Loop<R::Batch>) -> Result<(), String> {
        let sent_before = lp.counters.batches_sent;
        self.replica.tick(now);
        if self.replica.has_ready() {
            let storage = self.storage.as_mut().map(|s| s.as_mut() as &mut (dyn Storage + Send));
            self.replica.ready(now, storage, &mut lp.out)?;
            for outbound in lp.out.messages.drain(..) {
                let link = Link { from: self.id, shared: &self.shared, faults: &self.faults };
                link.send(&self.transport, &mut self.rng, outbound, now, &mut lp.counters);
            }
            let loads = lp.replies.len() as u64;
            for reply in lp.out.replies.drain(..) {
                lp.replies[((reply.client - 1) % loads) as usize].push(reply);
            }
        }
        let status = self.replica.status();
        record_commits(status.role, status.applied, now, lp);
        let role = match status.role {
            Role::Follower => 0,
            Role::Candidate => 1,
            Role::Leader => super::net::ROLE_LEADER,
        };
        self.shared.publish(self.id, status.term, role);
        let sent = lp.counters.batches_sent - sent_before;
        if sent > 0 {
            self.shared.add_packets(self.id, sent);
        }
        for (load, replies) in lp.replies.iter_mut().enumerate() {
            if !replies.is_empty() {
                self.transport.reply(load, std::mem::take(replies));
            }
        }
        Ok(())
    }
}

/// Leader commit latency: from a proposal to the `Ready` that reports it applied.
fn record_commits<B>(role: Role, applied: Index, now: u64, lp: &mut Loop<B>) {
    if role != Role::Leader {
        lp.proposed.clear();
        return;
    }
    while lp.proposed.front().is_some_and(|&(index, _)| index <= applied) {
        let (_, at) = lp.proposed.pop_front().expect("peeked");
        if lp.measuring {
            lp.commit_latency.record_ns(now - at);
        }
    }
}

/// The faults of one node's outbound links, applied above the transport.
struct Link<'a> {
    from: NodeId,
    shared: &'a Shared,
    faults: &'a NetFaults,
}

impl Link<'_> {
    /// Sends one batch through the faults of its link: one transport operation, never
    /// blocking.
    fn send<B: Clone>(
        &self,
        transport: &impl Transport<B>,
        rng: &mut ChaCha8Rng,
        outbound: Outbound<B>,
        now: u64,
        counters: &mut NodeCounters,
    ) {
        let Outbound { to, batch, messages, kind } = outbound;
        let faults = self.faults;
        let copies =
            if faults.dup_ppm > 0 && rng.gen_range(0..1_000_000) < faults.dup_ppm { 2 } else { 1 };
        counters.batches_duplicated += copies - 1;
        let mut batch = Some(batch);
        for copy in 0..copies {
            counters.batches_sent += 1;
            counters.messages_sent += messages;
            let b = if copy + 1 == copies {
                batch.take().expect("last copy")
            } else {
                batch.clone().expect("kept")
            };
            counters.kinds.add_kind(kind);
            let lost = faults.loss_ppm > 0 && rng.gen_range(0..1_000_000) < faults.loss_ppm;
            // A crashed node's inbox outlives it (a restart reads it again): what is sent
            // to it meanwhile is lost, as on a link to a machine that is down.
            if lost || !self.shared.reachable(self.from, to) || !self.shared.is_alive(to) {
                counters.batches_dropped += 1;
                counters.messages_dropped += messages;
                continue;
            }
            let due_ns = if faults.delay_max_ns > 0 {
                now + rng.gen_range(faults.delay_min_ns..=faults.delay_max_ns)
            } else {
                0
            };
            let packet = Packet::Peer { from: self.from, batch: b, messages, due_ns };
            match transport.send(to, packet) {
                Ok(()) => {}
                Err(error) => {
                    counters.batches_dropped += 1;
                    counters.batches_dropped_full += u64::from(error == SendError::Full);
                    counters.messages_dropped += messages;
                }
            }
        }
    }
}

fn diff_syncs(now: SyncStats, then: SyncStats) -> SyncStats {
    SyncStats {
        log: now.log - then.log,
        hard_state: now.hard_state - then.hard_state,
        dir: now.dir - then.dir,
        snapshot: now.snapshot - then.snapshot,
    }
}

fn diff_stats(now: Stats, then: Stats) -> Stats {
    Stats {
        elections: now.elections - then.elections,
        terms_led: now.terms_led - then.terms_led,
        batches_resent: now.batches_resent - then.batches_resent,
        entries_resent: now.entries_resent - then.entries_resent,
        fast_retransmits: now.fast_retransmits - then.fast_retransmits,
        snapshots_taken: now.snapshots_taken - then.snapshots_taken,
        snapshots_installed: now.snapshots_installed - then.snapshots_installed,
        snapshot_chunks_sent: now.snapshot_chunks_sent - then.snapshot_chunks_sent,
    }
}

/// A per-node RNG for the sender-side faults, derived from the run's seed.
pub(crate) fn fault_rng(seed: u64, id: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ id.wrapping_mul(0xA076_1D64_78BD_642F))
}

#[cfg(test)]
mod tests {
    use super::super::transport::Channels;
    use super::*;
    use crate::replica::{BuildReplica, Pinraft};
    use crate::storage::{Recovered, StorageError};
    use crossbeam_channel::bounded;
    use pinraft_engine::{Batch, Config, Entry, HardState, Message, Snapshot};
    use std::io;
    use std::time::Instant;

    /// A disk that refuses every write.
    struct FailingDisk;

    impl Storage for FailingDisk {
        fn save(
            &mut self,
            _: Option<HardState>,
            _: Index,
            _: &mut dyn Iterator<Item = &Entry>,
            _: u64,
        ) -> io::Result<()> {
            Err(io::Error::other("disk on fire"))
        }
        fn save_snapshot(&mut self, _: &Snapshot) -> io::Result<()> {
            Err(io::Error::other("disk on fire"))
        }
        fn sync(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn sync_policy(&self) -> SyncPolicy {
            SyncPolicy::Always
        }
        fn recover(&mut self) -> Result<Recovered, StorageError> {
            Ok(Recovered::default())
        }
        fn last_index(&self) -> Index {
            0
        }
    }

    /// Node 1 of 3 campaigns; its first `Ready` holds its new term and vote and the vote
    /// requests. The save fails: the node stops with the error, out of the cluster, and the
    /// requests that depended on the save were never sent.
    #[test]
    fn a_failed_save_stops_the_node_before_it_sends() {
        let (peers, inboxes): (Vec<_>, Vec<_>) = (0..3).map(|_| bounded(16)).unzip();
        let shared = Arc::new(Shared::new(3));
        let engine = Config {
            election_timeout_min_ns: 10_000_000,
            election_timeout_max_ns: 20_000_000,
            heartbeat_interval_ns: 5_000_000,
            ..Config::new(1, 3)
        };
        let thread = NodeThread {
            id: 1,
            replica: Pinraft::build(engine, Recovered::default(), 0).unwrap(),
            transport: Channels { inbox: inboxes[0].clone(), peers, loads: Vec::new() },
            shared: shared.clone(),
            faults: NetFaults::default(),
            rng: fault_rng(1, 1),
            clock: Clock { start: Instant::now() },
            warmup_end_ns: 0,
            storage: Some(Box::new(FailingDisk)),
            restore_target: None,
        };
        let result = thread.run();
        assert_eq!(result.error.as_deref(), Some("node 1 stopped: storage error: disk on fire"));
        assert!(!shared.is_alive(1), "the node is out of the cluster");
        assert_eq!(result.counters.batches_sent, 0);
        assert!(inboxes[1].is_empty() && inboxes[2].is_empty(), "no vote request left");
        assert!(result.disk.is_none());
    }

    /// An in-memory node that crashes leaves its hard state and whole log behind.
    #[test]
    fn a_crashed_node_in_memory_leaves_its_state_behind() {
        let (peers, inboxes): (Vec<_>, Vec<_>) = (0..2).map(|_| bounded(16)).unzip();
        let engine = Config {
            election_timeout_min_ns: 10_000_000,
            election_timeout_max_ns: 20_000_000,
            heartbeat_interval_ns: 5_000_000,
            ..Config::new(1, 2)
        };
        let thread = NodeThread {
            id: 1,
            replica: Pinraft::build(engine, Recovered::default(), 0).unwrap(),
            transport: Channels {
                inbox: inboxes[0].clone(),
                peers: peers.clone(),
                loads: Vec::new(),
            },
            shared: Arc::new(Shared::new(2)),
            faults: NetFaults::default(),
            rng: fault_rng(1, 1),
            clock: Clock { start: Instant::now() },
            warmup_end_ns: 0,
            storage: None,
            restore_target: None,
        };
        let handle = std::thread::spawn(move || thread.run());
        // The test plays node 2: it grants the vote, and once the new leader's append (its
        // no-op) arrives, crashes node 1.
        let next = || match inboxes[1].recv().unwrap() {
            Packet::Peer { batch, .. } => batch.messages,
            other => panic!("not a peer batch: {other:?}"),
        };
        assert!(matches!(next()[..], [Message::RequestVote { term: 1, .. }]));
        let vote =
            Batch { from: 2, to: 1, messages: vec![Message::Vote { term: 1, granted: true }] };
        peers[0].send(Packet::Peer { from: 2, batch: vote, messages: 1, due_ns: 0 }).unwrap();
        assert!(matches!(next()[..], [Message::Append { term: 1, .. }]));
        peers[0].send(Packet::Crash).unwrap();
        let result = handle.join().unwrap();
        let mut disk = result.disk.expect("a crash leaves the disk behind");
        let recovered = disk.recover().unwrap();
        assert_eq!(recovered.hard_state, HardState { term: 1, vote: 1 });
        assert_eq!(recovered.entries.len(), 1, "the leader's no-op");
        assert!(result.error.is_none());
    }
}
