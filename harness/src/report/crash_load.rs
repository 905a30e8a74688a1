//! The load of the election experiment: no requests at all, only a leader crash. It waits for
//! a leader, lets the cluster settle, then crashes the leader at a uniformly random moment
//! within one heartbeat interval (the Raft paper's section 9.3 procedure, so the followers'
//! last heartbeat is a uniform time in the past), and, when asked to watch, notes when a new
//! leader exists. The same load runs in the simulator (exact virtual times; the driver there
//! times the new leader itself) and in the threaded cluster (it polls the shared view).

use crate::workload::{ClusterView, HostedLoad, LoadAction};
use pinraft_engine::{ClientReply, NodeId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the load is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// No leader seen yet: look again every poll.
    Waiting,
    /// A leader seen: crash whoever leads at `at_ns`.
    Armed { at_ns: u64 },
    /// Crashed; looking for the next leader (when watching).
    Crashed,
    /// Nothing more to do.
    Done,
}

/// One crash of one leader, and when a new one was seen.
#[derive(Debug)]
pub struct CrashLoad {
    poll_ns: u64,
    settle_ns: u64,
    heartbeat_ns: u64,
    watch: bool,
    rng: ChaCha8Rng,
    state: State,
    next_poll_ns: u64,
    /// The node crashed and the time of the crash.
    pub crashed: Option<(NodeId, u64)>,
    /// When a new leader was first seen (when watching).
    pub new_leader_ns: Option<u64>,
}

impl CrashLoad {
    /// A load that looks every `poll_ns`, waits `settle_ns` after the first leader it sees,
    /// then crashes the leader within the next `heartbeat_ns`; with `watch`, it keeps
    /// looking every `poll_ns` for the next leader.
    pub fn new(poll_ns: u64, settle_ns: u64, heartbeat_ns: u64, watch: bool, seed: u64) -> Self {
        assert!(poll_ns > 0 && heartbeat_ns > 0, "a poll and a heartbeat interval are positive");
        CrashLoad {
            poll_ns,
            settle_ns,
            heartbeat_ns,
            watch,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xC8A5_11EA),
            state: State::Waiting,
            next_poll_ns: 0,
            crashed: None,
            new_leader_ns: None,
        }
    }
}

impl HostedLoad for CrashLoad {
    fn next_wake_ns(&self) -> u64 {
        match self.state {
            State::Waiting => self.next_poll_ns,
            State::Armed { at_ns } => at_ns,
            State::Crashed if self.watch => self.next_poll_ns,
            State::Crashed | State::Done => u64::MAX,
        }
    }

    fn wake(&mut self, now_ns: u64, view: &ClusterView, out: &mut Vec<LoadAction>) {
        self.next_poll_ns = now_ns + self.poll_ns;
        match (self.state, view.leader) {
            (State::Waiting, Some(_)) => {
                let phase = self.rng.gen_range(0..self.heartbeat_ns);
                self.state = State::Armed { at_ns: now_ns + self.settle_ns + phase };
            }
            (State::Armed { at_ns }, Some(leader)) if now_ns >= at_ns => {
                out.push(LoadAction::Crash(leader));
                self.crashed = Some((leader, now_ns));
                self.state = State::Crashed;
            }
            // The leader was lost before the crash: start over.
            (State::Armed { .. }, None) => self.state = State::Waiting,
            (State::Crashed, Some(leader)) if Some(leader) != self.crashed.map(|c| c.0) => {
                self.new_leader_ns = Some(now_ns);
                self.state = State::Done;
            }
            _ => {}
        }
    }

    fn on_reply(&mut self, _: ClientReply, _: u64, _: &ClusterView, _: &mut Vec<LoadAction>) {}

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(leader: Option<NodeId>) -> ClusterView {
        ClusterView { leader, alive: vec![true; 5] }
    }

    #[test]
    fn crashes_the_leader_within_one_heartbeat_after_settling_then_times_the_next() {
        let mut load = CrashLoad::new(1_000, 100_000, 50_000, true, 7);
        let mut out = Vec::new();
        load.wake(0, &view(None), &mut out);
        assert_eq!(load.next_wake_ns(), 1_000);
        load.wake(1_000, &view(Some(3)), &mut out);
        let at = load.next_wake_ns();
        assert!((101_000..151_000).contains(&at), "settle plus a phase: {at}");
        load.wake(at, &view(Some(3)), &mut out);
        assert_eq!(out, vec![LoadAction::Crash(3)]);
        assert_eq!(load.crashed, Some((3, at)));
        load.wake(at + 1_000, &view(None), &mut out);
        load.wake(at + 2_000, &view(Some(4)), &mut out);
        assert_eq!(load.new_leader_ns, Some(at + 2_000));
        assert_eq!(load.next_wake_ns(), u64::MAX);
    }

    #[test]
    fn without_watching_it_sleeps_after_the_crash() {
        let mut load = CrashLoad::new(1_000, 0, 10, false, 1);
        let mut out = Vec::new();
        load.wake(0, &view(Some(1)), &mut out);
        let at = load.next_wake_ns();
        load.wake(at, &view(Some(1)), &mut out);
        assert_eq!(load.next_wake_ns(), u64::MAX);
    }
}
