//! The control plane: plays the timed events (kills, restarts, partitions, heals) against
//! the live cluster, samples whether a leader exists, and ends the run early once
//! `max_packets` packets have been routed. It runs on the main thread, which is never
//! pinned, and touches only atomics, the nodes' channels, and (to restart a node) its
//! storage.

use super::net::Shared;
use super::nodes::Nodes;
use super::{Clock, ClusterConfig};
use crate::args::{Action, Event};
use crate::replica::BuildReplica;
use pinraft_engine::NodeId;
use std::time::Duration;

/// How often the control plane looks at the cluster.
const SAMPLE_NS: u64 = 1_000_000;
/// How often it reports progress.
const PROGRESS_NS: u64 = 100_000_000;

/// What the control plane saw.
pub(crate) struct Played {
    /// Each event with what it hit.
    pub events: Vec<String>,
    /// Measured time during which no live node was leader.
    pub leaderless_ns: u64,
    /// When the run was stopped because `max_packets` packets had been routed.
    pub stopped_at_ns: Option<u64>,
}

pub(crate) fn play<R: BuildReplica>(
    cfg: &ClusterConfig,
    shared: &Shared,
    nodes: &mut Nodes<R>,
    clock: Clock,
    warmup_end_ns: u64,
    end_ns: u64,
    progress: &mut dyn FnMut(f64),
) -> Played {
    let mut played = Played { events: Vec::new(), leaderless_ns: 0, stopped_at_ns: None };
    let mut pending = cfg.events.iter().peekable();
    let mut next_progress = 0;
    let mut last = clock.now_ns();
    loop {
        let now = clock.now_ns();
        if now >= end_ns {
            break;
        }
        if cfg.max_packets.is_some_and(|max| shared.packets_routed() >= max) {
            shared.request_stop();
            played.stopped_at_ns = Some(now);
            break;
        }
        while let Some(event) = pending.next_if(|e| e.at_ns <= now) {
            played.events.push(apply(event, shared, nodes));
        }
        for id in shared.take_restarts() {
            nodes.restart(id);
        }
        if now >= warmup_end_ns && shared.leader().is_none() {
            played.leaderless_ns += now - last.max(warmup_end_ns);
        }
        last = now;
        if now >= next_progress {
            next_progress = now + PROGRESS_NS;
            progress(now as f64 / end_ns as f64);
        }
        let next = pending.peek().map_or(end_ns, |e| e.at_ns).min(now + SAMPLE_NS).min(end_ns);
        std::thread::sleep(Duration::from_nanos(next.saturating_sub(now)));
    }
    progress(1.0);
    played
}

/// Applies one event and says what it hit.
fn apply<R: BuildReplica>(event: &Event, shared: &Shared, nodes: &mut Nodes<R>) -> String {
    let n = shared.nodes() as NodeId;
    let leader = shared.leader();
    let crash = |id: NodeId| nodes.crash(id);
    let hit = match event.action {
        Action::KillLeader => leader.inspect(|&id| crash(id)).map(|id| format!("node {id}")),
        Action::KillFollower => {
            let follower = (1..=n).find(|&id| shared.is_alive(id) && Some(id) != leader);
            follower.inspect(|&id| crash(id)).map(|id| format!("node {id}"))
        }
        Action::Crash(id) if !shared.is_alive(id) => Some(format!("node {id} was down already")),
        Action::Crash(id) => {
            crash(id);
            Some(format!("node {id}"))
        }
        Action::IsolateLeader => {
            leader.inspect(|&id| shared.partition(&[id])).map(|id| format!("node {id}"))
        }
        Action::Isolate(id) => {
            shared.partition(&[id]);
            Some(format!("node {id}"))
        }
        Action::Split => {
            // The minority holds the leader (if known) and the lowest other ids.
            let minority = (n as usize - 1) / 2;
            let mut side: Vec<NodeId> = leader.into_iter().collect();
            side.extend(
                (1..=n).filter(|&id| Some(id) != leader).take(minority.saturating_sub(side.len())),
            );
            shared.partition(&side);
            Some(format!("minority {side:?}"))
        }
        Action::Heal => {
            shared.heal();
            Some("all links".into())
        }
        Action::Restart(id) => Some(nodes.restart(id)),
    };
    format!("{event}: {}", hit.unwrap_or_else(|| "no leader to hit".into()))
}
