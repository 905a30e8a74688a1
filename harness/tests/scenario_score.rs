//! Scoring: the tier rule, and correctness checks that can fail. The classic clients are
//! driven by hand with fabricated replies (a stale get, a duplicate, a reply to an id that
//! was redirected, requests never answered) and the score must say what went wrong.

use bytes::Bytes;
use pinraft_engine::{ClientReply, ClientRequest, NodeId, Op, Outcome};
use pinraft_harness::scenario::{self, tier, Driver, Mode, RunContext, RunFigures, Score};
use pinraft_harness::workload::{ClusterView, HostedLoad, LoadAction};
use std::sync::Arc;

#[test]
fn tiers_are_strictly_below_each_threshold() {
    let t = [10.0, 20.0, 30.0];
    let table =
        [(0.0, 0), (9.99, 0), (10.0, 1), (19.0, 1), (20.0, 2), (29.9, 2), (30.0, 3), (1e9, 3)];
    for (figure, want) in table {
        assert_eq!(tier(figure, t), want, "{figure}");
    }
    assert_eq!(tier(0.0, [0.0, 2.0, 10.0]), 1, "0 is not below a threshold of 0");
    assert_eq!(tier(0.00015, [0.00015, 0.005, 0.05]), 1);
    assert_eq!(tier(5.0, [5.0, 5.0, 5.0]), 3);
}

/// Eight requests, all puts (mix 0: one per client), then eight that are gets when they
/// can be (mix 1: each client reads its own key).
fn puts_then_gets() -> scenario::Scenario {
    let mut sc = scenario::parse_classic(
        r#"{"lifetime": 16, "replicas": 3, "requests": 16, "mix": 1.0, "start_wait": 1,
            "tests": {"benchmarks": {"total_msgs": [10, 100, 1000], "failures": [1, 2, 3],
                      "duplicates": [1, 2, 3], "median_latency": [0.001, 0.01, 0.1]}}}"#,
    )
    .unwrap();
    sc.workload = scenario::Workload::Classic { requests: 16, get_ppm: 1_000_000 };
    sc
}

struct Harness {
    driver: Driver,
    view: ClusterView,
    sent: Vec<Arc<ClientRequest>>,
    /// Where each request in `sent` went.
    targets: Vec<NodeId>,
}

impl Harness {
    fn new(sc: &scenario::Scenario) -> Harness {
        let view = ClusterView { leader: Some(1), alive: vec![true; sc.nodes as usize] };
        Harness { driver: Driver::new(sc, 0), view, sent: Vec::new(), targets: Vec::new() }
    }

    /// Wakes the driver at every time it asks for up to `until_ns`; returns what it sent.
    fn run_until(&mut self, until_ns: u64) -> Vec<Arc<ClientRequest>> {
        let mut sent = Vec::new();
        loop {
            let at = self.driver.next_wake_ns();
            if at > until_ns {
                break;
            }
            let mut out = Vec::new();
            self.driver.wake(at, &self.view, &mut out);
            sent.extend(self.record(out));
        }
        sent
    }

    fn record(&mut self, out: Vec<LoadAction>) -> Vec<Arc<ClientRequest>> {
        let mut sent = Vec::new();
        for action in out {
            if let LoadAction::Send { to, request } = action {
                self.targets.push(to);
                self.sent.push(request.clone());
                sent.push(request);
            }
        }
        sent
    }

    fn reply(&mut self, request: &ClientRequest, outcome: Outcome, now_ns: u64) {
        let reply = ClientReply { client: request.client, seq: request.seq, outcome };
        let mut out = Vec::new();
        self.driver.on_reply(reply, now_ns, &self.view, &mut out);
        self.record(out);
    }

    fn score(mut self, sc: &scenario::Scenario) -> Score {
        let ctx =
            RunContext { scenario: sc, file: "fabricated.json".into(), mode: Mode::Sim, seed: 0 };
        let run = RunFigures { node_packets: 40, client_packets: 32, ..RunFigures::default() };
        Score::new(&ctx, self.driver.finish(), &run)
    }
}

fn value(request: &ClientRequest) -> Bytes {
    match &request.op {
        Op::Put { value, .. } => value.clone(),
        other => panic!("not a put: {other:?}"),
    }
}

const S: u64 = 1_000_000_000;

/// Everything answered as a correct store would: puts ok, gets read the value written.
fn honest_run(sc: &scenario::Scenario) -> Harness {
    let mut h = Harness::new(sc);
    let puts = h.run_until(8 * S);
    assert_eq!(puts.len(), 8, "one put per client");
    for put in &puts {
        h.reply(put, Outcome::Ok(None), 8 * S);
    }
    let gets = h.run_until(17 * S);
    assert_eq!(gets.len(), 8, "then each client reads its key");
    for (get, put) in gets.iter().zip(&puts) {
        assert!(matches!(get.op, Op::Get { .. }) && get.client == put.client);
        h.reply(get, Outcome::Ok(Some(value(put))), 17 * S);
    }
    h
}

#[test]
fn an_honest_run_is_correct_and_scored() {
    let sc = puts_then_gets();
    let score = honest_run(&sc).score(&sc);
    assert!(score.correct, "{:?}", score.errors);
    assert_eq!((score.requests, score.request_ids, score.replies.ok), (16, 16, 16));
    assert_eq!((score.total_msgs, score.failures, score.duplicates), (72, 0, 0));
    assert_eq!(score.linearizable, Some(true));
    let tiers = score.tiers.unwrap();
    assert_eq!(tiers.compact(), "1 0 0 3", "72 packets, 0, 0, a latency of seconds");
}

