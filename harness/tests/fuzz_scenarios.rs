//! Named scenarios of issue 7, driven by hand through the simulator's control surface:
//! Raft's Figure 8 (a leader must not commit an older term's entry by counting replicas),
//! and partial partitions (what happens to progress while two nodes cannot see each other
//! but both see the rest). Each scenario runs on many seeds; a failure message names the
//! seed and the step, and every run must end with its invariants clean, its history
//! linearizable and the quiet phase converged.

use pinraft_engine::Config;
use pinraft_engine::{Index, NodeId, Role, Term};
use pinraft_harness::knobs::Knobs;
use pinraft_harness::sim::{SimConfig, SimReport, Simulator};

const S: u64 = 1_000_000_000;

/// Steps until `done` holds (true) or virtual time passes `limit_ns` or the run ends
/// (false).
fn step_until(
    sim: &mut Simulator,
    limit_ns: u64,
    mut done: impl FnMut(&Simulator) -> bool,
) -> bool {
    loop {
        if done(sim) {
            return true;
        }
        if sim.now_ns() >= limit_ns || !sim.step() {
            return false;
        }
    }
}

#[track_caller]
fn assert_clean_end(sim: &mut Simulator, what: &str) -> SimReport {
    sim.run_to_end();
    let report = sim.report();
    let context = format!("{what}\n{}", report.summary());
    assert!(report.violations.is_empty(), "violations in {context}");
    assert_eq!(report.linearizable, Some(true), "history in {context}");
    assert!(!report.liveness_failure, "no convergence in {context}");
    report
}

/// The live nodes holding an entry of `term` at `index`.
fn holders(sim: &Simulator, nodes: u64, index: Index, term: Term) -> Vec<NodeId> {
    (1..=nodes).filter(|&id| sim.node(id).term_at(index) == Some(term)).collect()
}

/// Step 2 of [`figure_8`]: steps until one of `group` leads with its outbound links cut.
/// Each new campaign in `group` gets its vote requests out (they leave in the step that
/// starts it), then its sender is muted, and the previous one unmuted. `None` when a
/// node that was not muted won, or nobody did by `limit_ns`.
fn mute_the_winner(
    sim: &mut Simulator,
    group: &[NodeId],
    cut_off: &[NodeId],
    limit_ns: u64,
) -> Option<NodeId> {
    let mut muted: Option<(NodeId, Term)> = None;
    loop {
        let leader =
            |sim: &Simulator| group.iter().copied().find(|&id| sim.node(id).role() == Role::Leader);
        let campaigner = |sim: &Simulator| {
            group.iter().copied().find(|&id| {
                let node = sim.node(id);
                node.role() == Role::Candidate && muted.is_none_or(|(_, term)| node.term() > term)
            })
        };
        if !step_until(sim, limit_ns, |sim| leader(sim).is_some() || campaigner(sim).is_some()) {
            return None;
        }
        if let Some(id) = leader(sim) {
            return (muted.map(|m| m.0) == Some(id)).then_some(id);
        }
        let c = campaigner(sim).expect("checked");
        sim.heal();
        sim.partition(cut_off);
        for to in (1..=5).filter(|&id| id != c) {
            sim.cut_link(c, to);
        }
        muted = Some((c, sim.node(c).term()));
    }
}

/// Watches the leader's commit index: within a term it may only ever land on an entry of
/// that term (section 5.4.2); older entries commit beneath it.
#[derive(Default)]
struct CommitWatch {
    /// The leader and term last seen, and its commit index when first seen leading.
    seen: Option<(NodeId, Term, Index)>,
}

impl CommitWatch {
    #[track_caller]
    fn check(&mut self, sim: &Simulator, nodes: u64, what: &str) {
        let Some(leader) = (1..=nodes).find(|&id| sim.node(id).role() == Role::Leader) else {
            return;
        };
        let node = sim.node(leader);
        let (term, commit) = (node.term(), node.commit_index());
        match self.seen {
            Some((id, t, first)) if id == leader && t == term && commit > first => {
                assert_eq!(
                    node.term_at(commit),
                    Some(term),
                    "{what}: leader {leader} of term {term} committed index {commit} of an \
                     older term by counting replicas"
                );
            }
            Some((id, t, _)) if id == leader && t == term => {}
            _ => self.seen = Some((leader, term, commit)),
        }
    }
}

/// How far one Figure 8 run got.
#[derive(Debug, Default, PartialEq, Eq)]
struct Figure8 {
    /// An entry of an old term sat on a majority under a leader of a newer term.
    old_entry_on_a_majority: bool,
    /// A later leader overwrote that entry everywhere: counting it would have been wrong.
    overwritten: bool,
}

