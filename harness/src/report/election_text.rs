//! The prose of the election section: how the experiment runs, why in two runtimes, and
//! how it differs from the Raft paper's. The numbers in it (trials, delays, caps) come from
//! election.json; the rest is fixed text.

use super::election::{ElectionData, Setup, CLUSTER_POLL_NS};
use super::markdown::setup_title;
use std::fmt::Write as _;

/// Trials per range of a setup, as `30` or `100-1,000` when they differ.
fn trials(setup: &Setup) -> String {
    let counts: Vec<usize> = setup.ranges.iter().map(|r| r.trials.len()).collect();
    match (counts.iter().min(), counts.iter().max()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "no".to_string(),
    }
}

/// The method, the choice of runtimes and the differences from the paper.
pub fn method(data: &ElectionData) -> String {
    let mut s = format!(
        "**Procedure.** {} nodes and no client load. The heartbeat interval is half the minimum \
         election timeout, as in the paper. Once a first leader exists, the crash load waits one \
         maximum election timeout, then crashes the leader at a uniformly random moment within \
         one heartbeat interval, so the followers last heard from it a uniformly random time \
         ago, as in the paper's procedure; the clock then runs until a new leader exists. One \
         crash per cluster: every trial starts from {} live nodes, as the paper's did (a second \
         crash in the same cluster would leave three nodes that must all agree).\n\n",
        data.nodes, data.nodes
    );
    s += "**Runtimes.**\n\n";
    for setup in &data.setups {
        let _ = writeln!(
            s,
            "- *{}*, {} trials per range: {}",
            setup_title(setup),
            trials(setup),
            runtime_note(setup)
        );
    }
    s += "\nThe threaded cluster is the engine as it really runs here, with real timers and \
          real scheduling jitter, but its round trips take microseconds, far from the paper's \
          15 ms broadcast time. The simulator runs a thousand trials per range in seconds, \
          deterministically, with whatever delays we give it, but has no timer jitter. Only \
          the threaded cluster's figures are real time.\n\n";
    s += DIFFERENCES;
    s
}

fn runtime_note(setup: &Setup) -> String {
    let cap = setup.ranges.first().map_or(0, |r| r.cap_ns);
    if setup.runtime == "cluster" {
        format!(
            "a fresh cluster per trial, five pinned node threads sharing this machine's cores; \
             the crash load looks every {} ms for a live leader and stops the clock when it sees \
             one (its followers hear from it within one channel hop, microseconds later). Cap: \
             twice the maximum timeout plus 100 ms.",
            CLUSTER_POLL_NS as f64 / 1e6
        )
    } else {
        let (lo, hi) = (setup.delay_ns.0 as f64 / 1e6, setup.delay_ns.1 as f64 / 1e6);
        let regime = if hi >= 1.0 {
            "about the paper's 15 ms broadcast time"
        } else {
            "the threaded cluster's regime, without its jitter"
        };
        format!(
            "virtual time, every packet delayed uniformly by {lo}-{hi} ms, so a round trip \
             takes {}-{} ms, {regime}; the clock stops exactly when a leader is followed by a \
             majority. Cap: {} s of virtual time for a first leader and again for a new one.",
            2.0 * lo,
            2.0 * hi,
            cap as f64 / 1e9
        )
    }
}

const DIFFERENCES: &str = "**How this differs from the paper's Figure 16.**\n\n\
- The paper's servers had logs of different lengths, so some candidates could not win; \
  without client load ours have equal logs and every candidate is eligible.\n\
- The paper's broadcast time was mostly the receivers' writes to stable storage (its \
  section 5.6: Raft's RPCs \"typically require the recipient to persist information to stable \
  storage\"), while its vote requests crossed a LAN; our nodes keep term and vote in memory. \
  The simulator can only delay whole packets. With the paper's broadcast time on every \
  packet, heartbeats arrive spread out, so followers' timers start apart, and a candidate's \
  vote requests arrive after the others have timed out too: more split votes than the paper \
  had. With LAN delays nothing is slow: fewer. The two simulated networks bracket the paper.\n\
- The engine has no pre-vote and no check-quorum (pre-vote would add a round of messages \
  before each election).\n\
- A zero-width range (150-150 ms) gives every timer exactly the same length, and the engine \
  adds no jitter of its own. The simulator has none either, so nodes whose timers start \
  together stay in lockstep and split every vote forever: it never elects even a first \
  leader. In the threaded cluster only thread scheduling and wake-up latency can break the \
  tie.\n\
- The paper timed \"how long it took to detect the crash and elect a new leader\"; the \
  simulator stops the clock when a leader is followed by a majority (one delay after it is \
  elected), the threaded cluster when a live node leads.\n\
- The paper ran 1000 trials per range (100 for 150-150); the threaded cluster runs fewer \
  (each takes up to a second of wall time on a 2-core machine).\n\n";
