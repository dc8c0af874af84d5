//! `cargo xtask fuzz` as a user meets it: a planted bug found from a fixed seed, saved as a replayable finding.

mod common;

use common::{assert_reduces, shown, xtask};
use std::path::Path;

/// Engines among which `mutant:clz-as-ctz` shows its one bug under three signatures from seed 6
/// within 400 modules. Not wasmi: the instruction-selection trees find a bug of wasmi 2.0.0 of
/// its own (`select` of two constants on `(i32.ne x 0)` picks the wrong one).
const CLZ: [&str; 4] = [
    "--engine",
    "wasmtime-cranelift",
    "--engine",
    "mutant:clz-as-ctz",
];

#[test]
fn one_planted_bug_under_three_signatures_is_one_bucket() {
    let out = tempfile::tempdir().unwrap();
    let output = common::fuzz_seed_6(out.path(), &CLZ);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let reports: Vec<serde_json::Value> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.unwrap().path().join("report.json")).ok())
        .map(|bytes| serde_json::from_slice(&bytes).unwrap())
        .collect();
    let signatures: std::collections::BTreeSet<&str> = reports
        .iter()
        .map(|r| r["signature"].as_str().unwrap())
        .collect();
    assert!(signatures.len() >= 3, "{signatures:?}: {text}");
    for report in &reports {
        assert_eq!(
            report["bucket"]["name"], "[engine:mutant:clz-as-ctz] mutant:clz-as-ctz: I32Clz",
            "{}: {text}",
            report["signature"]
        );
        assert_eq!(report["bucket"]["by"], "first-different-value");
        assert_eq!(report["blame"]["verdict"], "engine:mutant:clz-as-ctz");
        // Found on the variants the swarm chose, and replayed on them by a plain `diff`.
        let variants = report["origin"]["variants"].as_array().unwrap();
        assert_eq!(variants.len(), 2, "{variants:?}");
    }
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.starts_with(&format!("1 buckets ({} findings: ", reports.len())),
        "{text}"
    );
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert_eq!(page.matches("<h2 class=\"bucket\">").count(), 1, "{page}");
    assert!(
        page.contains("[engine:mutant:clz-as-ctz] mutant:clz-as-ctz: I32Clz"),
        "{page}"
    );
    for signature in signatures {
        assert!(
            page.contains(signature),
            "{signature} listed under its bucket: {page}"
        );
    }
    // Every finding replays on the variants the swarm ran it on, with a plain `diff`.
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let repro = entry.unwrap().path().join("repro.wast");
        if repro.exists() {
            let replayed = xtask(&["diff", repro.to_str().unwrap()]);
            assert_eq!(replayed.status.code(), Some(1), "{}", shown(&replayed));
        }
    }
}

/// The seed from which `mutant:rem-s-as-rem-u` diverges among [`PLANTED`] once within 60
/// modules, at module 38.
const PLANTED_SEED: &str = "6";

/// Engines among which `mutant:rem-s-as-rem-u` diverges from [`PLANTED_SEED`] within 60 modules.
const PLANTED: [&str; 6] = [
    "--engine",
    "wasmtime-cranelift",
    "--engine",
    "wasmi",
    "--engine",
    "mutant:rem-s-as-rem-u",
];

