//! CPU levels in `cargo xtask fuzz` as a user meets them: each module's wasmtime code is compiled for a level
//! chosen per module, the finding records it, replays on it, and `blame` names a level-only bug's level.

mod common;

use common::{shown, xtask};

#[test]
fn fuzz_varies_the_level_per_module_records_it_and_blames_a_bug_of_one_level() {
    let out = tempfile::tempdir().unwrap();
    let engines = [
        // Not wasmi: the instruction-selection trees find a wasmi 2.0.0 bug of its own.
        "--engine",
        "wasmtime-aot",
        // `i32.clz` computed as `i32.ctz` in wasmtime-cranelift's code for the x86-64 baseline only.
        "--engine",
        "mutant:baseline-clz-as-ctz",
    ];
    let output = common::fuzz_seed_6(out.path(), &engines);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let folders: Vec<std::path::PathBuf> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("report.json").exists())
        .collect();
    let mut aot_variants = std::collections::BTreeSet::new();
    for folder in &folders {
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(folder.join("report.json")).unwrap()).unwrap();
        assert_eq!(
            report["blame"]["verdict"], "wasmtime:cpu=baseline",
            "{text}"
        );
        assert_eq!(
            report["bucket"]["name"],
            "[wasmtime:cpu=baseline] mutant:baseline-clz-as-ctz: I32Clz"
        );
        let engines = report["origin"]["engines"].as_array().unwrap();
        let mutant = engines
            .iter()
            .find(|e| e[0] == "mutant:baseline-clz-as-ctz");
        assert_eq!(
            mutant.unwrap()[1],
            "48.0.8 (cpu=baseline) with a planted bug"
        );
        let variant = report["origin"]["variants"][0]
            .as_str()
            .unwrap()
            .to_string();
        assert!(variant.starts_with("wasmtime-aot"), "{variant}");
        let repro = std::fs::read_to_string(folder.join("repro.wast")).unwrap();
        assert!(
            repro.contains(&format!(";; lockstep: --engine {variant}\n")),
            "{repro}"
        );
        if variant.contains("@cpu=") {
            let replayed = xtask(&["diff", folder.join("repro.wast").to_str().unwrap()]);
            assert_eq!(replayed.status.code(), Some(1), "{}", shown(&replayed));
        }
        aot_variants.insert(variant);
    }
    // Found under several settings, one of them a CPU level: chosen per module.
    assert!(aot_variants.len() > 1, "{aot_variants:?}: {text}");
    assert!(
        aot_variants
            .iter()
            .any(|v| v.starts_with("wasmtime-aot@cpu=")),
        "{aot_variants:?}: {text}"
    );
}
