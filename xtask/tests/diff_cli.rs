//! `cargo xtask diff` as a user meets it: agreement, planted divergences, and bad input.

mod common;

use common::{shown, xtask};
use std::process::Output;

fn diff(args: &[&str]) -> Output {
    xtask(&[&["diff"], args].concat())
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ten_million_tail_calls_agree_and_winch_and_asyncify_are_unsupported() {
    let output = diff(&[&fixture("tail_chain.wat"), "--invoke", "run", "10000000"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let call = text
        .lines()
        .find(|l| l.starts_with("run("))
        .expect("a row for the call");
    assert!(call.ends_with("agree"), "{text}");
    assert_eq!(call.matches("[i64:3273872768]").count(), 4, "{text}");
    assert!(call.contains("unsupported (needs tail-call)"), "{text}");
    for tier in ["asyncify", "asyncify-wasmi"] {
        let reason = format!("{tier}: unsupported: asyncify: tail calls not yet supported");
        assert!(text.contains(&reason), "{text}");
    }
}

#[test]
fn return_call_lowered_to_call_is_a_tail_call_divergence() {
    let output = diff(&[
        &fixture("tail_chain.wat"),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--engine",
        "mutant:return-call-as-call",
        "--invoke",
        "run",
        "10000000",
    ]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("DIVERGE tail-call (mutant:return-call-as-call vs"),
        "{text}"
    );
}

#[test]
fn an_uncaught_two_value_exception_agrees_across_compiled_tiers() {
    let tiers = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmtime-aot",
        "--engine",
        "wasmtime-pulley",
    ];
    let output = diff(&[&[fixture("uncaught_pair.wat").as_str()], &tiers[..]].concat());
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(
        text.matches("exception oops [i32:-7, f64:2.5]").count(),
        3,
        "{text}"
    );
}

#[test]
fn a_changed_exception_payload_is_an_exception_divergence() {
    let output = diff(&[
        &fixture("uncaught_pair.wat"),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmtime-pulley",
        "--engine",
        "mutant:exception-payload",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let verdict = &run["steps"][2]["verdict"]["Diverge"];
    assert_eq!(verdict["kind"], "exception");
    assert_eq!(verdict["minority"][0], "mutant:exception-payload");
}

#[test]
fn bad_input_exits_2_naming_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wat");
    std::fs::write(&broken, "(module\n  (func (result i32) (i32.const)))\n").unwrap();
    let output = diff(&[broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        shown(&output).contains("broken.wat:2:"),
        "{}",
        shown(&output)
    );
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, b"\0asm\x01\0\0\0\x01\x05\x01\x60").unwrap();
    let output = diff(&[truncated.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        shown(&output).contains("truncated.wasm: malformed module at byte offset"),
        "{}",
        shown(&output)
    );
}

#[test]
fn a_script_is_compared_directive_by_directive() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rem.wast");
    std::fs::write(
        &script,
        "(module (func (export \"rem\") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1))))\n\
         (assert_return (invoke \"rem\" (i64.const -7) (i64.const 3)) (i64.const -1))\n",
    )
    .unwrap();
    let honest = diff(&[
        script.to_str().unwrap(),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
    ]);
    assert_eq!(honest.status.code(), Some(0), "{}", shown(&honest));
    let planted = diff(&[
        script.to_str().unwrap(),
        "--engine",
        "wasmi",
        "--engine",
        "mutant:rem-s-as-rem-u",
    ]);
    let text = shown(&planted);
    assert_eq!(planted.status.code(), Some(1), "{text}");
    assert!(text.contains("rem.wast:2: DIVERGE values"), "{text}");
}

#[test]
fn a_known_wasmi_bug_is_reported_as_known_and_exits_0() {
    let reproducer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/findings/wasmi-2.0.0-return-value.wast");
    let text = std::fs::read_to_string(reproducer).unwrap();
    let buffer = wast::parser::ParseBuffer::new(&text).unwrap();
    let script: wast::Wast = wast::parser::parse(&buffer).unwrap();
    let wasm = script
        .directives
        .into_iter()
        .find_map(|directive| match directive {
            wast::WastDirective::Module(mut module) => Some(module.encode().unwrap()),
            _ => None,
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wasm");
    std::fs::write(&module, wasm).unwrap();
    let output = diff(&[
        module.to_str().unwrap(),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--invoke",
        "-",
        "2147483647",
    ]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("DIVERGE values (wasmi vs"), "{text}");
    assert!(
        text.contains("known divergence wasmi-2.0.0-return-value: wasmi 2.0.0 returns"),
        "{text}"
    );
}
