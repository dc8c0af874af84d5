//! `cargo xtask diff` on modules built to take forever: the run stops at its time budget, and at most
//! a capped number of exports is called, saying so.

mod common;

use common::{shown, xtask};
use std::time::{Duration, Instant};

#[test]
fn a_module_that_loops_forever_stops_at_the_time_budget() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("spin.wat");
    std::fs::write(
        &module,
        r#"(module (func (export "spin") (loop $l (br $l))))"#,
    )
    .unwrap();
    let started = Instant::now();
    let output = xtask(&["diff", module.to_str().unwrap(), "--time", "3"]);
    let text = shown(&output);
    assert!(started.elapsed() < Duration::from_secs(60), "{text}");
    assert_eq!(output.status.code(), Some(0), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("spin()"))
        .expect("a row for the call");
    assert!(row.contains("inconclusive"), "{text}");
    assert_eq!(
        row.matches("exhausted Time").count(),
        oracles::EngineChoice::defaults().len(),
        "{text}"
    );
}

#[test]
fn at_most_the_capped_number_of_exports_is_called_and_the_output_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("many.wat");
    let exports: String = (0..1_001)
        .map(|i| format!("(func (export \"f{i}\") (result i32) (i32.const {i}))\n"))
        .collect();
    std::fs::write(&module, format!("(module\n{exports})")).unwrap();
    let output = xtask(&["diff", module.to_str().unwrap(), "--engine", "wasmi"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("calling the first 1000 of 1001 exported functions"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("f999()")), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("f1000()")), "{text}");
}
