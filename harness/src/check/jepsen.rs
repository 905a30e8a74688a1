//! Reads the log format of Jepsen's etcd register test (the Porcupine fixtures' `jepsen/`):
//!
//! ```text
//! INFO  jepsen.util - 3  :invoke  :cas  [3 0]
//! INFO  jepsen.util - 3  :fail    :cas  [3 0]
//! ```
//!
//! Fields are separated by any whitespace (tabs in most logs): `P :TYPE :F VALUE`, where
//! TYPE is `invoke`, `ok`, `fail` or `info` and F is `read`, `write` or `cas`. A completion
//! belongs to the pending invocation of the same process. Times are line numbers: only their
//! order matters.
//!
//! Outcomes: `ok` completes; `fail` of a cas completes with "the compare failed" (an
//! observation, as Porcupine reads it); `info`, `:fail :read :timed-out` and an invocation
//! never completed are unknown; any other `fail` (a read or a write) did not happen and is
//! dropped. A process that invokes again before its last invocation completed leaves that
//! one unknown. Lines of any other shape (and completions that do not match their process's
//! pending invocation) are ignored.

use std::collections::HashMap;
use std::io::BufRead;

use super::linearizability::{Completion, Op};
use super::models::{RegisterCall, RegisterInput, RegisterOp, RegisterOutput};
use crate::history::HistoryError;

/// One recognised line: the process, the type (`invoke`, ...), the function (`read`, ...)
/// and the remaining fields.
struct Line<'a> {
    process: u64,
    kind: &'a str,
    f: &'a str,
    rest: Vec<&'a str>,
}

/// Splits a line of the log format, `None` for any other shape.
fn split(text: &str) -> Option<Line<'_>> {
    let mut fields = text.split_whitespace();
    let prefix = [fields.next()?, fields.next()?, fields.next()?];
    if prefix != ["INFO", "jepsen.util", "-"] {
        return None;
    }
    let process = fields.next()?.parse().ok()?;
    let kind = fields.next()?.strip_prefix(':')?;
    let f = fields.next()?.strip_prefix(':')?;
    Some(Line { process, kind, f, rest: fields.collect() })
}

/// The operation an invocation asks for: `read nil`, `write V` or `cas [FROM TO]`.
fn call(f: &str, rest: &[&str]) -> Option<RegisterCall> {
    match (f, rest) {
        ("read", [_]) => Some(RegisterCall::Read),
        ("write", [value]) => Some(RegisterCall::Write((*value).to_owned())),
        ("cas", [from, to]) => {
            let from = from.strip_prefix('[')?;
            let to = to.strip_suffix(']')?;
            Some(RegisterCall::Cas { from: from.to_owned(), to: to.to_owned() })
        }
        _ => None,
    }
}

/// What became of an invocation.
enum End {
    Returned(RegisterOutput),
    Unknown,
    DidNotHappen,
}

/// The meaning of a completion line for a pending `call`, `None` if it does not match it.
fn end(call: &RegisterCall, kind: &str, f: &str, rest: &[&str]) -> Option<End> {
    let end = match (kind, call, rest) {
        ("info", ..) => End::Unknown,
        ("ok", RegisterCall::Read, [value]) => {
            let value = (*value != "nil").then(|| (*value).to_owned());
            End::Returned(RegisterOutput::Value(value))
        }
        ("ok", RegisterCall::Write(_), _) => End::Returned(RegisterOutput::Written),
        ("ok", RegisterCall::Cas { .. }, _) => End::Returned(RegisterOutput::Cas(true)),
        ("fail", RegisterCall::Cas { .. }, _) => End::Returned(RegisterOutput::Cas(false)),
        ("fail", RegisterCall::Read, [":timed-out"]) => End::Unknown,
        ("fail", ..) => End::DidNotHappen,
        _ => return None,
    };
    let same_f = matches!(
        (f, call),
        ("read", RegisterCall::Read)
            | ("write", RegisterCall::Write(_))
            | ("cas", RegisterCall::Cas { .. })
    );
    same_f.then_some(end)
}

/// Reads a Jepsen etcd log into register operations (no keys), in invocation order.
pub fn parse<R: BufRead>(r: R) -> Result<Vec<RegisterOp>, HistoryError> {
    let mut ops: Vec<Option<RegisterOp>> = Vec::new();
    let mut pending: HashMap<u64, usize> = HashMap::new();
    for (index, text) in r.lines().enumerate() {
        let line_no = index + 1;
        let text = text.map_err(|error| HistoryError::Io { line: line_no, error })?;
        let Some(line) = split(&text) else { continue };
        let now = line_no as u64;
        if line.kind == "invoke" {
            if let Some(call) = call(line.f, &line.rest) {
                let input = RegisterInput { key: None, call };
                let op = Op {
                    client: line.process,
                    input,
                    call_ns: now,
                    completion: Completion::Unknown,
                };
                pending.insert(line.process, ops.len());
                ops.push(Some(op));
            }
            continue;
        }
        let Some(&at) = pending.get(&line.process) else { continue };
        let Some(slot) = ops.get_mut(at) else { continue };
        let Some(op) = slot.as_mut() else { continue };
        let Some(end) = end(&op.input.call, line.kind, line.f, &line.rest) else { continue };
        pending.remove(&line.process);
        match end {
            End::Returned(output) => {
                op.completion = Completion::Returned { output, return_ns: now }
            }
            End::Unknown => {}
            End::DidNotHappen => *slot = None,
        }
    }
    Ok(ops.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_line_shape() {
        let log = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 1   :invoke :cas    [1 2]\n\
                   INFO  jepsen.util - 2\t:invoke\t:write\t4\n\
                   INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
                   INFO  jepsen.util - 4\t:invoke\t:write\t5\n\
                   INFO  jepsen.util - 5\t:invoke\t:write\t6\n\
                   some other line\n\
                   INFO  jepsen.util - 0\t:ok\t:read\tnil\n\
                   INFO  jepsen.util - 1   :fail   :cas    [1 2]\n\
                   INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n\
                   INFO  jepsen.util - 3\t:fail\t:read\t:timed-out\n\
                   INFO  jepsen.util - 4\t:fail\t:write\t5\n\
                   INFO  jepsen.util - 9\t:ok\t:write\t5\n";
        let ops = parse(log.as_bytes()).unwrap();
        let seen: Vec<String> = ops.iter().map(|op| op.to_string()).collect();
        assert_eq!(
            seen,
            [
                "client 0 read -> nil [1, 8]",
                "client 1 cas 1 -> 2 -> fail [2, 9]",
                "client 2 write 4 -> unknown [3, ...]",
                "client 3 read -> unknown [4, ...]",
                "client 5 write 6 -> unknown [6, ...]",
            ]
        );
    }
}
