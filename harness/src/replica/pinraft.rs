//! pinraft's own engine behind the seam: a thin wrapper of [`pinraft_engine::Node`] that
//! saves each `Ready` through [`persist_ready`] before handing out its batches.

use super::{Outbound, Output, PacketKind, Replica, Status};
use crate::storage::{persist_ready, MemStorage, Storage};
use pinraft_engine::{
    Batch, ClientRequest, Config, HardState, Index, Message, Node, NodeId, Snapshot, Stats,
};
use std::sync::Arc;

/// The pinraft engine as a [`Replica`].
#[derive(Debug)]
pub struct Pinraft {
    node: Box<Node>,
}

impl Pinraft {
    /// Rebuilds a node from what its storage recovered (nothing, on fresh storage).
    pub fn restore(
        config: Config,
        hard_state: HardState,
        snapshot: Option<Snapshot>,
        entries: Vec<pinraft_engine::Entry>,
        now_ns: u64,
    ) -> Result<Pinraft, pinraft_engine::RecoverError> {
        let node = Node::restore(config, hard_state, snapshot, entries, now_ns)?;
        Ok(Pinraft { node: Box::new(node) })
    }

    /// The engine inside.
    pub fn node(&self) -> &Node {
        &self.node
    }
}

/// What a batch of pinraft messages carries; see [`PacketKind`].
pub fn packet_kind(messages: &[Message]) -> PacketKind {
    use Message as M;
    let has = |f: fn(&M) -> bool| messages.iter().any(f);
    let replication = |m: &M| {
        matches!(
            m,
            M::Append { .. }
                | M::AppendAck { .. }
                | M::InstallSnapshot { .. }
                | M::SnapshotAck { .. }
        )
    };
    if has(replication) {
        PacketKind::Replication
    } else if has(|m| matches!(m, M::RequestVote { .. } | M::Vote { .. })) {
        PacketKind::Election
    } else {
        PacketKind::Heartbeat
    }
}

impl Replica for Pinraft {
    type Batch = Batch;

    fn tick(&mut self, now_ns: u64) {
        self.node.tick(now_ns);
    }

    fn step(&mut self, from: NodeId, batch: Batch) {
        for message in batch.messages {
            self.node.step(from, message);
        }
    }

    fn propose(&mut self, request: Arc<ClientRequest>) -> Option<Index> {
        self.node.propose(request)
    }

    fn has_ready(&self) -> bool {
        self.node.has_ready()
    }

    fn ready(
        &mut self,
        now_ns: u64,
        mut storage: Option<&mut (dyn Storage + Send)>,
        out: &mut Output<Batch>,
    ) -> Result<(), String> {
        while self.node.has_ready() {
            let mut ready = self.node.ready();
            // Durable before any message that depends on it leaves (in memory, the engine's
            // log is the disk and there is nothing to write).
            if let Some(storage) = storage.as_deref_mut() {
                persist_ready(storage, &self.node, &ready, now_ns)
                    .map_err(|e| format!("storage error: {e}"))?;
            }
            for batch in std::mem::take(&mut ready.messages) {
                debug_assert!(!batch.messages.is_empty(), "the engine sends no empty batch");
                let (kind, messages) = (packet_kind(&batch.messages), batch.messages.len());
                out.messages.push(Outbound {
                    to: batch.to,
                    batch,
                    messages: messages as u64,
                    kind,
                });
            }
            out.replies.append(&mut ready.replies);
            self.node.advance(ready);
        }
        Ok(())
    }

    fn next_deadline_ns(&self) -> u64 {
        self.node.next_deadline_ns()
    }

    fn status(&self) -> Status {
        let node = &self.node;
        Status {
            role: node.role(),
            term: node.term(),
            leader: node.leader(),
            commit: node.commit_index(),
            applied: node.applied_index(),
        }
    }

    fn stats(&self) -> Stats {
        self.node.stats()
    }

    fn kv_len(&self) -> u64 {
        self.node.kv_len() as u64
    }

    /// The hard state, latest snapshot and the log after it. Entries stepped since the last
    /// `Ready` are in it too, as on a disk written just before the crash.
    fn leave_behind(&self) -> Option<MemStorage> {
        let node = &self.node;
        let mut disk = MemStorage::new();
        let hard_state = HardState { term: node.term(), vote: node.vote() };
        let mut from = 1;
        if let Some(snapshot) = node.snapshot() {
            disk.save_snapshot(snapshot).expect("memory does not fail");
            from = snapshot.index + 1;
        }
        let mut entries = node.entries(from..node.last_index() + 1);
        disk.save(Some(hard_state), from, &mut entries, 0).expect("a node's own log is contiguous");
        Some(disk)
    }
}
