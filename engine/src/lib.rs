//! # pinraft-engine
//!
//! Raft consensus with a replicated key-value state machine, written as a pure state
//! machine in the style of etcd-io/raft's `RawNode`: no threads, no clock, no I/O, and no
//! randomness it did not receive. Time comes in as a number ([`Node::tick`]), messages come
//! in one by one ([`Node::step`]) and go out as per-destination batches in a [`Ready`],
//! together with what must be made durable, what committed, and the replies to clients.
//!
//! ```
//! use pinraft_engine::{Config, Node, Role};
//! let mut node = Node::new(Config::new(1, 1)).unwrap();
//! node.tick(1_000_000_000); // past the election timeout: a single node elects itself
//! assert_eq!(node.role(), Role::Leader);
//! ```
//!
//! The same inputs always give the same outputs, so a simulator can replay any run from
//! its seed. References to "section N" are to the Raft paper (Ongaro and Ousterhout,
//! "In Search of an Understandable Consensus Algorithm", USENIX ATC 2014).

#![deny(missing_docs)]

mod config;
mod kv;
mod log;
mod message;
mod node;
mod progress;
pub mod quorum;
mod ready;
mod resend;
mod types;

pub use config::{Config, ConfigError, RecoverError, ResendPolicy, MEMBERS_MAX};
pub use kv::Kv;
pub use message::{AckOutcome, Batch, Message, SnapshotChunk};
pub use node::{Node, Role, Stats};
pub use ready::Ready;
pub use types::{
    ClientId, ClientReply, ClientRequest, Entry, HardState, Index, NodeId, Op, Outcome, Payload,
    Seq, Snapshot, Term, NONE,
};
