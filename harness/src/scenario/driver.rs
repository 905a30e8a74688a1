//! The [`Driver`]: a scenario's client model and its scripted events, as one
//! [`HostedLoad`] that either runtime hosts. It tallies every reply into a [`Tally`], from
//! which `score` makes the verdict and the figures. Events are applied from the cluster's
//! view at their time: DESIGN.md's events that need a leader wait for one (as in the
//! simulator's `--events`), the classic ones do what the classic simulator did.

use super::classic_clients::ClassicClients;
use super::session_clients::SessionClients;
use super::{ClassicEvent, Scenario, ScriptAction, ScriptedEvent, Workload};
use crate::args::Action;
use crate::history::Operation;
use crate::workload::{ClusterView, HostedLoad, LoadAction};
use pinraft_engine::{ClientReply, NodeId};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// An event that needs a leader and finds none looks again after this long.
pub const EVENT_RETRY_NS: u64 = 10_000_000;

/// Errors kept word for word; later ones are only counted.
const ERRORS_MAX: usize = 20;

/// Gets or puts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Get,
    Put,
}

/// Requests of one kind: sent (every request id) and unanswered at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounts {
    /// Request ids sent (classic: every attempt; ours: every operation).
    pub sent: u64,
    /// Of those, still unanswered at the end.
    pub unanswered: u64,
}

/// Everything the clients saw.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Operations the workload started (the classic `requests` issued so far).
    pub operations: u64,
    /// Gets sent and unanswered.
    pub gets: KindCounts,
    /// Puts sent and unanswered.
    pub puts: KindCounts,
    /// `ok` replies.
    pub ok: u64,
    /// `fail` replies.
    pub fail: u64,
    /// `redirect` replies.
    pub redirect: u64,
    /// Client timeouts (our clients only).
    pub timeouts: u64,
    /// Replies to a request id already completed.
    pub duplicates: u64,
    /// Open loop: arrivals that never found an idle client.
    pub not_sent: u64,
    /// Every reply's latency, from the send of the request it answers.
    pub latencies_ns: Vec<u64>,
    /// Correctness errors, the first [`ERRORS_MAX`] word for word.
    pub errors: Vec<String>,
    /// Correctness errors in all.
    pub errors_total: u64,
    /// Every request id with a known or unknown outcome, for the linearizability check.
    pub history: Vec<Operation>,
    /// What each event did.
    pub events_played: Vec<String>,
}

impl Tally {
    /// The position of `client` among `clients` clients numbered from 1, or `None` after
    /// recording a reply for a client that does not exist as an error.
    pub(super) fn client_index(&mut self, client: u64, clients: usize) -> Option<usize> {
        match client.checked_sub(1).map(|k| k as usize) {
            Some(k) if k < clients => Some(k),
            _ => {
                self.error(format!("a reply for client {client}, which does not exist"));
                None
            }
        }
    }

    pub(super) fn sent(&mut self, kind: Kind) {
        match kind {
            Kind::Get => self.gets.sent += 1,
            Kind::Put => self.puts.sent += 1,
        }
    }

    pub(super) fn unanswered(&mut self, kind: Kind) {
        match kind {
            Kind::Get => self.gets.unanswered += 1,
            Kind::Put => self.puts.unanswered += 1,
        }
    }

    pub(super) fn latency(&mut self, ns: u64) {
        self.latencies_ns.push(ns);
    }

    /// Records a correctness error.
    pub fn error(&mut self, message: String) {
        self.errors_total += 1;
        if self.errors.len() < ERRORS_MAX {
            self.errors.push(message);
        }
    }
}

#[derive(Debug)]
enum Model {
    Classic(ClassicClients),
    Session(SessionClients),
}

/// A scenario's clients and events, hosted by a runtime. See the module documentation.
#[derive(Debug)]
pub struct Driver {
    model: Model,
    /// Events not yet applied, by (time from the start of the run, order).
    pending: BTreeMap<(u64, u64), ScriptedEvent>,
    pending_order: u64,
    rng: ChaCha8Rng,
    nodes: u64,
    end_ns: u64,
    ended: bool,
    finished: bool,
    tally: Tally,
}

