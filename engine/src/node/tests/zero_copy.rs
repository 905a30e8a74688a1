//! The zero-copy rule of DESIGN.md: a request's payload is stored once and shared by every
//! batch that carries it, to any number of followers; sending bumps reference counts.

use super::*;

/// The request `Arc` inside an append's only entry.
fn carried(message: &Message) -> &Arc<ClientRequest> {
    match message {
        Message::Append { entries, .. } => match &entries[..] {
            [Entry { payload: Payload::Request(request), .. }] => request,
            other => panic!("expected one request entry, got {other:?}"),
        },
        other => panic!("expected an append, got {other:?}"),
    }
}

fn value_of(request: &ClientRequest) -> &Bytes {
    match &request.op {
        Op::Put { value, .. } => value,
        other => panic!("expected a put, got {other:?}"),
    }
}

// DESIGN.md, zero copy: the batches to all four followers of a five-node leader carry the
// very request the log holds (same Arc), whose value is the client's buffer (same bytes),
// and so does a resend; followers keep it in their logs.
#[test]
fn zero_copy_every_batch_shares_the_logged_payload() {
    let mut l = leader(5);
    let (key, value) = (Bytes::from(vec![b'k'; 16]), Bytes::from(vec![b'v'; 4096]));
    let request = ClientRequest { client: 7, seq: 1, op: Op::Put { key, value: value.clone() } };
    l.propose(request.clone());
    let logged = match &l.entry(2).unwrap().payload {
        Payload::Request(r) => Arc::clone(r),
        Payload::Noop => panic!("entry 2 is the request"),
    };
    let ready = take(&mut l);
    let carry = append(1, (1, 1), vec![entry(1, 2, request)], 1);
    let want = Ready {
        entries: 2..3,
        messages: (2..=5).map(|to| batch(1, to, vec![carry.clone()])).collect(),
        ..idle(1, 1)
    };
    assert_eq!(ready, want);
    for b in &ready.messages {
        let sent = carried(&b.messages[0]);
        assert!(Arc::ptr_eq(sent, &logged), "batch to {} holds a copy of the request", b.to);
        assert_eq!(value_of(sent).as_ptr(), value.as_ptr(), "batch to {} copied the value", b.to);
    }
    // The log, the four batches and `logged` itself: references, not copies.
    assert_eq!(Arc::strong_count(&logged), 6);
    // A follower stores the entry it was sent: still the same request.
    let mut f = node(2, 5);
    f.step(1, append(1, (0, 0), vec![noop(1, 1)], 0));
    for m in ready.messages[0].messages.iter().cloned() {
        f.step(1, m);
    }
    match &f.entry(2).unwrap().payload {
        Payload::Request(r) => assert!(Arc::ptr_eq(r, &logged)),
        Payload::Noop => panic!("entry 2 is the request"),
    }
    // A resend of the lost batches to 3, 4 and 5 shares it as well.
    l.step(2, matched(1, 2));
    flush(&mut l);
    l.tick(300 * MS + 20 * MS);
    let resent = take(&mut l);
    assert_eq!(resent.messages.iter().map(|b| b.to).collect::<Vec<_>>(), vec![2, 3, 4, 5]);
    for b in &resent.messages[1..] {
        assert!(Arc::ptr_eq(carried(&b.messages[0]), &logged), "resend to {} copied", b.to);
    }
    // Applied: the state machine keeps its own copy of the value (see kv.rs for why), and
    // the log still shares the client's buffer.
    l.step(3, matched(1, 2));
    flush(&mut l);
    assert_eq!(l.commit_index(), 2);
    assert_eq!(l.kv_get(&[b'k'; 16]), value);
    assert_eq!(value_of(&logged).as_ptr(), value.as_ptr());
}
