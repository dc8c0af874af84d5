//! Budgets as a user meets them: a module or script that loops stops at its time budget, at most a
//! capped number of exports is called, saying so, and a resumed campaign keeps its budgets.

mod common;

use common::{shown, xtask};
use std::time::{Duration, Instant};

#[test]
fn a_module_that_loops_forever_stops_at_the_time_budget() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("spin.wat");
    std::fs::write(
        &module,
        r#"(module (func (export "spin") (loop $l (br $l))))"#,
    )
    .unwrap();
    let started = Instant::now();
    let output = xtask(&["diff", module.to_str().unwrap(), "--time", "3"]);
    let text = shown(&output);
    assert!(started.elapsed() < Duration::from_secs(60), "{text}");
    assert_eq!(output.status.code(), Some(0), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("spin()"))
        .expect("a row for the call");
    assert!(row.contains("inconclusive"), "{text}");
    assert_eq!(
        row.matches("exhausted Time").count(),
        oracles::EngineChoice::defaults().len(),
        "{text}"
    );
}

#[test]
fn at_most_the_capped_number_of_exports_is_called_and_the_output_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("many.wat");
    let exports: String = (0..1_001)
        .map(|i| format!("(func (export \"f{i}\") (result i32) (i32.const {i}))\n"))
        .collect();
    std::fs::write(&module, format!("(module\n{exports})")).unwrap();
    let output = xtask(&["diff", module.to_str().unwrap(), "--engine", "wasmi"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("calling the first 1000 of 1001 exported functions"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("f999()")), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("f1000()")), "{text}");
}

/// A script whose one call loops forever.
const SPINNING_SCRIPT: &str = r#"(module (func (export "spin") (loop $l (br $l))))
(invoke "spin")
"#;

#[test]
fn a_script_call_stops_at_the_call_time_given_and_the_report_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("spin.wast");
    std::fs::write(&script, SPINNING_SCRIPT).unwrap();
    let script = script.to_str().unwrap();
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "wasmi"];
    let started = Instant::now();
    let output = xtask(&[&["diff", script, "--call-time", "1"], &engines[..]].concat());
    let text = shown(&output);
    // The default call time is 10 s per engine.
    assert!(started.elapsed() < Duration::from_secs(9), "{text}");
    assert!(text.starts_with("budgets: compile "), "{text}");
    assert!(text.contains(", call 1s, "), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("2:2 invoke"))
        .expect("a row for the call");
    assert!(row.contains("inconclusive"), "{text}");

    let json = xtask(
        &[
            &["diff", script, "--call-time", "1", "--json"],
            &engines[..],
        ]
        .concat(),
    );
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["budgets"]["call_seconds"], 1.0, "{report}");
    let call = &report["directives"][1];
    for engine in call["engines"].as_array().unwrap() {
        assert_eq!(engine["outcome"]["Exhausted"], "Time", "{report}");
    }
}

#[test]
fn a_resumed_campaign_keeps_the_budgets_it_started_with() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let first = xtask(&[
        "fuzz",
        "--engine",
        "wasmtime-cranelift",
        "--iterations",
        "2",
        "--call-time",
        "0.5",
        "--fuel",
        "1000",
        "--out",
        dir,
    ]);
    assert!(
        shown(&first).contains(", call 500ms, fuel 1000, "),
        "{}",
        shown(&first)
    );
    let resumed = xtask(&["fuzz", "--resume", dir, "--iterations", "2"]);
    let text = shown(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(text.contains(", call 500ms, fuel 1000, "), "{text}");
    // A budget given again replaces the saved one; the others stay.
    let changed = xtask(&["fuzz", "--resume", dir, "--iterations", "2", "--fuel", "5"]);
    let text = shown(&changed);
    assert!(text.contains(", call 500ms, fuel 5, "), "{text}");
}
