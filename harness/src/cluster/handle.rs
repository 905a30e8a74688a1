//! A library handle on a running cluster: the node threads `pinraft run` starts, with the
//! caller as their only client. Benchmarks time single requests through it and tests drive
//! crashes and restarts with it, so both run the node loop users run, not a copy of it.
//!
//! Every wait is bounded and blocks (a channel receive with a timeout, or a 1 ms sleep
//! between looks at the cluster's atomics); nothing spins.

use super::net::Replies;
use super::{start, ClusterConfig, Packet, Started};
use crate::replica::BuildReplica;
use crate::workload::ClusterView;
use anyhow::Context;
use crossbeam_channel::{bounded, Receiver};
use pinraft_engine::{ClientReply, ClientRequest, NodeId, Outcome, NONE};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often `wait_until` looks at the cluster.
const POLL: Duration = Duration::from_millis(1);

/// What [`Cluster::view`] shows: the leader, if any, and which nodes are up.
pub type View = ClusterView;

/// A running cluster of `R` replicas on pinned node threads. Dropping it stops every thread.
pub struct Cluster<R: BuildReplica> {
    started: Option<Started<R>>,
    replies: Receiver<Replies>,
}

impl<R: BuildReplica> Cluster<R> {
    /// Starts the node threads of `cfg` (its nodes, engine knobs, faults, storage and seed;
    /// load, duration and events are not used: the caller is the load and the control
    /// plane). Returns at once; see [`Cluster::wait_until`].
    pub fn start(cfg: &ClusterConfig) -> anyhow::Result<Cluster<R>> {
        let (reply_tx, replies) = bounded(cfg.channel_capacity);
        let cfg = ClusterConfig { warmup_ns: 0, events: Vec::new(), ..cfg.clone() };
        let started = start::<R>(&cfg, vec![reply_tx])?;
        Ok(Cluster { started: Some(started), replies })
    }

    fn started(&self) -> &Started<R> {
        self.started.as_ref().expect("a cluster runs until it is stopped")
    }

    /// The leader and the nodes that are up, as the node threads last published them.
    pub fn view(&self) -> View {
        let shared = &self.started().shared;
        ClusterView {
            leader: shared.leader(),
            alive: (1..=shared.nodes() as NodeId).map(|id| shared.is_alive(id)).collect(),
        }
    }

    /// Waits until `condition` holds of the view, at most `bound`; returns the view.
    pub fn wait_until(
        &self,
        condition: impl Fn(&View) -> bool,
        bound: Duration,
    ) -> anyhow::Result<View> {
        let deadline = Instant::now() + bound;
        loop {
            let view = self.view();
            if condition(&view) {
                return Ok(view);
            }
            anyhow::ensure!(Instant::now() < deadline, "condition not met within {bound:?}");
            std::thread::sleep(POLL);
        }
    }

    /// Waits for a leader, at most `bound`.
    pub fn await_leader(&self, bound: Duration) -> anyhow::Result<NodeId> {
        let view = self.wait_until(|v| v.leader.is_some(), bound)?;
        Ok(view.leader.expect("the condition"))
    }

    /// Hands `requests` to node `to` in one packet, as a load thread does; blocks while its
    /// inbound channel is full.
    pub fn send(&self, to: NodeId, requests: Vec<Arc<ClientRequest>>) -> anyhow::Result<()> {
        let inbox = self.started().node_tx.get(to as usize - 1).context("no such node")?;
        inbox.send(Packet::Requests(requests)).ok().context("the node's channel is closed")
    }

    /// The next packet of replies, waiting at most `bound`.
    pub fn recv(&self, bound: Duration) -> anyhow::Result<Replies> {
        self.replies.recv_timeout(bound).with_context(|| format!("no reply within {bound:?}"))
    }

    /// Submits one request and waits for its answer, at most `bound` in all: sent to the
    /// leader, sent again to the hinted leader on a redirect, and again (same client and
    /// sequence number, applied at most once) after a `fail` or a silence of a tenth of the
    /// bound. Returns the reply that answered it (`ok`).
    pub fn submit(&self, request: ClientRequest, bound: Duration) -> anyhow::Result<ClientReply> {
        let deadline = Instant::now() + bound;
        let (client, seq) = (request.client, request.seq);
        let request = Arc::new(request);
        let mut to = self.await_leader(bound)?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            anyhow::ensure!(!left.is_zero(), "request ({client}, {seq}) unanswered in {bound:?}");
            self.send(to, vec![request.clone()])?;
            let wait = left.min(bound / 10);
            let answer = self.await_reply(client, seq, wait);
            match answer.map(|reply| (reply.outcome.clone(), reply)) {
                Some((Outcome::Ok(_), reply)) => return Ok(reply),
                Some((Outcome::Redirect(hint), _)) if hint != NONE => to = hint,
                _ => {
                    std::thread::sleep(POLL);
                    to = self.await_leader(left)?;
                }
            }
        }
    }

    /// The reply to (client, seq), skipping any other, waiting at most `wait`.
    fn await_reply(&self, client: u64, seq: u64, wait: Duration) -> Option<ClientReply> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let replies = self.replies.recv_timeout(left).ok()?;
            if let Some(reply) = replies.into_iter().find(|r| (r.client, r.seq) == (client, seq)) {
                return Some(reply);
            }
        }
    }

    /// Crashes node `id`: it stops at once, keeping only what its storage holds.
    pub fn crash(&self, id: NodeId) {
        self.started().nodes.crash(id);
    }

    /// Restarts node `id` from its storage; says what happened.
    pub fn restart(&mut self, id: NodeId) -> String {
        self.started.as_mut().expect("running").nodes.restart(id)
    }

    /// Stops every node thread; an error names the nodes whose thread panicked or stopped
    /// on its own with an error.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let finished = self.started.take().expect("running").nodes.finish();
        anyhow::ensure!(
            finished.panicked.is_empty(),
            "node threads panicked: {:?}",
            finished.panicked
        );
        let errors: Vec<String> = finished.results.into_iter().filter_map(|r| r.error).collect();
        anyhow::ensure!(errors.is_empty(), "{}", errors.join("; "));
        Ok(())
    }
}

impl<R: BuildReplica> Drop for Cluster<R> {
    fn drop(&mut self) {
        if let Some(started) = self.started.take() {
            started.nodes.finish();
        }
    }
}
