//! `cargo xtask aot-compat` as a user meets it: every class of refusal with its reason, loads that agree,
//! and a load that misbehaves reported with exit code 1.

mod common;

use common::{shown, xtask_within};
use serde_json::Value;

/// The verdict and detail of the row for `setting`.
fn row<'a>(rows: &'a [Value], setting: &str) -> (&'a str, &'a str) {
    let row = rows
        .iter()
        .find(|row| row["setting"] == setting)
        .unwrap_or_else(|| panic!("no row `{setting}` in {rows:?}"));
    let verdict = row["verdict"].as_str().unwrap();
    (verdict, row["detail"].as_str().unwrap_or_default())
}

#[test]
fn every_class_of_refusal_names_its_reason_and_the_other_loads_agree() {
    let output = xtask_within(600, &["aot-compat", "--json"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).expect("a JSON table");
    let refusals = [
        ("loader without simd", "WebAssembly feature `simd`"),
        ("loader without gc-types", "compiled with GC"),
        ("loader memory-reservation=1MiB", "memory reservation"),
        ("loader memory-guard-size=0", "memory guard size"),
        ("loader signals-based-traps=off", "Signals-based traps"),
        ("loader epoch-interruption=off", "epoch interruption"),
        ("loader consume-fuel=on", "without fuel support"),
        ("loader strategy=winch", "Winch"),
        (
            "loader target=pulley64",
            "compiled for architecture 'x86_64'",
        ),
        ("version string 48 → 47", "incompatible version '47'"),
        ("ELF header byte 4 flipped", "as an ELF"),
        ("file truncated to half", "section header"),
    ];
    for (setting, because) in refusals {
        let (verdict, detail) = row(&rows, setting);
        assert_eq!(verdict, "refused", "{setting}: {detail}");
        assert!(detail.contains(because), "{setting}: {detail}");
    }
    // Code quality and CPU features are not part of an artifact's compatibility: wasmtime checks the
    // features an artifact needs against the host's CPU, which has them all.
    for setting in [
        "loader opt-level=none",
        "loader cpu=baseline",
        "artifact cpu=baseline",
        "artifact cpu=x86-64-v3",
    ] {
        assert_eq!(row(&rows, setting), ("agreed", ""), "{setting}");
    }
    assert!(
        rows.iter().all(|row| row["verdict"] != "misbehaved"),
        "{text}"
    );
}

#[test]
fn a_load_that_runs_differently_is_reported_and_exits_1() {
    let output = xtask_within(600, &["aot-compat", "--self-test"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let row = |setting: &str| {
        let found = text.lines().find(|line| line.starts_with(setting));
        found.unwrap_or_else(|| panic!("no row `{setting}`: {text}"))
    };
    let misbehaved = row("memory image inverted (self-test)");
    assert!(
        misbehaved.contains("MISBEHAVED: popcnt(i64:81985529216486895): [i64:32], but the state after it differs (memory)"),
        "{misbehaved}"
    );
    assert!(
        row("version string 48 → 47")
            .contains("refused: Module was compiled with incompatible version '47'"),
        "{text}"
    );
    assert!(
        row("artifact cpu=x86-64-v2").ends_with("accepted and agreed"),
        "{text}"
    );
}
