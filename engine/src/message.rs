//! The messages nodes exchange, and the batch: every message for one destination produced
//! by one `Ready`, moved by the runtime in a single channel operation.

use crate::types::{Entry, Index, NodeId, Term};
use bytes::Bytes;

/// One Raft message. The sender travels beside it (in the [`Batch`], and as the `from`
/// argument of [`crate::Node::step`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A candidate asks for a vote (section 5.2).
    RequestVote {
        /// The candidate's term.
        term: Term,
        /// Index of the candidate's last log entry (section 5.4.1).
        last_index: Index,
        /// Term of the candidate's last log entry.
        last_term: Term,
    },
    /// The answer to `RequestVote`.
    Vote {
        /// The voter's current term.
        term: Term,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// The leader's entries for a follower, after the entry at `prev_index` (section 5.3).
    Append {
        /// The leader's term.
        term: Term,
        /// Index of the entry just before `entries`.
        prev_index: Index,
        /// Term of the entry at `prev_index`.
        prev_term: Term,
        /// The entries, contiguous from `prev_index + 1`; may be empty.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: Index,
    },
    /// The answer to `Append`, or to a message from a stale leader.
    AppendAck {
        /// The follower's current term.
        term: Term,
        /// What the follower made of it.
        outcome: AckOutcome,
    },
    /// One chunk of the leader's snapshot, for a follower that needs entries the leader has
    /// compacted away (section 7). Chunks go one at a time, each acknowledged; a lost chunk
    /// is resent after the resend threshold, from where the follower's ack left off.
    InstallSnapshot {
        /// The leader's term.
        term: Term,
        /// The chunk, boxed: it is rare, and every other message stays small to move.
        chunk: Box<SnapshotChunk>,
    },
    /// The answer to `InstallSnapshot`: how many leading bytes of the snapshot at `index`
    /// the follower holds. `received == total` means installed.
    SnapshotAck {
        /// The follower's current term.
        term: Term,
        /// The snapshot's index.
        index: Index,
        /// Bytes received contiguously from the start.
        received: u64,
    },
    /// The leader's periodic liveness signal, sent to a peer only when nothing else was sent
    /// to it for a heartbeat interval. It carries the commit index, which the follower caps
    /// at the last index it verified against this leader. Not acknowledged.
    Heartbeat {
        /// The leader's term.
        term: Term,
        /// The leader's commit index.
        commit: Index,
    },
}

impl Message {
    /// The sender's term.
    pub fn term(&self) -> Term {
        match self {
            Message::RequestVote { term, .. }
            | Message::Vote { term, .. }
            | Message::Append { term, .. }
            | Message::AppendAck { term, .. }
            | Message::InstallSnapshot { term, .. }
            | Message::SnapshotAck { term, .. }
            | Message::Heartbeat { term, .. } => *term,
        }
    }
}

/// One piece of a snapshot on its way to a follower.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotChunk {
    /// The last index the snapshot covers.
    pub index: Index,
    /// The term of the entry at `index`.
    pub snapshot_term: Term,
    /// Where in the snapshot's data this chunk starts.
    pub offset: u64,
    /// The snapshot's whole length in bytes.
    pub total: u64,
    /// The chunk: a slice of the leader's snapshot, shared, not copied.
    pub data: Bytes,
}

/// A follower's verdict on an `Append`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckOutcome {
    /// The follower's log matches the leader's through this index.
    Match(Index),
    /// The entry at `rejected` (the append's `prev_index`) is missing or has another term.
    /// `hint_index` and `hint_term` let the leader skip a whole term of mismatched entries
    /// at once instead of one entry per round trip (section 5.3, last paragraphs).
    Conflict {
        /// The `prev_index` of the rejected append.
        rejected: Index,
        /// The follower's last index + 1 if it lacks `rejected`, else the first index of the
        /// conflicting term.
        hint_index: Index,
        /// The follower's term at `rejected`, or 0 if it lacks that entry.
        hint_term: Term,
    },
    /// The sender's term was stale; `term` tells it the newer one (section 5.1).
    StaleTerm,
}

/// Every message one node sends to one destination out of one `Ready`: the unit the runtime
/// moves through a channel, by pointer, in one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// The sender.
    pub from: NodeId,
    /// The destination.
    pub to: NodeId,
    /// The messages, in the order they must be stepped.
    pub messages: Vec<Message>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Messages are moved by value on every step; a rare large variant must not make every
    // one of them bigger.
    #[test]
    fn a_message_stays_within_a_cache_line() {
        assert!(std::mem::size_of::<Message>() <= 64, "{}", std::mem::size_of::<Message>());
    }
}
