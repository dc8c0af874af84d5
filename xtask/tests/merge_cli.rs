//! `cargo xtask merge`: shards of a conformance run, merged, report what the whole run reports.

mod common;

use common::{WRONG_ASSERTION, shown, xtask};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

/// A suite of four small files, one of which fails on every engine.
fn suite(dir: &Path) -> String {
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    for (op, value) in [("add", 5), ("mul", 6), ("sub", -1)] {
        let script = format!(
            "(module (func (export \"f\") (result i32) (i32.{op} (i32.const 2) (i32.const 3))))\n\
             (assert_return (invoke \"f\") (i32.const {value}))\n"
        );
        std::fs::write(suite.join(format!("{op}.wast")), script).unwrap();
    }
    std::fs::write(suite.join("wrong.wast"), WRONG_ASSERTION).unwrap();
    suite.to_str().unwrap().to_string()
}

fn conformance(suite: &str, shard: Option<&str>, out: &Path) -> Output {
    let mut args = vec![
        "conformance",
        "--suite",
        suite,
        "--engine",
        "wasmi",
        "--engine",
        "wasmtime-cranelift",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(shard.iter().flat_map(|k| ["--shard", k]));
    xtask(&args)
}

fn merge(shards: &[&Path], out: &Path) -> Output {
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|s| s.to_str().unwrap()));
    args.extend(["--out", out.to_str().unwrap()]);
    xtask(&args)
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// junit.xml's test cases without their times, which differ from run to run.
fn test_cases(dir: &Path) -> BTreeSet<String> {
    read(dir, "junit.xml")
        .lines()
        .filter(|line| line.contains("<testcase "))
        .map(|line| line.split(" time=").next().unwrap().to_string())
        .collect()
}

#[test]
fn two_merged_shards_report_what_one_unsharded_run_reports() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path());
    let whole = dir.path().join("whole");
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let merged = dir.path().join("merged");
    let unsharded = conformance(&suite, None, &whole);
    assert_eq!(unsharded.status.code(), Some(1), "{}", shown(&unsharded));
    for (shard, out) in [("1/2", &one), ("2/2", &two)] {
        let output = conformance(&suite, Some(shard), out);
        assert!(output.status.code() != Some(2), "{}", shown(&output));
        assert!(
            test_cases(out).len() < test_cases(&whole).len(),
            "{shard} ran everything"
        );
    }

    let output = merge(&[&one, &two], &merged);
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(1), "the failing file: {printed}");
    assert!(printed.contains("wrong.wast:4:2"), "{printed}");
    assert_eq!(
        read(&merged, "conformance.md"),
        read(&whole, "conformance.md")
    );
    assert_eq!(test_cases(&merged), test_cases(&whole));
    assert_eq!(test_cases(&merged).len(), 8, "4 files × 2 engines");
    let page = read(&merged, "index.html");
    assert!(page.contains("4 files on 2 engines"), "dashboard header");
}

#[test]
fn overlapping_or_mismatched_shards_exit_2_naming_the_folders() {
    let dir = tempfile::tempdir().unwrap();
    let suite = suite(dir.path());
    let (one, wasmi) = (dir.path().join("one"), dir.path().join("wasmi"));
    conformance(&suite, Some("1/2"), &one);
    let output = merge(&[&one, &one], &dir.path().join("twice"));
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(printed.contains("must not overlap"), "{printed}");

    let output = xtask(&[
        "conformance",
        "--suite",
        &suite,
        "--engine",
        "wasmi",
        "--shard",
        "2/2",
        "--out",
        wasmi.to_str().unwrap(),
    ]);
    assert!(output.status.code() != Some(2), "{}", shown(&output));
    let output = merge(&[&one, &wasmi], &dir.path().join("mixed"));
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(printed.contains("ran different engines"), "{printed}");
    assert!(printed.contains(wasmi.to_str().unwrap()), "{printed}");

    let output = merge(&[&dir.path().join("absent")], &dir.path().join("none"));
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(printed.contains("absent/conformance.json"), "{printed}");
}
