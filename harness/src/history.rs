//! Client histories: the record of every operation a client issued, with the time it was
//! called and the time (if known) it returned, as the checkers consume them.
//!
//! The on-disk form is JSON Lines, one [`Operation`] per line (DESIGN.md, "Conventions"):
//!
//! ```text
//! {"client":1,"seq":7,"op":"put","key":"k","value":"v","output":null,
//!  "call_ns":1500,"return_ns":9100,"outcome":"ok"}
//! ```
//!
//! (one line in the file). This module owns the record type, its validation and the
//! reader and writer. It never judges a history: that is `check`'s job.

use std::fmt;
use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

/// What a client asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Read a key's current string (`""` for a key never written).
    Get,
    /// Set a key to `value`.
    Put,
    /// Add `value` to the end of a key's string.
    Append,
}

/// Whether the client saw the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The reply arrived: `return_ns` is set and, for a get, `output` too.
    Ok,
    /// No reply: the operation may have taken effect at any time after its call, or never.
    Unknown,
}

/// One client operation, one line of a history file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The client that issued it.
    pub client: u64,
    /// The client's sequence number for it; (client, seq) names a request.
    pub seq: u64,
    /// Get, put or append.
    pub op: OpKind,
    /// The key it reads or writes.
    pub key: String,
    /// The value written (put, append); `None` for a get.
    #[serde(default)]
    pub value: Option<String>,
    /// What a completed get read (`""` for a key never written); `None` otherwise.
    #[serde(default)]
    pub output: Option<String>,
    /// When the client sent it (virtual or monotonic nanoseconds).
    pub call_ns: u64,
    /// When the reply arrived; `None` when the outcome is unknown.
    #[serde(default)]
    pub return_ns: Option<u64>,
    /// Whether the reply arrived.
    pub outcome: Outcome,
}

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The reader failed.
    #[error("line {line}: {error}")]
    Io {
        /// The 1-based line being read.
        line: usize,
        /// The underlying error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// A line is not a JSON object of the expected shape.
    #[error("line {line}: {error}")]
    Json {
        /// The 1-based line number.
        line: usize,
        /// What serde_json found wrong (in the message, so not also a `source`).
        error: serde_json::Error,
    },
    /// A line parses but breaks a rule of the format (see [`Operation::validate`]).
    #[error("line {line}: {reason}")]
    Invalid {
        /// The 1-based line number.
        line: usize,
        /// The broken rule.
        reason: String,
    },
}

impl Operation {
    /// Checks the rules JSON alone cannot express: a put or append carries a value and a get
    /// does not; a completed operation has a return time no earlier than its call and, for a
    /// get, an output; an unknown one has neither return time nor output.
    pub fn validate(&self) -> Result<(), String> {
        match (self.op, &self.value) {
            (OpKind::Get, Some(_)) => return Err("a get carries no value".into()),
            (OpKind::Put | OpKind::Append, None) => {
                return Err(format!("a {} needs a value", self.op));
            }
            _ => {}
        }
        if self.op != OpKind::Get && self.output.is_some() {
            return Err(format!("a {} has no output (null)", self.op));
        }
        match (self.outcome, self.return_ns) {
            (Outcome::Ok, None) => Err("outcome ok needs return_ns".into()),
            (Outcome::Ok, Some(ret)) if ret < self.call_ns => {
                Err(format!("return_ns {ret} is before call_ns {}", self.call_ns))
            }
            (Outcome::Ok, _) if self.op == OpKind::Get && self.output.is_none() => {
                Err("a completed get needs an output (\"\" for a key never written)".into())
            }
            (Outcome::Unknown, Some(_)) => Err("outcome unknown needs return_ns null".into()),
            (Outcome::Unknown, None) if self.output.is_some() => {
                Err("outcome unknown needs output null".into())
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpKind::Get => "get",
            OpKind::Put => "put",
            OpKind::Append => "append",
        })
    }
}

