//! The probe table of the `v8` engine (`engines/v8/lockstep-v8.mjs`): every module in it is the text below, and needs the proposal it probes.

use crate::features;
use crate::hex::hex;
use crate::testing::wat;
use wasmparser::WasmFeatures;

const SCRIPT: &str = include_str!("../../../engines/v8/lockstep-v8.mjs");

/// Each probed proposal and the smallest module that needs it.
const PROBES: &[(&str, &str)] = &[
    (
        "mutable-global",
        r#"(module (global (import "m" "g") (mut i32)))"#,
    ),
    (
        "saturating-float-to-int",
        "(module (func (param f32) (result i32) (i32.trunc_sat_f32_s (local.get 0))))",
    ),
    (
        "sign-extension",
        "(module (func (param i32) (result i32) (i32.extend8_s (local.get 0))))",
    ),
    (
        "reference-types",
        "(module (func (result externref) (ref.null extern)))",
    ),
    (
        "multi-value",
        "(module (func (result i32 i32) (i32.const 0) (i32.const 1)))",
    ),
    (
        "bulk-memory",
        "(module (memory 1) (func (memory.copy (i32.const 0) (i32.const 0) (i32.const 0))))",
    ),
    (
        "simd",
        "(module (func (result v128) (v128.const i64x2 0 0)))",
    ),
    (
        "relaxed-simd",
        "(module (func (param v128 v128) (result v128) (i8x16.relaxed_swizzle (local.get 0) (local.get 1))))",
    ),
    ("threads", "(module (memory 1 1 shared))"),
    ("tail-call", "(module (func (return_call 0)))"),
    ("multi-memory", "(module (memory 1) (memory 1))"),
    (
        "exceptions",
        "(module (tag) (func (block (try_table (catch_all 0)))))",
    ),
    ("memory64", "(module (memory i64 1))"),
    (
        "extended-const",
        "(module (global i32 (i32.add (i32.const 1) (i32.const 2))))",
    ),
    (
        "function-references",
        "(module (type (func)) (func (param (ref 0))))",
    ),
    ("gc", "(module (type (struct (field i32))))"),
    ("custom-page-sizes", "(module (memory 1 (pagesize 1)))"),
    (
        "wide-arithmetic",
        "(module (func (param i64 i64 i64 i64) (result i64 i64) (i64.add128 (local.get 0) (local.get 1) (local.get 2) (local.get 3))))",
    ),
    (
        "legacy-exceptions",
        "(module (tag) (func try catch_all end))",
    ),
];

/// The `'name': 'hex',` lines of the script's `PROBES` table.
fn script_probes() -> Vec<(String, String)> {
    let table = SCRIPT
        .split_once("const PROBES = {")
        .and_then(|(_, rest)| rest.split_once("};"))
        .expect("lockstep-v8.mjs has a PROBES table")
        .0;
    table
        .lines()
        .filter_map(|line| {
            let (name, module) = line.trim().trim_end_matches(',').split_once(": ")?;
            Some((
                name.trim_matches('\'').into(),
                module.trim_matches('\'').into(),
            ))
        })
        .collect()
}

#[test]
fn the_script_probes_each_proposal_with_the_module_written_here() {
    let expected: Vec<(String, String)> = PROBES
        .iter()
        .map(|(name, text)| (name.to_string(), hex(&wat(text))))
        .collect();
    let lines: Vec<String> = expected
        .iter()
        .map(|(name, module)| format!("  '{name}': '{module}',"))
        .collect();
    assert_eq!(
        script_probes(),
        expected,
        "the table should read:\n{}",
        lines.join("\n")
    );
}

#[test]
fn each_probe_needs_the_proposal_it_probes() {
    for (name, text) in PROBES {
        let needs = features::requirement(&wat(text), WasmFeatures::MVP).missing();
        let needs = needs.unwrap_or_else(|| panic!("{name} probe needs a proposal"));
        let needs: Vec<&str> = needs.trim_start_matches("needs ").split(", ").collect();
        assert!(needs.contains(name), "{name} probe {needs:?}");
    }
}
