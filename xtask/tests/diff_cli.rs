//! `cargo xtask diff` as a user meets it: agreement, planted divergences, and bad input.

mod common;

use common::{shown, xtask};
use std::process::Output;

fn diff(args: &[&str]) -> Output {
    xtask(&[&["diff"], args].concat())
}

/// `diff` of the script `text`, written to a scratch file `name`, with `args` after it.
fn diff_script(name: &str, text: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join(name);
    std::fs::write(&script, text).unwrap();
    diff(&[&[script.to_str().unwrap()], args].concat())
}

const CRANELIFT_AND_WASMI: [&str; 4] = ["--engine", "wasmtime-cranelift", "--engine", "wasmi"];

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn ten_million_tail_calls_agree_and_winch_and_asyncify_are_unsupported() {
    let output = diff(&[&fixture("tail_chain.wat"), "--invoke", "run", "10000000"]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let call = text
        .lines()
        .find(|l| l.starts_with("run("))
        .expect("a row for the call");
    assert!(call.ends_with("agree"), "{text}");
    // Every default engine but Winch and the two Asyncify tiers returns: the wasmtime ones, wasmi and v8.
    let returning = oracles::EngineChoice::defaults().len() - 3;
    assert_eq!(
        call.matches("[i64:3273872768]").count(),
        returning,
        "{text}"
    );
    assert!(call.contains("unsupported (needs tail-call)"), "{text}");
    for tier in ["asyncify", "asyncify-wasmi"] {
        let reason = format!("{tier}: unsupported: asyncify: tail calls not yet supported");
        assert!(text.contains(&reason), "{text}");
    }
}

#[test]
fn return_call_lowered_to_call_is_a_tail_call_divergence() {
    let output = diff(&[
        &fixture("tail_chain.wat"),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--engine",
        "mutant:return-call-as-call",
        "--invoke",
        "run",
        "10000000",
    ]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("DIVERGE tail-call (mutant:return-call-as-call vs"),
        "{text}"
    );
}

#[test]
fn an_uncaught_two_value_exception_agrees_across_compiled_tiers() {
    let tiers = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmtime-aot",
        "--engine",
        "wasmtime-pulley",
    ];
    let output = diff(&[&[fixture("uncaught_pair.wat").as_str()], &tiers[..]].concat());
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(
        text.matches("exception oops [i32:-7, f64:2.5]").count(),
        3,
        "{text}"
    );
}

#[test]
fn a_changed_exception_payload_is_an_exception_divergence() {
    let output = diff(&[
        &fixture("uncaught_pair.wat"),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmtime-pulley",
        "--engine",
        "mutant:exception-payload",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let verdict = &run["steps"][2]["verdict"]["Diverge"];
    assert_eq!(verdict["kind"], "exception");
    assert_eq!(verdict["minority"][0], "mutant:exception-payload");
}

#[test]
fn bad_input_exits_2_naming_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.wat");
    std::fs::write(&broken, "(module\n  (func (result i32) (i32.const)))\n").unwrap();
    let output = diff(&[broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        shown(&output).contains("broken.wat:2:"),
        "{}",
        shown(&output)
    );
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, b"\0asm\x01\0\0\0\x01\x05\x01\x60").unwrap();
    let output = diff(&[truncated.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        shown(&output).contains("truncated.wasm: malformed module at byte offset"),
        "{}",
        shown(&output)
    );
}

#[test]
fn a_script_is_compared_directive_by_directive() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rem.wast");
    std::fs::write(
        &script,
        "(module (func (export \"rem\") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1))))\n\
         (assert_return (invoke \"rem\" (i64.const -7) (i64.const 3)) (i64.const -1))\n",
    )
    .unwrap();
    let honest = diff(&[
        script.to_str().unwrap(),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
    ]);
    assert_eq!(honest.status.code(), Some(0), "{}", shown(&honest));
    let planted = diff(&[
        script.to_str().unwrap(),
        "--engine",
        "wasmi",
        "--engine",
        "mutant:rem-s-as-rem-u",
    ]);
    let text = shown(&planted);
    assert_eq!(planted.status.code(), Some(1), "{text}");
    assert!(text.contains("rem.wast:2: DIVERGE values"), "{text}");
}

/// Exports whose function types sit in a rec group, behind a subtype, and
/// after an exact import (which shifts every function index by one).
const TYPED_EXPORTS: &str = r#"(module
  (rec (type $pair (struct (field i32))) (type $takes (sub (func (param i64) (result i64)))))
  (type $narrow (sub $takes (func (param i64) (result i64))))
  (type $mixed (func (param f64 i32) (result i32)))
  (import "host" "exact" (func $exact (exact (type $mixed))))
  (func (export "mixed") (type $mixed) (i32.add (i32.trunc_f64_s (local.get 0)) (local.get 1)))
  (func (export "narrow") (type $narrow) (i64.mul (local.get 0) (i64.const 2))))"#;

