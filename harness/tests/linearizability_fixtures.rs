//! The linearizability checker against Porcupine's test histories with known answers
//! (/work/shared/fixtures/linearizability, see its README.md): every row of `labels.tsv` must
//! parse to at least one operation and get its label, within a deterministic state budget.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::time::{Duration, Instant};

use pinraft_harness::check::{self, edn, jepsen, Budget, Verdict};

/// Where the shared fixtures live, relative to this crate.
const FIXTURES_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/linearizability");

/// The search budget per file: far above what any fixture needs, so that `Unknown` means a
/// regression in the search rather than a hard file.
const STATES_MAX: u64 = 50_000_000;

/// The fewest rows `labels.tsv` holds (103 jepsen logs less the empty one, 6 kv files).
const LABELS_MIN: usize = 108;

/// Parses one fixture and checks it; the verdict and the number of operations.
fn check_file(path: &Path) -> Result<(Verdict, usize), String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = BufReader::new(file);
    let budget = Budget::States(STATES_MAX);
    let parent = path.parent().and_then(Path::file_name).and_then(|n| n.to_str());
    match parent {
        Some("jepsen") => {
            let ops = jepsen::parse(reader).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((check::check_register(&ops, budget), ops.len()))
        }
        Some("kv") => {
            let ops = edn::parse(reader).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((check::check_kv(&ops, budget), ops.len()))
        }
        _ => Err(format!("{}: not under jepsen/ or kv/", path.display())),
    }
}

/// How many of the slowest files the test prints.
const SLOWEST_SHOWN: usize = 5;

/// One disagreement with a label, or `None`; `times` collects the checking time of each file.
fn check_row(
    dir: &Path,
    name: &str,
    label: &str,
    times: &mut Vec<(Duration, String)>,
) -> Option<String> {
    let started = Instant::now();
    let (verdict, ops) = match check_file(&dir.join(name)) {
        Ok(found) => found,
        Err(e) => return Some(e),
    };
    times.push((started.elapsed(), name.to_owned()));
    let got = match verdict {
        _ if ops == 0 => "no operations (a parser bug)",
        Verdict::Linearizable => "linearizable",
        Verdict::NotLinearizable(_) => "not-linearizable",
        Verdict::Unknown => "unknown (budget exhausted)",
    };
    (got != label).then(|| format!("{name}: expected {label}, got {got} ({ops} operations)"))
}

#[test]
fn every_labelled_history_gets_its_label() {
    let dir = Path::new(FIXTURES_DIR);
    assert!(
        dir.is_dir(),
        "the shared linearizability fixtures are missing: expected them at {} \
         (/work/shared/fixtures/linearizability)",
        dir.display()
    );
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).expect("labels.tsv is readable");
    let started = Instant::now();
    let mut times = Vec::new();
    let (mut rows, mut failures) = (0, Vec::new());
    for line in labels.lines().filter(|l| !l.trim().is_empty()) {
        rows += 1;
        let Some((name, label)) = line.split_once('\t') else {
            failures.push(format!("malformed labels.tsv row {line:?}"));
            continue;
        };
        failures.extend(check_row(dir, name.trim(), label.trim(), &mut times));
    }
    times.sort_unstable_by(|a, b| b.cmp(a));
    let slowest: Vec<String> =
        times.iter().take(SLOWEST_SHOWN).map(|(t, name)| format!("{name} {t:.2?}")).collect();
    println!("{rows} fixture files checked in {:.2?}", started.elapsed());
    println!("slowest: {}", slowest.join(", "));
    assert!(rows >= LABELS_MIN, "labels.tsv has {rows} rows, expected at least {LABELS_MIN}");
    assert!(failures.is_empty(), "{} of {rows} disagree:\n{}", failures.len(), failures.join("\n"));
}
