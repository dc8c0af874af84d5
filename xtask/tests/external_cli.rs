//! External engines that misbehave (garbage output, exit mid-call, hang): each call's outcome
//! says what happened, and the run goes on to its end. Also: V8 and wasm3 answer like the others.

mod common;

use common::{shown, xtask};
use serde_json::Value as Json;

const MODULE: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "sub") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1))))"#;

/// `--engine NAME=COMMAND` for the example engine, broken in `mode`.
fn broken_engine(mode: &str) -> String {
    let exe = env!("CARGO_BIN_EXE_xtask");
    format!("broken={exe} example-engine --broken {mode}")
}

/// What `diff --json` saw of each call on the engine `engine`.
fn call_outcomes(mode: &str) -> Vec<Json> {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wat");
    std::fs::write(&module, MODULE).unwrap();
    let engine = broken_engine(mode);
    let output = xtask(&[
        "diff",
        module.to_str().unwrap(),
        "--engine",
        "wasmi",
        "--engine",
        &engine,
        "--json",
    ]);
    assert_ne!(output.status.code(), Some(2), "{}", shown(&output));
    let run: Json = serde_json::from_slice(&output.stdout).expect("diff prints JSON");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "compile, instantiate and both calls: {run}");
    steps[2..]
        .iter()
        .map(|step| {
            let seen = step["observations"].as_array().unwrap();
            let wasmi = seen.iter().find(|o| o["engine"] == "wasmi").unwrap();
            assert!(
                wasmi["outcome"]["Values"].is_array(),
                "wasmi still ran: {step}"
            );
            seen.iter().find(|o| o["engine"] == "broken").unwrap()["outcome"].clone()
        })
        .collect()
}

#[test]
fn garbage_output_is_a_crash_of_that_call() {
    for outcome in call_outcomes("garbage") {
        let why = outcome["Crashed"].as_str().expect("crashed");
        assert!(why.contains("not the protocol"), "{why}");
        assert!(why.contains("Segmentation fault"), "{why}");
    }
}

#[test]
fn an_engine_exiting_mid_call_is_a_crash_with_its_status() {
    for outcome in call_outcomes("exit") {
        let why = outcome["Crashed"].as_str().expect("crashed");
        assert!(why.contains("exited with status 3"), "{why}");
    }
}

#[test]
fn a_hanging_engine_runs_out_of_time() {
    for outcome in call_outcomes("hang") {
        assert_eq!(outcome["Exhausted"], "Time");
    }
}

#[test]
fn a_conformance_run_with_a_broken_engine_completes_and_reports_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    let check = |name: &str, result: i32| {
        format!(
            "{MODULE}\n(assert_return (invoke \"{name}\" (i32.const 3) (i32.const 2)) (i32.const {result}))\n"
        )
    };
    std::fs::write(suite.join("a.wast"), check("add", 5)).unwrap();
    std::fs::write(suite.join("b.wast"), check("sub", 1)).unwrap();
    let out = dir.path().join("out");
    let engine = broken_engine("exit");
    let output = xtask(&[
        "conformance",
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--engine",
        "wasmi",
        "--engine",
        &engine,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("conformance.json")).unwrap())
            .unwrap();
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4, "two files on two engines");
    for trial in trials {
        let failures = trial["run"]["failures"].as_array().unwrap();
        match trial["engine"].as_str().unwrap() {
            "wasmi" => assert!(failures.is_empty(), "{trial}"),
            _ => assert!(
                failures[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("exited with status 3"),
                "{trial}"
            ),
        }
    }
}

#[test]
fn engines_lists_v8_and_wasm3_with_versions_and_proposals() {
    let output = xtask(&["engines", "--json"]);
    let engines: Json = serde_json::from_slice(&output.stdout).unwrap();
    for (id, proposal) in [("v8", "simd"), ("wasm3", "multi-value")] {
        let engine = engines
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"));
        assert_eq!(engine["unavailable"], Json::Null, "{engine}");
        assert!(!engine["version"].as_str().unwrap().is_empty());
        let proposals = engine["proposals"].as_array().unwrap();
        assert!(proposals.iter().any(|p| p == proposal), "{engine}");
    }
}

#[test]
fn v8_and_wasm3_agree_with_wasmi_on_values_traps_and_host_functions() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wat");
    let text = r#"(module
      (import "host" "f" (func $h (param i64) (result f64)))
      (memory (export "mem") 1)
      (global (export "g") (mut i64) (i64.const 0))
      (func (export "call") (param i64) (result f64)
        (global.set 0 (local.get 0))
        (i64.store (i32.const 8) (local.get 0))
        (call $h (local.get 0)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1))))"#;
    std::fs::write(&module, text).unwrap();
    let path = module.to_str().unwrap();
    for call in [&["call", "-7"][..], &["div", "1", "0"]] {
        let mut command = vec!["diff", path, "--engine", "wasmi", "--engine", "v8"];
        command.extend(["--engine", "wasm3", "--json", "--invoke"]);
        command.extend(call);
        let output = xtask(&command);
        assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
        let run: Json = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(run["steps"][2]["verdict"], "Agree", "{run}");
        let outcome = &run["steps"][2]["observations"][0]["outcome"];
        let expected = if call[0] == "div" { "Trap" } else { "Values" };
        assert!(outcome.get(expected).is_some(), "{outcome}");
    }
}

#[test]
fn v8s_shared_trap_messages_agree_with_the_precise_codes_of_other_engines() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("traps.wast");
    let text = r#"(module
      (type $unary (func (param i32) (result i32)))
      (table 2 funcref)
      (elem (i32.const 0) $nullary)
      (func $nullary (result i32) (i32.const 1))
      (func (export "mismatch") (result i32) (call_indirect (type $unary) (i32.const 0) (i32.const 0)))
      (func (export "null") (result i32) (call_indirect (type $unary) (i32.const 0) (i32.const 1)))
      (func (export "nan") (result i32) (i32.trunc_f32_s (f32.const nan)))
      (func (export "big") (result i32) (i32.trunc_f64_u (f64.const 1e10))))
(assert_trap (invoke "mismatch") "indirect call type mismatch")
(assert_trap (invoke "null") "uninitialized element")
(assert_trap (invoke "nan") "invalid conversion to integer")
(assert_trap (invoke "big") "integer overflow")
"#;
    std::fs::write(&script, text).unwrap();
    let output = xtask(&[
        "diff",
        script.to_str().unwrap(),
        "--engine",
        "v8",
        "--engine",
        "wasmtime-cranelift",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
}
