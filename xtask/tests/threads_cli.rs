//! `.wast` `thread` blocks as a user meets them: threads that wait for each other finish, engines without
//! shared instances skip with their reason, and a failure inside a thread names its own position.

mod common;

use common::{shown, xtask_within};
use std::process::Output;

/// A hang fails the test long before a file's time limit would end it.
const LIMIT_SECONDS: u32 = 120;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn conformance(suite: &str, out: &std::path::Path) -> Output {
    let out = out.to_str().unwrap();
    let args = ["conformance", "--suite", suite, "--out", out];
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "wasmi"];
    xtask_within(LIMIT_SECONDS, &[&args[..], &engines[..]].concat())
}

/// Writes `text` to `name` in a fresh folder and runs `conformance` on it;
/// the reports are in the folder's `out`.
fn conformance_on(name: &str, text: &str) -> (tempfile::TempDir, Output) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(name);
    std::fs::write(&script, text).unwrap();
    let output = conformance(script.to_str().unwrap(), &dir.path().join("out"));
    (dir, output)
}

/// What `conformance.json` says one engine (by column) did with its only file.
fn trial(out: &std::path::Path, engine: &str) -> serde_json::Value {
    let report = std::fs::read(out.join("conformance.json")).unwrap();
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    let trials = report["trials"].as_array().unwrap();
    let trial = trials.iter().find(|t| t["engine"] == engine).unwrap();
    trial["run"].clone()
}

#[test]
fn threads_that_wait_for_each_other_finish_in_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let output = conformance(&fixture("wait_notify.wast"), dir.path());
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let wasmtime = trial(dir.path(), "wasmtime-cranelift");
    assert_eq!(wasmtime["passed"], 12, "{wasmtime}");
    assert_eq!(wasmtime["skipped"], serde_json::json!({}), "{wasmtime}");
    let wasmi = trial(dir.path(), "wasmi");
    assert_eq!(wasmi["passed"], 0, "{wasmi}");
    assert_eq!(wasmi["skipped"]["needs threads"]["count"], 12, "{wasmi}");
}

#[test]
fn threads_that_wait_for_each_other_finish_in_diff() {
    let output = xtask_within(LIMIT_SECONDS, &["diff", &fixture("wait_notify.wast")]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    // Asyncify on wasmtime passes the shared memories through to its base.
    for tier in [
        "wasmtime-cranelift",
        "wasmtime-aot",
        "wasmtime-winch",
        "asyncify",
    ] {
        let tally = format!("{tier}: 12 directives run (12 passed, 0 failed), 0 skipped");
        assert!(text.contains(&tally), "{text}");
    }
    assert!(
        text.contains("wasmi: skipped 12 directives (first at line 4): needs threads"),
        "{text}"
    );
}

/// A thread whose shared module is an ordinary one: wasmi instantiates it but
/// cannot hand it to another thread, so it skips the thread and says why.
const UNSHAREABLE: &str = r#"(module $Plain (memory (export "m") 1))
(thread $T (shared (module $Plain))
  (module (func (export "one") (result i32) (i32.const 1)))
  (assert_return (invoke "one") (i32.const 1)))
(wait $T)
"#;

#[test]
fn an_engine_that_cannot_share_an_instance_skips_the_thread_with_its_reason() {
    let (dir, output) = conformance_on("unshareable.wast", UNSHAREABLE);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let out = dir.path().join("out");
    assert_eq!(trial(&out, "wasmtime-cranelift")["passed"], 5);
    let wasmi = trial(&out, "wasmi");
    assert_eq!(wasmi["passed"], 1, "{wasmi}");
    let reason = "this engine does not share instances between threads";
    assert_eq!(wasmi["skipped"][reason]["count"], 4, "{wasmi}");
}

/// Line 4 fails inside the thread; line 6, after `wait`, fails on the main thread.
const FAILING_THREAD: &str = r#"(module $M (memory (export "m") 1 1 shared))
(thread $T (shared (module $M))
  (module (func (export "two") (result i32) (i32.const 2)))
  (assert_return (invoke "two") (i32.const 3)))
(wait $T)
(assert_return (invoke $M "nothing"))
"#;

#[test]
fn a_failure_inside_a_thread_is_reported_at_its_own_position() {
    let (_dir, output) = conformance_on("failing.wast", FAILING_THREAD);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("failing.wast:4:4") && text.contains("expected [i32:3], got [i32:2]"),
        "{text}"
    );
    assert!(text.contains("failing.wast:6:2"), "{text}");
}
