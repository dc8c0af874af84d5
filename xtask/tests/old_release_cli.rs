//! An old wasmtime release as an external engine (`engines/wasmtime-py/`, from its PyPI wheel): it passes spec
//! files against its expectations and diffs against today's wasmtime, as bisecting a finding across releases does.

mod common;

use common::tools::{self, Test, Tool, WASMTIME_PY, WASMTIME_RELEASE};
use common::{shown, xtask};
use serde_json::Value as Json;

const SPEC_TEST: &str = "an_old_release_passes_spec_files_as_expected";

fn main() {
    tools::run(vec![
        Test::new(SPEC_TEST, &[Tool::WasmtimePy], || {
            an_old_release_passes_spec_files_as_expected()
        }),
        Test::new(
            "an_old_release_diffs_against_todays_wasmtime",
            &[Tool::WasmtimePy],
            an_old_release_diffs_against_todays_wasmtime,
        ),
        tools::skipped_visibly_without(Tool::WasmtimePy, SPEC_TEST),
    ])
}

/// `--engine wasmtime@RELEASE=COMMAND`.
fn old_release() -> String {
    format!("wasmtime@{WASMTIME_RELEASE}=python3 {WASMTIME_PY} {WASMTIME_RELEASE}")
}

fn an_old_release_passes_spec_files_as_expected() {
    let engine = old_release();
    let args = [
        "conformance",
        "--engine",
        &engine,
        "--suite",
        "wasm-v2",
        "--filter",
        "i64.wast",
        "--json",
    ];
    let output = xtask(&args);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let report: Json = serde_json::from_slice(&output.stdout).unwrap();
    let version = report["engines"][0]["version"].as_str().unwrap();
    assert_eq!(version, format!("{WASMTIME_RELEASE} (wasmtime-py)"));
    let run = &report["trials"][0]["run"];
    assert!(
        run["passed"].as_u64().unwrap() >= 400,
        "i64.wast ran: {run}"
    );
}

/// A module with a trap, a host call, memory and globals: the same on both releases.
const MODULE: &str = r#"(module
  (import "host" "i32" (func $host (param i32) (result i32)))
  (memory (export "memory") 1)
  (global (export "count") (mut i64) (i64.const 0))
  (func (export "store") (param i32) (result i32)
    (i32.store (local.get 0) (call $host (local.get 0)))
    (global.set 0 (i64.add (global.get 0) (i64.const 1)))
    (i32.load (local.get 0)))
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))"#;

fn an_old_release_diffs_against_todays_wasmtime() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wat");
    std::fs::write(&module, MODULE).unwrap();
    let engine = old_release();
    let diff = |invoke: &[&str]| {
        let mut args = vec![
            "diff",
            module.to_str().unwrap(),
            "--engine",
            "wasmtime-cranelift",
            "--engine",
            &engine,
            "--json",
            "--invoke",
        ];
        args.extend(invoke);
        xtask(&args)
    };
    for invoke in [
        &["store", "8"][..],
        &["store", "65535"],
        &["divide", "7", "0"],
    ] {
        let output = diff(invoke);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{invoke:?}: {}",
            shown(&output)
        );
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            report.contains(&format!("wasmtime@{WASMTIME_RELEASE}")),
            "{report}"
        );
        assert!(
            !report.contains("\"Invalid\""),
            "the module compiles: {report}"
        );
    }
}
