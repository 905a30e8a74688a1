//! `pinraft check FILE`: is a recorded history linearizable?
//!
//! Prints `linearizable` (exit 0), `not linearizable` (exit 1, with the key, the operations
//! involved and the longest linearizable prefix on stderr) or `unknown` (exit 3: the search
//! ran out of `--timeout`) on stdout. Bad input is an error (exit 2, from `main`).
//!
//! Formats: `json` (the project's JSON Lines histories, `history`), `jepsen` (Jepsen's etcd
//! register logs, `check::jepsen`), `edn` (Jepsen-style key-value maps, `check::edn`).
//! Without `--format` the format is guessed from the first lines that look like one of them:
//! a line starting `{"` is json, `{:` is edn, `INFO jepsen.util - ...` is jepsen; failing
//! that, from the extension (`.jsonl`/`.json`, `.edn`, `.log`). Without `--model`, json and
//! edn histories are checked as a key-value store and jepsen logs as a register.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};

use crate::args::{format_duration, parse_duration};
use crate::check::models::{self, RegisterOp};
use crate::check::{self, Budget, KvModel, RegisterModel, Verdict, Violation};
use crate::history::{self, Operation};

/// How many lines at the top of a file the format guess looks at.
const GUESS_LINES_MAX: usize = 100;

/// How many operations of the longest linearizable prefix a violation report shows (the last).
const PREFIX_SHOWN_MAX: usize = 10;

/// The sequential model a history is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModelName {
    /// A key-value store of strings (get, put, append), checked key by key.
    Kv,
    /// Registers (read, write, cas), one per key.
    Register,
}

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON Lines, one operation per line (the project's own histories).
    Json,
    /// Jepsen etcd register logs (`INFO  jepsen.util - P :TYPE :F VALUE`).
    Jepsen,
    /// One EDN map per line (`{:process 1, :type :ok, :f :get, :key "k", :value "v"}`).
    Edn,
}

/// `pinraft check FILE [--model kv|register] [--format json|jepsen|edn] [--timeout 10s]`
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The history file.
    pub file: PathBuf,
    /// The model to check against [default: kv for json and edn, register for jepsen].
    #[arg(long, value_enum)]
    pub model: Option<ModelName>,
    /// The file's format [default: guessed from its first lines, else its extension].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Answer `unknown` (exit 3) if the check takes longer: a duration with a unit.
    #[arg(long, default_value = "10s", value_parser = parse_timeout)]
    pub timeout: Duration,
}

impl ModelName {
    /// The name as on the command line.
    fn as_str(self) -> &'static str {
        match self {
            ModelName::Kv => "kv",
            ModelName::Register => "register",
        }
    }
}

impl Format {
    /// The name as on the command line.
    fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jepsen => "jepsen",
            Format::Edn => "edn",
        }
    }
}

/// `--timeout`: a duration that carries a unit.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text).map(Duration::from_nanos)
}

/// A parsed history, in the terms of its format.
enum History {
    /// Project records (json, edn).
    Records(Vec<Operation>),
    /// Register operations (jepsen).
    Register(Vec<RegisterOp>),
}

impl History {
    fn len(&self) -> usize {
        match self {
            History::Records(ops) => ops.len(),
            History::Register(ops) => ops.len(),
        }
    }

    /// Operation `index` for humans.
    fn describe(&self, index: usize) -> String {
        let op = match self {
            History::Records(ops) => ops.get(index).map(ToString::to_string),
            History::Register(ops) => ops.get(index).map(ToString::to_string),
        };
        format!("#{} {}", index + 1, op.unwrap_or_default())
    }
}

/// Runs `pinraft check`; the exit code is 0, 1 or 3 as the verdict, an error for bad input.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read history {}", path.display()))?;
    let format = match args.format {
        Some(format) => format,
        None => guess_format(path, &text).ok_or_else(|| {
            anyhow!("cannot tell the format of {}: pass --format json|jepsen|edn", path.display())
        })?,
    };
    let model = args.model.unwrap_or(match format {
        Format::Jepsen => ModelName::Register,
        Format::Json | Format::Edn => ModelName::Kv,
    });
    let history = load(format, &text).with_context(|| format!("{}", path.display()))?;
    if history.len() == 0 && !text.trim().is_empty() {
        let (path, format) = (path.display(), format.as_str());
        return Err(anyhow!("{path}: no operations recognised in the {format} format"));
    }
    let started = Instant::now();
    let budget =
        Instant::now().checked_add(args.timeout).map_or(Budget::States(u64::MAX), Budget::Deadline);
    let verdict = judge(&history, model, budget)?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    let (format, model) = (format.as_str(), model.as_str());
    eprintln!(
        "checked {} operations ({format}, model {model}) in {elapsed_ms:.1} ms",
        history.len()
    );
    Ok(report(&verdict, &history, args.timeout))
}