impl Driver {
    /// The driver of `scenario` with `seed`. Times count from the start of the run.
    pub fn new(scenario: &Scenario, seed: u64) -> Driver {
        let stream = |s: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            // The simulator draws from stream 0 of the same seed: keep apart from it.
            rng.set_stream(s);
            rng
        };
        let first_ns = scenario.start_wait_ns;
        let model = match &scenario.workload {
            Workload::Classic { requests, get_ppm } => Model::Classic(ClassicClients::new(
                *requests,
                *get_ppm,
                first_ns,
                scenario.duration_ns,
                stream(2),
            )),
            Workload::Session { clients, rate, spec, client_timeout_ns } => {
                Model::Session(SessionClients::new(
                    *clients,
                    scenario.nodes,
                    *rate,
                    spec,
                    *client_timeout_ns,
                    first_ns,
                    scenario.duration_ns,
                    stream(2),
                ))
            }
        };
        let pending = scenario
            .events
            .iter()
            .enumerate()
            .map(|(i, e)| ((first_ns + e.at_ns, i as u64), *e))
            .collect();
        Driver {
            model,
            pending,
            pending_order: scenario.events.len() as u64,
            rng: stream(3),
            nodes: scenario.nodes,
            end_ns: scenario.end_ns(),
            ended: false,
            finished: false,
            tally: Tally::default(),
        }
    }

    /// What the clients saw so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    /// Ends the run: requests still in flight become unanswered. Idempotent.
    pub fn finish(&mut self) -> &Tally {
        if !self.finished {
            self.finished = true;
            match &mut self.model {
                Model::Classic(m) => m.finish(&mut self.tally),
                Model::Session(m) => m.finish(&mut self.tally),
            }
        }
        &self.tally
    }

    fn play_events(&mut self, now_ns: u64, view: &mut ClusterView, out: &mut Vec<LoadAction>) {
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now_ns {
                break;
            }
            let event = entry.remove();
            let done = match event.action {
                ScriptAction::Design(action) => self.design(action, view, out),
                ScriptAction::Classic(event) => Some(self.classic(event, view, out)),
            };
            let line = match done {
                Some(done) => done,
                None if now_ns + EVENT_RETRY_NS < self.end_ns => {
                    self.pending_order += 1;
                    self.pending.insert((now_ns + EVENT_RETRY_NS, self.pending_order), event);
                    continue;
                }
                None => "skipped: no leader before the end of the run".to_string(),
            };
            let at = super::score::format_seconds(now_ns, 3);
            self.tally.events_played.push(format!("{event}: {line} at {at}"));
        }
    }

    /// DESIGN.md's events; `None` when the event needs a leader and there is none yet.
    fn design(
        &mut self,
        action: Action,
        view: &mut ClusterView,
        out: &mut Vec<LoadAction>,
    ) -> Option<String> {
        let done = match (action, view.leader) {
            (Action::KillLeader | Action::IsolateLeader | Action::Split, None) => return None,
            (Action::KillLeader, Some(leader)) => crash(leader, view, out),
            (Action::KillFollower, leader) => {
                let followers: Vec<NodeId> =
                    self.live(view).into_iter().filter(|&n| Some(n) != leader).collect();
                match followers.choose(&mut self.rng) {
                    Some(&node) => crash(node, view, out),
                    None => "skipped: no live follower".to_string(),
                }
            }
            (Action::IsolateLeader, Some(leader)) => cut(vec![leader], out),
            (Action::Isolate(node), _) => cut(vec![node], out),
            (Action::Split, Some(leader)) => {
                let size = ((self.nodes as usize - 1) / 2).max(1);
                let side = self.side_with(leader, size);
                cut(side, out)
            }
            (Action::Heal, _) => {
                out.push(LoadAction::Heal);
                "healed every partition".to_string()
            }
            (Action::Crash(node), _) => crash(node, view, out),
            (Action::Restart(node), _) => {
                if view.is_alive(node) {
                    format!("node {node} was up already")
                } else {
                    out.push(LoadAction::Restart(node));
                    view.alive[node as usize - 1] = true;
                    format!("restarted node {node} from its storage")
                }
            }
        };
        Some(done)
    }

    /// The classic simulator's events, as it applied them.
    fn classic(
        &mut self,
        event: ClassicEvent,
        view: &mut ClusterView,
        out: &mut Vec<LoadAction>,
    ) -> String {
        let majority = self.nodes as usize / 2 + 1;
        match (event, view.leader) {
            (ClassicEvent::KillLeader, None) => "skipped: no leader known".to_string(),
            (ClassicEvent::KillLeader, Some(leader)) => {
                self.forget_leader();
                crash(leader, view, out)
            }
            (ClassicEvent::KillNonLeader, leader) => {
                let live = self.live(view);
                let others: Vec<NodeId> =
                    live.iter().copied().filter(|&n| Some(n) != leader).collect();
                match others.choose(&mut self.rng) {
                    Some(&node) if live.len() > 1 => crash(node, view, out),
                    _ => "skipped: too few living replicas".to_string(),
                }
            }
            (ClassicEvent::PartEasy, Some(leader)) => {
                let side = self.side_with(leader, majority);
                format!("{}, leader {leader} on the majority side", cut(side, out))
            }
            (ClassicEvent::PartEasy | ClassicEvent::PartHard, _) => {
                self.forget_leader();
                let mut all: Vec<NodeId> = (1..=self.nodes).collect();
                all.shuffle(&mut self.rng);
                all.truncate(majority);
                all.sort_unstable();
                format!("{}, clients forget the leader", cut(all, out))
            }
            (ClassicEvent::PartEnd, _) => {
                out.push(LoadAction::Heal);
                "healed the partition".to_string()
            }
        }
    }

    /// `leader` and `size - 1` other nodes (dead ones included, as the classic simulator
    /// drew them), sorted.
    fn side_with(&mut self, leader: NodeId, size: usize) -> Vec<NodeId> {
        let mut others: Vec<NodeId> = (1..=self.nodes).filter(|&n| n != leader).collect();
        others.shuffle(&mut self.rng);
        let mut side = vec![leader];
        side.extend(others.into_iter().take(size.saturating_sub(1)));
        side.sort_unstable();
        side
    }

    fn live(&self, view: &ClusterView) -> Vec<NodeId> {
        (1..=self.nodes).filter(|&n| view.is_alive(n)).collect()
    }

    fn forget_leader(&mut self) {
        if let Model::Classic(m) = &mut self.model {
            m.forget_leader();
        }
    }
}

