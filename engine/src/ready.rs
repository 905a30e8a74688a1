//! `Ready`: everything the runtime must do after feeding a node its inputs.

use crate::message::Batch;
use crate::types::{ClientReply, HardState, Index, Snapshot};
use std::ops::Range;

/// The work a node hands its runtime. The runtime performs it in field order, then gives it
/// back with [`crate::Node::advance`] before stepping the node again.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use = "a Ready must be performed and handed back with Node::advance"]
pub struct Ready {
    /// Term and vote to make durable *before* any message below is sent (a vote must not be
    /// granted twice across a crash). `None` when unchanged since the last `Ready`.
    pub hard_state: Option<HardState>,
    /// A snapshot to make durable, after the hard state and before the entries: one this
    /// node took of its own state machine, or one a leader sent it. Once it is durable, the
    /// durable entries at or below its index may be dropped (it covers them); a durable log
    /// that ends before its index continues at its index + 1. `entries` then starts after its
    /// index, and `committed` skips the indexes it covers.
    pub snapshot: Option<Snapshot>,
    /// Log entries to make durable before any message below is sent, read with
    /// [`crate::Node::entries`]. A durable log holding entries at or after `entries.start`
    /// must first drop them, even when `entries` is empty: the log was rewritten or cut
    /// from there (a snapshot install that replaced a conflicting log leaves it empty).
    pub entries: Range<Index>,
    /// Outbound batches, at most one per destination, in ascending destination order.
    pub messages: Vec<Batch>,
    /// Entries newly committed and applied to the key-value state machine, in order; read
    /// them with [`crate::Node::entries`].
    pub committed: Range<Index>,
    /// Replies to clients, in the order their requests were decided.
    pub replies: Vec<ClientReply>,
}

impl Ready {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.snapshot.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.committed.is_empty()
            && self.replies.is_empty()
    }
}
