//! Hand-made histories with known answers, and a comparison with a brute-force checker on
//! small random histories.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::models::{RegisterCall, RegisterInput, RegisterOutput};
use super::*;
use crate::history::{OpKind, Outcome};

const PLENTY: Budget = Budget::States(1_000_000);

/// A kv operation on `key`; `ret` `None` means an unknown outcome.
fn kv(key: &str, op: OpKind, text: &str, call_ns: u64, ret: Option<u64>) -> Operation {
    let (value, output) = match op {
        OpKind::Get => (None, ret.map(|_| text.to_owned())),
        _ => (Some(text.to_owned()), None),
    };
    let outcome = if ret.is_some() { Outcome::Ok } else { Outcome::Unknown };
    let key = key.to_owned();
    Operation { client: call_ns, seq: 1, op, key, value, output, call_ns, return_ns: ret, outcome }
}

fn put(text: &str, call: u64, ret: u64) -> Operation {
    kv("a", OpKind::Put, text, call, Some(ret))
}

fn get(text: &str, call: u64, ret: u64) -> Operation {
    kv("a", OpKind::Get, text, call, Some(ret))
}

fn violation(verdict: Verdict) -> Violation {
    match verdict {
        Verdict::NotLinearizable(v) => v,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn sequential_histories() {
    assert_eq!(check_kv(&[], PLENTY), Verdict::Linearizable);
    let ok = [get("", 0, 1), put("x", 2, 3), get("x", 4, 5)];
    assert_eq!(check_kv(&ok, PLENTY), Verdict::Linearizable);
    let stale = [put("x", 0, 1), get("", 2, 3)];
    let v = violation(check_kv(&stale, PLENTY));
    assert_eq!(v, Violation { key: Some("a".into()), involved: vec![1], prefix: vec![0] });
}

#[test]
fn concurrency_allows_either_order() {
    // A slow put overlaps two reads: the first may miss it, the second sees it.
    let ok = [put("x", 0, 10), get("", 1, 2), get("x", 3, 4)];
    assert_eq!(check_kv(&ok, PLENTY), Verdict::Linearizable);
    // Once a read saw the put, a later read cannot miss it.
    let bad = [put("x", 0, 10), get("x", 1, 2), get("", 3, 4)];
    let v = violation(check_kv(&bad, PLENTY));
    assert_eq!((v.involved, v.prefix), (vec![2], vec![0, 1]));
    // Operations that touch (a return and a call at the same instant) are concurrent.
    assert_eq!(check_kv(&[put("x", 0, 5), get("", 5, 6)], PLENTY), Verdict::Linearizable);
}

#[test]
fn appends_concatenate() {
    let append = |text, call, ret| kv("a", OpKind::Append, text, call, Some(ret));
    let ok = [append("1", 0, 5), append("2", 1, 6), get("21", 7, 8)];
    assert_eq!(check_kv(&ok, PLENTY), Verdict::Linearizable);
    let bad = [append("1", 0, 1), append("2", 2, 3), get("21", 4, 5)];
    assert!(matches!(check_kv(&bad, PLENTY), Verdict::NotLinearizable(_)));
}

#[test]
fn unknown_outcomes_may_apply_late_or_never() {
    let lost = kv("a", OpKind::Put, "x", 0, None);
    // It may have applied...
    assert_eq!(check_kv(&[lost.clone(), get("x", 5, 6)], PLENTY), Verdict::Linearizable);
    // ...or not...
    assert_eq!(check_kv(&[lost.clone(), get("", 5, 6)], PLENTY), Verdict::Linearizable);
    // ...but not undo itself once seen,
    let flip = [lost.clone(), get("x", 5, 6), get("", 7, 8)];
    assert!(matches!(check_kv(&flip, PLENTY), Verdict::NotLinearizable(_)));
    // and never before its call.
    let early = [get("x", 0, 1), kv("a", OpKind::Put, "x", 2, None)];
    assert!(matches!(check_kv(&early, PLENTY), Verdict::NotLinearizable(_)));
    // A get of unknown outcome tells nothing.
    let blind = [put("x", 0, 1), kv("a", OpKind::Get, "", 2, None)];
    assert_eq!(check_kv(&blind, PLENTY), Verdict::Linearizable);
}

#[test]
fn keys_are_checked_apart() {
    let ops = [
        kv("b", OpKind::Put, "y", 0, Some(1)),
        put("x", 0, 1),
        kv("b", OpKind::Get, "", 2, Some(3)),
        get("x", 2, 3),
    ];
    let v = violation(check_kv(&ops, PLENTY));
    assert_eq!(v, Violation { key: Some("b".into()), involved: vec![2], prefix: vec![0] });
}

#[test]
fn exhausted_budgets_give_unknown() {
    // Five concurrent puts and a read of the first: the search needs more than one state.
    let mut ops: Vec<_> = (0..5).map(|i| put(&i.to_string(), 0, 10)).collect();
    ops.push(get("0", 11, 12));
    assert_eq!(check_kv(&ops, PLENTY), Verdict::Linearizable);
    assert_eq!(check_kv(&ops, Budget::States(3)), Verdict::Unknown);
    assert_eq!(check_kv(&ops, Budget::States(0)), Verdict::Unknown);
    assert_eq!(check_kv(&ops, Budget::Deadline(Instant::now())), Verdict::Unknown);
    // A violation is reported only when the search finished.
    ops.push(get("9", 13, 14));
    assert!(matches!(check_kv(&ops, PLENTY), Verdict::NotLinearizable(_)));
    assert_eq!(check_kv(&ops, Budget::States(3)), Verdict::Unknown);
}

fn reg(call: RegisterCall, output: Option<RegisterOutput>, call_ns: u64, ret: u64) -> RegisterOp {
    let completion = match output {
        Some(output) => Completion::Returned { output, return_ns: ret },
        None => Completion::Unknown,
    };
    Op { client: 0, input: RegisterInput { key: None, call }, call_ns, completion }
}

#[test]
fn register_cas() {
    use RegisterCall::{Cas, Read, Write};
    use RegisterOutput::{Value, Written};
    let cas = |from: &str, to: &str| Cas { from: from.into(), to: to.into() };
    let read = |v: Option<&str>| Some(Value(v.map(str::to_owned)));
    let ops = [
        reg(Read, read(None), 0, 1),
        reg(Write("1".into()), Some(Written), 2, 3),
        reg(cas("1", "2"), Some(RegisterOutput::Cas(true)), 4, 5),
        reg(cas("1", "3"), Some(RegisterOutput::Cas(false)), 6, 7),
        reg(Read, read(Some("2")), 8, 9),
    ];
    assert_eq!(check_register(&ops, PLENTY), Verdict::Linearizable);
    // A cas that failed although the value matched.
    let mut bad = ops.clone();
    bad[3] = reg(cas("2", "3"), Some(RegisterOutput::Cas(false)), 6, 7);
    let v = violation(check_register(&bad, PLENTY));
    assert_eq!((v.key, v.prefix), (None, vec![0, 1, 2]));
    // A cas of unknown outcome may have applied, or not.
    let mut lost = ops.to_vec();
    lost[3] = reg(cas("2", "3"), None, 6, 0);
    assert_eq!(check_register(&lost, PLENTY), Verdict::Linearizable);
    lost.push(reg(Read, read(Some("3")), 10, 11));
    assert_eq!(check_register(&lost, PLENTY), Verdict::Linearizable);
    lost.push(reg(Read, read(Some("2")), 12, 13));
    assert!(matches!(check_register(&lost, PLENTY), Verdict::NotLinearizable(_)));
}

/// Brute force: some subset of the unknown operations, with every completed one, in some
/// order that respects real time, replays through the model.
fn brute_force(ops: &[KvOp]) -> bool {
    fn extend(ops: &[KvOp], placed: &mut [bool], state: &String) -> bool {
        let done =
            |placed: &[bool]| (0..ops.len()).all(|i| placed[i] || ops[i].return_ns().is_none());
        if done(placed) {
            return true;
        }
        for i in 0..ops.len() {
            // Every operation that returned before `i` was called must already be placed.
            let returned_before = |j: usize| ops[j].return_ns().is_some_and(|r| r < ops[i].call_ns);
            if placed[i] || (0..ops.len()).any(|j| !placed[j] && returned_before(j)) {
                continue;
            }
            if let Some(next) = KvModel.step(state, &ops[i].input, ops[i].output()) {
                placed[i] = true;
                if extend(ops, placed, &next) {
                    return true;
                }
                placed[i] = false;
            }
        }
        false
    }
    extend(ops, &mut vec![false; ops.len()], &String::new())
}

#[test]
fn agrees_with_brute_force_on_random_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut linearizable, mut not) = (0, 0);
    for _ in 0..3000 {
        let len = rng.gen_range(1..=6);
        let ops: Vec<Operation> = (0..len)
            .map(|_| {
                let kind = [OpKind::Get, OpKind::Put, OpKind::Append][rng.gen_range(0..3)];
                let texts = ["", "x", "y", "xy", "yx"];
                let text = match kind {
                    OpKind::Get => texts[rng.gen_range(0..5)],
                    _ => texts[rng.gen_range(1..3)],
                };
                let call = rng.gen_range(0..10);
                let ret = (rng.gen_range(0..5) > 0).then(|| call + rng.gen_range(0..6));
                kv("a", kind, text, call, ret)
            })
            .collect();
        let kv_ops: Vec<KvOp> = ops.iter().map(models::kv_op).collect();
        let want = brute_force(&kv_ops);
        let got = check_kv(&ops, PLENTY);
        assert_eq!(got == Verdict::Linearizable, want, "{ops:#?} gave {got:?}");
        assert_ne!(got, Verdict::Unknown);
        if want {
            linearizable += 1
        } else {
            not += 1
        }
    }
    // Both answers must be well represented for the comparison to mean anything.
    assert!(linearizable > 500 && not > 500, "{linearizable} linearizable, {not} not");
}
