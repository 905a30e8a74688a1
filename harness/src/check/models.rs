//! The sequential models histories are checked against: a key-value store of strings
//! ([`KvModel`]: get, put, append; each key independent) and a register ([`RegisterModel`]:
//! read, write, compare-and-set), with conversions from the project's history records.

use std::fmt;

use super::linearizability::{Completion, Model, Op};
use crate::history::{OpKind, Operation, Outcome};

/// A key-value store: every key holds a string, `""` until written.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

/// A key-value request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvInput {
    /// The key.
    pub key: String,
    /// What to do with it.
    pub call: KvCall,
}

/// A key-value operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvCall {
    /// Read the key's string.
    Get,
    /// Replace it.
    Put(String),
    /// Add to its end.
    Append(String),
}

/// A key-value reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOutput {
    /// What a get read.
    Value(String),
    /// A put or append was applied.
    Done,
}

/// A key-value operation with its times.
pub type KvOp = Op<KvInput, KvOutput>;

impl Model for KvModel {
    type State = String;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> String {
        String::new()
    }

    /// A get must read the current string; a put or append always applies (its output
    /// carries nothing to check).
    fn step(&self, state: &String, input: &KvInput, output: Option<&KvOutput>) -> Option<String> {
        match (&input.call, output) {
            (KvCall::Get, Some(KvOutput::Value(read))) => (read == state).then(|| state.clone()),
            (KvCall::Get, Some(KvOutput::Done)) => None,
            (KvCall::Get, None) => Some(state.clone()),
            (KvCall::Put(value), _) => Some(value.clone()),
            (KvCall::Append(value), _) => {
                let mut next = String::with_capacity(state.len() + value.len());
                next.push_str(state);
                next.push_str(value);
                Some(next)
            }
        }
    }

    fn partition<'a>(&self, input: &'a KvInput) -> Option<&'a str> {
        Some(&input.key)
    }

    fn is_read_only(&self, input: &KvInput) -> bool {
        input.call == KvCall::Get
    }
}

/// A register holding one value or none (`nil`), such as the one Jepsen's etcd test
/// drives. `initial` is the value before any write: `None` for Jepsen's registers, `Some("")`
/// to read a key-value history (where a key never written reads `""`) as registers.
#[derive(Clone, Debug, Default)]
pub struct RegisterModel {
    /// The value before any write.
    pub initial: Option<String>,
}

/// A register request; `key` names the register when a history holds several.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterInput {
    /// The register, `None` when the history has only one.
    pub key: Option<String>,
    /// What to do with it.
    pub call: RegisterCall,
}

/// A register operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterCall {
    /// Read the value.
    Read,
    /// Replace it.
    Write(String),
    /// Replace it with `to` if it is `from`.
    Cas {
        /// The expected value.
        from: String,
        /// The new value.
        to: String,
    },
}

/// A register reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// What a read saw (`None`: no value).
    Value(Option<String>),
    /// A write was applied.
    Written,
    /// Whether a cas found its expected value (and so applied).
    Cas(bool),
}

/// A register operation with its times.
pub type RegisterOp = Op<RegisterInput, RegisterOutput>;

impl Model for RegisterModel {
    type State = Option<String>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Option<String> {
        self.initial.clone()
    }

    /// A read must see the current value; a successful cas needs its expected value and a
    /// failed one needs any other (a failed cas is an observation, as in Porcupine's etcd
    /// model). A cas of unknown outcome applies if the value matches and is a no-op otherwise.
    fn step(
        &self,
        state: &Option<String>,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Option<Option<String>> {
        let matches = |from: &str| state.as_deref() == Some(from);
        match (&input.call, output) {
            (RegisterCall::Read, Some(RegisterOutput::Value(read))) => {
                (read == state).then(|| state.clone())
            }
            (RegisterCall::Read, None) => Some(state.clone()),
            (RegisterCall::Write(value), _) => Some(Some(value.clone())),
            (RegisterCall::Cas { from, to }, Some(RegisterOutput::Cas(true))) => {
                matches(from).then(|| Some(to.clone()))
            }
            (RegisterCall::Cas { from, .. }, Some(RegisterOutput::Cas(false))) => {
                (!matches(from)).then(|| state.clone())
            }
            (RegisterCall::Cas { from, to }, None) if matches(from) => Some(Some(to.clone())),
            (RegisterCall::Cas { .. }, None) => Some(state.clone()),
            _ => None,
        }
    }

    fn partition<'a>(&self, input: &'a RegisterInput) -> Option<&'a str> {
        input.key.as_deref()
    }

    fn is_read_only(&self, input: &RegisterInput) -> bool {
        input.call == RegisterCall::Read
    }
}