impl fmt::Display for Operation {
    /// One line for humans: `client 3 seq 9 get "k" -> "x" [100, 250]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client {} seq {} {} {:?}", self.client, self.seq, self.op, self.key)?;
        if let Some(value) = &self.value {
            write!(f, " {value:?}")?;
        }
        match (&self.output, self.return_ns) {
            (Some(out), Some(ret)) => write!(f, " -> {out:?} [{}, {ret}]", self.call_ns),
            (None, Some(ret)) => write!(f, " [{}, {ret}]", self.call_ns),
            (_, None) => write!(f, " -> unknown [{}, ...]", self.call_ns),
        }
    }
}

/// Writes `ops` as JSON Lines, one operation per line, every key present (`null` when unset).
/// Each line is several small writes: give it a `BufWriter` for a file.
pub fn write_jsonl<W: Write>(mut w: W, ops: &[Operation]) -> std::io::Result<()> {
    for op in ops {
        serde_json::to_writer(&mut w, op)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Reads a JSON Lines history. Blank lines are skipped; any other line must be a valid
/// [`Operation`]. Errors name the 1-based line. Unknown keys are ignored, so a writer may add
/// fields without breaking older readers.
pub fn read_jsonl<R: BufRead>(r: R) -> Result<Vec<Operation>, HistoryError> {
    let mut ops = Vec::new();
    for (index, line) in r.lines().enumerate() {
        let line_no = index + 1;
        let text = line.map_err(|error| HistoryError::Io { line: line_no, error })?;
        if text.trim().is_empty() {
            continue;
        }
        let op: Operation = serde_json::from_str(&text)
            .map_err(|error| HistoryError::Json { line: line_no, error })?;
        op.validate().map_err(|reason| HistoryError::Invalid { line: line_no, reason })?;
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(seq: u64, value: &str, call_ns: u64, return_ns: u64) -> Operation {
        Operation {
            client: 1,
            seq,
            op: OpKind::Put,
            key: "k".into(),
            value: Some(value.into()),
            output: None,
            call_ns,
            return_ns: Some(return_ns),
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn round_trip() {
        let mut lost = put(2, "w", 30, 0);
        lost.return_ns = None;
        lost.outcome = Outcome::Unknown;
        let get = Operation {
            op: OpKind::Get,
            value: None,
            output: Some(String::new()),
            ..put(3, "", 5, 8)
        };
        let ops = vec![put(1, "v", 10, 20), lost, get];
        let mut buf = Vec::new();
        write_jsonl(&mut buf, &ops).unwrap();
        let text = String::from_utf8(buf.clone()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().next().unwrap().contains(r#""output":null"#));
        assert_eq!(read_jsonl(&buf[..]).unwrap(), ops);
    }

    #[test]
    fn reads_the_documented_form() {
        let text = concat!(
            r#"{"client":1,"seq":1,"op":"get","key":"a","output":"","call_ns":1,"#,
            r#""return_ns":2,"outcome":"ok"}"#,
            "\n\n",
            r#"{"client":2,"seq":1,"op":"append","key":"a","value":"x","call_ns":3,"#,
            r#""return_ns":null,"outcome":"unknown","extra":true}"#,
            "\n"
        );
        let ops = read_jsonl(text.as_bytes()).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].op, OpKind::Append);
        assert_eq!(ops[1].outcome, Outcome::Unknown);
    }

    #[test]
    fn errors_name_the_line() {
        let good = serde_json::to_string(&put(1, "v", 1, 2)).unwrap();
        let cases = [
            ("{not json", "line 2"),
            (r#"{"client":1}"#, "line 2: missing field"),
            (&good.replace(r#""return_ns":2"#, r#""return_ns":0"#), "before call_ns"),
            (&good.replace(r#""value":"v""#, r#""value":null"#), "needs a value"),
            (&good.replace(r#""return_ns":2"#, r#""return_ns":null"#), "needs return_ns"),
            (&good.replace(r#""op":"put""#, r#""op":"cas""#), "unknown variant"),
        ];
        for (bad, want) in cases {
            let text = format!("{good}\n{bad}\n");
            let err = read_jsonl(text.as_bytes()).unwrap_err().to_string();
            assert!(err.starts_with("line 2") && err.contains(want), "{bad}: {err}");
        }
    }

    #[test]
    fn display_is_one_line() {
        assert_eq!(put(4, "v", 1, 2).to_string(), r#"client 1 seq 4 put "k" "v" [1, 2]"#);
    }
}
