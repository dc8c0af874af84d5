//! Programs that write without end, as lockstep meets them: every tier stops at the same limits and
//! ends as `exhausted Output` (inconclusive, never a divergence), within bounded memory; a FIFO handed
//! in as scratch content is refused instead of read.

mod common;

use common::shown;
use serde_json::Value as Json;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cargo xtask ARGS…`, failing the test (and leaving the process to the test's end) after `limit`.
fn xtask_within(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running xtask");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output().unwrap()));
    receiver
        .recv_timeout(limit)
        .unwrap_or_else(|_| panic!("`xtask {}` still running after {limit:?}", args.join(" ")))
}

/// The ending of every run in a `--json` report.
fn endings(output: &Output) -> Vec<Json> {
    let report: Json = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let runs = report["runs"].as_array().expect("runs");
    runs.iter().map(|run| run["ending"].clone()).collect()
}

/// The largest resident set of any process this test started and waited for, workers included.
fn peak_child_mib() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as f64 / 1024.0
}

#[test]
fn a_program_writing_100_mib_ends_as_exhausted_output_on_every_tier_in_bounded_memory() {
    let args = ["diff", &fixture("write_100mib.wat"), "--json"];
    let output = xtask_within(&args, Duration::from_secs(300));
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let endings = endings(&output);
    assert_eq!(endings.len(), oracles::tiers::default_ids().len());
    for ending in endings {
        assert_eq!(
            ending,
            serde_json::json!({"Outcome": {"Exhausted": "Output"}})
        );
    }
    let peak = peak_child_mib();
    assert!(peak < 300.0, "a process of the run peaked at {peak:.0} MiB");
}

#[test]
fn a_sparse_terabyte_file_ends_as_exhausted_output_without_reading_it() {
    let args = [
        "diff",
        &fixture("sparse_file.wat"),
        "--engine",
        "wasmi",
        "--engine",
        "wasmtime-cranelift",
        "--json",
    ];
    let output = xtask_within(&args, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    for ending in endings(&output) {
        assert_eq!(
            ending,
            serde_json::json!({"Outcome": {"Exhausted": "Output"}})
        );
    }
}

#[test]
fn a_fifo_in_the_scratch_folder_is_bad_input_instead_of_a_hang() {
    let scratch = tempfile::tempdir().unwrap();
    let fifo = scratch.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let folder = scratch.path().display().to_string();
    let args = [
        "diff",
        &fixture("write_file.wat"),
        "--engine",
        "wasmi",
        "--scratch",
        &folder,
    ];
    let output = xtask_within(&args, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(2), "{}", shown(&output));
    assert!(
        shown(&output).contains("pipe is a fifo"),
        "{}",
        shown(&output)
    );
}
