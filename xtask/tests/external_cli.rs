//! External engines that misbehave (garbage or invalid UTF-8 output, overlong lines, replies under
//! another id, exit mid-call, hang, no state after a call, processes left behind): each call's
//! outcome says what happened, the run goes on to its end and leaves nothing running. Also: V8 and wasm3 answer like the others.

mod common;

use common::tools::{self, Test, Tool};
use common::{shown, xtask};
use serde_json::Value as Json;
use std::process::Command;

/// What the bundled external engines run on: V8 on Node.js, wasm3 on pywasm3.
const BUNDLED_RUNTIMES: &[Tool] = &[Tool::Node, Tool::Pywasm3];

fn main() {
    tools::run(vec![
        Test::new(
            "garbage_output_is_a_crash_of_that_call",
            &[],
            garbage_output_is_a_crash_of_that_call,
        ),
        Test::new(
            "an_engine_exiting_mid_call_is_a_crash_with_its_status",
            &[],
            an_engine_exiting_mid_call_is_a_crash_with_its_status,
        ),
        Test::new(
            "a_hanging_engine_runs_out_of_time",
            &[],
            a_hanging_engine_runs_out_of_time,
        ),
        Test::new(
            "an_invalid_utf8_reply_is_a_crash_and_a_divergence_in_a_worker_and_in_process",
            &[],
            an_invalid_utf8_reply_is_a_crash_and_a_divergence_in_a_worker_and_in_process,
        ),
        Test::new(
            "invalid_bytes_on_stderr_are_not_a_crash",
            &[],
            invalid_bytes_on_stderr_are_not_a_crash,
        ),
        Test::new(
            "a_reply_to_another_request_is_a_crash",
            &[],
            a_reply_to_another_request_is_a_crash,
        ),
        Test::new(
            "a_process_the_engine_starts_does_not_outlive_the_run",
            &[],
            a_process_the_engine_starts_does_not_outlive_the_run,
        ),
        Test::new(
            "a_100_mb_reply_is_refused_as_too_long_and_costs_little_memory",
            &[],
            a_100_mb_reply_is_refused_as_too_long_and_costs_little_memory,
        ),
        Test::new(
            "a_conformance_run_with_a_broken_engine_completes_and_reports_every_file",
            &[],
            a_conformance_run_with_a_broken_engine_completes_and_reports_every_file,
        ),
        Test::new(
            "engines_lists_v8_and_wasm3_with_versions_and_proposals",
            BUNDLED_RUNTIMES,
            engines_lists_v8_and_wasm3_with_versions_and_proposals,
        ),
        Test::new(
            AGREE_TEST,
            BUNDLED_RUNTIMES,
            v8_and_wasm3_agree_with_wasmi_on_values_traps_and_host_functions,
        ),
        Test::new(
            "v8s_shared_trap_messages_agree_with_the_precise_codes_of_other_engines",
            &[Tool::Node],
            v8s_shared_trap_messages_agree_with_the_precise_codes_of_other_engines,
        ),
        Test::new(
            "a_difference_from_a_limit_the_engine_cannot_apply_is_inconclusive",
            &[],
            a_difference_from_a_limit_the_engine_cannot_apply_is_inconclusive,
        ),
        Test::new(
            "a_state_the_engine_does_not_send_is_not_judged",
            &[],
            a_state_the_engine_does_not_send_is_not_judged,
        ),
        tools::skipped_visibly_without(Tool::Pywasm3, AGREE_TEST),
    ])
}

const AGREE_TEST: &str = "v8_and_wasm3_agree_with_wasmi_on_values_traps_and_host_functions";

const MODULE: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "sub") (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1))))"#;

/// `--engine NAME=COMMAND` for the example engine, broken in `mode` (with its further arguments).
fn broken_engine(mode: &str) -> String {
    let exe = env!("CARGO_BIN_EXE_xtask");
    format!("broken={exe} example-engine --broken {mode}")
}

