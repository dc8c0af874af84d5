//! `cargo xtask reduce`: a divergence planted in a large generated module shrinks to a tiny, replayable finding.

mod common;

use std::process::Command;

#[test]
fn a_planted_divergence_reduces_to_one_small_function_that_replays() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("planted.wat");
    let plant = &generators::planted::PLANTS[0];
    std::fs::write(&module, generators::planted::module(plant, 5).unwrap()).unwrap();
    let out = dir.path().join("reduced");
    let engines = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "mutant:rem-s-as-rem-u",
    ];
    let mut args = vec![
        "reduce",
        module.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--time",
        "60",
    ];
    args.extend(engines);
    let output = common::xtask(&args);
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let before = text.lines().find(|l| l.starts_with("before")).unwrap();
    let functions: usize = before
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(functions >= 51, "{text}");
    let reduced = wasmparser::Parser::new(0)
        .parse_all(&std::fs::read(out.join("module.wasm")).unwrap())
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::CodeSectionEntry(body) => {
                Some(body.get_operators_reader().unwrap().into_iter().count())
            }
            _ => None,
        })
        .collect::<Vec<usize>>();
    assert_eq!(reduced.len(), 1, "one function left: {text}");
    assert!(
        reduced[0] <= 10,
        "at most 10 instructions, found {}: {text}",
        reduced[0]
    );
    let repro = out.join("repro.wast");
    let mut replay = vec!["diff", repro.to_str().unwrap()];
    replay.extend(engines);
    let replayed = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(&replay)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&replayed.stdout).to_string();
    assert_eq!(replayed.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("DIVERGE values (mutant:rem-s-as-rem-u"),
        "{shown}"
    );
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
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "reduce",
            script.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .args([
            "--engine",
            "wasmtime-cranelift",
            "--engine",
            "mutant:rem-s-as-rem-u",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "two.wast:10: the first divergence; reducing the module before it with 3 calls"
        ),
        "{text}"
    );
    let wasm = std::fs::read(out.join("module.wasm")).unwrap();
    assert_eq!(
        generators::exports::functions(&wasm).len(),
        1,
        "one export left: {text}"
    );
    let replayed = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["diff", out.join("repro.wast").to_str().unwrap()])
        .args([
            "--engine",
            "wasmtime-cranelift",
            "--engine",
            "mutant:rem-s-as-rem-u",
        ])
        .output()
        .unwrap();
    assert_eq!(
        replayed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&replayed.stdout)
    );
}
