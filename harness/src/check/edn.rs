//! Reads Jepsen-style key-value histories written as one EDN map per line (the Porcupine
//! fixtures' `kv/`):
//!
//! ```text
//! {:process 1, :type :invoke, :f :get, :key "9", :value nil}
//! {:process 1, :type :ok, :f :get, :key "9", :value "x 1 0 y"}
//! ```
//!
//! Keys: `:process` (an integer), `:type` (`:invoke`, `:ok`, `:fail`, `:info`), `:f`
//! (`:get`, `:put`, `:append`), `:key` (a string or integer), `:value` (a string, an integer
//! or `nil`). A completion belongs to the pending invocation of the same process. `ok`
//! completes (a get reads its `:value`, `nil` as `""`); `info` and an invocation never
//! completed are unknown; `fail` did not happen and is dropped. A process that invokes again
//! before its last invocation completed leaves that one unknown. Times are line numbers and
//! each process's invocations are numbered from 1 as its `seq`.
//!
//! Blank lines are skipped; any other line that is not such a map is an error naming it.

use std::collections::HashMap;
use std::io::BufRead;

use crate::history::{HistoryError, OpKind, Operation, Outcome};

/// An EDN scalar.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Nil,
    Keyword(String),
    Str(String),
    Int(i64),
}

/// Parses `{:k v, :k v ...}` with scalar values into its pairs.
fn parse_map(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut rest = text.trim().strip_prefix('{').ok_or("expected '{'")?;
    let mut pairs = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if let Some(after) = rest.strip_prefix('}') {
            return match after.trim() {
                "" => Ok(pairs),
                extra => Err(format!("unexpected {extra:?} after the map")),
            };
        }
        let (key, after) = scalar(rest)?;
        let Value::Keyword(key) = key else { return Err("map keys must be keywords".into()) };
        rest = after.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        let (value, after) = scalar(rest)?;
        pairs.push((key, value));
        rest = after;
    }
}

/// Parses one scalar at the start of `text`; returns it and the text after it.
fn scalar(text: &str) -> Result<(Value, &str), String> {
    if let Some(body) = text.strip_prefix('"') {
        return string(body);
    }
    let end =
        text.find(|c: char| c.is_whitespace() || matches!(c, ',' | '}')).unwrap_or(text.len());
    let (token, rest) = text.split_at(end);
    let value = match token {
        "" => return Err("unexpected end of the map".into()),
        "nil" => Value::Nil,
        _ if token.starts_with(':') && token.len() > 1 => Value::Keyword(token[1..].to_owned()),
        _ => Value::Int(token.parse().map_err(|_| format!("unexpected {token:?}"))?),
    };
    Ok((value, rest))
}

/// Parses a string body (after its opening quote) with `\"`, `\\`, `\n`, `\t` escapes.
fn string(body: &str) -> Result<(Value, &str), String> {
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((Value::Str(out), &body[i + 1..])),
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(e @ ('"' | '\\')) => out.push(e),
                _ => return Err("bad escape in a string".into()),
            },
            _ => out.push(c),
        }
    }
    Err("unterminated string".into())
}

/// One event of the history.
struct Event {
    process: u64,
    kind: String,
    f: OpKind,
    key: String,
    value: Option<String>,
}

/// Reads the fields of an event from a map's pairs.
fn event(pairs: Vec<(String, Value)>) -> Result<Event, String> {
    let mut map: HashMap<String, Value> = pairs.into_iter().collect();
    let mut take = |name: &str| map.remove(name).ok_or_else(|| format!("missing :{name}"));
    let process = match take("process")? {
        Value::Int(p) if p >= 0 => p as u64,
        other => return Err(format!(":process must be a non-negative integer, not {other:?}")),
    };
    let Value::Keyword(kind) = take("type")? else { return Err(":type must be a keyword".into()) };
    let f = match take("f")? {
        Value::Keyword(f) if f == "get" => OpKind::Get,
        Value::Keyword(f) if f == "put" => OpKind::Put,
        Value::Keyword(f) if f == "append" => OpKind::Append,
        other => return Err(format!(":f must be :get, :put or :append, not {other:?}")),
    };
    let text = |v: Value| match v {
        Value::Str(s) => Ok(Some(s)),
        Value::Int(i) => Ok(Some(i.to_string())),
        Value::Nil => Ok(None),
        Value::Keyword(k) => Err(format!("unexpected keyword :{k}")),
    };
    let key = text(take("key")?)?.ok_or(":key must not be nil")?;
    let value = text(take("value")?)?;
    Ok(Event { process, kind, f, key, value })
}

/// Folds events into operations.
#[derive(Default)]
struct Builder {
    ops: Vec<Option<Operation>>,
    pending: HashMap<u64, usize>,
    seqs: HashMap<u64, u64>,
}