/// The completion of a history record, with `output` as its reply. A record that breaks
/// [`Operation::validate`] is read leniently: without a return time (or a get without an
/// output) it counts as unknown.
fn completion<O>(op: &Operation, output: Option<O>) -> Completion<O> {
    match (op.outcome, op.return_ns, output) {
        (Outcome::Ok, Some(return_ns), Some(output)) => Completion::Returned { output, return_ns },
        _ => Completion::Unknown,
    }
}

/// A history record as a key-value operation (a missing put value reads as `""`).
pub fn kv_op(op: &Operation) -> KvOp {
    let value = || op.value.clone().unwrap_or_default();
    let (call, output) = match op.op {
        OpKind::Get => (KvCall::Get, op.output.clone().map(KvOutput::Value)),
        OpKind::Put => (KvCall::Put(value()), Some(KvOutput::Done)),
        OpKind::Append => (KvCall::Append(value()), Some(KvOutput::Done)),
    };
    let input = KvInput { key: op.key.clone(), call };
    Op { client: op.client, input, call_ns: op.call_ns, completion: completion(op, output) }
}

/// A history record as an operation on the register named by its key (use
/// `RegisterModel { initial: Some(String::new()) }`). An append has no register equivalent.
pub fn register_op(op: &Operation) -> Result<RegisterOp, String> {
    let (call, output) = match op.op {
        OpKind::Get => {
            (RegisterCall::Read, op.output.clone().map(|v| RegisterOutput::Value(Some(v))))
        }
        OpKind::Put => {
            let value = op.value.clone().unwrap_or_default();
            (RegisterCall::Write(value), Some(RegisterOutput::Written))
        }
        OpKind::Append => return Err(format!("the register model has no append: {op}")),
    };
    let input = RegisterInput { key: Some(op.key.clone()), call };
    Ok(Op { client: op.client, input, call_ns: op.call_ns, completion: completion(op, output) })
}

/// A register operation as a key-value one on key `""` (`nil` reads as `""`). A cas has no
/// key-value equivalent.
pub fn kv_op_from_register(op: &RegisterOp) -> Result<KvOp, String> {
    let call = match &op.input.call {
        RegisterCall::Read => KvCall::Get,
        RegisterCall::Write(value) => KvCall::Put(value.clone()),
        RegisterCall::Cas { .. } => return Err(format!("the kv model has no cas: {op}")),
    };
    let completion = match &op.completion {
        Completion::Returned { output, return_ns } => {
            let output = match output {
                RegisterOutput::Value(value) => KvOutput::Value(value.clone().unwrap_or_default()),
                RegisterOutput::Written | RegisterOutput::Cas(_) => KvOutput::Done,
            };
            Completion::Returned { output, return_ns: *return_ns }
        }
        Completion::Unknown => Completion::Unknown,
    };
    let key = op.input.key.clone().unwrap_or_default();
    Ok(Op { client: op.client, input: KvInput { key, call }, call_ns: op.call_ns, completion })
}

impl fmt::Display for KvInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.call {
            KvCall::Get => write!(f, "get {:?}", self.key),
            KvCall::Put(value) => write!(f, "put {:?} {value:?}", self.key),
            KvCall::Append(value) => write!(f, "append {:?} {value:?}", self.key),
        }
    }
}

impl fmt::Display for KvOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvOutput::Value(value) => write!(f, "{value:?}"),
            KvOutput::Done => f.write_str("ok"),
        }
    }
}

impl fmt::Display for RegisterInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(key) = &self.key {
            write!(f, "{key:?} ")?;
        }
        match &self.call {
            RegisterCall::Read => f.write_str("read"),
            RegisterCall::Write(value) => write!(f, "write {value}"),
            RegisterCall::Cas { from, to } => write!(f, "cas {from} -> {to}"),
        }
    }
}

impl fmt::Display for RegisterOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterOutput::Value(Some(value)) => f.write_str(value),
            RegisterOutput::Value(None) => f.write_str("nil"),
            RegisterOutput::Written | RegisterOutput::Cas(true) => f.write_str("ok"),
            RegisterOutput::Cas(false) => f.write_str("fail"),
        }
    }
}
