//! Programs as language runtimes are shipped, in miniature: imports besides WASI answered by lockstep's
//! host functions, a component-style export invoked by its short name, and the budgets a user sets.

mod common;

use common::{shown, xtask};
use serde_json::{Value as Json, json};
use std::process::Output;

/// A reactor importing a function that is not WASI, as CRuby imports its JS interop: `_start`
/// prints the host's answer for 7 as a line of hex digits; `greet: func() -> ()` prints a greeting;
/// `spin` loops forever.
const INTEROP: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "js-host" "eval: func(code: string) -> u32" (func $eval (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "0123456789abcdef")
  (data (i32.const 96) "hello from greet\n")
  (func $print (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "_start") (local $answer i32) (local $i i32)
    (local.set $answer (call $eval (i32.const 7)))
    (loop $digit
      (i32.store8 (i32.add (i32.const 128) (local.get $i))
        (i32.load8_u (i32.add (i32.const 64)
          (i32.and (i32.shr_u (local.get $answer) (i32.sub (i32.const 28) (i32.shl (local.get $i) (i32.const 2))))
            (i32.const 15)))))
      (br_if $digit (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 8))))
    (i32.store8 (i32.const 136) (i32.const 10))
    (call $print (i32.const 128) (i32.const 9)))
  (func (export "greet: func() -> ()") (call $print (i32.const 96) (i32.const 17)))
  (func (export "spin") (loop $l (br $l))))"#;

/// Two tiers that compile quickly, one of them fuel-metered.
const TIERS: [&str; 4] = ["--engine", "wasmi", "--engine", "wasmtime-winch"];

/// Runs `cargo xtask diff` on [`INTEROP`] on [`TIERS`] with `options`.
fn diff_text(options: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("interop.wat");
    std::fs::write(&program, INTEROP).unwrap();
    let path = program.to_str().unwrap();
    xtask(&[&["diff", path], &TIERS[..], options].concat())
}

/// [`diff_text`] with `--json`, and the report it printed.
fn diff(options: &[&str]) -> (Output, Json) {
    let output = diff_text(&[&["--json"], options].concat());
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Json::Null);
    (output, report)
}

fn stdouts(report: &Json) -> Vec<&Json> {
    let runs = report["runs"].as_array().expect("runs");
    runs.iter().map(|run| &run["stdout"]).collect()
}

#[test]
fn imports_besides_wasi_get_the_same_host_answers_on_every_tier_and_are_listed() {
    let (output, report) = diff(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    assert_eq!(report["verdict"], "Agree", "{report}");
    assert_eq!(
        report["host_imports"],
        json!(["js-host.eval: func(code: string) -> u32"])
    );
    let printed = stdouts(&report);
    let line = printed[0].as_str().expect("text");
    assert_eq!(line.len(), 9, "eight hex digits and a newline: {line:?}");
    assert!(
        printed.iter().all(|stdout| *stdout == printed[0]),
        "{report}"
    );
}

#[test]
fn the_table_names_the_budgets_and_the_answered_imports() {
    let output = diff_text(&["--call-time", "4"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("call 4s"), "{text}");
    assert!(
        text.contains("host functions answered 1 imports: js-host.eval: func"),
        "{text}"
    );
}

#[test]
fn a_component_style_export_is_invoked_by_its_short_or_whole_name() {
    for name in ["greet", "greet: func() -> ()"] {
        let (output, report) = diff(&["--invoke", name]);
        assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
        for stdout in stdouts(&report) {
            assert_eq!(stdout, "hello from greet\n", "{name}: {report}");
        }
    }
}

#[test]
fn the_budgets_given_are_reported_and_applied() {
    let (output, report) = diff(&[
        "--invoke",
        "spin",
        "--call-time",
        "2.5",
        "--fuel",
        "100000",
        "--memory",
        "64",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let budgets = &report["budgets"];
    assert_eq!(budgets["call_seconds"], 2.5, "{report}");
    assert_eq!(budgets["fuel"], 100_000, "{report}");
    assert_eq!(budgets["memory_bytes"], 64 << 20, "{report}");
    let endings: Vec<&Json> = report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| &run["ending"]["Outcome"]["Exhausted"])
        .collect();
    assert_eq!(endings, [&json!("Fuel"), &json!("Time")], "{report}");
    assert!(report["verdict"]["Inconclusive"].is_string(), "{report}");
}

#[test]
fn without_a_fuel_budget_wasmi_keeps_to_the_call_time() {
    let started = std::time::Instant::now();
    let (output, report) = diff(&["--invoke", "spin", "--call-time", "1.5"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    assert_eq!(report["budgets"]["fuel"], Json::Null, "{report}");
    let wasmi = &report["runs"][0];
    assert_eq!(wasmi["engine"], "wasmi", "{report}");
    assert_eq!(
        wasmi["ending"],
        json!({"Outcome": {"Exhausted": "Time"}}),
        "{report}"
    );
    let run_seconds = wasmi["timing"]["run"]["secs"].as_u64().unwrap();
    assert!(run_seconds >= 1, "stopped before its call time: {report}");
    assert!(started.elapsed().as_secs() < 120, "{report}");
}

#[test]
fn a_compilation_past_its_budget_is_exhausted_time_not_a_divergence() {
    let (output, report) = diff(&["--compile-time", "0", "--in-process"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(
            run["ending"],
            json!({"Outcome": {"Exhausted": "Time"}}),
            "{run}"
        );
    }
    assert!(report["verdict"]["Inconclusive"].is_string(), "{report}");
}

#[test]
fn a_negative_budget_is_bad_input_naming_the_flag() {
    let (output, _) = diff(&["--call-time", "-1"]);
    assert_eq!(output.status.code(), Some(2), "{}", shown(&output));
    assert!(
        shown(&output).contains("--call-time -1"),
        "{}",
        shown(&output)
    );
}
