//! `pinraft report` end to end, checking behaviour, never timing: the quick standard set
//! writes REPORT.md with every section, its data files and its SVG plots; `--from-results`
//! renders the same report again from those files alone; results/published.toml parses and
//! every figure in it has a source URL. Driven through `cli::report::run`, what main calls
//! for `pinraft report`.

use pinraft_harness::cli::report::{run, ReportArgs};
use pinraft_harness::report::published::Published;
use std::path::{Path, PathBuf};

/// The repository's published figures.
fn published_toml() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../results/published.toml")
}

/// A fresh, empty directory for one test's output.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pinraft-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn report(out: &Path, flags: &[&str]) {
    let mut argv = vec!["--out", out.to_str().unwrap()];
    let published = published_toml();
    argv.extend_from_slice(&["--published", published.to_str().unwrap()]);
    argv.extend_from_slice(flags);
    run(&ReportArgs::try_parse_flags(argv).expect("valid flags")).expect("the report runs");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_quick_report_has_every_section_and_renders_again_from_its_data() {
    let out = scratch("quick");
    let stale = out.join("report/batching/throughput-vs-resend.svg");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, "<svg/>").unwrap();
    report(&out, &["--quick"]);
    assert!(!stale.exists(), "a plot an earlier report left in a sweep's directory is removed");
    let text = read(&out.join("REPORT.md"));
    for section in [
        "## Environment",
        "## Headline",
        "## Throughput and latency against client count",
        "## Batching, resend policy and packet loss",
        "### Resend policy against loss",
        "](report/resend/throughput-vs-loss.svg)",
        "](report/resend/p99-vs-loss.svg)",
        "](report/resend/packets-vs-loss.svg)",
        "| fixed | 20ms | 10% |",
        "| adaptive | 20ms | 10% |",
        "throughput kept at 10% loss, `adaptive` resend policy, 20 ms",
        "## Engines side by side",
        "raft-rs / raft",
        "](report/compare/throughput-vs-clients.svg)",
        "## The default run",
        "## Leader election after a crash (the Raft paper's Figure 16)",
        "### real time: threaded cluster",
        "### virtual time: simulator",
        "## Beside published figures",
        "## How to regenerate",
        "**Quick mode:**",
    ] {
        assert!(text.contains(section), "REPORT.md lacks {section:?}");
    }
    for published in Published::parse(&read(&published_toml())).unwrap().figures {
        assert!(text.contains(&published.url), "REPORT.md lacks the source of {}", published.id);
    }
    let data = out.join("report");
    for file in [
        "environment.json",
        "default-run.json",
        "clients/sweep.csv",
        "clients/sweep.json",
        "clients/throughput-vs-clients.svg",
        "clients/latency-vs-clients.svg",
        "batching/sweep.csv",
        "batching/throughput-vs-batch.svg",
        "resend/sweep.csv",
        "resend/sweep.json",
        "compare/compare.csv",
        "compare/compare.json",
        "compare/throughput-vs-clients.svg",
        "compare/p99-vs-clients.svg",
        "election/election.json",
        "election/election.csv",
        "election/cdf-sim-paper-delays.svg",
        "election/cdf-sim-lan-delays.svg",
        "election/cdf-cluster-threaded.svg",
    ] {
        assert!(data.join(file).is_file(), "missing report/{file}");
    }
    for link in text.split("](report/").skip(1) {
        let file = link.split(')').next().unwrap();
        let target = data.join(file);
        assert!(target.exists(), "REPORT.md links to a missing report/{file}");
    }
    let svg = read(&data.join("election/cdf-sim-paper-delays.svg"));
    assert!(svg.starts_with("<svg") && svg.contains("150-155 ms"), "a CDF line per range");

    let first = (text, svg);
    std::fs::remove_file(out.join("REPORT.md")).unwrap();
    report(&out, &["--from-results"]);
    let again =
        (read(&out.join("REPORT.md")), read(&data.join("election/cdf-sim-paper-delays.svg")));
    assert!(first == again, "--from-results renders the same report from the same data");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn from_results_without_data_is_an_error_that_says_what_to_do() {
    let out = scratch("empty");
    std::fs::create_dir_all(&out).unwrap();
    let argv = ["--out", out.to_str().unwrap(), "--from-results"];
    let err = run(&ReportArgs::try_parse_flags(argv).unwrap()).unwrap_err();
    assert!(format!("{err:#}").contains("run `pinraft report` first"), "{err:#}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn published_figures_parse_and_each_has_a_url_and_a_comparability_sentence() {
    let published = Published::parse(&read(&published_toml())).expect("published.toml parses");
    assert!(!published.figures.is_empty());
    for f in &published.figures {
        assert!(f.url.starts_with("https://"), "{}: url {}", f.id, f.url);
        assert!(!f.comparability.trim().is_empty() && !f.stated.trim().is_empty(), "{}", f.id);
        assert!(!f.hardware.trim().is_empty() && !f.read.trim().is_empty(), "{}", f.id);
    }
}

#[test]
fn quick_and_from_results_do_not_go_together() {
    assert!(ReportArgs::try_parse_flags(["--quick", "--from-results"]).is_err());
}