#[test]
fn exports_typed_through_rec_groups_subtypes_and_exact_imports_get_arguments_of_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("typed.wat");
    std::fs::write(&module, TYPED_EXPORTS).unwrap();
    let path = module.to_str().unwrap();
    let output = diff(&[
        path, "--engine", "wasmi", "--json", "--invoke", "mixed", "2.5", "3",
    ]);
    assert_ne!(output.status.code(), Some(2), "{}", shown(&output));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(run["steps"][2]["label"], "mixed(f64:2.5, i32:3)", "{run}");
    let output = diff(&[path, "--engine", "wasmi", "--json"]);
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let labels: Vec<&str> = run["steps"].as_array().unwrap()[2..]
        .iter()
        .map(|step| step["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 2, "{run}");
    assert!(labels[0].starts_with("mixed(f64:"), "{labels:?}");
    assert!(labels[0].contains(", i32:"), "{labels:?}");
    assert!(labels[1].starts_with("narrow(i64:"), "{labels:?}");
    // No engine runs exact imports yet: with a plain one, the call runs and agrees.
    let plain = TYPED_EXPORTS.replace("(exact (type $mixed))", "(type $mixed)");
    std::fs::write(&module, plain).unwrap();
    let engines = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmtime-pulley",
    ];
    let call = ["--json", "--invoke", "mixed", "2.5", "3"];
    let output = diff(&[&[path][..], &engines, &call].concat());
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let run: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let step = &run["steps"][2];
    assert_eq!(step["verdict"], "Agree", "{step}");
    assert_eq!(
        step["observations"][0]["outcome"]["Values"][0]["I32"], 5,
        "{step}"
    );
}

/// A script whose module uses `return_call`, which binaryen refuses to instrument.
const TAIL_CALL_SCRIPT: &str = r#"(module
  (func $count (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 7))
      (else (return_call $count (i32.sub (local.get 0) (i32.const 1))))))
  (func (export "run") (result i32) (return_call $count (i32.const 1000))))
(assert_return (invoke "run") (i32.const 7))
(invoke "run")
"#;

fn tail_call_script(dir: &std::path::Path) -> String {
    let script = dir.join("tail.wast");
    std::fs::write(&script, TAIL_CALL_SCRIPT).unwrap();
    script.to_str().unwrap().to_string()
}

#[test]
fn a_script_an_engine_cannot_run_is_never_called_agreement() {
    let dir = tempfile::tempdir().unwrap();
    let script = tail_call_script(dir.path());
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "asyncify"];
    let output = diff(&[&[script.as_str()], &engines[..]].concat());
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("every engine agrees"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("7:2 assert_return"))
        .expect("a row per directive");
    assert!(row.contains("pass") && row.contains("skip"), "{text}");
    assert!(
        text.contains(
            "asyncify: skipped 3 directives (first at line 1): asyncify: tail calls not yet supported"
        ),
        "{text}"
    );
    assert!(
        text.contains("wasmtime-cranelift: 3 directives run (3 passed, 0 failed), 0 skipped"),
        "{text}"
    );
    assert!(
        text.contains("asyncify: 0 directives run (0 passed, 0 failed), 3 skipped"),
        "{text}"
    );
    assert!(text.contains("asyncify ran no directive"), "{text}");
}