/// An engine that cannot apply the memory limit, and says so in `hello`, lets `memory.grow` past
/// `--memory 1` succeed where wasmi refuses: `diff` labels that step inconclusive with the reason
/// and exits 0. The same engine applying the limit agrees.
fn a_difference_from_a_limit_the_engine_cannot_apply_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("grow.wat");
    let grow =
        r#"(module (memory 1) (func (export "grow") (result i32) (memory.grow (i32.const 100))))"#;
    std::fs::write(&module, grow).unwrap();
    let exe = env!("CARGO_BIN_EXE_xtask");
    let diff = |flags: &str| {
        let engine = format!("ext={exe} example-engine{flags}");
        let path = module.to_str().unwrap();
        xtask(&[
            "diff", path, "--memory", "1", "--engine", "wasmi", "--engine", &engine,
        ])
    };
    let unapplied = diff(" --unapplied memory_bytes --unapplied call_time_ms");
    let text = shown(&unapplied);
    assert_eq!(unapplied.status.code(), Some(0), "{text}");
    assert!(
        text.contains("inconclusive: ext cannot apply lockstep's memory limit (its hello says so)"),
        "{text}"
    );
    assert!(
        text.contains("[i32:1]") && text.contains("[i32:-1]"),
        "{text}"
    );
    let applied = diff("");
    assert_eq!(applied.status.code(), Some(0), "{}", shown(&applied));
    assert!(
        !shown(&applied).contains("inconclusive"),
        "{}",
        shown(&applied)
    );
}

/// How long a `diff` of two calls may take before the test calls it hung.
const HUNG: &str = "120";

/// `diff --json` of both calls with wasmi and the example engine broken in
/// `mode`, plus `extra` arguments: the exit code, and what the broken engine
/// gave each call.
fn diff_with_broken(mode: &str, extra: &[&str]) -> (Option<i32>, Vec<Json>) {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wat");
    std::fs::write(&module, MODULE).unwrap();
    let engine = broken_engine(mode);
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let (path, json) = (module.to_str().unwrap(), "--json");
    let mut args = vec![
        HUNG, xtask, "diff", path, "--engine", "wasmi", "--engine", &engine, json,
    ];
    args.extend(extra);
    let output = Command::new("timeout").args(&args).output().unwrap();
    assert_ne!(
        output.status.code(),
        Some(124),
        "diff hung: {}",
        shown(&output)
    );
    assert_ne!(output.status.code(), Some(2), "{}", shown(&output));
    let run: Json = serde_json::from_slice(&output.stdout).expect("diff prints JSON");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 4, "compile, instantiate and both calls: {run}");
    let outcomes = steps[2..]
        .iter()
        .map(|step| {
            let seen = step["observations"].as_array().unwrap();
            let wasmi = seen.iter().find(|o| o["engine"] == "wasmi").unwrap();
            assert!(
                wasmi["outcome"]["Values"].is_array(),
                "wasmi still ran: {step}"
            );
            seen.iter().find(|o| o["engine"] == "broken").unwrap()["outcome"].clone()
        })
        .collect();
    (output.status.code(), outcomes)
}

/// What the broken engine gave each call of `diff` (in worker processes).
fn call_outcomes(mode: &str) -> Vec<Json> {
    diff_with_broken(mode, &[]).1
}

/// The text of a crashed outcome.
fn crash(outcome: &Json) -> &str {
    outcome["Crashed"]
        .as_str()
        .unwrap_or_else(|| panic!("crashed: {outcome}"))
}

fn garbage_output_is_a_crash_of_that_call() {
    for outcome in call_outcomes("garbage") {
        let why = crash(&outcome);
        assert!(why.contains("not the protocol"), "{why}");
        assert!(why.contains("Segmentation fault"), "{why}");
    }
}

fn an_engine_exiting_mid_call_is_a_crash_with_its_status() {
    for outcome in call_outcomes("exit") {
        let why = crash(&outcome);
        assert!(why.contains("exited with status 3"), "{why}");
    }
}

fn a_hanging_engine_runs_out_of_time() {
    for outcome in call_outcomes("hang") {
        assert_eq!(outcome["Exhausted"], "Time");
    }
}