fn crash(node: NodeId, view: &mut ClusterView, out: &mut Vec<LoadAction>) -> String {
    if !view.is_alive(node) {
        return format!("node {node} was down already");
    }
    out.push(LoadAction::Crash(node));
    view.alive[node as usize - 1] = false;
    if view.leader == Some(node) {
        view.leader = None;
    }
    format!("crashed node {node}")
}

fn cut(side: Vec<NodeId>, out: &mut Vec<LoadAction>) -> String {
    let names: Vec<String> = side.iter().map(|n| n.to_string()).collect();
    out.push(LoadAction::Partition(side));
    format!("cut {{{}}} from the rest", names.join(","))
}

impl HostedLoad for Driver {
    fn next_wake_ns(&self) -> u64 {
        if self.ended {
            return u64::MAX;
        }
        let model = match &self.model {
            Model::Classic(m) => m.next_wake_ns(),
            Model::Session(m) => m.next_wake_ns(),
        };
        let event = self.pending.keys().next().map_or(u64::MAX, |&(at, _)| at);
        model.min(event).min(self.end_ns)
    }

    fn wake(&mut self, now_ns: u64, view: &ClusterView, out: &mut Vec<LoadAction>) {
        if now_ns >= self.end_ns {
            self.ended = true;
            return;
        }
        let mut view = view.clone();
        self.play_events(now_ns, &mut view, out);
        match &mut self.model {
            Model::Classic(m) => m.wake(now_ns, &view, out, &mut self.tally),
            Model::Session(m) => m.wake(now_ns, out, &mut self.tally),
        }
    }

    fn on_reply(
        &mut self,
        reply: ClientReply,
        now_ns: u64,
        view: &ClusterView,
        out: &mut Vec<LoadAction>,
    ) {
        match &mut self.model {
            Model::Classic(m) => m.on_reply(reply, now_ns, view, out, &mut self.tally),
            Model::Session(m) => m.on_reply(reply, now_ns, view, out, &mut self.tally),
        }
        if now_ns >= self.end_ns {
            out.clear();
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