#[test]
fn a_stale_get_fails_the_run() {
    let sc = puts_then_gets();
    let mut h = Harness::new(&sc);
    let puts = h.run_until(8 * S);
    for put in &puts {
        h.reply(put, Outcome::Ok(None), 8 * S);
    }
    let gets = h.run_until(17 * S);
    h.reply(&gets[0], Outcome::Ok(Some(Bytes::from_static(b"an old value"))), 17 * S);
    for (get, put) in gets.iter().zip(&puts).skip(1) {
        h.reply(get, Outcome::Ok(Some(value(put))), 17 * S);
    }
    let score = h.score(&sc);
    assert!(!score.correct);
    assert!(
        score.errors.iter().any(|e| e.starts_with("stale get: request id 1.2")),
        "{:?}",
        score.errors
    );
    assert_eq!(score.linearizable, Some(false), "the history check sees it too");
}

#[test]
fn a_second_reply_to_a_completed_id_is_a_duplicate_not_an_error() {
    let sc = puts_then_gets();
    let mut h = honest_run(&sc);
    let first = h.sent[0].clone();
    h.reply(&first, Outcome::Ok(None), 18 * S);
    let score = h.score(&sc);
    assert!(score.correct, "{:?}", score.errors);
    assert_eq!(score.duplicates, 1);
    assert_eq!(score.tiers.unwrap().duplicates, Some(1));
}

#[test]
fn a_reply_to_an_id_answered_with_redirect_or_fail_fails_the_run() {
    let sc = puts_then_gets();
    let mut h = Harness::new(&sc);
    let puts = h.run_until(2 * S);
    assert_eq!(puts.len(), 2);
    let leader = h.targets[0] % 3 + 1;
    h.reply(&puts[0], Outcome::Redirect(leader), 2 * S);
    let retry = h.sent.last().unwrap().clone();
    assert_eq!((retry.client, retry.seq), (1, 2), "a new id, at once");
    assert_eq!(*h.targets.last().unwrap(), leader, "at the leader the reply named");
    h.reply(&puts[0], Outcome::Ok(None), 2 * S);
    h.reply(&puts[1], Outcome::Fail, 2 * S);
    h.reply(&puts[1], Outcome::Fail, 2 * S);
    h.reply(&ClientRequest { client: 3, seq: 7, op: puts[0].op.clone() }, Outcome::Fail, 2 * S);
    let score = h.score(&sc);
    assert!(!score.correct);
    let errors = score.errors.join("\n");
    assert!(
        errors.contains("reply (ok) to request id 1.1, already answered with redirect"),
        "{errors}"
    );
    assert!(
        errors.contains("reply (fail) to request id 2.1, already answered with fail"),
        "{errors}"
    );
    assert!(errors.contains("request id 3.7, never sent"), "{errors}");
    assert_eq!((score.replies.fail, score.replies.redirect), (1, 1));
}

#[test]
fn unanswered_requests_beyond_the_fail_fractions_fail_the_run() {
    let sc = puts_then_gets();
    let mut h = Harness::new(&sc);
    let puts = h.run_until(8 * S);
    for put in &puts[..4] {
        h.reply(put, Outcome::Ok(None), 8 * S);
    }
    h.run_until(17 * S);
    let score = h.score(&sc);
    assert!(!score.correct);
    assert_eq!((score.puts.sent, score.puts.unanswered), (12, 8), "4 more puts, none answered");
    assert_eq!(score.failures, 12, "every unanswered request is a failure");
    let errors = score.errors.join("\n");
    assert!(errors.contains("8 of 12 puts unanswered"), "{errors}");
    assert!(errors.contains("4 of 4 gets unanswered"), "{errors}");
}

#[test]
fn fail_replies_are_failures_but_not_errors() {
    let sc = puts_then_gets();
    let mut h = Harness::new(&sc);
    let puts = h.run_until(8 * S);
    for put in &puts {
        h.reply(put, Outcome::Fail, 8 * S);
    }
    let retries: Vec<_> = h.sent[8..].to_vec();
    assert_eq!(retries.len(), 8, "each retried at once under a new id");
    for (retry, put) in retries.iter().zip(&puts) {
        assert_eq!((retry.client, retry.seq, value(retry)), (put.client, put.seq + 1, value(put)));
        h.reply(retry, Outcome::Ok(None), 8 * S);
    }
    let score = h.score(&sc);
    assert_eq!(score.failures, 8);
    assert!(score.errors.iter().all(|e| !e.contains("fail")), "{:?}", score.errors);
}

#[test]
fn a_replica_that_died_on_its_own_fails_the_run() {
    let sc = puts_then_gets();
    let ctx = RunContext { scenario: &sc, file: "x.json".into(), mode: Mode::Cluster, seed: 0 };
    let run =
        RunFigures { died: vec!["replica 2 died on its own".into()], ..RunFigures::default() };
    let mut driver = Driver::new(&sc, 0);
    let score = Score::new(&ctx, driver.finish(), &run);
    assert!(!score.correct);
    assert_eq!(score.errors, vec!["replica 2 died on its own".to_string()]);
}
