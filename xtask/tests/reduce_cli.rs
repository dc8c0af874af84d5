//! `cargo xtask reduce`: a divergence planted in a large generated module shrinks to a tiny, replayable finding.

mod common;

use common::{shown, xtask};

const ENGINES: [&str; 4] = [
    "--engine",
    "wasmtime-cranelift",
    "--engine",
    "mutant:rem-s-as-rem-u",
];

/// Reduces `input` into `out` on the engines above; returns what it printed.
fn reduce(input: &std::path::Path, out: &std::path::Path) -> String {
    let output = xtask(
        &[
            &[
                "reduce",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
            ],
            &ENGINES[..],
        ]
        .concat(),
    );
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    printed
}

/// The saved `repro.wast` shows the divergence again.
fn assert_replays(out: &std::path::Path) {
    let repro = out.join("repro.wast");
    let replayed = xtask(&[&["diff", repro.to_str().unwrap()], &ENGINES[..]].concat());
    assert_eq!(replayed.status.code(), Some(1), "{}", shown(&replayed));
    assert!(
        shown(&replayed).contains("DIVERGE values (mutant:rem-s-as-rem-u"),
        "{}",
        shown(&replayed)
    );
}

/// The instruction count of each function the module defines.
fn function_sizes(wasm: &[u8]) -> Vec<usize> {
    wasmparser::Parser::new(0)
        .parse_all(wasm)
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::CodeSectionEntry(body) => {
                Some(body.get_operators_reader().unwrap().into_iter().count())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_planted_divergence_reduces_to_one_small_function_that_replays() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("planted.wat");
    let plant = &generators::planted::PLANTS[0];
    std::fs::write(&module, generators::planted::module(plant, 5).unwrap()).unwrap();
    let out = dir.path().join("reduced");
    let printed = reduce(&module, &out);
    let before = printed.lines().find(|l| l.starts_with("before")).unwrap();
    let functions: usize = before
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(functions >= 51, "{printed}");
    let sizes = function_sizes(&std::fs::read(out.join("module.wasm")).unwrap());
    assert_eq!(sizes.len(), 1, "one function left: {printed}");
    assert!(
        sizes[0] <= 10,
        "at most 10 instructions, found {}: {printed}",
        sizes[0]
    );
    assert_replays(&out);
}

#[test]
fn a_script_is_cut_to_the_diverging_module_and_calls_first() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("two.wast");
    std::fs::write(
        &script,
        r#"(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
(module
  (global $g (mut i64) (i64.const 0))
  (func (export "set") (param i64) (global.set $g (local.get 0)))
  (func (export "noise") (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func (export "rem") (param i64) (result i64) (i64.rem_s (global.get $g) (local.get 0))))
(invoke "set" (i64.const -7))
(assert_return (invoke "noise" (i32.const 2)) (i32.const 6))
(assert_return (invoke "rem" (i64.const 3)) (i64.const -1))
"#,
    )
    .unwrap();
    let out = dir.path().join("reduced");
    let printed = reduce(&script, &out);
    assert!(
        printed.contains(
            "two.wast:10: the first divergence; reducing the module before it with 3 calls"
        ),
        "{printed}"
    );
    let wasm = std::fs::read(out.join("module.wasm")).unwrap();
    assert_eq!(
        generators::exports::functions(&wasm).len(),
        1,
        "one export left: {printed}"
    );
    assert_replays(&out);
}