/// The format of a history: from its first recognisable line, else from its extension.
fn guess_format(path: &Path, text: &str) -> Option<Format> {
    let by_content = text.lines().take(GUESS_LINES_MAX).find_map(|line| {
        let line = line.trim_start();
        let after_brace = line.strip_prefix('{').map(str::trim_start);
        let mut words = line.split_whitespace();
        match after_brace {
            Some(rest) if rest.starts_with('"') => Some(Format::Json),
            Some(rest) if rest.starts_with(':') => Some(Format::Edn),
            _ if words.next() == Some("INFO") && words.next() == Some("jepsen.util") => {
                Some(Format::Jepsen)
            }
            _ => None,
        }
    });
    by_content.or_else(|| match path.extension()?.to_str()? {
        "jsonl" | "json" => Some(Format::Json),
        "edn" => Some(Format::Edn),
        "log" => Some(Format::Jepsen),
        _ => None,
    })
}

/// Parses `text` in `format`.
fn load(format: Format, text: &str) -> Result<History, history::HistoryError> {
    Ok(match format {
        Format::Json => History::Records(history::read_jsonl(text.as_bytes())?),
        Format::Edn => History::Records(check::edn::parse(text.as_bytes())?),
        Format::Jepsen => History::Register(check::jepsen::parse(text.as_bytes())?),
    })
}

/// Checks `history` against `model`, converting its operations where the model needs it.
fn judge(history: &History, model: ModelName, budget: Budget) -> anyhow::Result<Verdict> {
    Ok(match (history, model) {
        (History::Records(ops), ModelName::Kv) => check::check_kv(ops, budget),
        (History::Register(ops), ModelName::Register) => check::check_register(ops, budget),
        (History::Records(ops), ModelName::Register) => {
            let ops: Vec<_> = ops
                .iter()
                .map(models::register_op)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!(e))?;
            let model = RegisterModel { initial: Some(String::new()) };
            check::check(&model, &ops, budget)
        }
        (History::Register(ops), ModelName::Kv) => {
            let ops: Vec<_> = ops
                .iter()
                .map(models::kv_op_from_register)
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow!(e))?;
            check::check(&KvModel, &ops, budget)
        }
    })
}

/// Prints the verdict (stdout) and its details (stderr); the exit code.
fn report(verdict: &Verdict, history: &History, timeout: Duration) -> ExitCode {
    match verdict {
        Verdict::Linearizable => {
            println!("linearizable");
            ExitCode::SUCCESS
        }
        Verdict::NotLinearizable(violation) => {
            println!("not linearizable");
            explain(violation, history);
            ExitCode::from(1)
        }
        Verdict::Unknown => {
            println!("unknown");
            let timeout = format_duration(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
            eprintln!("the search did not finish within --timeout {timeout}");
            ExitCode::from(3)
        }
    }
}

/// Writes a violation's evidence on stderr.
fn explain(violation: &Violation, history: &History) {
    match &violation.key {
        Some(key) => eprintln!("no linearization for key {key:?}"),
        None => eprintln!("no linearization"),
    }
    eprintln!("operations involved (could take effect next, or had to, and none can):");
    for &index in &violation.involved {
        eprintln!("  {}", history.describe(index));
    }
    let prefix = &violation.prefix;
    let shown = prefix.len().min(PREFIX_SHOWN_MAX);
    eprintln!("longest linearizable prefix: {} operations; the last {shown}:", prefix.len());
    for &index in &prefix[prefix.len() - shown..] {
        eprintln!("  {}", history.describe(index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_formats() {
        let guess = |name: &str, text: &str| guess_format(Path::new(name), text);
        assert_eq!(guess("h.txt", "\n{\"client\":1}"), Some(Format::Json));
        assert_eq!(guess("h.txt", "{:process 1}"), Some(Format::Edn));
        assert_eq!(guess("h", "noise\nINFO  jepsen.util - 1\t:invoke"), Some(Format::Jepsen));
        assert_eq!(guess("h.jsonl", ""), Some(Format::Json));
        assert_eq!(guess("h.log", "noise"), Some(Format::Jepsen));
        assert_eq!(guess("h.txt", "noise"), None);
    }

    #[test]
    fn timeouts_need_a_unit() {
        assert_eq!(parse_timeout("150ms"), Ok(Duration::from_millis(150)));
        assert!(parse_timeout("10").is_err());
    }
}
