//! `cargo xtask blame`: a finding on a planted bug names the component the bug was planted in, and the finding
//! replays with `diff` and `reduce` on the engine variants it recorded.

mod common;

use common::{assert_reduces, shown, xtask};
use std::path::Path;

/// `i32.clz` of the argument: `mutant:clz-as-ctz` and `mutant:binaryen-o1-clz-as-ctz` get it wrong.
const CLZ: &str =
    r#"(module (func (export "clz") (param i32) (result i32) (i32.clz (local.get 0))))"#;

/// `f32x4.relaxed_madd` of 1+2⁻²³, 1+2⁻²³ and -(1+2⁻²²): fused, as code using x86-64-v3's FMA
/// computes it, 2⁻⁴⁶; rounded after the multiplication, as code for lower levels computes it, 0.
/// Relaxed SIMD allows either, so the CPU level a module is compiled for changes its result.
const RELAXED_MADD: &str = r#"(module
  (func (export "madd") (result f32)
    (f32x4.extract_lane 0 (f32x4.relaxed_madd
      (f32x4.splat (f32.const 0x1.000002p+0))
      (f32x4.splat (f32.const 0x1.000002p+0))
      (f32x4.splat (f32.const -0x1.000004p+0))))))"#;

/// One import call: every Asyncify tier unwinds and rewinds at it.
const IMPORT_CALL: &str = r#"(module
  (import "host" "f" (func $f (param i32) (result i32)))
  (func (export "run") (param i32) (result i32)
    (i32.add (call $f (local.get 0)) (i32.const 1))))"#;

/// Saves the finding `engines` show on `module` into `out`, as `reduce` does.
fn finding(module: &str, engines: &[&str], out: &Path) {
    let input = out.with_extension("wat");
    std::fs::write(&input, module).unwrap();
    let mut args = vec![
        "reduce",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(["--time", "1"]);
    for engine in engines {
        args.extend(["--engine", engine]);
    }
    let output = xtask(&args);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
}

/// Blames the finding in `dir`: the verdict printed, checked against what `report.json` records.
fn blame(dir: &Path) -> String {
    let output = xtask(&["blame", dir.to_str().unwrap()]);
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    let verdict = printed
        .lines()
        .find_map(|line| line.strip_prefix("blame     : "))
        .unwrap_or_else(|| panic!("no verdict: {printed}"))
        .to_string();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["blame"]["verdict"], verdict.as_str(), "{printed}");
    let bucket = report["bucket"]["name"].as_str().unwrap();
    assert!(bucket.starts_with(&format!("[{verdict}] ")), "{bucket}");
    verdict
}

/// The finding in `dir` replays with a plain `diff` of its `repro.wast` and reduces with a plain `reduce`.
fn assert_replays(dir: &Path) {
    let repro = dir.join("repro.wast");
    let replayed = xtask(&["diff", repro.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(1), "{}", shown(&replayed));
    assert_reduces(dir, &dir.with_extension("again"));
}

#[test]
fn an_engine_bug_is_the_engines() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("finding");
    finding(
        CLZ,
        &["wasmtime-cranelift", "wasmi", "mutant:clz-as-ctz"],
        &dir,
    );
    assert_eq!(blame(&dir), "engine:mutant:clz-as-ctz");
    assert_replays(&dir);
}

#[test]
fn a_bug_in_binaryens_optimized_output_is_binaryens_at_that_level() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("finding");
    let engines = [
        "wasmtime-cranelift",
        "wasmi",
        "mutant:binaryen-o1-clz-as-ctz",
    ];
    finding(CLZ, &engines, &dir);
    assert_eq!(blame(&dir), "binaryen:-O1");
    assert_replays(&dir);
}

#[test]
fn a_bug_seen_only_when_calls_unwind_is_the_unwind_drivers() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("finding");
    let engines = ["wasmtime-cranelift", "wasmi", "mutant:unwind-abandoned"];
    finding(IMPORT_CALL, &engines, &dir);
    assert_eq!(blame(&dir), "driver:unwind");
    assert_replays(&dir);
}

#[test]
fn a_bug_of_one_wasmtime_setting_is_that_settings() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("finding");
    let engines = [
        "wasmtime-cranelift",
        "wasmi",
        "mutant:unoptimized-clz-as-ctz",
    ];
    finding(CLZ, &engines, &dir);
    assert_eq!(blame(&dir), "cranelift:opt-level=none");
    assert_replays(&dir);
}

#[test]
fn a_difference_of_cpu_levels_is_the_lowest_level_that_differs() {
    let out = tempfile::tempdir().unwrap();
    let cases = [
        // Code for the host's features fuses the multiply-add; code for the two lowest levels does not.
        (
            [
                "wasmtime-cranelift@cpu=baseline",
                "wasmtime-cranelift@cpu=x86-64-v2",
                "wasmtime-cranelift",
            ],
            "wasmtime:cpu=x86-64-v3",
        ),
        // wasmi fuses too: against it and the host's code, the baseline's is the odd one.
        (
            ["wasmi", "wasmtime-aot@cpu=baseline", "wasmtime-aot"],
            "wasmtime:cpu=baseline",
        ),
    ];
    for (case, (engines, verdict)) in cases.iter().enumerate() {
        let dir = out.path().join(case.to_string());
        finding(RELAXED_MADD, engines, &dir);
        assert_eq!(blame(&dir), *verdict, "{engines:?}");
    }
}

#[test]
fn a_finding_on_variants_replays_on_them_and_says_when_it_no_longer_reproduces() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("finding");
    let engines = [
        "asyncify@O1",
        "wasmtime-cranelift@opt-level=none",
        "mutant:clz-as-ctz",
    ];
    finding(CLZ, &engines, &dir);
    let report = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(report.contains("\"asyncify@O1\""), "{report}");
    let repro = std::fs::read_to_string(dir.join("repro.wast")).unwrap();
    assert!(
        repro.contains(";; lockstep: --engine wasmtime-cranelift@opt-level=none\n"),
        "{repro}"
    );
    assert_replays(&dir);
    // Recorded on honest engines only, the finding no longer shows.
    let honest = report.replace("mutant:clz-as-ctz", "wasmi");
    std::fs::write(dir.join("report.json"), honest).unwrap();
    std::fs::write(
        dir.join("repro.wast"),
        repro.replace("mutant:clz-as-ctz", "wasmi"),
    )
    .unwrap();
    let blamed = xtask(&["blame", dir.to_str().unwrap()]);
    assert_eq!(blamed.status.code(), Some(0), "{}", shown(&blamed));
    assert!(
        shown(&blamed).contains("this finding no longer reproduces"),
        "{}",
        shown(&blamed)
    );
    let replayed = xtask(&["diff", dir.join("repro.wast").to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(0), "{}", shown(&replayed));
    assert!(
        shown(&replayed).contains("this finding no longer reproduces"),
        "{}",
        shown(&replayed)
    );
    let reduced = xtask(&["reduce", dir.to_str().unwrap()]);
    assert_eq!(reduced.status.code(), Some(2), "{}", shown(&reduced));
    assert!(
        shown(&reduced).contains("this finding no longer reproduces"),
        "{}",
        shown(&reduced)
    );
}
