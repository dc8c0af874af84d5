//! `cargo xtask fuzz` as a user meets it: a planted bug found from a fixed seed, saved as a replayable finding.

mod common;

use common::{shown, xtask};
use std::path::Path;

#[test]
fn a_miscomputed_rem_s_is_found_from_seed_1_and_replays() {
    let out = tempfile::tempdir().unwrap();
    let engines = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--engine",
        "mutant:rem-s-as-rem-u",
    ];
    let mut args = vec![
        "fuzz",
        "--seed",
        "1",
        "--iterations",
        "200",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend(engines);
    let output = xtask(&args);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let finding = common::finding(out.path(), "values_mutant_rem-s-as-rem-u")
        .unwrap_or_else(|| panic!("no rem_s finding: {}", shown(&output)));
    assert!(
        shown(&output).contains("iteration 53, reduced)"),
        "found and reduced: {}",
        shown(&output)
    );
    for file in ["module.wasm", "module.wat", "repro.wast", "report.json"] {
        assert!(finding.join(file).exists(), "{file} saved");
    }
    let journal = std::fs::read_to_string(out.path().join("campaign.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e["finding"]["iteration"] == 53),
        "{journal}"
    );
    assert!(events.iter().any(|e| e["stats"].is_string()), "{journal}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(finding.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["origin"]["seed"], 1);
    assert_eq!(report["divergence"]["minority"][0], "mutant:rem-s-as-rem-u");
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    let folder = finding.file_name().unwrap().to_str().unwrap();
    assert!(
        page.contains(&format!("href=\"{folder}/repro.wast\"")),
        "the findings page links the repro: {page}"
    );
    assert!(page.contains("✗</span> mutant:rem-s-as-rem-u <span class=\"versus\">vs</span>"));
    assert!(page.contains(" bytes, reduced</td>"), "{page}");
    let repro = finding.join("repro.wast");
    let mut replay = vec!["diff", "--host-functions", repro.to_str().unwrap()];
    replay.extend(engines);
    let replayed = xtask(&replay);
    assert_eq!(replayed.status.code(), Some(1), "{}", shown(&replayed));
    assert!(
        shown(&replayed).contains("DIVERGE values (mutant:rem-s-as-rem-u vs"),
        "{}",
        shown(&replayed)
    );
}

#[test]
fn agreeing_engines_exit_0_with_a_stats_line() {
    let out = tempfile::tempdir().unwrap();
    let run = |out: &Path| {
        xtask(&[
            "fuzz",
            "--seed",
            "7",
            "--iterations",
            "40",
            "--engine",
            "wasmtime-cranelift",
            "--engine",
            "wasmtime-aot",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let first = run(out.path());
    assert_eq!(first.status.code(), Some(0), "{}", shown(&first));
    assert!(shown(&first).contains("40 modules"), "{}", shown(&first));
    assert!(shown(&first).contains("0 findings"), "{}", shown(&first));
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("<strong>No findings</strong>"), "{page}");
}
