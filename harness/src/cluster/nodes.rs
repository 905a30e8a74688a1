//! The node threads' lives: each spawned pinned to its core, crashed, restarted from its
//! disk, and finally stopped and joined. Only the main thread (never pinned) calls this, so
//! a restarted thread never inherits a pinned CPU mask.

use super::disk::{Disk, Opened};
use super::net::{Packet, Replies, Shared};
use super::node::{self, NodeResult, NodeThread};
use super::transport::Channels;
use super::{Clock, ClusterConfig};
use crate::replica::BuildReplica;
use crossbeam_channel::{Receiver, Sender};
use pinraft_engine::{Config, NodeId};
use std::sync::Arc;
use std::thread::JoinHandle;

/// One node's place in the cluster, across its incarnations.
struct Slot {
    thread: Option<JoinHandle<NodeResult>>,
    /// Where its state lives while no thread runs it.
    disk: Disk,
    /// Threads started for this node so far.
    incarnations: u64,
}

/// Every node thread of a run, and what it takes to start one again.
pub(crate) struct Nodes<R: BuildReplica> {
    cfg: ClusterConfig,
    /// Each node's inbound channel, kept here so a restarted node reads the same one.
    inboxes: Vec<Receiver<Packet<R::Batch>>>,
    peers: Vec<Sender<Packet<R::Batch>>>,
    loads: Vec<Sender<Replies>>,
    shared: Arc<Shared>,
    clock: Clock,
    cores: Vec<Option<core_affinity::CoreId>>,
    slots: Vec<Slot>,
    /// Results of threads that ended before the run did (crashed or failed).
    ended: Vec<NodeResult>,
    /// Nodes whose thread panicked.
    panicked: Vec<NodeId>,
}

/// What every node thread of a run handed back.
pub(crate) struct Finished {
    /// One result per thread that returned, in no particular order.
    pub results: Vec<NodeResult>,
    /// Nodes whose thread panicked (a replica dying on its own).
    pub panicked: Vec<NodeId>,
}

/// The channels and shared state the node threads are wired to.
pub(crate) struct Wiring<B> {
    pub inboxes: Vec<Receiver<Packet<B>>>,
    pub peers: Vec<Sender<Packet<B>>>,
    pub loads: Vec<Sender<Replies>>,
    pub shared: Arc<Shared>,
    pub clock: Clock,
    /// The core of each node, by position.
    pub cores: Vec<Option<core_affinity::CoreId>>,
}

impl<R: BuildReplica> Nodes<R> {
    /// Starts every node from what its disk held. With `measure_restore`, each node watches
    /// for the moment it has applied its whole recovered log as leader.
    pub(crate) fn start(
        cfg: &ClusterConfig,
        wiring: Wiring<R::Batch>,
        disks: Vec<Disk>,
        opened: Vec<Opened>,
        measure_restore: bool,
    ) -> anyhow::Result<Nodes<R>> {
        let slots = disks.into_iter().map(|disk| Slot { thread: None, disk, incarnations: 0 });
        let mut nodes = Nodes {
            cfg: cfg.clone(),
            inboxes: wiring.inboxes,
            peers: wiring.peers,
            loads: wiring.loads,
            shared: wiring.shared,
            clock: wiring.clock,
            cores: wiring.cores,
            slots: slots.collect(),
            ended: Vec::new(),
            panicked: Vec::new(),
        };
        for (k, opened) in opened.into_iter().enumerate() {
            let target = measure_restore.then(|| {
                let snapshot = opened.recovered.snapshot.as_ref().map_or(0, |s| s.index);
                opened.recovered.entries.last().map_or(snapshot, |e| e.index)
            });
            nodes.spawn(k as NodeId + 1, opened, target)?;
        }
        Ok(nodes)
    }

    /// Crashes a live node: it stops at once, keeping what its storage holds.
    pub(crate) fn crash(&self, id: NodeId) {
        if self.shared.is_alive(id) {
            self.shared.mark_dead(id);
            let _ = self.peers[id as usize - 1].send(Packet::Crash);
        }
    }

    /// Restarts a node that is down (crashed, or stopped by a storage error) from its
    /// storage, and says what happened. A node that is running is left alone, as a crash of
    /// a node that is down is.
    pub(crate) fn restart(&mut self, id: NodeId) -> String {
        if self.shared.is_alive(id) {
            return format!("node {id} was running already");
        }
        let k = id as usize - 1;
        if let Some(thread) = self.slots[k].thread.take() {
            match thread.join() {
                Ok(mut result) => {
                    if let Some(disk) = result.disk.take() {
                        self.slots[k].disk = Disk::Mem(disk);
                    }
                    self.ended.push(result);
                }
                Err(_) => self.panicked.push(id),
            }
        }
        // What was sent to the node while it was down is lost with the machine.
        while self.inboxes[k].try_recv().is_ok() {}
        let opened = match self.slots[k].disk.open() {
            Ok(opened) => opened,
            Err(e) => return format!("node {id} not restarted: {e}"),
        };
        let (entries, term) = (opened.recovered.entries.len(), opened.recovered.hard_state.term);
        match self.spawn(id, opened, None) {
            Ok(()) => format!("node {id} restarted from a log of {entries} entries, term {term}"),
            Err(e) => format!("node {id} not restarted: {e:#}"),
        }
    }

    /// Builds node `id` from what its storage recovered and starts its thread.
    fn spawn(
        &mut self,
        id: NodeId,
        opened: Opened,
        restore_target: Option<u64>,
    ) -> anyhow::Result<()> {
        let k = id as usize - 1;
        let cfg = &self.cfg;
        let now_ns = self.clock.now_ns();
        let engine =
            Config { id, members: (1..=cfg.nodes).collect(), seed: cfg.seed, ..cfg.engine.clone() };
        let replica = R::build(engine, opened.recovered, now_ns).map_err(anyhow::Error::msg)?;
        let slot = &mut self.slots[k];
        let transport = Channels {
            inbox: self.inboxes[k].clone(),
            peers: self.peers.clone(),
            loads: self.loads.clone(),
        };
        let thread = NodeThread {
            id,
            replica,
            transport,
            shared: self.shared.clone(),
            faults: cfg.faults,
            rng: node::fault_rng(cfg.seed.wrapping_add(slot.incarnations), id),
            clock: self.clock,
            warmup_end_ns: cfg.warmup_ns,
            storage: opened.storage,
            restore_target,
        };
        slot.incarnations += 1;
        self.shared.mark_alive(id);
        slot.thread = Some(super::spawn(format!("node{id}"), self.cores[k], move || thread.run())?);
        Ok(())
    }

    /// Stops every node thread and collects what each one handed back.
    pub(crate) fn finish(mut self) -> Finished {
        // Without these, the channel of a node that is down stays open, and a send to it
        // once it is full would block for ever.
        self.inboxes.clear();
        for tx in &self.peers {
            let _ = tx.send(Packet::Stop);
        }
        for (k, slot) in self.slots.iter_mut().enumerate() {
            if let Some(thread) = slot.thread.take() {
                match thread.join() {
                    Ok(result) => self.ended.push(result),
                    Err(_) => self.panicked.push(k as NodeId + 1),
                }
            }
        }
        Finished { results: self.ended, panicked: self.panicked }
    }
}
