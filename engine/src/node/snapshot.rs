//! Snapshots and log compaction (Raft paper, section 7): a node snapshots its state machine
//! every `snapshot_entries_threshold` applied entries and drops the log beneath; a leader
//! sends its snapshot, in chunks, to a follower that needs entries it no longer holds.

use super::{Node, Role};
use crate::kv::Kv;
use crate::message::{Message, SnapshotChunk};
use crate::types::{Index, NodeId, Snapshot, Term};
use bytes::Bytes;

/// A follower's partly received snapshot.
#[derive(Debug)]
pub(crate) struct Incoming {
    index: Index,
    term: Term,
    total: u64,
    /// The leading bytes received so far.
    data: Vec<u8>,
}

impl Node {
    /// Snapshots the state machine at the applied index once `snapshot_entries_threshold`
    /// entries were applied since the last snapshot. The snapshot holds only applied, hence
    /// committed, state. The in-memory log keeps the entries since the *previous* snapshot,
    /// so a follower a little behind still catches up from the log, and memory stays bounded
    /// by about two thresholds of entries. Called with a threshold set.
    pub(super) fn maybe_snapshot(&mut self) {
        let last = self.snapshot.as_ref().map_or(0, |s| s.index);
        if self.applied - last < self.config.snapshot_entries_threshold {
            return;
        }
        let index = self.applied;
        let term = self.log.term(index).expect("applied entries are in the log");
        // Never past what the runtime has yet to read as committed (several snapshots can
        // be taken between two `Ready`s), nor, on a leader, past a snapshot on its way to a
        // follower that answers, which then goes on from the log instead of needing a newer
        // snapshot.
        let mut floor = last.min(self.committed_from - 1);
        if self.role == Role::Leader {
            for peer in self.peers() {
                let live = self.progress[peer].live_transfer_index(&self.config, self.now_ns);
                if let Some(sending) = live {
                    floor = floor.min(sending);
                }
            }
        }
        self.log.compact_to(floor);
        self.log.covered_by_snapshot(index);
        self.snapshot = Some(Snapshot { index, term, data: self.kv.encode() });
        self.snapshot_unsaved = true;
        self.stats.snapshots_taken += 1;
    }

    /// Leader: queues the next chunk of the snapshot for `peer` if one is due.
    pub(super) fn send_snapshot_chunk(&mut self, peer: usize) -> bool {
        if self.progress[peer].needs_snapshot(self.log.first_index()) {
            let snapshot = self.snapshot.clone().expect("a compacted log has a snapshot");
            self.progress[peer].start_snapshot(snapshot);
        } else if let Some(latest) = &self.snapshot {
            self.progress[peer].refresh_snapshot(latest);
        }
        let Some(chunk) = self.progress[peer].next_chunk(&self.config, self.now_ns) else {
            return false;
        };
        self.stats.snapshot_chunks_sent += 1;
        let chunk = SnapshotChunk {
            index: chunk.index,
            snapshot_term: chunk.term,
            offset: chunk.offset,
            total: chunk.total,
            data: chunk.data,
        };
        let message = Message::InstallSnapshot { term: self.term, chunk: Box::new(chunk) };
        self.send(peer, message);
        true
    }

    /// Leader: a follower's answer to a chunk.
    pub(super) fn handle_snapshot_ack(&mut self, from_pos: usize, index: Index, received: u64) {
        self.progress[from_pos].heard();
        if self.progress[from_pos].on_snapshot_ack(index, received) {
            self.maybe_commit();
        }
    }

    /// Follower: takes a chunk, and installs the snapshot once it is whole (section 7,
    /// Figure 13). Every chunk is answered with how many leading bytes the follower holds.
    pub(super) fn handle_install_snapshot(
        &mut self,
        from: NodeId,
        from_pos: usize,
        chunk: SnapshotChunk,
    ) {
        self.leader = from;
        self.reset_election_timer();
        let (term, index) = (self.term, chunk.index);
        let ack = move |received| Message::SnapshotAck { term, index, received };
        if chunk.index <= self.commit {
            // Committed here already, so the log matches the leader's through it. A stale
            // duplicate leaves a newer transfer in progress alone.
            if self.incoming.as_ref().is_some_and(|i| i.index <= self.commit) {
                self.incoming = None;
            }
            let message = ack(chunk.total);
            self.send(from_pos, message);
            return;
        }
        let same = |i: &Incoming| {
            (i.index, i.term, i.total) == (chunk.index, chunk.snapshot_term, chunk.total)
        };
        if !self.incoming.as_ref().is_some_and(same) {
            // A chunk from the middle of another snapshot: answer "nothing held" for it and
            // keep the transfer in progress. The start of another one replaces it, even an
            // older one: its sender (a new leader, say) may be the only one left.
            if chunk.offset != 0 {
                let message = ack(0);
                self.send(from_pos, message);
                return;
            }
            // Grown as chunks arrive: a claimed total is not trusted with an allocation.
            let data = Vec::with_capacity(chunk.data.len());
            let (index, term, total) = (chunk.index, chunk.snapshot_term, chunk.total);
            self.incoming = Some(Incoming { index, term, total, data });
        }
        let incoming = self.incoming.as_mut().expect("set above");
        let held = incoming.data.len() as u64;
        let fits = chunk.offset == held && held + chunk.data.len() as u64 <= incoming.total;
        if fits {
            incoming.data.extend_from_slice(&chunk.data);
        }
        let held = incoming.data.len() as u64;
        if held < incoming.total {
            let message = ack(held);
            self.send(from_pos, message);
            return;
        }
        let incoming = self.incoming.take().expect("checked");
        match Kv::decode(&incoming.data) {
            Ok(kv) => {
                self.install(incoming.index, incoming.term, kv, Bytes::from(incoming.data));
                let message = ack(incoming.total);
                self.send(from_pos, message);
            }
            // Damaged on the way: start over rather than install a wrong state machine.
            Err(_) => {
                let message = ack(0);
                self.send(from_pos, message);
            }
        }
    }

    /// Follower: replaces the state machine by a complete snapshot. If the log holds the
    /// snapshot's last entry, the entries after it stay (Figure 13, step 6: they may have
    /// been acknowledged and counted towards a commit); otherwise the whole log goes.
    fn install(&mut self, index: Index, term: Term, kv: Kv, data: Bytes) {
        if self.log.term(index) == Some(term) {
            self.log.compact_to(index);
        } else {
            self.log.reset(index, term);
        }
        self.kv = kv;
        self.commit = index;
        self.applied = index;
        self.committed_from = index + 1;
        self.verified = self.verified.max(index);
        self.snapshot = Some(Snapshot { index, term, data });
        self.snapshot_unsaved = true;
        self.stats.snapshots_installed += 1;
    }
}
