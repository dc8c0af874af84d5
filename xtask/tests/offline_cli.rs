//! Without network on a machine where binaryen.js was never installed: the Asyncify tiers are unavailable, with npm's
//! reason and what to do, and every other engine runs.

mod common;

use common::{shown, xtask_with_env};
use serde_json::Value as Json;
use std::path::Path;

const PASSING: &str = r#"(module (func (export "two") (result i32) (i32.const 2)))
(assert_return (invoke "two") (i32.const 2))
"#;

/// An empty tools folder and an npm registry that refuses every connection.
fn offline(tools: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("LOCKSTEP_TOOLS", tools.display().to_string()),
        ("npm_config_registry", "http://127.0.0.1:9/".to_string()),
        ("npm_config_fetch_retries", "0".to_string()),
    ]
}

#[test]
fn the_default_engines_name_the_missing_binaryen_and_the_others_still_run() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).unwrap();
    std::fs::write(suite.join("two.wast"), PASSING).unwrap();
    let env = offline(&dir.path().join("tools"));
    let out = dir.path().join("out");
    let conformance = |engines: &[&str]| {
        let mut args = vec!["conformance", "--suite", suite.to_str().unwrap()];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(engines.iter().flat_map(|engine| ["--engine", *engine]));
        xtask_with_env(&args, &env)
    };

    let output = conformance(&[]);
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    for said in [
        "engine `asyncify` is unavailable",
        "`npm install binaryen@132.0.0` into",
        "code ECONNREFUSED",
        "LOCKSTEP_TOOLS",
    ] {
        assert!(printed.contains(said), "`{said}` in:\n{printed}");
    }
    assert!(
        !printed.contains("    at "),
        "no npm stack trace:\n{printed}"
    );

    let output = conformance(&["wasmtime-cranelift", "wasmi"]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));

    let output = xtask_with_env(&["engines", "--json"], &env);
    let engines: Json = serde_json::from_slice(&output.stdout).unwrap();
    for engine in engines.as_array().unwrap() {
        let unavailable = engine["unavailable"].as_str().unwrap_or_default();
        let asyncify = engine["id"].as_str().unwrap().starts_with("asyncify");
        assert_eq!(unavailable.contains("binaryen.js"), asyncify, "{engine}");
    }
}
