//! The control surface of a `Simulator` for tests and fault events: crash and restart a
//! node, cut links, heal, restart a node with amnesia, and read who leads.

use super::invariants::Invariants;
use super::simulator::{End, Simulator};
use super::trace::format_time;
use crate::storage::Storage;
use crate::workload::SnapshotCounts;
use crate::workload::{HostedLoad, PacketKinds};
use pinraft_engine::{quorum, Node, NodeId, Role};

impl Simulator {
    /// Stops node `id`: it is not stepped or ticked until [`Simulator::restart`], packets and
    /// requests on their way to it are dropped on arrival, and its disk loses whatever was
    /// not synced.
    pub fn crash(&mut self, id: NodeId) {
        let i = self.position(id);
        if !self.crashed[i] {
            self.crashed[i] = true;
            self.timer_gen[i] += 1;
            self.timer_at[i] = u64::MAX;
            self.crash_disk(i);
        }
    }

    /// Restarts crashed node `id` from its disk at the current time: recovery (which cuts a
    /// torn last record) feeds `Node::recover`, and the node comes back a follower with its
    /// durable term, vote and log, and an empty state machine that it rebuilds as commits
    /// arrive. Returns what it did, or why it could not: the node is up (nothing changes),
    /// or its disk or the engine refused the recovery (a violation; the node stays down).
    pub fn restart(&mut self, id: NodeId) -> Result<String, String> {
        let i = self.position(id);
        if !self.crashed[i] {
            return Err(format!("node {id} was up already"));
        }
        let now = self.now_ns;
        let recovered = match self.disks[i].recover() {
            Ok(recovered) => recovered,
            Err(e) => return Err(self.restart_failed(id, format!("its disk: {e}"))),
        };
        let hard_state = recovered.hard_state;
        let entries = recovered.entries.len();
        let cut = match &recovered.tail_cut {
            Some(cut) => format!(", a torn tail of {} bytes cut ({})", cut.bytes, cut.reason),
            None => String::new(),
        };
        let config = self.cfg.engine_config(id, self.engine_seed);
        let apply_from = recovered.snapshot.as_ref().map_or(1, |s| s.index + 1);
        let node =
            match Node::restore(config, hard_state, recovered.snapshot, recovered.entries, now) {
                Ok(node) => node,
                Err(e) => return Err(self.restart_failed(id, format!("Node::restore: {e}"))),
            };
        self.invariants.restarted(now, id, hard_state, apply_from);
        self.replace_node(i, node);
        self.crashed[i] = false;
        self.timer_at[i] = u64::MAX;
        self.restarts += 1;
        self.reschedule_timer(i);
        let done =
            format!("restarted node {id} in term {} with {entries} entries{cut}", hard_state.term);
        self.trace.note(now, || done.clone());
        Ok(done)
    }

    /// Puts a new incarnation of node `i` in place, keeping the old one's election count.
    fn replace_node(&mut self, i: usize, node: Node) {
        self.elections_retired += self.nodes[i].stats().elections;
        self.snapshots_retired.add(&self.nodes[i].stats());
        let stats = self.nodes[i].stats();
        self.resent_retired.0 += stats.batches_resent;
        self.resent_retired.1 += stats.fast_retransmits;
        self.nodes[i] = node;
    }

    /// Elections started so far, summed over nodes and their incarnations.
    /// Snapshots taken, installed and chunks sent, by every node incarnation.
    pub fn snapshot_counts(&self) -> SnapshotCounts {
        let mut counts = self.snapshots_retired;
        for node in &self.nodes {
            counts.add(&node.stats());
        }
        counts
    }

    /// Append batches resent, and of those fast retransmits, by every node incarnation.
    pub fn batches_resent(&self) -> (u64, u64) {
        self.nodes
            .iter()
            .map(|n| n.stats())
            .fold(self.resent_retired, |(r, f), s| (r + s.batches_resent, f + s.fast_retransmits))
    }

    pub fn elections(&self) -> u64 {
        self.elections_retired + self.nodes.iter().map(|n| n.stats().elections).sum::<u64>()
    }