/// Raft Figure 8 (section 5.4.2) on 5 nodes, with partitions in place of the paper's
/// crashes and restarts. Appends carry one entry each, so a lagging follower receives the
/// old entries one round trip at a time, before the new leader's own entry reaches it.
///
/// 1. Leader L (term t1) and follower F are cut from the other three. L appends client
///    requests; only F gets them: index k holds a t1 entry on {L, F}.
/// 2. The first of the three to campaign, X, has its outbound links cut once its vote
///    requests are out: it wins term t2, appends its no-op at k, and replicates nothing.
///    Then it is isolated.
/// 3. Everything else heals. L or F (the longest logs) wins a term T > t2 and replicates
///    to the two that lack index k. When the t1 entry at k sits on a majority, the leader
///    must not have committed it: its term is not T.
/// 4. That leader is isolated and X rejoins: X's last term t2 beats the t1 entries, so X
///    wins with the two stragglers' votes and overwrites index k with its own entry. Had
///    the old entry been committed, state machine safety would now break.
fn figure_8(seed: u64) -> Figure8 {
    let cfg = SimConfig {
        seed,
        nodes: 5,
        duration_ns: 30 * S,
        clients: 4,
        engine: Knobs(Config {
            batch_entries_max: 1,
            inflight_batches_max: 1,
            ..Config::default()
        }),
        ..SimConfig::default()
    };
    let mut sim = Simulator::new(&cfg).unwrap();
    let what = |step: &str| format!("figure 8, seed {seed}: {step}");
    let mut seen = Figure8::default();
    sim.run_until(S);
    let l = sim.stable_leader().expect("a leader after 1 s without faults");
    let t1 = sim.node(l).term();
    let f = if l == 1 { 2 } else { 1 };
    let rest: Vec<NodeId> = (1..=5).filter(|&id| id != l && id != f).collect();
    sim.partition(&[l, f]);

    // Step 2: whoever of the rest campaigns gets its vote requests out, then goes mute; if
    // that campaign fails, the next campaigner takes its place.
    let limit = sim.now_ns() + 10 * S;
    let Some(x) = mute_the_winner(&mut sim, &rest, &[l, f], limit) else {
        eprintln!("{}", what("the rest elected a leader that could talk"));
        assert_clean_end(&mut sim, &what("no mute leader"));
        return seen;
    };
    let t2 = sim.node(x).term();
    let k = sim.node(x).last_index();
    let ready = step_until(&mut sim, limit, |sim| holders(sim, 5, k, t1).len() == 2)
        && holders(&sim, 5, k, t1) == [l.min(f), l.max(f)];
    sim.isolate(x);
    if !ready {
        eprintln!("{}", what("the old entry never sat on L and F alone"));
        assert_clean_end(&mut sim, &what("the old entry never sat on L and F alone"));
        return seen;
    }

    // Step 3: a newer leader spreads the old entry to a majority; it must not commit it.
    // The leader has learned that the entry sits on a majority once a third holder (not L,
    // not F) has received the entry after it: the leader sends that only after the ack.
    // Throughout, a leader's commit index may only land on an entry of its own term.
    sim.heal();
    sim.isolate(x);
    let limit = sim.now_ns() + 10 * S;
    let mut watch = CommitWatch::default();
    let learned = step_until(&mut sim, limit, |sim| {
        watch.check(sim, 5, &what("step 3"));
        let third = holders(sim, 5, k, t1).into_iter().filter(|&h| h != l && h != f);
        holders(sim, 5, k, t1).len() >= 3 && third.into_iter().any(|h| sim.node(h).last_index() > k)
    });
    if !learned {
        eprintln!("{}", what("the old entry never reached a majority"));
        assert_clean_end(&mut sim, &what("the old entry never reached a majority"));
        return seen;
    }
    let n = sim.current_leader().expect("a leader is replicating");
    let term = sim.node(n).term();
    assert!(term > t2, "{}: leader {n} in term {term}", what("step 3"));
    assert!(
        sim.node(n).commit_index() < k,
        "{}: leader {n} of term {term} committed index {k} of term {t1} by counting replicas",
        what("Figure 8")
    );
    seen.old_entry_on_a_majority = true;

    // Step 4: X comes back and overwrites index k. The other of L and F is cut off too:
    // if it holds the new leader's entry its vote would go elsewhere (Figure 8 (e)).
    let other = if n == l { f } else { l };
    sim.heal();
    sim.isolate(n);
    sim.isolate(other);
    let limit = sim.now_ns() + 10 * S;
    let overwritten = |sim: &Simulator| {
        let leader = sim.current_leader().filter(|&id| id != n);
        leader.is_some_and(|id| sim.node(id).commit_index() >= k)
            && holders(sim, 5, k, t2).len() >= 3
    };
    seen.overwritten = step_until(&mut sim, limit, overwritten);
    let report = assert_clean_end(&mut sim, &what("the end"));
    if seen.overwritten {
        // Every node that committed index k holds X's entry there (a straggler may not
        // have been repaired yet when the run converged).
        let committed: Vec<NodeId> =
            (1..=5).filter(|&id| sim.node(id).commit_index() >= k).collect();
        assert!(committed.len() >= 3, "{}: {committed:?}", what("the end"));
        for id in committed {
            assert_eq!(sim.node(id).term_at(k), Some(t2), "{}: node {id}", what("the end"));
        }
        assert!(!report.crashed.contains(&n));
    }
    seen
}

