//! `cargo xtask aot-compat` as a user meets it: every class of refusal, loads that agree, none that misbehave.

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
fn every_changed_setting_is_refused_or_agrees() {
    let output = xtask_within(600, &["aot-compat", "--json"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let rows: Vec<Value> = serde_json::from_slice(&output.stdout).expect("a JSON table");
    let refusals = [
        (
            "version string 48.0.8 → 48.0.9",
            "incompatible version '48.0.9'",
        ),
        ("ELF header byte 4 flipped", "as an ELF"),
        ("file truncated to half", ""),
        ("loader without simd", "WebAssembly feature `simd`"),
        ("loader memory-reservation=1MiB", "memory reservation"),
        ("loader signals-based-traps=off", "signals-based-traps"),
        (
            "loader target=pulley64",
            "compiled for architecture 'x86_64'",
        ),
    ];
    for (setting, because) in refusals {
        let (verdict, detail) = row(&rows, setting);
        assert_eq!(verdict, "refused", "{setting}: {detail}");
        assert!(detail.contains(because), "{setting}: {detail}");
    }
    for setting in [
        "artifact cpu=baseline",
        "loader cpu=x86-64-v3",
        "loader opt-level=none",
    ] {
        assert_eq!(row(&rows, setting), ("agreed", ""), "{setting}");
    }
    assert!(
        rows.iter().all(|row| row["verdict"] != "misbehaved"),
        "{text}"
    );
}

#[test]
fn the_table_names_each_setting_with_its_result() {
    let output = xtask_within(600, &["aot-compat"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let version = text
        .lines()
        .find(|line| line.starts_with("version string"))
        .expect("a row for the tampered version");
    assert!(
        version.contains("refused: Module was compiled with incompatible version"),
        "{text}"
    );
}
