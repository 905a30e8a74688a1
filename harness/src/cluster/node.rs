//! A node thread: blocks on its inbound channel until the next timer deadline, steps every
//! message of every packet it finds, ticks, and performs the engine's `Ready`: saves its
//! hard state and entries (one save per `Ready`, so one fsync covers all its entries), then
//! sends, one `try_send` per outbound batch (a full channel is a dropped packet, like a full
//! NIC queue). No locks on the message path. A storage error stops the node, never the
//! process.

use super::net::{Delayed, NetFaults, Packet, Replies, Shared};
use super::Clock;
use crate::metrics::Latency;
use crate::storage::{persist_ready, MemStorage, Storage, SyncPolicy, SyncStats};
use crate::workload::PacketKinds;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use pinraft_engine::{
    Batch, ClientReply, ClientRequest, HardState, Index, Node, NodeId, Outcome, Role, Stats,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Most packets taken from the channel before the node performs a `Ready`: enough to batch
/// a burst, few enough to keep replies flowing.
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

/// The engine, or nothing at all: the null engine answers every request at once, so the
/// harness's own cost can be measured with the same threads and channels.
pub(crate) enum Replica {
    Raft(Box<Node>),
    Null,
}

/// Everything a node thread owns.
pub(crate) struct NodeThread {
    pub id: u64,
    pub replica: Replica,
    pub inbox: Receiver<Packet>,
    pub peers: Vec<Sender<Packet>>,
    pub loads: Vec<Sender<Replies>>,
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

struct Loop {
    delayed: BinaryHeap<Delayed>,
    delayed_seq: u64,
    /// Leader: when each of its proposals was made, oldest first.
    proposed: VecDeque<(Index, u64)>,
    replies: Vec<Vec<ClientReply>>,
    counters: NodeCounters,
    commit_latency: Latency,
    stats_at_warmup: Stats,
    syncs_at_warmup: SyncStats,
    measuring: bool,
    restored: Option<Restored>,
}

impl NodeThread {
    /// Runs until `Stop`, `Crash`, a storage error, or every sender is gone.
    pub(crate) fn run(mut self) -> NodeResult {
        let mut lp = Loop {
            delayed: BinaryHeap::new(),
            delayed_seq: 0,
            proposed: VecDeque::new(),
            replies: vec![Vec::new(); self.loads.len()],
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

    /// The loop: wait, step, tick, perform.
    fn serve(&mut self, lp: &mut Loop) -> Exit {
        let inbox = self.inbox.clone();
        while !self.shared.stopped() {
            let now = self.clock.now_ns();
            let wait =
                Duration::from_nanos(self.deadline_ns(lp).saturating_sub(now)).min(IDLE_WAIT_MAX);
            let first = match inbox.recv_timeout(wait) {
                Ok(packet) => Some(packet),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let now = self.clock.now_ns();
            // The engine reads the time of every message from its last tick: without this, a
            // heartbeat restarts a follower's election timer from when the thread last woke
            // (up to IDLE_WAIT_MAX ago), and followers time out early.
            if let Replica::Raft(node) = &mut self.replica {
                node.tick(now);
            }
            let packets = first.into_iter().chain(std::iter::from_fn(|| inbox.try_recv().ok()));
            for packet in packets.take(DRAIN_PACKETS_MAX) {
                if let Some(exit) = self.handle(packet, now, lp) {
                    return exit;
                }
            }
            self.deliver_due(now, lp);
            self.start_measuring(now, lp);
            if let Err(message) = self.perform(now, lp) {
                return Exit::Failed(message);
            }
            self.check_restored(now, lp);
        }
        Exit::Stop
    }

    /// What the thread hands back. A clean stop syncs what `--fsync interval` left
    /// unsynced (no later sync would come); a crash leaves an in-memory node's hard state and
    /// log behind as its disk; a failure takes the node out of the cluster.
    fn finish(mut self, exit: Exit, lp: Loop) -> NodeResult {
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
                if let (None, Replica::Raft(node)) = (&self.storage, &self.replica) {
                    disk = Some(leave_behind(node));
                }
            }
            Exit::Failed(message) => {
                self.shared.mark_dead(self.id);
                error = Some(message);
            }
        }
        let stats = match &self.replica {
            Replica::Raft(node) => diff_stats(node.stats(), lp.stats_at_warmup),
            Replica::Null => Stats::default(),
        };
        NodeResult {
            id: self.id,
            counters: lp.counters,
            commit_latency: lp.commit_latency,
            stats,
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
    fn check_restored(&mut self, now: u64, lp: &mut Loop) {
        let (Some(target), Replica::Raft(node)) = (self.restore_target, &self.replica) else {
            return;
        };
        if node.role() == Role::Leader && node.applied_index() >= target {
            let (keys, applied_index) = (node.kv_len() as u64, node.applied_index());
            lp.restored = Some(Restored { at_ns: now, keys, applied_index });
            self.restore_target = None;
        }
    }

    fn deadline_ns(&self, lp: &Loop) -> u64 {
        let timer = match &self.replica {
            Replica::Raft(node) => node.next_deadline_ns(),
            Replica::Null => u64::MAX,
        };
        let delayed = lp.delayed.peek().map_or(u64::MAX, |d| d.due_ns);
        let warmup = if lp.measuring { u64::MAX } else { self.warmup_end_ns };
        timer.min(delayed).min(warmup)
    }

    /// Returns why the thread must stop, if it must.
    fn handle(&mut self, packet: Packet, now: u64, lp: &mut Loop) -> Option<Exit> {
        match packet {
            Packet::Peer { batch, due_ns } if due_ns > now => {
                lp.delayed_seq += 1;
                lp.delayed.push(Delayed { due_ns, seq: lp.delayed_seq, batch });
            }
            Packet::Peer { batch, .. } => self.step_batch(batch, lp),
            Packet::Requests(requests) => self.propose(requests, now, lp),
            Packet::Crash => return Some(Exit::Crash),
            Packet::Stop => return Some(Exit::Stop),
        }
        None
    }

    fn step_batch(&mut self, batch: Batch, lp: &mut Loop) {
        lp.counters.messages_delivered += batch.messages.len() as u64;
        if let Replica::Raft(node) = &mut self.replica {
            for message in batch.messages {
                node.step(batch.from, message);
            }
        }
    }

    fn propose(&mut self, requests: Vec<Arc<ClientRequest>>, now: u64, lp: &mut Loop) {
        let loads = self.loads.len() as u64;
        for request in requests {
            match &mut self.replica {
                Replica::Raft(node) => {
                    if let Some(index) = node.propose(request) {
                        lp.proposed.push_back((index, now));
                    }
                }
                Replica::Null => {
                    let value = matches!(request.op, pinraft_engine::Op::Get { .. })
                        .then(bytes::Bytes::new);
                    let reply = ClientReply {
                        client: request.client,
                        seq: request.seq,
                        outcome: Outcome::Ok(value),
                    };
                    lp.replies[((request.client - 1) % loads) as usize].push(reply);
                }
            }
        }
    }

    fn deliver_due(&mut self, now: u64, lp: &mut Loop) {
        while lp.delayed.peek().is_some_and(|d| d.due_ns <= now) {
            let delayed = lp.delayed.pop().expect("peeked");
            self.step_batch(delayed.batch, lp);
        }
    }

    /// At the end of the warm-up every figure starts from zero.
    fn start_measuring(&mut self, now: u64, lp: &mut Loop) {
        if lp.measuring || now < self.warmup_end_ns {
            return;
        }
        lp.measuring = true;
        lp.counters = NodeCounters::default();
        lp.commit_latency = Latency::new();
        lp.syncs_at_warmup = self.sync_stats();
        if let Replica::Raft(node) = &self.replica {
            lp.stats_at_warmup = node.stats();
        }
    }

    /// Performs every `Ready`; an error is a storage failure, and the node must stop.
    fn perform(&mut self, now: u64, lp: &mut Loop) -> Result<(), String> {
        let sent_before = lp.counters.batches_sent;
        if let Replica::Raft(node) = &mut self.replica {
            node.tick(now);
            while node.has_ready() {
                let mut ready = node.ready();
                // Durable before any message that depends on it leaves (in memory, the
                // engine's log is the disk and there is nothing to write).
                if let Some(storage) = &mut self.storage {
                    persist_ready(storage.as_mut(), node, &ready, now)
                        .map_err(|e| format!("node {} stopped: storage error: {e}", self.id))?;
                }
                for batch in std::mem::take(&mut ready.messages) {
                    send(
                        &self.peers,
                        &self.shared,
                        &self.faults,
                        &mut self.rng,
                        batch,
                        now,
                        &mut lp.counters,
                    );
                }
                record_commits(node, &ready.committed, now, lp);
                let loads = self.loads.len() as u64;
                for reply in std::mem::take(&mut ready.replies) {
                    lp.replies[((reply.client - 1) % loads) as usize].push(reply);
                }
                node.advance(ready);
            }
            let role = match node.role() {
                Role::Follower => 0,
                Role::Candidate => 1,
                Role::Leader => super::net::ROLE_LEADER,
            };
            self.shared.publish(self.id, node.term(), role);
        }
        let sent = lp.counters.batches_sent - sent_before;
        if sent > 0 {
            self.shared.add_packets(self.id, sent);
        }
        for (load, replies) in self.loads.iter().zip(&mut lp.replies) {
            if !replies.is_empty() {
                // A full or closed reply channel loses the replies; those clients time out.
                let _ = load.try_send(std::mem::take(replies));
            }
        }
        Ok(())
    }
}

/// Leader commit latency: from a proposal to the `Ready` that reports it committed.
fn record_commits(node: &Node, committed: &std::ops::Range<Index>, now: u64, lp: &mut Loop) {
    if node.role() != Role::Leader {
        lp.proposed.clear();
        return;
    }
    while lp.proposed.front().is_some_and(|&(index, _)| index < committed.end) {
        let (_, at) = lp.proposed.pop_front().expect("peeked");
        if lp.measuring {
            lp.commit_latency.record_ns(now - at);
        }
    }
}

/// Sends one batch through the faults of its link: one channel operation, never blocking.
fn send(
    peers: &[Sender<Packet>],
    shared: &Shared,
    faults: &NetFaults,
    rng: &mut ChaCha8Rng,
    batch: Batch,
    now: u64,
    counters: &mut NodeCounters,
) {
    let messages = batch.messages.len() as u64;
    let copies =
        if faults.dup_ppm > 0 && rng.gen_range(0..1_000_000) < faults.dup_ppm { 2 } else { 1 };
    let mut batch = Some(batch);
    for copy in 0..copies {
        counters.batches_sent += 1;
        counters.messages_sent += messages;
        let b = if copy + 1 == copies {
            batch.take().expect("last copy")
        } else {
            batch.clone().expect("kept")
        };
        counters.kinds.count(&b.messages);
        let lost = faults.loss_ppm > 0 && rng.gen_range(0..1_000_000) < faults.loss_ppm;
        // A crashed node's channel outlives it (a restart reads it again): what is sent
        // to it meanwhile is lost, as on a link to a machine that is down.
        if lost || !shared.reachable(b.from, b.to) || !shared.is_alive(b.to) {
            counters.batches_dropped += 1;
            counters.messages_dropped += messages;
            continue;
        }
        let due_ns = if faults.delay_max_ns > 0 {
            now + rng.gen_range(faults.delay_min_ns..=faults.delay_max_ns)
        } else {
            0
        };
        match peers[b.to as usize - 1].try_send(Packet::Peer { batch: b, due_ns }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                counters.batches_dropped += 1;
                counters.batches_dropped_full += 1;
                counters.messages_dropped += messages;
            }
            Err(TrySendError::Disconnected(_)) => {
                counters.batches_dropped += 1;
                counters.messages_dropped += messages;
            }
        }
    }
}

/// An in-memory node's disk after a crash: its hard state, latest snapshot and the log
/// after it. Entries it stepped since its last `Ready` are in it too, as on a disk written
/// just before the crash.
fn leave_behind(node: &Node) -> MemStorage {
    let mut disk = MemStorage::new();
    let hard_state = HardState { term: node.term(), vote: node.vote() };
    let mut from = 1;
    if let Some(snapshot) = node.snapshot() {
        disk.save_snapshot(snapshot).expect("memory does not fail");
        from = snapshot.index + 1;
    }
    let mut entries = node.entries(from..node.last_index() + 1);
    disk.save(Some(hard_state), from, &mut entries, 0).expect("a node's own log is contiguous");
    disk
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
    use super::*;
    use crate::storage::{Recovered, StorageError};
    use crossbeam_channel::bounded;
    use pinraft_engine::{Config, Entry, Message, Snapshot};
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
            replica: Replica::Raft(Box::new(Node::new(engine).unwrap())),
            inbox: inboxes[0].clone(),
            peers,
            loads: Vec::new(),
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
            replica: Replica::Raft(Box::new(Node::new(engine).unwrap())),
            inbox: inboxes[0].clone(),
            peers: peers.clone(),
            loads: Vec::new(),
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
        peers[0].send(Packet::Peer { batch: vote, due_ns: 0 }).unwrap();
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