#[test]
fn figure_8_an_old_term_entry_on_a_majority_is_not_committed_by_counting() {
    let seeds = 100;
    let runs: Vec<Figure8> = (0..seeds).map(figure_8).collect();
    let reached = runs.iter().filter(|r| r.old_entry_on_a_majority).count();
    let overwritten = runs.iter().filter(|r| r.overwritten).count();
    eprintln!("figure 8: {reached} of {seeds} seeds reached (c), {overwritten} reached (d)");
    // Every seed reaches both today; the margin absorbs timing changes in the engine.
    assert!(reached >= seeds as usize * 9 / 10, "only {reached} of {seeds} seeds reached (c)");
    assert!(overwritten >= seeds as usize * 9 / 10, "only {overwritten} reached (d)");
}

/// A cut applied to a healthy cluster at 1 s and left until the quiet phase at 11 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cut {
    /// No cut: the baseline.
    None,
    /// The partial partition with the leader on one side: the leader and a follower cannot
    /// see each other, both see everyone else.
    LeaderFromFollower,
    /// The partial partition between two followers; both see the leader.
    TwoFollowers,
    /// A follower that hears nothing but can still send (every link into it cut).
    DeafFollower,
}

/// What the cluster did in each half of the cut: 1-6 s and 6-11 s.
#[derive(Debug)]
struct Halves {
    /// Client operations committed in each half.
    ops: [u64; 2],
    /// Leaders elected in each half.
    leaders: [u64; 2],
    /// How far the highest term rose in each half.
    term_rise: [u64; 2],
    /// The two nodes the cut names (`a` = the leader at 1 s).
    a: NodeId,
    b: NodeId,
    /// The leader a majority followed at 11 s.
    leader_at_end: Option<NodeId>,
}

fn counters(sim: &Simulator, nodes: u64) -> (u64, u64, u64) {
    let term = (1..=nodes).map(|id| sim.node(id).term()).max().unwrap_or(0);
    (sim.invariants().ops_committed(), sim.invariants().leaders_elected(), term)
}

fn cut_run(nodes: u64, seed: u64, cut: Cut) -> Halves {
    let cfg = SimConfig { seed, nodes, duration_ns: 11 * S, clients: 4, ..SimConfig::default() };
    let mut sim = Simulator::new(&cfg).unwrap();
    sim.run_until(S);
    let a = sim.stable_leader().expect("a leader after 1 s without faults");
    let followers: Vec<NodeId> = (1..=nodes).filter(|&id| id != a).collect();
    let b = followers[0];
    match cut {
        Cut::None => {}
        Cut::LeaderFromFollower => {
            sim.cut_link(a, b);
            sim.cut_link(b, a);
        }
        Cut::TwoFollowers => {
            sim.cut_link(b, followers[1]);
            sim.cut_link(followers[1], b);
        }
        Cut::DeafFollower => {
            for from in (1..=nodes).filter(|&id| id != b) {
                sim.cut_link(from, b);
            }
        }
    }
    let c0 = counters(&sim, nodes);
    sim.run_until(6 * S);
    let c1 = counters(&sim, nodes);
    sim.run_until(11 * S - 1);
    let c2 = counters(&sim, nodes);
    let leader_at_end = sim.stable_leader();
    assert_clean_end(&mut sim, &format!("{nodes} nodes, seed {seed}, {cut:?} at 1s"));
    Halves {
        ops: [c1.0 - c0.0, c2.0 - c1.0],
        leaders: [c1.1 - c0.1, c2.1 - c1.1],
        term_rise: [c1.2 - c0.2, c2.2 - c1.2],
        a,
        b,
        leader_at_end,
    }
}

