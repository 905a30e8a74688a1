//! The transport seam: how a node loop moves packets to its peers and replies to its
//! clients, and how it waits for the next inbound packet. Faults are not its business: the
//! node loop applies them above it, once, whatever the transport. [`Channels`] is the
//! in-process transport: one bounded crossbeam channel per node and per load thread, a
//! packet moved by pointer, one channel operation per packet.

use super::net::{Packet, Replies};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use pinraft_engine::NodeId;
use std::time::Duration;

/// Why a packet did not leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendError {
    /// The receiver's queue is full: a dropped packet, like a full NIC queue.
    Full,
    /// The receiver is gone.
    Closed,
}

/// A node's side of the network. Sends never block.
pub(crate) trait Transport<B>: Send {
    /// One packet to node `to`.
    fn send(&self, to: NodeId, packet: Packet<B>) -> Result<(), SendError>;
    /// Replies for the clients of load `load` (0-based). A reply that cannot leave is lost:
    /// its client times out and retries.
    fn reply(&self, load: usize, replies: Replies);
    /// How many loads there are to reply to.
    fn loads(&self) -> usize;
    /// The next inbound packet, waiting at most `wait`; `Err` once every sender is gone.
    fn recv_timeout(&self, wait: Duration) -> Result<Option<Packet<B>>, ()>;
    /// The next inbound packet already queued, if any.
    fn try_recv(&self) -> Option<Packet<B>>;
}

/// The in-process transport: crossbeam channels.
pub(crate) struct Channels<B> {
    pub inbox: Receiver<Packet<B>>,
    /// Every node's inbound channel, node `k + 1` at position `k`.
    pub peers: Vec<Sender<Packet<B>>>,
    /// Every load thread's reply channel.
    pub loads: Vec<Sender<Replies>>,
}

impl<B: Send> Transport<B> for Channels<B> {
    fn send(&self, to: NodeId, packet: Packet<B>) -> Result<(), SendError> {
        self.peers[to as usize - 1].try_send(packet).map_err(|e| match e {
            TrySendError::Full(_) => SendError::Full,
            TrySendError::Disconnected(_) => SendError::Closed,
        })
    }

    fn reply(&self, load: usize, replies: Replies) {
        let _ = self.loads[load].try_send(replies);
    }

    fn loads(&self) -> usize {
        self.loads.len()
    }

    fn recv_timeout(&self, wait: Duration) -> Result<Option<Packet<B>>, ()> {
        match self.inbox.recv_timeout(wait) {
            Ok(packet) => Ok(Some(packet)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    fn try_recv(&self) -> Option<Packet<B>> {
        self.inbox.try_recv().ok()
    }
}