fn an_invalid_utf8_reply_is_a_crash_and_a_divergence_in_a_worker_and_in_process() {
    for extra in [&[][..], &["--in-process"]] {
        let (code, outcomes) = diff_with_broken("invalid-utf8", extra);
        assert_eq!(code, Some(1), "a divergence, not an all-clear ({extra:?})");
        for outcome in outcomes {
            assert!(crash(&outcome).contains("not the protocol"), "{outcome}");
        }
    }
}

fn invalid_bytes_on_stderr_are_not_a_crash() {
    let (code, outcomes) = diff_with_broken("stderr-bytes", &[]);
    assert_eq!(code, Some(0), "{outcomes:?}");
    for outcome in outcomes {
        assert!(outcome["Values"].is_array(), "{outcome}");
    }
}

fn a_reply_to_another_request_is_a_crash() {
    for outcome in call_outcomes("wrong-id") {
        assert!(crash(&outcome).contains("a reply to request"), "{outcome}");
    }
}

fn a_process_the_engine_starts_does_not_outlive_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let mode = format!("fork --pid-file {}", pids.display());
    for extra in [&[][..], &["--in-process"]] {
        let (code, _) = diff_with_broken(&mode, extra);
        assert_eq!(code, Some(0), "{extra:?}");
    }
    let pids = std::fs::read_to_string(pids).unwrap();
    assert_eq!(pids.lines().count(), 4, "two calls, twice: {pids}");
    for pid in pids.lines() {
        assert!(ends_soon(pid), "process {pid} outlived the run");
    }
}

/// Whether process `pid` is gone (or a zombie) within two seconds.
fn ends_soon(pid: &str) -> bool {
    let stat = format!("/proc/{pid}/stat");
    (0..200).any(|_| {
        let gone = std::fs::read_to_string(&stat).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('Z')
        });
        if !gone {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        gone
    })
}

fn a_100_mb_reply_is_refused_as_too_long_and_costs_little_memory() {
    let (code, outcomes) = diff_with_broken("flood", &["--in-process"]);
    assert_eq!(code, Some(1));
    for outcome in outcomes {
        assert!(crash(&outcome).contains("line longer than"), "{outcome}");
    }
    // The largest resident size of any process this test binary waited for,
    // directly or not: diff itself, here, since the engine writes in small chunks.
    // SAFETY: getrusage(2) writes only into `usage`, a plain C struct zeroed here.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    };
    assert!(peak_kib < 300 * 1024, "peak {peak_kib} KiB");
}

fn a_conformance_run_with_a_broken_engine_completes_and_reports_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    let check = |name: &str, result: i32| {
        format!(
            "{MODULE}\n(assert_return (invoke \"{name}\" (i32.const 3) (i32.const 2)) (i32.const {result}))\n"
        )
    };
    std::fs::write(suite.join("a.wast"), check("add", 5)).unwrap();
    std::fs::write(suite.join("b.wast"), check("sub", 1)).unwrap();
    let out = dir.path().join("out");
    let engine = broken_engine("exit");
    let output = xtask(&[
        "conformance",
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--engine",
        "wasmi",
        "--engine",
        &engine,
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let report: Json =
        serde_json::from_str(&std::fs::read_to_string(out.join("conformance.json")).unwrap())
            .unwrap();
    let trials = report["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 4, "two files on two engines");
    for trial in trials {
        let failures = trial["run"]["failures"].as_array().unwrap();
        match trial["engine"].as_str().unwrap() {
            "wasmi" => assert!(failures.is_empty(), "{trial}"),
            _ => assert!(
                failures[0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("exited with status 3"),
                "{trial}"
            ),
        }
    }
}

fn engines_lists_v8_and_wasm3_with_versions_and_proposals() {
    let output = xtask(&["engines", "--json"]);
    let engines: Json = serde_json::from_slice(&output.stdout).unwrap();
    for (id, proposal) in [("v8", "simd"), ("wasm3", "multi-value")] {
        let engine = engines
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"));
        assert_eq!(engine["unavailable"], Json::Null, "{engine}");
        assert!(!engine["version"].as_str().unwrap().is_empty());
        let proposals = engine["proposals"].as_array().unwrap();
        assert!(proposals.iter().any(|p| p == proposal), "{engine}");
    }
}

fn v8_and_wasm3_agree_with_wasmi_on_values_traps_and_host_functions() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("m.wat");
    let text = r#"(module
      (import "host" "f" (func $h (param i64) (result f64)))
      (memory (export "mem") 1)
      (global (export "g") (mut i64) (i64.const 0))
      (func (export "call") (param i64) (result f64)
        (global.set 0 (local.get 0))
        (i64.store (i32.const 8) (local.get 0))
        (call $h (local.get 0)))
      (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1))))"#;
    std::fs::write(&module, text).unwrap();
    let path = module.to_str().unwrap();
    for call in [&["call", "-7"][..], &["div", "1", "0"]] {
        let mut command = vec!["diff", path, "--engine", "wasmi", "--engine", "v8"];
        command.extend(["--engine", "wasm3", "--json", "--invoke"]);
        command.extend(call);
        let output = xtask(&command);
        assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
        let run: Json = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(run["steps"][2]["verdict"], "Agree", "{run}");
        let outcome = &run["steps"][2]["observations"][0]["outcome"];
        let expected = if call[0] == "div" { "Trap" } else { "Values" };
        assert!(outcome.get(expected).is_some(), "{outcome}");
    }
}

