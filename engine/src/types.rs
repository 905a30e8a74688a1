//! Plain data shared by the engine and every runtime: ids, log entries, client requests and
//! replies, and the hard state. Nothing here has behaviour beyond construction.

use bytes::Bytes;
use std::sync::Arc;

/// A node's id. Members are numbered 1..=n; 0 means "none" (no vote, no known leader).
pub type NodeId = u64;
/// A Raft term (Raft paper, section 5.1).
pub type Term = u64;
/// A log index. The first entry has index 1; index 0 is the empty prefix.
pub type Index = u64;
/// A client's id, chosen by the runtime.
pub type ClientId = u64;
/// A client's request sequence number. A client has at most one request outstanding and
/// retries it with the same sequence number, so (client, seq) names one operation.
pub type Seq = u64;

/// The id that means "none": no vote cast, no leader known.
pub const NONE: NodeId = 0;

/// A key-value operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read a key; a key never written reads as the empty string.
    Get {
        /// The key to read.
        key: Bytes,
    },
    /// Set a key to a value.
    Put {
        /// The key to write.
        key: Bytes,
        /// The new value.
        value: Bytes,
    },
    /// Append a value to a key's current value.
    Append {
        /// The key to extend.
        key: Bytes,
        /// The bytes appended.
        value: Bytes,
    },
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> &Bytes {
        match self {
            Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } => key,
        }
    }
}

/// One client operation, named by (client, seq) so that a retry is applied once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    /// Who sent it.
    pub client: ClientId,
    /// The client's sequence number for this operation.
    pub seq: Seq,
    /// What to do.
    pub op: Op,
}

/// What a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// The entry a new leader appends at the start of its term, so that entries of earlier
    /// terms can commit through it (Raft paper, sections 5.4.2 and 8).
    Noop,
    /// A client request. The `Arc` is the zero-copy rule: the request is stored once, and
    /// every batch that carries the entry, to any number of followers, shares it.
    Request(Arc<ClientRequest>),
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The term in which a leader created the entry.
    pub term: Term,
    /// The entry's position in the log.
    pub index: Index,
    /// What the entry carries.
    pub payload: Payload,
}

/// How a request ended, as told to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied. A get carries the value read (empty when the key was never written); a put
    /// or append carries `None`.
    Ok(Option<Bytes>),
    /// This node is not the leader; the hint is its best guess of who is (`NONE` if unknown).
    Redirect(NodeId),
    /// A leader accepted the request but lost leadership before it committed. The outcome is
    /// unknown: the client retries the same (client, seq), which is applied at most once.
    Fail,
}

/// A reply to a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientReply {
    /// The client the reply is for.
    pub client: ClientId,
    /// The sequence number of the request answered.
    pub seq: Seq,
    /// How it ended.
    pub outcome: Outcome,
}

/// The state that must be durable before any message that depends on it is sent: the
/// current term and the vote cast in it (Raft paper, Figure 2, "Persistent state").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    /// The latest term this node has seen.
    pub term: Term,
    /// The candidate this node voted for in `term`, or `NONE`.
    pub vote: NodeId,
}

impl Snapshot {
    /// The ids of the clients in the snapshot's client table (a runtime that restarts a
    /// cluster gives its new clients ids after these), or what is wrong with the data.
    pub fn client_ids(&self) -> Result<Vec<ClientId>, String> {
        crate::kv::Kv::decode(&self.data).map(|kv| kv.client_ids())
    }
}

/// The state machine as of a committed index: everything a node needs in place of the log
/// through `index` (Raft paper, section 7). `data` is the key-value store and its client
/// table, encoded by the engine; the runtime stores and ships it as opaque bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The last log index the snapshot covers. Always a committed index.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
    /// The encoded state machine. A `Bytes`, so chunks sent to followers share it.
    pub data: Bytes,
}
