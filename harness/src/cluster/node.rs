//! A node thread: blocks on its inbound channel until the next timer deadline, steps every
//! message of every packet it finds, ticks, and performs the engine's `Ready` — one
//! `try_send` per outbound batch (a full channel is a dropped packet, like a full NIC
//! queue). No locks on the message path.

use super::net::{Delayed, NetFaults, Packet, Replies, Shared};
use super::Clock;
use crate::metrics::Latency;
use crate::workload::PacketKinds;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use pinraft_engine::{Batch, ClientReply, ClientRequest, Index, Node, Outcome, Role, Stats};
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
    pub counters: NodeCounters,
    pub commit_latency: Latency,
    /// Engine counters over the measured window.
    pub stats: Stats,
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
    measuring: bool,
}

impl NodeThread {
    /// Runs until `Stop`, `Crash` or every sender is gone.
    pub(crate) fn run(mut self) -> NodeResult {
        let mut lp = Loop {
            delayed: BinaryHeap::new(),
            delayed_seq: 0,
            proposed: VecDeque::new(),
            replies: vec![Vec::new(); self.loads.len()],
            counters: NodeCounters::default(),
            commit_latency: Latency::new(),
            stats_at_warmup: Stats::default(),
            measuring: false,
        };
        let inbox = self.inbox.clone();
        while !self.shared.stopped() {
            let now = self.clock.now_ns();
            let wait =
                Duration::from_nanos(self.deadline_ns(&lp).saturating_sub(now)).min(IDLE_WAIT_MAX);
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
            let mut stop = false;
            for packet in packets.take(DRAIN_PACKETS_MAX) {
                if !self.handle(packet, now, &mut lp) {
                    stop = true;
                    break;
                }
            }
            if stop {
                break;
            }
            self.deliver_due(now, &mut lp);
            self.start_measuring(now, &mut lp);
            self.perform(now, &mut lp);
        }
        let stats = match &self.replica {
            Replica::Raft(node) => diff_stats(node.stats(), lp.stats_at_warmup),
            Replica::Null => Stats::default(),
        };
        NodeResult { counters: lp.counters, commit_latency: lp.commit_latency, stats }
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

    /// Returns false when the thread must stop.
    fn handle(&mut self, packet: Packet, now: u64, lp: &mut Loop) -> bool {
        match packet {
            Packet::Peer { batch, due_ns } if due_ns > now => {
                lp.delayed_seq += 1;
                lp.delayed.push(Delayed { due_ns, seq: lp.delayed_seq, batch });
            }
            Packet::Peer { batch, .. } => self.step_batch(batch, lp),
            Packet::Requests(requests) => self.propose(requests, now, lp),
            Packet::Crash | Packet::Stop => return false,
        }
        true
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
        if let Replica::Raft(node) = &self.replica {
            lp.stats_at_warmup = node.stats();
        }
    }

    fn perform(&mut self, now: u64, lp: &mut Loop) {
        let sent_before = lp.counters.batches_sent;
        if let Replica::Raft(node) = &mut self.replica {
            node.tick(now);
            while node.has_ready() {
                let mut ready = node.ready();
                // In-memory storage: entries and hard state are durable as they stand.
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
        if lost || !shared.reachable(b.from, b.to) {
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

fn diff_stats(now: Stats, then: Stats) -> Stats {
    Stats {
        elections: now.elections - then.elections,
        terms_led: now.terms_led - then.terms_led,
        batches_resent: now.batches_resent - then.batches_resent,
        entries_resent: now.entries_resent - then.entries_resent,
    }
}

/// A per-node RNG for the sender-side faults, derived from the run's seed.
pub(crate) fn fault_rng(seed: u64, id: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed ^ id.wrapping_mul(0xA076_1D64_78BD_642F))
}