fn v8s_shared_trap_messages_agree_with_the_precise_codes_of_other_engines() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("traps.wast");
    let text = r#"(module
      (type $unary (func (param i32) (result i32)))
      (table 2 funcref)
      (elem (i32.const 0) $nullary)
      (func $nullary (result i32) (i32.const 1))
      (func (export "mismatch") (result i32) (call_indirect (type $unary) (i32.const 0) (i32.const 0)))
      (func (export "null") (result i32) (call_indirect (type $unary) (i32.const 0) (i32.const 1)))
      (func (export "nan") (result i32) (i32.trunc_f32_s (f32.const nan)))
      (func (export "big") (result i32) (i32.trunc_f64_u (f64.const 1e10))))
(assert_trap (invoke "mismatch") "indirect call type mismatch")
(assert_trap (invoke "null") "uninitialized element")
(assert_trap (invoke "nan") "invalid conversion to integer")
(assert_trap (invoke "big") "integer overflow")
"#;
    std::fs::write(&script, text).unwrap();
    let output = xtask(&[
        "diff",
        script.to_str().unwrap(),
        "--engine",
        "v8",
        "--engine",
        "wasmtime-cranelift",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
}

/// A call that writes memory, on two engines that read their state after it and one that never
/// sends it (as V8 past its time on the state request): not a divergence from an empty state,
/// not an agreement either, in a worker and in process.
fn a_state_the_engine_does_not_send_is_not_judged() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("store.wat");
    std::fs::write(
        &module,
        r#"(module (memory (export "mem") 1)
             (func (export "store") (result i32) (i32.store (i32.const 8) (i32.const 42)) (i32.const 1)))"#,
    )
    .unwrap();
    let engine = broken_engine("no-state");
    for extra in [&[][..], &["--in-process"]] {
        let mut args = vec!["diff", module.to_str().unwrap(), "--engine", "wasmi"];
        args.extend(["--engine", "wasmtime-cranelift", "--engine", &engine]);
        args.extend(["--call-time", "1", "--json"]);
        args.extend(extra);
        let output = xtask(&args);
        let text = shown(&output);
        assert_eq!(output.status.code(), Some(0), "{extra:?}: {text}");
        let run: Json = serde_json::from_slice(&output.stdout).unwrap();
        let call = &run["steps"][2];
        let why = call["verdict"]["Inconclusive"].as_str().unwrap_or_default();
        assert!(
            why.starts_with("state not judged (broken: no reply to the state request"),
            "{extra:?}: {call}"
        );
        let broken = call["observations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["engine"] == "broken")
            .unwrap();
        assert_eq!(broken["outcome"]["Values"][0]["I32"], 1, "{call}");
        assert_eq!(
            broken["state_unread"]["no-reply"]["Exhausted"], "Time",
            "{call}"
        );
    }
}
