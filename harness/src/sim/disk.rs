//! The simulated disks: each node's [`SimStorage`], the save after every `Ready`, the
//! virtual fsync a node waits for, and what a crash does to the disk.
//!
//! The runtime modelled is the simplest correct one: after `ready()` it writes the hard state
//! and entries, waits for the fsync the policy requires (`fsync_latency_ns` of virtual time),
//! then sends the batches, answers the clients and calls `advance`. While it waits it steps
//! nothing: packets and requests queue in its inbox, and when the fsync is done it steps
//! them all before its next `ready()`, so one fsync covers everything they brought (group
//! commit). With a latency of zero no event is added, so a run is the run it was before
//! disks existed. With `interval` or `never`, saves complete without an fsync: the node
//! sends before its writes are durable, and a crash can lose what it acknowledged.
//!
//! A crash loses the node's unsynced writes (perhaps tearing the last one, `crash_damage`),
//! the `Ready` waiting for its fsync, and its inbox; then the invariants check that every
//! committed entry still sits in a majority of the logs that survive.

use super::invariants::{DurableLog, LogView};
use super::queue::Kind;
use super::simulator::Simulator;
use crate::args::PPM;
use crate::storage::{CrashDamage, SimStorage, SimStorageStats, Storage, SyncDue};
use pinraft_engine::{Batch, ClientRequest, NodeId, Ready, Role, Term};
use rand::Rng;
use std::sync::Arc;

/// Most inputs that queue up at a node waiting for its fsync; later ones are dropped, as a
/// full receive queue drops packets.
pub const INBOX_INPUTS_MAX: usize = 4096;

/// A `Ready` whose writes wait for their fsync.
#[derive(Debug)]
pub(crate) struct Held {
    ready: Ready,
    due: SyncDue,
    /// The node's role and term before the input that produced it, for the trace.
    before: (Role, Term),
}

/// An input that reached a node waiting for its fsync.
#[derive(Debug)]
pub(crate) enum Input {
    Batch(Batch),
    Request(Arc<ClientRequest>),
}

impl Simulator {
    /// Writes what `ready` must make durable to node `i`'s disk. Returns the `Ready` when it
    /// may be released now, or holds it until its fsync is done (`None`).
    pub(super) fn save(&mut self, i: usize, ready: Ready, before: (Role, Term)) -> Option<Ready> {
        let cut = ready.entries.start <= self.disks[i].last_index();
        if ready.hard_state.is_none()
            && ready.snapshot.is_none()
            && ready.entries.is_empty()
            && !cut
        {
            return Some(ready);
        }
        let node = &self.nodes[i];
        if let Some(snapshot) = &ready.snapshot {
            if let Err(e) = self.disks[i].write_snapshot(snapshot) {
                let detail = format!("the disk refused a snapshot: {e}");
                self.invariants.contract(self.now_ns, node.id(), detail);
                return Some(ready);
            }
        }
        let mut entries = node.entries(ready.entries.clone());
        let due = match self.disks[i].write(
            ready.hard_state,
            ready.entries.start,
            &mut entries,
            self.now_ns,
        ) {
            Ok(due) => due,
            Err(e) => {
                let detail = format!("the disk refused a save: {e}");
                self.invariants.contract(self.now_ns, node.id(), detail);
                return Some(ready);
            }
        };
        if !due.any() || self.cfg.fsync_latency_ns == 0 {
            self.disks[i].complete(due);
            return Some(ready);
        }
        self.sync_gen[i] += 1;
        let (node, gen) = (i as NodeId + 1, self.sync_gen[i]);
        self.queue.push(self.now_ns + self.cfg.fsync_latency_ns, Kind::Synced { node, gen });
        self.held[i] = Some(Held { ready, due, before });
        None
    }

    /// Queues an input for node `i`, which waits for its fsync.
    pub(super) fn hold_input(&mut self, i: usize, input: Input) {
        if self.inbox[i].len() < INBOX_INPUTS_MAX {
            self.inbox[i].push(input);
        } else if let Input::Batch(batch) = input {
            self.network.dropped(batch.messages.len());
        }
    }

