//! `pinraft sim` through the built binary: exit codes, stdout/stderr split, byte-identical
//! output. `sim_cli.rs` covers the rendering itself through `cli::sim::render`.

use std::process::{Command, Output};

fn pinraft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pinraft")).args(args).output().expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

const QUICK: &[&str] =
    &["sim", "--seed", "9", "--nodes", "5", "--duration", "2s", "--events", "kill-leader@1s"];

#[test]

fn the_same_command_twice_prints_the_same_bytes_and_exits_0() {
    let a = pinraft(QUICK);
    let b = pinraft(QUICK);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a.stderr));
    assert_eq!(a.stdout, b.stdout);
    let out = text(&a.stdout);
    assert!(out.starts_with("seed=9 nodes=5 "), "{out}");
    assert!(out.lines().any(|l| l.starts_with("trace hash")), "{out}");
}

#[test]

fn json_goes_alone_to_stdout() {
    let mut args = QUICK.to_vec();
    args.push("--json");
    let out = pinraft(&args);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("only JSON on stdout");
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["violations"], serde_json::json!([]));
    assert!(text(&out.stderr).starts_with("seed=9 "));
}

#[test]

fn bad_input_is_one_line_on_stderr_and_exit_2() {
    for args in [
        &["sim", "--bogus"][..],
        &["sim", "--nodes", "0"],
        &["sim", "--loss", "1.5"],
        &["sim", "--duration", "10"],
        &["sim", "--events", "explode@1s"],
        &["sim", "--events", "crash:9@1s"],
        &["sim", "--events", "restart:1@1s"],
    ] {
        let out = pinraft(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err
            .lines()
            .next()
            .is_some_and(|l| l.contains("error") || l.starts_with("pinraft:")));
    }
}

#[test]

fn a_run_that_cannot_converge_exits_1() {
    let out = pinraft(&[
        "sim",
        "--duration",
        "1s",
        "--quiet",
        "2s",
        "--events",
        "crash:1@1ms,crash:2@1ms",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("liveness: "));
}
