//! The logical clients inside the simulator: when they start operations, how their
//! requests and retries travel, their timeouts, and the history of what they saw. The
//! decisions themselves are `workload::Client`'s, shared with the threaded cluster.

use super::queue::Kind;
use super::simulator::Simulator;
use crate::workload::{history_record, ClusterView, HostedLoad, LoadAction, Next};
use pinraft_engine::{ClientId, ClientReply, ClientRequest, NodeId};
use std::sync::Arc;

/// After a redirect with no leader known, a client waits this long before trying the next
/// node, so a leaderless cluster is not flooded with requests.
pub const CLIENT_BACKOFF_NS: u64 = 10_000_000;

impl Simulator {
    /// Starts the client's next operation, unless the quiet phase stopped new ones.
    pub(super) fn client_start(&mut self, client: ClientId) {
        if self.quiet {
            return;
        }
        let k = client as usize - 1;
        let seq = self.clients[k].next_seq();
        let op = self.op_gen.op(&mut self.rng, client, seq);
        let (to, request) = self.clients[k].start(op, self.now_ns);
        self.outstanding += 1;
        self.client_send(client, to, request);
    }

    /// Puts a request on the network (delayed, never lost) and re-arms the client's timeout.
    fn client_send(&mut self, client: ClientId, to: NodeId, request: Arc<ClientRequest>) {
        self.client_packets += 1;
        let delay = self.network.delay(&mut self.rng);
        self.queue.push(self.now_ns + delay, Kind::Request { to, request });
        let k = client as usize - 1;
        self.client_gen[k] += 1;
        if let Some(at) = self.clients[k].deadline_ns(self.cfg.client_timeout_ns) {
            self.queue.push(at, Kind::ClientTimer { client, gen: self.client_gen[k] });
        }
    }

    pub(super) fn on_client_reply(&mut self, reply: ClientReply) {
        if self.is_hosted {
            let now = self.now_ns;
            return self.with_hosted(|load, view, out| load.on_reply(reply, now, view, out));
        }
        let k = reply.client as usize - 1;
        let next =
            self.clients[k].on_reply(&reply, self.now_ns, CLIENT_BACKOFF_NS, &mut self.counts);
        self.follow(reply.client, next);
    }

    /// The client's timeout came due (stale ones never get here: `Simulator::is_stale`).
    pub(super) fn on_client_timer(&mut self, client: ClientId) {
        if self.is_hosted {
            self.hosted_wake_at = u64::MAX;
            let now = self.now_ns;
            return self.with_hosted(|load, view, out| load.wake(now, view, out));
        }
        let k = client as usize - 1;
        let next =
            self.clients[k].on_tick(self.now_ns, self.cfg.client_timeout_ns, &mut self.counts);
        self.follow(client, next);
    }

    /// A retry decided earlier is due (stale ones never get here).
    pub(super) fn on_client_send(
        &mut self,
        client: ClientId,
        to: NodeId,
        request: Arc<ClientRequest>,
    ) {
        self.clients[client as usize - 1].sent(to, self.now_ns);
        self.client_send(client, to, request);
    }

    /// Carries out a client's decision.
    fn follow(&mut self, client: ClientId, next: Next) {
        let k = client as usize - 1;
        match next {
            Next::Ignore => {}
            Next::Done(completed) => {
                self.outstanding -= 1;
                self.client_gen[k] += 1;
                self.history.push(history_record(
                    &completed.request,
                    completed.call_ns,
                    Some(&completed),
                ));
                self.client_start(client);
            }
            Next::Retry { to, at_ns, request } if at_ns <= self.now_ns => {
                self.client_send(client, to, request)
            }
            Next::Retry { to, at_ns, request } => {
                self.client_gen[k] += 1;
                let gen = self.client_gen[k];
                self.queue.push(at_ns, Kind::ClientSend { client, gen, to, request });
            }
        }
    }

    /// Hands the hosted load the cluster as it stands, performs what it asks, and re-arms its
    /// wake-up.
    fn with_hosted(
        &mut self,
        act: impl FnOnce(&mut dyn HostedLoad, &ClusterView, &mut Vec<LoadAction>),
    ) {
        let Some(mut load) = self.hosted.take() else { return };
        let view = ClusterView {
            leader: self.current_leader(),
            alive: self.crashed.iter().map(|&crashed| !crashed).collect(),
        };
        let mut actions = Vec::new();
        act(load.as_mut(), &view, &mut actions);
        self.hosted = Some(load);
        for action in actions {
            self.perform_load_action(action);
        }
        self.reschedule_hosted();
    }

    fn perform_load_action(&mut self, action: LoadAction) {
        match action {
            LoadAction::Send { to, request } => {
                self.client_packets += 1;
                let delay = self.network.delay(&mut self.rng);
                self.queue.push(self.now_ns + delay, Kind::Request { to, request });
            }
            LoadAction::Crash(node) => self.crash(node),
            LoadAction::Restart(node) => {
                // The load's own record of the event says what it asked for; a restart of a
                // node found up is a no-op, as `restart:N` is.
                let _ = self.restart(node);
            }
            LoadAction::Partition(side) => {
                self.network.heal();
                self.network.partition(&side);
            }
            LoadAction::Heal => self.network.heal(),
        }
    }

    /// Keeps one live wake-up event for the hosted load, at the time it asks for (never in
    /// the past, so time moves even if it keeps asking for the present).
    pub(super) fn reschedule_hosted(&mut self) {
        let Some(load) = &self.hosted else { return };
        let at = match load.next_wake_ns() {
            u64::MAX => u64::MAX,
            at => at.max(self.now_ns + 1),
        };
        if at == self.hosted_wake_at {
            return;
        }
        self.client_gen[0] += 1;
        self.hosted_wake_at = at;
        if at != u64::MAX {
            self.queue.push(at, Kind::ClientTimer { client: 1, gen: self.client_gen[0] });
        }
    }

    /// The recorded history, with every operation still outstanding as `unknown`.
    pub(super) fn history_with_unanswered(&self) -> Vec<crate::history::Operation> {
        let mut history = self.history.clone();
        let pending = self.clients.iter().filter_map(|c| c.outstanding());
        history.extend(pending.map(|out| history_record(&out.request, out.call_ns, None)));
        history
    }
}
