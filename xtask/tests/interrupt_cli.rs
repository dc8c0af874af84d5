//! Interrupted runs: a killed conformance run leaves its results readable, a killed fuzz campaign resumes.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn start(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting xtask")
}

/// Waits (at most a minute) until `ready` holds for the file at `path`.
fn wait_for(path: &Path, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if ready(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never got ready",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_conformance_run_leaves_a_readable_partial_report() {
    let out = tempfile::tempdir().unwrap();
    let mut run = start(&[
        "conformance",
        "--suite",
        "wasm-v3",
        "--jobs",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stream = out.path().join("conformance.jsonl");
    wait_for(&stream, |text| text.lines().count() >= 3);
    run.kill().unwrap();
    run.wait().unwrap();
    let text = std::fs::read_to_string(&stream).unwrap();
    let complete: Vec<&str> = text.lines().collect();
    assert!(
        complete.len() >= 3 && complete.len() < 5 * 97,
        "a partial run: {} trials",
        complete.len()
    );
    for line in complete {
        let trial: serde_json::Value =
            serde_json::from_str(line).expect("every streamed line is whole JSON");
        assert!(
            trial["engine"].is_string() && trial["run"]["passed"].is_number(),
            "{trial}"
        );
    }
}

#[test]
fn a_killed_fuzz_campaign_resumes_where_it_stopped() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let engines = ["--engine", "wasmtime-cranelift", "--engine", "wasmi"];
    let mut first = vec![
        "fuzz",
        "--seed",
        "3",
        "--iterations",
        "1000000",
        "--out",
        dir,
    ];
    first.extend(engines);
    let mut campaign = start(&first);
    let checkpoint = out.path().join("campaign.json");
    // campaign.json exists from the start; wait for one written after some modules ran.
    wait_for(&checkpoint, |text| {
        serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|c| c["modules"].as_u64() > Some(0))
    });
    campaign.kill().unwrap();
    campaign.wait().unwrap();
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    let (from, modules) = (
        saved["resume_from"].as_u64().unwrap(),
        saved["modules"].as_u64().unwrap(),
    );
    assert!(from > 0 && modules > 0, "{saved}");

    let resumed = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["fuzz", "--resume", dir, "--iterations", "20"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&resumed.stderr).to_string();
    assert_eq!(resumed.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("resuming seed 3 at module {from}")),
        "{text}"
    );
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    assert_eq!(after["resume_from"].as_u64().unwrap(), from + 20, "{after}");
    assert_eq!(
        after["modules"].as_u64().unwrap(),
        modules + 20,
        "statistics carry over: {after}"
    );
    assert_eq!(
        after["engines"],
        serde_json::json!(["wasmtime-cranelift", "wasmi"])
    );
}