const CUT_SEEDS: u64 = 50;

/// One seed under a cut, and the same seed without it.
struct CutRun {
    seed: u64,
    nodes: u64,
    run: Halves,
    baseline: Halves,
}

/// Runs `cut` and the baseline on 3 and 5 nodes.
fn cut_runs(cut: Cut) -> Vec<CutRun> {
    let mut runs = Vec::new();
    for nodes in [3, 5] {
        for seed in 0..CUT_SEEDS {
            let (run, baseline) = (cut_run(nodes, seed, cut), cut_run(nodes, seed, Cut::None));
            runs.push(CutRun { seed, nodes, run, baseline });
        }
    }
    runs
}

/// Ops committed under the cut as a fraction of the baseline, per half, over every run.
fn progress(runs: &[CutRun]) -> [f64; 2] {
    [0, 1].map(|half| {
        let cut: u64 = runs.iter().map(|r| r.run.ops[half]).sum();
        let baseline: u64 = runs.iter().map(|r| r.baseline.ops[half]).sum();
        cut as f64 / baseline as f64
    })
}

/// Observed: the follower cut from the leader times out and campaigns; the node that
/// sees both sides votes, terms rise and leadership moves a few times, until a node that
/// sees everyone wins, and from then on nothing moves. No livelock: within 5 s (about 20
/// election timeouts) every run has settled on a leader outside the cut pair, and the
/// second half commits as much as without the cut. Pre-vote and check-quorum would spare
/// the first elections; they are not needed for progress here.
#[test]
fn a_partial_partition_cutting_the_leader_from_a_follower_settles_on_a_node_both_see() {
    let runs = cut_runs(Cut::LeaderFromFollower);
    for CutRun { seed, nodes, run, .. } in &runs {
        let what = format!("{nodes} nodes, seed {seed}: {run:?}");
        assert!(run.leaders[0] >= 1, "the cut follower deposes the leader: {what}");
        assert_eq!((run.leaders[1], run.term_rise[1]), (0, 0), "settled by 6 s: {what}");
        let leader = run.leader_at_end.expect("a leader at 11 s");
        assert!(leader != run.a && leader != run.b, "a leader both sides see: {what}");
    }
    let [first, second] = progress(&runs);
    eprintln!(
        "leader cut from a follower: progress {:.0}% then {:.0}% of the baseline",
        first * 100.0,
        second * 100.0
    );
    assert!(first > 0.6 && second > 0.95, "{first} {second}");
}

/// Observed: followers never talk to each other outside elections, so a cut between two
/// of them changes nothing at all: no election, and exactly the baseline's progress.
#[test]
fn a_partial_partition_between_two_followers_changes_nothing() {
    for CutRun { seed, nodes, run, baseline } in cut_runs(Cut::TwoFollowers) {
        let what = format!("{nodes} nodes, seed {seed}: {run:?}");
        assert_eq!(run.leaders, [0, 0], "{what}");
        assert_eq!(run.ops, baseline.ops, "{what}");
        assert_eq!(run.leader_at_end, Some(run.a), "{what}");
    }
}

/// Observed, and the reason pre-vote exists: a node that can send but hears nothing never
/// hears a leader, so it campaigns every election timeout with a higher term, and every
/// vote request deposes the leader (the others refuse it their vote, its log is behind,
/// but they adopt its term). Leadership churns for as long as the cut lasts: a new leader
/// every second or so and the term up by about 20 every 5 s, with progress cut to roughly
/// half, but never to nothing, and the quiet phase converges. With pre-vote (or
/// check-quorum) the deaf node would not disrupt anyone; this test should then change.
#[test]
fn a_deaf_node_deposes_every_leader_for_as_long_as_it_lasts_without_pre_vote() {
    let runs = cut_runs(Cut::DeafFollower);
    for CutRun { seed, nodes, run, .. } in &runs {
        let what = format!("{nodes} nodes, seed {seed}: {run:?}");
        for half in 0..2 {
            assert!(run.leaders[half] >= 3, "churn in half {half}: {what}");
            assert!(run.term_rise[half] >= 10, "terms rise in half {half}: {what}");
            assert!(run.ops[half] > 0, "progress never stops: {what}");
        }
        assert_ne!(run.leader_at_end, Some(run.b), "the deaf node never leads: {what}");
    }
    let [first, second] = progress(&runs);
    eprintln!(
        "deaf follower: progress {:.0}% then {:.0}% of the baseline",
        first * 100.0,
        second * 100.0
    );
    assert!((0.2..0.9).contains(&first) && (0.2..0.9).contains(&second), "{first} {second}");
}