#[test]
fn the_json_of_a_script_names_every_engine_and_directive() {
    let dir = tempfile::tempdir().unwrap();
    let script = tail_call_script(dir.path());
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "asyncify"];
    let output = diff(&[&[script.as_str(), "--json"], &engines[..]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let diff: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let tallies: Vec<(&str, u64, u64)> = diff["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let count = |field: &str| t[field].as_u64().unwrap();
            (
                t["engine"].as_str().unwrap(),
                count("passed"),
                count("skipped"),
            )
        })
        .collect();
    assert_eq!(tallies, [("wasmtime-cranelift", 3, 0), ("asyncify", 0, 3)]);
    let directives = diff["directives"].as_array().unwrap();
    let keywords: Vec<&str> = directives
        .iter()
        .map(|d| d["keyword"].as_str().unwrap())
        .collect();
    assert_eq!(keywords, ["module", "assert_return", "invoke"]);
    for directive in directives {
        let engines = directive["engines"].as_array().unwrap();
        assert_eq!(engines[0]["engine"], "wasmtime-cranelift");
        assert_eq!(engines[0]["status"], "passed");
        assert_eq!(engines[1]["engine"], "asyncify");
        assert_eq!(engines[1]["status"], "skipped");
        let reason = engines[1]["reason"].as_str().unwrap();
        assert!(reason.contains("tail calls"), "{reason}");
    }
}

/// The official `imports.wast` and `linking.wast`, run as the spec links them.
#[test]
fn official_scripts_link_as_the_spec_says_on_the_default_engines() {
    let files = suites::catalog::load(&["wasm-v1".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["imports.wast", "linking.wast"] {
        let file = files.iter().find(|f| f.name == name).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, file.text.as_ref()).unwrap();
        let output = diff(&[path.to_str().unwrap(), "--json"]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", shown(&output));
        let diff: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let engines: Vec<&str> = diff["engines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["engine"].as_str().unwrap())
            .collect();
        let defaults: Vec<String> = oracles::EngineChoice::defaults()
            .iter()
            .map(|choice| choice.id().to_string())
            .collect();
        assert_eq!(engines, defaults, "{name}");
        let unlinkable = diff["directives"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["keyword"] == "assert_unlinkable")
            .count();
        assert!(
            unlinkable > 0,
            "{name}: its assert_unlinkable directives are reported"
        );
    }
}

#[test]
fn host_functions_are_for_scripts_that_ask_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("host.wast");
    std::fs::write(
        &script,
        "(module (import \"host\" \"tick\" (func (result i32))))\n",
    )
    .unwrap();
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "wasmi"];
    let spec = diff(&[&[script.to_str().unwrap()], &engines[..]].concat());
    let text = shown(&spec);
    assert_eq!(spec.status.code(), Some(1), "{text}");
    assert!(text.contains("instantiation: unlinkable"), "{text}");
    let asked = diff(
        &[
            &[script.to_str().unwrap(), "--host-functions"],
            &engines[..],
        ]
        .concat(),
    );
    assert_eq!(asked.status.code(), Some(0), "{}", shown(&asked));
    assert!(shown(&asked).contains("every engine agrees with every assertion"));
    let marked = dir.path().join("marked.wast");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &marked,
        format!(";; a finding\n;; lockstep: --host-functions\n{text}"),
    )
    .unwrap();
    let replayed = diff(&[&[marked.to_str().unwrap()], &engines[..]].concat());
    assert_eq!(replayed.status.code(), Some(0), "{}", shown(&replayed));
}