    /// Node `id`'s fsync is done: release its `Ready`, step everything that queued up
    /// meanwhile, and settle it.
    pub(super) fn on_synced(&mut self, id: NodeId) {
        let i = id as usize - 1;
        let Some(held) = self.held[i].take() else { return };
        self.disks[i].complete(held.due);
        self.release(i, held.ready);
        let node = &mut self.nodes[i];
        node.tick(self.now_ns);
        for input in std::mem::take(&mut self.inbox[i]) {
            match input {
                Input::Batch(batch) => {
                    self.network.delivered(batch.messages.len());
                    for message in batch.messages {
                        node.step(batch.from, message);
                    }
                }
                Input::Request(request) => {
                    node.propose(request);
                }
            }
        }
        self.settle(i, held.before);
    }

    /// Node `i` stops: its disk loses what was not synced (damaged as `crash_damage`
    /// draws), the `Ready` waiting for its fsync and its inbox are gone. Then every
    /// committed entry must still be in a majority of the surviving logs.
    pub(super) fn crash_disk(&mut self, i: usize) {
        self.drop_pending(i);
        let damage = self.draw_damage();
        let lost = self.disks[i].crash(damage);
        let id = i as NodeId + 1;
        self.trace.note(self.now_ns, || {
            format!("node {id} crashed: {lost} unsynced entries lost ({damage:?})")
        });
        self.check_durability(id);
    }

    /// Drops node `i`'s waiting `Ready` (its `Synced` event goes stale) and its inbox.
    pub(super) fn drop_pending(&mut self, i: usize) {
        self.held[i] = None;
        self.sync_gen[i] += 1;
        for input in std::mem::take(&mut self.inbox[i]) {
            if let Input::Batch(batch) = input {
                self.network.dropped(batch.messages.len());
            }
        }
    }

    fn draw_damage(&mut self) -> CrashDamage {
        let ppm = self.cfg.crash_damage_ppm;
        if ppm == 0 || self.disk_rng.gen_range(0..PPM) >= ppm {
            return CrashDamage::Clean;
        }
        if self.disk_rng.gen_bool(0.5) {
            CrashDamage::Torn(self.disk_rng.gen())
        } else {
            CrashDamage::BitFlip(self.disk_rng.gen())
        }
    }

    /// The logs that survive now: a live node's log, a crashed node's disk as recovery
    /// will read it.
    fn check_durability(&mut self, crashed: NodeId) {
        let disks: Vec<Option<DurableLog>> = (0..self.nodes.len())
            .map(|j| {
                self.crashed[j].then(|| {
                    let (snapshot_index, entries) = self.disks[j].durable_log();
                    DurableLog { snapshot_index, entries }
                })
            })
            .collect();
        let logs: Vec<&dyn LogView> = self
            .nodes
            .iter()
            .zip(&disks)
            .map(|(node, disk)| match disk {
                Some(durable) => durable as &dyn LogView,
                None => node as &dyn LogView,
            })
            .collect();
        self.invariants.durability(self.now_ns, crashed, &logs);
    }

    /// Whether node `id` has written a `Ready` and waits for its fsync.
    pub fn is_syncing(&self, id: NodeId) -> bool {
        self.held[id as usize - 1].is_some()
    }

    /// Node `id`'s simulated disk.
    pub fn disk(&self, id: NodeId) -> &SimStorage {
        &self.disks[id as usize - 1]
    }

    /// What every disk did, summed.
    pub fn disk_stats(&self) -> SimStorageStats {
        let mut total = SimStorageStats::default();
        for disk in &self.disks {
            total.add(&disk.stats());
        }
        total
    }

    /// A fresh disk for node `i`, with nothing on it (a restart with amnesia).
    pub(super) fn wipe_disk(&mut self, i: usize) {
        self.drop_pending(i);
        self.disks[i] = SimStorage::new(self.disks[i].sync_policy());
    }
}