    fn restart_failed(&mut self, id: NodeId, why: String) -> String {
        let detail = format!("cannot restart: {why}");
        self.invariants.restart_failed(self.now_ns, id, detail.clone());
        format!("node {id} {detail} at {}", format_time(self.now_ns))
    }

    /// Restarts node `id` with nothing: term 0, no vote, an empty log, a blank disk.
    /// Deliberately unsafe (Raft's safety rests on durable term, vote and log, Figure 2): it
    /// exists so tests can show that the invariants catch the violations a forgetful node
    /// causes.
    pub fn restart_with_amnesia(&mut self, id: NodeId) {
        let i = self.position(id);
        let config = self.cfg.engine_config(id, self.engine_seed);
        let mut node = Node::new(config).expect("validated when the simulator was built");
        node.tick(self.now_ns);
        self.wipe_disk(i);
        self.replace_node(i, node);
        self.crashed[i] = false;
        self.timer_at[i] = u64::MAX;
        self.invariants.forget(id);
        self.reschedule_timer(i);
    }

    /// The index of node `id` in the per-node vectors. An id outside 1..=n is a bug in the
    /// caller (events are validated against the cluster size before the run).
    fn position(&self, id: NodeId) -> usize {
        assert!((1..=self.nodes.len() as NodeId).contains(&id), "node {id} is not in the cluster");
        id as usize - 1
    }

    /// The live leader with the highest term, if any.
    pub fn current_leader(&self) -> Option<NodeId> {
        self.live_nodes()
            .filter(|n| n.role() == Role::Leader)
            .max_by_key(|n| n.term())
            .map(|n| n.id())
    }

    /// A leader a majority of the cluster follows in its term.
    pub fn stable_leader(&self) -> Option<NodeId> {
        let leader = self.current_leader()?;
        let term = self.node(leader).term();
        let followers =
            self.live_nodes().filter(|n| n.term() == term && n.leader() == leader).count();
        (followers >= quorum::majority(self.nodes.len())).then_some(leader)
    }

    fn live_nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().zip(&self.crashed).filter(|(_, &c)| !c).map(|(n, _)| n)
    }

    /// Node `id` (1..=n).
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[self.position(id)]
    }

    /// Restarts performed so far.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Whether node `id` is down (crashed and not restarted).
    pub fn is_crashed(&self, id: NodeId) -> bool {
        self.crashed[self.position(id)]
    }

    /// Cuts the one-way link `from -> to` (until the next heal or the quiet phase).
    pub fn cut_link(&mut self, from: NodeId, to: NodeId) {
        self.network.cut_link(from, to);
    }

    /// Cuts node `id` off from every other node, both ways.
    pub fn isolate(&mut self, id: NodeId) {
        self.network.partition(&[id]);
    }

    /// Cuts every link, both ways, between the nodes of `group` and the other nodes (until
    /// the next heal or the quiet phase).
    pub fn partition(&mut self, group: &[NodeId]) {
        for &id in group {
            self.position(id);
        }
        self.network.partition(group);
    }

    /// Removes every cut.
    pub fn heal(&mut self) {
        self.network.heal();
    }

    /// The current virtual time.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Whether the quiet phase has begun.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Why the run ended (`Running` until it has).
    pub fn end(&self) -> End {
        self.end
    }

    /// The invariant checker, for tests that inspect it.
    pub fn invariants(&self) -> &Invariants {
        &self.invariants
    }

    /// Events still queued.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Packets routed so far: between nodes (lost ones included) and client packets.
    pub fn packets_routed(&self) -> u64 {
        self.network.batches.sent + self.client_packets
    }

    /// Client packets so far: requests to nodes and replies to clients, one packet each.
    pub fn client_packets(&self) -> u64 {
        self.client_packets
    }

    /// Packets between nodes so far, by what they carry.
    pub fn packet_kinds(&self) -> PacketKinds {
        self.packet_kinds
    }

    /// Takes back the load given to [`Simulator::new_hosted`]; it hears nothing after this.
    pub fn take_hosted(&mut self) -> Option<Box<dyn HostedLoad>> {
        self.hosted.take()
    }
}
