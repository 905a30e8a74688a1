//! The null engine: answers every request at once and sends nothing, so that a run with it
//! measures the harness alone (threads, channels, load, metrics).

use super::{Output, Replica, Status};
use crate::storage::Storage;
use pinraft_engine::{ClientReply, ClientRequest, Index, NodeId, Op, Outcome, Role, NONE};
use std::sync::Arc;

/// A replica with no consensus: every request is answered `ok` in the next `ready` (a get
/// reads the empty string).
#[derive(Debug, Default)]
pub struct NullReplica {
    replies: Vec<ClientReply>,
}

impl Replica for NullReplica {
    /// It never sends a message.
    type Batch = ();

    fn tick(&mut self, _now_ns: u64) {}

    fn step(&mut self, _from: NodeId, _batch: ()) {}

    fn propose(&mut self, request: Arc<ClientRequest>) -> Option<Index> {
        let value = matches!(request.op, Op::Get { .. }).then(bytes::Bytes::new);
        let reply =
            ClientReply { client: request.client, seq: request.seq, outcome: Outcome::Ok(value) };
        self.replies.push(reply);
        None
    }

    fn has_ready(&self) -> bool {
        !self.replies.is_empty()
    }

    fn ready(
        &mut self,
        _now_ns: u64,
        _storage: Option<&mut (dyn Storage + Send)>,
        out: &mut Output<()>,
    ) -> Result<(), String> {
        out.replies.append(&mut self.replies);
        Ok(())
    }

    fn next_deadline_ns(&self) -> u64 {
        u64::MAX
    }

    fn status(&self) -> Status {
        Status { role: Role::Follower, term: 0, leader: NONE, commit: 0, applied: 0 }
    }

    fn kv_len(&self) -> u64 {
        0
    }
}
