//! `cargo xtask diff PROGRAM.wasm -- ARGS…` on the corpus of real WASI programs, as a user meets it:
//! every tier agrees on every program, a planted `fd_write` bug is pointed at, a trap keeps its partial output.

mod common;

use common::{shown, xtask};
use serde_json::Value as Json;
use std::process::Output;

fn program(name: &str) -> String {
    format!(
        "{}/../corpus/{name}/{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn diff(name: &str, options: &[&str], args: &[&str]) -> Output {
    let path = program(name);
    xtask(&[&["diff", path.as_str()], options, &["--"], args].concat())
}

/// The runs of a `--json` report, by engine.
fn runs(output: &Output) -> Vec<Json> {
    let report: Json = serde_json::from_slice(&output.stdout).expect("a JSON report");
    report["runs"].as_array().expect("runs").clone()
}

fn stdout_of(run: &Json) -> String {
    run["stdout"].as_str().expect("UTF-8 output").to_string()
}

fn agrees_on_every_tier(name: &str, args: &[&str]) -> String {
    let output = diff(name, &[], args);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("verdict: agree"), "{text}");
    for tier in oracles::tiers::default_ids() {
        assert!(text.contains(tier), "{tier} missing: {text}");
    }
    text
}

#[test]
fn binary_trees_at_depth_ten_agrees_on_every_tier() {
    let text = agrees_on_every_tier("binary-trees", &["10"]);
    assert_eq!(
        text.matches("exit 0").count(),
        oracles::tiers::default_ids().len(),
        "{text}"
    );
}

#[test]
fn the_file_program_leaves_the_same_tree_on_every_tier_and_cannot_leave_the_sandbox() {
    let output = diff("files", &["--json"], &["3"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    for run in runs(&output) {
        assert_eq!(run["ending"], serde_json::json!({"Exit": 0}), "{run}");
        let files = run["files"].as_object().expect("a tree");
        assert!(files.contains_key("out/final-2.txt"), "{run}");
        assert!(files.contains_key("out/logs/input-copy.txt"), "{run}");
        assert!(!files.contains_key("notes/todo.txt"), "{run}");
        assert!(
            stdout_of(&run).contains("/etc/passwd: not reachable"),
            "{run}"
        );
    }
}

#[test]
fn json_regex_and_sort_agree_on_every_tier() {
    agrees_on_every_tier("json-roundtrip", &[]);
    agrees_on_every_tier("regex-search", &["[a-z]+ing"]);
    agrees_on_every_tier("sort", &["5000"]);
}

#[test]
fn a_different_random_seed_changes_what_sort_prints_but_every_tier_still_agrees() {
    let seeded = |seed: &str| {
        let output = diff("sort", &["--json", "--random-seed", seed], &["10"]);
        assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
        stdout_of(&runs(&output)[0])
    };
    assert_ne!(seeded("1"), seeded("2"));
}

#[test]
fn a_trap_mid_output_keeps_the_same_partial_stdout_and_trap_on_every_tier() {
    let output = diff("trap-mid-output", &["--json"], &["4"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let runs = runs(&output);
    assert_eq!(runs.len(), oracles::tiers::default_ids().len());
    for run in &runs {
        assert_eq!(
            run["ending"]["Outcome"]["Trap"]["code"], "Unreachable",
            "{run}"
        );
        assert_eq!(stdout_of(run), stdout_of(&runs[0]));
        assert!(
            stdout_of(run).ends_with("line 4: running total 30\n"),
            "{run}"
        );
    }
}

#[test]
fn a_corrupted_fd_write_byte_is_a_stdout_divergence_showing_the_line() {
    let tiers = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--engine",
        "mutant:fd-write-byte",
    ];
    let output = diff("binary-trees", &tiers, &["6"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "verdict: DIVERGE stdout (mutant:fd-write-byte vs wasmtime-cranelift, wasmi)"
        ),
        "{text}"
    );
    assert!(text.contains("+++ mutant:fd-write-byte (stdout)"), "{text}");
    let removed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("-") && !l.starts_with("---"))
        .collect();
    let added: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("+") && !l.starts_with("+++"))
        .collect();
    assert_eq!((removed.len(), added.len()), (1, 1), "{text}");
    assert_ne!(removed[0][1..], added[0][1..]);
}

#[test]
fn a_reactor_is_initialized_then_invoked() {
    let reactor = format!("{}/tests/fixtures/reactor.wat", env!("CARGO_MANIFEST_DIR"));
    let output = xtask(&["diff", &reactor, "--json", "--invoke", "greet", "3"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    for run in runs(&output) {
        assert_eq!(stdout_of(&run), "hello\n", "{run}");
        let result = &run["ending"]["Outcome"]["Values"][0]["I32"];
        assert_eq!(result, 103, "_initialize ran first: {run}");
    }
    let without = xtask(&["diff", &reactor]);
    assert_eq!(without.status.code(), Some(2));
    assert!(
        shown(&without).contains("needs --invoke"),
        "{}",
        shown(&without)
    );
}

#[test]
fn an_unknown_tier_is_bad_input_listing_the_valid_ones() {
    let unknown = diff("sort", &["--engine", "wasmtime-nope"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        shown(&unknown).contains("mutant:fd-write-byte"),
        "{}",
        shown(&unknown)
    );
}

#[test]
fn stdin_comes_from_the_given_file_and_arguments_follow_the_program_name() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.txt");
    std::fs::write(&input, "first line\nsecond line\n").unwrap();
    let echo = format!(
        "{}/tests/fixtures/echo_stdin.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    let stdin = input.display().to_string();
    let output = xtask(&["diff", &echo, "--json", "--stdin", &stdin, "--", "a", "b"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    for run in runs(&output) {
        assert_eq!(stdout_of(&run), "first line\nsecond line\n", "{run}");
        assert_eq!(
            run["ending"],
            serde_json::json!({"Exit": 3}),
            "argv is the file name, a, b: {run}"
        );
    }
}