#[test]
fn a_miscomputed_rem_s_is_found_from_its_seed_and_replays() {
    let out = tempfile::tempdir().unwrap();
    let engines = PLANTED;
    let mut args = vec![
        "fuzz",
        "--seed",
        PLANTED_SEED,
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
        shown(&output).contains("iteration 38, reduced)"),
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
        events.iter().any(|e| e["finding"]["iteration"] == 38),
        "{journal}"
    );
    assert!(events.iter().any(|e| e["stats"].is_string()), "{journal}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(finding.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["origin"]["seed"].to_string(), PLANTED_SEED);
    assert_eq!(report["divergence"]["minority"][0], "mutant:rem-s-as-rem-u");
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    let folder = finding.file_name().unwrap().to_str().unwrap();
    let folder = percent_encoding::utf8_percent_encode(folder, percent_encoding::NON_ALPHANUMERIC);
    assert!(
        page.contains(&format!("href=\"./{folder}/repro.wast\"")),
        "the findings page links the repro: {page}"
    );
    assert!(page.contains("✗</span> mutant:rem-s-as-rem-u <span class=\"versus\">vs</span>"));
    assert!(page.contains(" bytes, reduced</td>"), "{page}");
    let repro = finding.join("repro.wast");
    // wasm-smith's module of several functions and hundreds of instructions, cut to the bug's few.
    let text = std::fs::read_to_string(&repro).unwrap();
    let instructions = text
        .lines()
        .skip_while(|line| !line.contains("(func "))
        .skip(1)
        .take_while(|line| line.trim() != ")")
        .count();
    assert!(
        text.contains("(func ") && instructions <= 10,
        "about ten instructions of text: {text}"
    );
    // The repro names the variants it was found on: a plain `diff` and `reduce` run them.
    let replayed = xtask(&["diff", repro.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(1), "{}", shown(&replayed));
    assert!(
        shown(&replayed).contains("DIVERGE values (mutant:rem-s-as-rem-u vs"),
        "{}",
        shown(&replayed)
    );
    assert_reduces(&finding, &out.path().join("again"));
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

/// The finding folders in `out`.
fn folders(out: &Path) -> usize {
    std::fs::read_dir(out)
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().join("report.json").exists())
        .count()
}

#[test]
fn a_second_campaign_into_the_same_folder_reports_the_divergence_seen_again() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let mut args = vec![
        "fuzz",
        "--seed",
        PLANTED_SEED,
        "--iterations",
        "60",
        "--reduce-time",
        "0",
        "--out",
        dir,
    ];
    args.extend(PLANTED);
    let first = xtask(&args);
    assert_eq!(first.status.code(), Some(1), "{}", shown(&first));
    let saved = folders(out.path());
    assert!(saved > 0, "{}", shown(&first));
    let second = xtask(&args);
    assert_eq!(second.status.code(), Some(1), "{}", shown(&second));
    let summary = String::from_utf8_lossy(&second.stdout);
    assert!(
        summary.contains(&format!("({saved} findings: 0 new, ")),
        "{}",
        shown(&second)
    );
    assert!(
        !shown(&second).contains(" 0 seen again)"),
        "{}",
        shown(&second)
    );
    assert_eq!(folders(out.path()), saved, "no finding saved twice");
    let finding = common::finding(out.path(), "values_mutant_rem-s-as-rem-u").unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(finding.join("report.json")).unwrap()).unwrap();
    assert!(report["seen_again"].as_u64().unwrap() >= 1, "{report}");
}

#[test]
fn a_campaign_killed_before_its_first_stats_line_resumes_with_its_options() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "fuzz",
            "--seed",
            PLANTED_SEED,
            "--time",
            "600",
            "--reduce-time",
            "0",
        ])
        .args(["--out", dir])
        .args(PLANTED)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let checkpoint = out.path().join("campaign.json");
    let started = std::time::Instant::now();
    // The first stats line comes after 5 seconds; the checkpoint must be there before it.
    while !checkpoint.exists() && started.elapsed().as_secs_f64() < 4.0 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(checkpoint.exists(), "no campaign.json in the first 4 s");
    // Whatever it saved before the kill goes, so that the resumed campaign finds it anew.
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
    let resumed = xtask(&["fuzz", "--resume", dir, "--iterations", "60"]);
    let text = shown(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "{text}");
    assert!(
        text.contains(", as found)"),
        "--reduce-time 0 restored: {text}"
    );
    assert!(
        !text.contains(", reduced)"),
        "--reduce-time 0 restored: {text}"
    );
    assert_eq!(folders(out.path()), 1, "{text}");
    let summary = String::from_utf8_lossy(&resumed.stdout);
    assert!(
        summary.starts_with("1 buckets (1 findings: 1 new, ") && summary.contains(dir),
        "{text}"
    );
}

