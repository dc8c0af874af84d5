//! Engines that abort the process: recorded as crashed, and every other result of the run intact.

mod common;

use common::{shown, xtask};

const ENGINES: [&str; 4] = [
    "--engine",
    "wasmtime-cranelift",
    "--engine",
    "mutant:abort-on-popcnt",
];

#[test]
fn a_conformance_run_records_the_crash_and_keeps_every_other_result() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    let popcnt = "(module (func (export \"f\") (param i32) (result i32) (i32.popcnt (local.get 0))))\n\
                  (assert_return (invoke \"f\" (i32.const 7)) (i32.const 3))\n";
    std::fs::write(suite.join("crash.wast"), popcnt).unwrap();
    std::fs::write(
        suite.join("fine.wast"),
        popcnt
            .replace("i32.popcnt", "i32.clz")
            .replace("(i32.const 3)", "(i32.const 29)"),
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut args = vec![
        "conformance",
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend(ENGINES);
    let output = xtask(&args);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4, "every trial is reported");
    for trial in trials {
        let crashed = trial["run"]["aborted"].as_str().unwrap_or("");
        let (engine, file) = (
            trial["engine"].as_str().unwrap(),
            trial["file"].as_str().unwrap(),
        );
        if (engine, file) == ("mutant:abort-on-popcnt", "crash.wast") {
            assert!(
                crashed.contains("crashed: killed by signal 6 (SIGABRT)"),
                "{trial}"
            );
        } else {
            assert_eq!(trial["run"]["passed"], 2, "{engine} {file} intact: {trial}");
        }
    }
}

#[test]
fn a_fuzz_run_records_the_crash_as_a_finding_and_goes_on() {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "fuzz",
        "--seed",
        "1",
        "--iterations",
        "150",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend(ENGINES);
    let output = xtask(&args);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("150 modules"),
        "the campaign finished: {text}"
    );
    let crash = common::finding(out.path(), "crash_mutant_abort-on-popcnt")
        .unwrap_or_else(|| panic!("no crash finding: {text}"));
    let report = std::fs::read_to_string(crash.join("report.json")).unwrap();
    assert!(report.contains("killed by signal 6 (SIGABRT)"), "{report}");
}

/// The worker gets every engine's request ahead of time; the engines after the one that takes it
/// down go to a fresh worker, and their results are theirs.
#[test]
fn the_engines_after_a_crash_run_in_a_fresh_worker() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("popcnt.wat");
    let text = "(module (func (export \"f\") (param i32) (result i32) (i32.popcnt (local.get 0))))";
    std::fs::write(&module, text).unwrap();
    let output = xtask(&[
        "diff",
        module.to_str().unwrap(),
        "--engine",
        "mutant:abort-on-popcnt",
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--json",
        "--invoke",
        "f",
        "7",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let call = &run["steps"][2]["observations"];
    assert!(
        call[0]["outcome"]["Crashed"]
            .as_str()
            .is_some_and(|why| why.contains("SIGABRT")),
        "{call}"
    );
    for observation in &call.as_array().unwrap()[1..] {
        assert_eq!(observation["outcome"]["Values"][0]["I32"], 3, "{call}");
    }
}