impl Builder {
    /// Applies one event read at `now` (its line number).
    fn apply(&mut self, e: Event, now: u64) -> Result<(), String> {
        if e.kind == "invoke" {
            if e.f != OpKind::Get && e.value.is_none() {
                return Err(format!("a {} needs a :value", e.f));
            }
            let seq = self.seqs.entry(e.process).or_default();
            *seq += 1;
            let value = if e.f == OpKind::Get { None } else { e.value };
            self.pending.insert(e.process, self.ops.len());
            self.ops.push(Some(Operation {
                client: e.process,
                seq: *seq,
                op: e.f,
                key: e.key,
                value,
                output: None,
                call_ns: now,
                return_ns: None,
                outcome: Outcome::Unknown,
            }));
            return Ok(());
        }
        let at = self.pending.remove(&e.process).ok_or("a completion with no invocation")?;
        let slot = &mut self.ops[at];
        let Some(op) = slot.as_mut() else { return Ok(()) };
        if op.op != e.f || op.key != e.key {
            return Err(format!("a completion of {} {:?} for an invocation of {op}", e.f, e.key));
        }
        match e.kind.as_str() {
            "ok" => {
                op.return_ns = Some(now);
                op.outcome = Outcome::Ok;
                if op.op == OpKind::Get {
                    op.output = Some(e.value.unwrap_or_default());
                }
            }
            "info" => {}
            "fail" => *slot = None,
            other => return Err(format!("unknown :type :{other}")),
        }
        Ok(())
    }
}

/// Reads an EDN key-value history into the project's history records, in invocation order.
pub fn parse<R: BufRead>(r: R) -> Result<Vec<Operation>, HistoryError> {
    let mut builder = Builder::default();
    for (index, text) in r.lines().enumerate() {
        let line = index + 1;
        let text = text.map_err(|error| HistoryError::Io { line, error })?;
        if text.trim().is_empty() {
            continue;
        }
        parse_map(&text)
            .and_then(event)
            .and_then(|e| builder.apply(e, line as u64))
            .map_err(|reason| HistoryError::Invalid { line, reason })?;
    }
    Ok(builder.ops.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scalars() {
        let pairs = parse_map(r#"{:a nil, :b :kw, :c "x \"y\" \\", :d -12}"#).unwrap();
        let want = [
            ("a", Value::Nil),
            ("b", Value::Keyword("kw".into())),
            ("c", Value::Str(r#"x "y" \"#.into())),
            ("d", Value::Int(-12)),
        ];
        assert_eq!(pairs, want.map(|(k, v)| (k.to_owned(), v)));
        for bad in ["", "{:a}", "{:a 1", r#"{:a "x}"#, "{1 2}", "{:a 1} x", "{:a foo}"] {
            assert!(parse_map(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn pairs_invocations_with_completions() {
        let text = r#"{:process 1, :type :invoke, :f :get, :key "9", :value nil}
{:process 2, :type :invoke, :f :put, :key "9", :value "a"}
{:process 3, :type :invoke, :f :append, :key 9, :value "b"}
{:process 4, :type :invoke, :f :append, :key "9", :value "c"}

{:process 1, :type :ok, :f :get, :key "9", :value nil}
{:process 2, :type :ok, :f :put, :key "9", :value "a"}
{:process 3, :type :info, :f :append, :key "9", :value "b"}
{:process 4, :type :fail, :f :append, :key "9", :value "c"}
{:process 1, :type :invoke, :f :get, :key "9", :value nil}
"#;
        let ops = parse(text.as_bytes()).unwrap();
        let seen: Vec<String> = ops.iter().map(|op| op.to_string()).collect();
        assert_eq!(
            seen,
            [
                r#"client 1 seq 1 get "9" -> "" [1, 6]"#,
                r#"client 2 seq 1 put "9" "a" [2, 7]"#,
                r#"client 3 seq 1 append "9" "b" -> unknown [3, ...]"#,
                r#"client 1 seq 2 get "9" -> unknown [10, ...]"#,
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("{:process 1, :type :ok, :f :get, :key \"9\", :value nil}", "line 1: a completion"),
            ("{:process 1, :type :invoke, :f :cas, :key \"9\", :value nil}", "line 1: :f must"),
            (
                "{:process 1, :type :invoke, :f :put, :key \"9\", :value nil}",
                "line 1: a put needs a :value",
            ),
            ("{:process 1, :type :invoke, :f :get, :value nil}", "line 1: missing :key"),
            ("garbage", "line 1: expected '{'"),
        ];
        for (text, want) in cases {
            let err = parse(text.as_bytes()).unwrap_err().to_string();
            assert!(err.starts_with(want), "{text}: {err}");
        }
    }
}