#[test]
fn a_timed_checkpoint_resumes_at_the_first_module_not_run() {
    let out = tempfile::tempdir().unwrap();
    let run = xtask(&[
        "fuzz",
        "--seed",
        "3",
        "--time",
        "2",
        "--jobs",
        "2",
        "--engine",
        "wasmtime-cranelift",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", shown(&run));
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("campaign.json")).unwrap()).unwrap();
    assert!(checkpoint["modules"].as_u64().unwrap() > 0, "{checkpoint}");
    assert_eq!(
        checkpoint["resume_from"], checkpoint["modules"],
        "modules 0..resume_from were all run: {checkpoint}"
    );
}

#[test]
fn a_fresh_campaign_recognises_a_known_wasmi_bug() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    // Module 5784 of seed 0 on these seven engines is the bug of
    // docs/findings/wasmi-2.0.0-select-ne.wast again, known as wasmi-2.0.0-select-ne.
    let mut args = vec![
        "fuzz",
        "--seed",
        "0",
        "--from",
        "5784",
        "--iterations",
        "1",
        "--reduce-time",
        "0",
        "--out",
        dir,
    ];
    for engine in [
        "wasmtime-cranelift",
        "wasmtime-aot",
        "wasmtime-winch",
        "wasmtime-pulley",
        "wasmi",
        "asyncify",
        "asyncify-wasmi",
    ] {
        args.extend(["--engine", engine]);
    }
    let run = xtask(&args);
    let text = shown(&run);
    assert_eq!(run.status.code(), Some(0), "known only: {text}");
    assert!(
        text.contains("known divergence wasmi-2.0.0-select-ne (iteration 5784)"),
        "{text}"
    );
    let summary = String::from_utf8_lossy(&run.stdout);
    assert!(
        summary.starts_with(&format!(
            "1 buckets (1 findings: 0 new, 0 seen again, 1 known) in {dir}"
        )),
        "{text}"
    );
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains("every divergence is a known one"), "{page}");
    assert!(page.contains("<h2>1 known divergences</h2>"), "{page}");
    assert!(
        page.contains("known: <b>wasmi-2.0.0-select-ne</b>"),
        "{page}"
    );
}

/// The campaign (seed 0, wasmtime-cranelift and wasmi) that met wasmi's select bug with f32, f64
/// and v128 results, at modules 1404, 8906 and 8749, now counts each as that known bug.
#[test]
fn wasmi_select_bug_with_float_and_v128_results_is_known() {
    for module in ["1404", "8906", "8749"] {
        let out = tempfile::tempdir().unwrap();
        let run = xtask(&[
            "fuzz",
            "--seed",
            "0",
            "--from",
            module,
            "--iterations",
            "1",
            "--reduce-time",
            "0",
            "--engine",
            "wasmtime-cranelift",
            "--engine",
            "wasmi",
            "--out",
            out.path().to_str().unwrap(),
        ]);
        let text = shown(&run);
        assert_eq!(run.status.code(), Some(0), "known only: {text}");
        let known = format!("known divergence wasmi-2.0.0-select-ne (iteration {module})");
        assert!(text.contains(&known), "{text}");
    }
}

/// A planted instruction-selection bug: `mutant:shl-unmasked` miscomputes `shl` only when its shift
/// amount is a constant at or past the width, a combination the instruction-selection trees make.
#[test]
fn a_shift_by_a_boundary_constant_is_found_by_the_isel_trees() {
    let out = tempfile::tempdir().unwrap();
    let output = xtask(&[
        "fuzz",
        "--seed",
        "0",
        // The first finding comes at module 15, from an isel tree.
        "--iterations",
        "40",
        "--reduce-time",
        "0",
        "--jobs",
        "1",
        "--out",
        out.path().to_str().unwrap(),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "mutant:shl-unmasked",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let finding = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().path().join("report.json"))
        .find(|report| report.exists())
        .unwrap_or_else(|| panic!("no finding: {}", shown(&output)));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(finding).unwrap()).unwrap();
    assert_eq!(report["origin"]["source"], "isel", "{report}");
    let bucket = report["bucket"]["name"].as_str().unwrap();
    assert!(bucket.ends_with("mutant:shl-unmasked: I32Shl"), "{bucket}");
}
