//! `cargo xtask conformance` as a user meets it: exit codes, positions in messages, and the reports it leaves.

mod common;

use common::{WRONG_ASSERTION, shown, xtask};
use std::path::Path;
use std::process::Output;

fn conformance(args: &[&str], out: &Path) -> Output {
    xtask(&[&["conformance"], args, &["--out", out.to_str().unwrap()]].concat())
}

#[test]
fn a_wrong_assertion_exits_1_naming_file_line_and_engines() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch.wast");
    std::fs::write(&scratch, WRONG_ASSERTION).unwrap();
    let output = conformance(
        &[
            "--suite",
            scratch.to_str().unwrap(),
            "--engine",
            "wasmtime-cranelift",
            "--engine",
            "wasmi",
        ],
        &dir.path().join("out"),
    );
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    assert!(printed.contains("scratch.wast:4:2"), "{printed}");
    assert!(
        printed.contains("wasmtime-cranelift, wasmi: expected [i32:3], got [i32:2]"),
        "{printed}"
    );
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert_eq!(
        junit.matches("<testcase ").count(),
        2,
        "one test case per engine × file"
    );
    assert_eq!(junit.matches("<failure ").count(), 2);
}

#[test]
fn a_syntax_error_exits_2_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wast");
    std::fs::write(&broken, "(module)\n(assert_return (invoke \"f\")\n").unwrap();
    let output = conformance(
        &["--suite", broken.to_str().unwrap(), "--engine", "wasmi"],
        &dir.path().join("out"),
    );
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(printed.contains("broken.wast:3:1"), "{printed}");
}

#[test]
fn unknown_names_exit_2_and_list_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let output = conformance(&["--engine", "v9"], dir.path());
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        printed.contains("unknown engine `v9`") && printed.contains("wasmtime-winch"),
        "{printed}"
    );
    let output = conformance(&["--suite", "wasm-v7"], dir.path());
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        printed.contains("unknown suite `wasm-v7`") && printed.contains("proposals/gc"),
        "{printed}"
    );
}

#[test]
fn a_passing_suite_exits_0_and_writes_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = conformance(&["--suite", "proposals/tail-call", "--json"], &out);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let engines = oracles::tiers::default_ids().len();
    assert_eq!(json["engines"].as_array().unwrap().len(), engines);
    assert_eq!(json["trials"].as_array().unwrap().len(), 2 * engines);
    for report in ["conformance.json", "conformance.md", "junit.xml"] {
        assert!(out.join(report).exists(), "{report} written");
    }
}

#[test]
fn the_dashboard_keeps_a_history_and_marks_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("numbers.wast");
    let out = dir.path().join("out");
    let run = |expected_exit: i32| {
        let output = conformance(
            &["--suite", script.to_str().unwrap(), "--engine", "wasmi"],
            &out,
        );
        assert_eq!(
            output.status.code(),
            Some(expected_exit),
            "{}",
            shown(&output)
        );
        std::fs::read_to_string(out.join("index.html")).unwrap()
    };
    let passing = WRONG_ASSERTION.replace("(i32.const 3)", "(i32.const 2)");
    std::fs::write(&script, &passing).unwrap();
    let first = run(0);
    assert!(first.contains("The first run of this history."), "{first}");
    let second = run(0);
    assert!(second.contains("<strong>No change</strong>"), "{second}");
    assert_eq!(second.matches("<circle").count(), 2, "one point per run");

    std::fs::write(&script, WRONG_ASSERTION).unwrap();
    let third = run(1);
    assert!(third.contains("<strong>Changed</strong>"), "{third}");
    assert!(
        third.contains("wasmi × ") && third.contains("files 1/0/0/0/0 → 0/0/0/1/0"),
        "{third}"
    );
    assert!(third.contains("wasmi: directives passed 3 → 2"), "{third}");
    assert!(third.contains("title=\"changed since the previous run: was 1/0/0/0/0\">Δ"));
    let history = std::fs::read_to_string(out.join("history.jsonl")).unwrap();
    assert_eq!(history.lines().count(), 3);
}

#[test]
fn a_malformed_history_exits_2_naming_its_line_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("mine.jsonl");
    std::fs::write(&history, "{\"time\": 1, \"engines\": []}\nnot json\n").unwrap();
    let out = dir.path().join("out");
    let output = conformance(
        &["--history", history.to_str().unwrap(), "--engine", "wasmi"],
        &out,
    );
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains("mine.jsonl:2:2: expected ident"),
        "{printed}"
    );
    assert!(!out.join("conformance.json").exists(), "nothing ran");
}

/// A file most of whose directives wasmi skips (it has no GC) ran partly, not passed.
#[test]
fn a_file_that_ran_partly_is_told_from_one_that_ran_fully() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("struct.wast");
    std::fs::write(
        &script,
        "(module (func (export \"one\") (result i32) (i32.const 1)))\n\
         (assert_return (invoke \"one\") (i32.const 1))\n\
         (module (type $point (struct (field i32))) (func (export \"new\") (result (ref $point)) (struct.new $point (i32.const 1))))\n\
         (assert_trap (invoke \"new\") \"unreachable\")\n\
         (invoke \"new\")\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = conformance(
        &["--suite", script.to_str().unwrap(), "--engine", "wasmi"],
        &out,
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("conformance.json")).unwrap())
            .unwrap();
    let total = &report["totals"][0];
    assert_eq!(
        (total["pass"].as_u64(), total["partial"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        (
            total["directives_passed"].as_u64(),
            total["directives_skipped"].as_u64()
        ),
        (Some(2), Some(3))
    );
    let markdown = std::fs::read_to_string(out.join("conformance.md")).unwrap();
    assert!(markdown.contains("| 0/1/0/0/0 |"), "{markdown}");
    assert!(
        markdown.contains("| 2/3 |"),
        "directives passed/skipped: {markdown}"
    );
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("<td class=\"partial\""), "its own colour");
    assert!(page.contains("◐</span> 1"), "its own symbol");
    assert!(
        page.contains("Directives: 2 passed, 3 skipped."),
        "the drill-down counts"
    );
}

#[test]
fn the_first_asyncify_run_on_a_file_says_binaryen_is_instrumenting() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("fresh.wast");
    std::fs::write(
        &scratch,
        r#"(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
"#,
    )
    .unwrap();
    let args = ["--suite", scratch.to_str().unwrap(), "--engine", "asyncify"];
    let notes: Vec<bool> = (0..2)
        .map(|_| {
            let output = conformance(&args, &dir.path().join("out"));
            assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
            shown(&output).contains("binaryen.js instruments each of their modules once")
        })
        .collect();
    assert_eq!(
        notes,
        [true, false],
        "the note, then none once the cache is warm"
    );
}