/// `assert_exhaustion` and `assert_trap` that ask for the call stack to run out,
/// met by every engine's stack exhaustion whatever its wording; a trap of another kind is not.
#[test]
fn after_running_out_of_stack_mid_call_an_engine_is_shown_not_compared() {
    // Each frame counts itself in a global and uncounts itself on return: an engine whose stack
    // ends first leaves a count of its own depth behind, which is no bug.
    let output = diff_script(
        "deep.wast",
        r#"(module
  (global $depth (mut i32) (i32.const 0))
  (func $down (export "down") (param i32)
    (if (local.get 0)
      (then
        (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
        (call $down (i32.sub (local.get 0) (i32.const 1)))
        (global.set $depth (i32.sub (global.get $depth) (i32.const 1))))))
  (func (export "depth") (result i32) (global.get $depth)))
(invoke "down" (i32.const 5000))
(assert_return (invoke "depth") (i32.const 0))
(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
"#,
        &CRANELIFT_AND_WASMI,
    );
    let text = shown(&output);
    assert!(!text.contains("DIVERGE"), "{text}");
    assert!(
        text.contains("inconclusive: wasmi ran out of resources in an earlier call"),
        "{text}"
    );
    assert!(
        text.contains("0 divergences, 1 failed assertions"),
        "{text}"
    );
    let last = text.lines().find(|l| l.starts_with("13:")).unwrap();
    assert!(
        last.ends_with("agree"),
        "a new module is compared again: {text}"
    );
}

#[test]
fn running_out_of_stack_meets_every_stack_exhaustion_assertion() {
    let output = diff_script(
        "recurse.wast",
        "(module (func $f (export \"f\") (call $f)))\n\
         (assert_exhaustion (invoke \"f\") \"call stack exhausted\")\n\
         (assert_trap (invoke \"f\") \"call stack exhausted\")\n\
         (assert_trap (invoke \"f\") \"stack overflow\")\n\
         (assert_trap (invoke \"f\") \"unreachable\")\n",
        &CRANELIFT_AND_WASMI,
    );
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for engine in ["wasmtime-cranelift", "wasmi"] {
        let tally = format!("{engine}: 5 directives run (4 passed, 1 failed), 0 skipped");
        assert!(text.contains(&tally), "{text}");
        let failure =
            format!("recurse.wast:5:2: assert_trap failed ({engine}): expected trap Unreachable");
        assert!(text.contains(&failure), "{text}");
    }
}

#[test]
fn a_known_wasmi_bug_is_reported_as_known_and_exits_0() {
    let reproducer = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/findings/wasmi-2.0.0-return-value.wast");
    let text = std::fs::read_to_string(reproducer).unwrap();
    let buffer = wast::parser::ParseBuffer::new(&text).unwrap();
    let script: wast::Wast = wast::parser::parse(&buffer).unwrap();
    let wasm = script
        .directives
        .into_iter()
        .find_map(|directive| match directive {
            wast::WastDirective::Module(mut module) => Some(module.encode().unwrap()),
            _ => None,
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wasm");
    std::fs::write(&module, wasm).unwrap();
    let output = diff(&[
        module.to_str().unwrap(),
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "wasmi",
        "--invoke",
        "f",
        "-1",
    ]);
    let text = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("DIVERGE values (wasmi vs"), "{text}");
    assert!(
        text.contains("known divergence wasmi-2.0.0-preserved-local: wasmi 2.0.0 returns"),
        "{text}"
    );
}

#[test]
fn two_variants_of_one_tier_run_side_by_side_each_as_itself() {
    // Binaryen's -O1 sinks the division past the load: the load traps first there.
    let output = diff_script(
        "two-traps.wast",
        r#"(module (memory 1)
  (func (export "run") (param i32) (result i32) (local i32)
    (local.set 1 (i32.div_s (i32.const 1) (local.get 0)))
    (drop (i32.load (i32.const 100000)))
    (local.get 1)))
(assert_trap (invoke "run" (i32.const 0)) "integer divide by zero")
"#,
        &["--engine", "asyncify", "--engine", "asyncify@O1", "--json"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let codes: Vec<(&str, &str)> = report["directives"][1]["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let code = e["outcome"]["Trap"]["code"].as_str().unwrap();
            (e["engine"].as_str().unwrap(), code)
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("asyncify", "IntegerDivideByZero"),
            ("asyncify@O1", "MemoryOutOfBounds")
        ],
        "binaryen's optimizer may swap two traps; -O0 may not"
    );
    assert_eq!(report["directives"][1]["verdict"], "Agree", "{report}");
}

/// `-inf`, `-0` and `-nan` after `--invoke` are arguments, their sign kept, and a flag after
/// them is still a flag.
#[test]
fn invoke_arguments_may_start_with_a_hyphen() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("bits.wat");
    std::fs::write(
        &module,
        r#"(module (func (export "bits") (param f32) (result i32)
             (i32.reinterpret_f32 (local.get 0))))"#,
    )
    .unwrap();
    for (word, bits) in [
        ("-inf", 0xff80_0000_u32),
        ("-0", 0x8000_0000),
        ("-nan", 0xffc0_0000),
    ] {
        let module = module.to_str().unwrap();
        let output = diff(&[module, "--invoke", "bits", word, "--engine", "wasmi"]);
        let text = shown(&output);
        assert_eq!(output.status.code(), Some(0), "{word}: {text}");
        assert!(
            text.contains(&format!("[i32:{}]", bits as i32)),
            "{word}: {text}"
        );
    }
}
