//! The fault events of `--events` (DESIGN.md, "Conventions"), applied to the simulator at
//! their time. Events that need a leader wait for one, retrying every
//! [`EVENT_RETRY_NS`], until the fault phase ends; what each event did is recorded.

use super::queue::Kind;
use super::simulator::Simulator;
use super::trace::format_time;
use crate::args::{Action, Event};
use pinraft_engine::NodeId;
use rand::seq::SliceRandom;

/// An event that needs a leader and finds none looks again after this long.
pub const EVENT_RETRY_NS: u64 = 10_000_000;

impl Simulator {
    /// Applies one fault event now.
    pub(super) fn apply_fault(&mut self, event: Event) {
        let leader = self.current_leader();
        let done = match (event.action, leader) {
            (Action::KillLeader | Action::IsolateLeader | Action::Split, None) => {
                return self.postpone(event);
            }
            (Action::KillLeader, Some(leader)) => self.crash_noted(leader),
            (Action::KillFollower, _) => self.kill_follower(leader),
            (Action::IsolateLeader, Some(leader)) => {
                self.isolate(leader);
                format!("isolated node {leader}")
            }
            (Action::Isolate(node), _) => {
                self.isolate(node);
                format!("isolated node {node}")
            }
            (Action::Split, Some(leader)) => self.split(leader),
            (Action::Heal, _) => {
                self.heal();
                "healed every partition".to_string()
            }
            (Action::Crash(node), _) => self.crash_noted(node),
            (Action::Restart(node), _) => self.restart(node).unwrap_or_else(|why| why),
        };
        self.note_event(event, done);
    }

    fn postpone(&mut self, event: Event) {
        let at = self.now_ns + EVENT_RETRY_NS;
        if at < self.cfg.duration_ns {
            self.queue.push(at, Kind::Fault { event });
        } else {
            self.note_event(event, "skipped: no leader before the fault phase ended".to_string());
        }
    }

    fn note_event(&mut self, event: Event, done: String) {
        let line = format!("{event}: {done} at {}", format_time(self.now_ns));
        self.trace.note(self.now_ns, || line.clone());
        self.events_applied.push(line);
    }

    fn crash_noted(&mut self, node: NodeId) -> String {
        if self.is_crashed(node) {
            return format!("node {node} was down already");
        }
        self.crash(node);
        format!("crashed node {node}")
    }

    /// Crashes a live node other than the leader, chosen by the RNG.
    fn kill_follower(&mut self, leader: Option<NodeId>) -> String {
        let followers: Vec<NodeId> =
            (1..=self.cfg.nodes).filter(|&n| !self.is_crashed(n) && Some(n) != leader).collect();
        match followers.choose(&mut self.rng) {
            Some(&node) => self.crash_noted(node),
            None => "skipped: no live follower".to_string(),
        }
    }

    /// Cuts a minority holding the leader (the leader and `(n - 1) / 2 - 1` others chosen by
    /// the RNG; the leader alone in a cluster of 3 or fewer) from the majority.
    fn split(&mut self, leader: NodeId) -> String {
        let size = ((self.cfg.nodes as usize - 1) / 2).max(1);
        let mut others: Vec<NodeId> = (1..=self.cfg.nodes).filter(|&n| n != leader).collect();
        others.shuffle(&mut self.rng);
        let mut minority = vec![leader];
        minority.extend(others.into_iter().take(size - 1));
        minority.sort_unstable();
        self.network.partition(&minority);
        let names: Vec<String> = minority.iter().map(|n| n.to_string()).collect();
        format!("cut the minority {{{}}} from the majority", names.join(","))
    }
}
