//! Temporary files as an attacker sharing the machine meets them: symlinks planted in the temporary
//! directory under the names lockstep used to pick redirect nothing, and a run leaves nothing behind.

mod common;

use common::shown;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Starts `cargo xtask ARGS…` with `tmp` as its temporary directory.
fn start(tmp: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running xtask")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_planted_scratch_symlink_does_not_turn_another_folder_into_the_programs_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tempfile::tempdir().unwrap();
    let args = [
        "diff",
        &fixture("write_file.wat"),
        "--engine",
        "wasmi",
        "--in-process",
    ];
    let child = start(tmp.path(), &args);
    // The names the scratch directories of this process would have had: pid and a counter.
    for n in 0..4 {
        let planted = tmp.path().join(format!("lockstep-wasi-{}-{n}", child.id()));
        std::os::unix::fs::symlink(victim.path(), planted).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    assert!(
        entries(victim.path()).is_empty(),
        "the program wrote into the planted folder: {:?}",
        entries(victim.path())
    );
}

#[test]
fn a_planted_artifact_symlink_does_not_make_aot_overwrite_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(victim.path(), "precious\n").unwrap();
    let args = [
        "diff",
        &fixture("uncaught_pair.wat"),
        "--engine",
        "wasmtime-aot",
        "--engine",
        "wasmtime-cranelift",
        "--in-process",
    ];
    let child = start(tmp.path(), &args);
    // The artifact path this process would have used: a folder named by its pid, a counter per file.
    let planted = tmp.path().join(format!("lockstep-aot-{}", child.id()));
    std::fs::create_dir(&planted).unwrap();
    for n in 0..4 {
        std::os::unix::fs::symlink(victim.path(), planted.join(format!("{n}.cwasm"))).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.code().is_some(), "{}", shown(&output));
    assert_eq!(
        std::fs::read_to_string(victim.path()).unwrap(),
        "precious\n"
    );
}

#[test]
fn a_module_diff_on_every_default_engine_leaves_no_lockstep_folder_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let child = start(tmp.path(), &["diff", &fixture("uncaught_pair.wat")]);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}

#[test]
fn a_program_diff_in_worker_processes_leaves_no_lockstep_folder_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["diff", &fixture("write_file.wat"), "--engine", "wasmi"];
    let output = start(tmp.path(), &args).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    assert_eq!(entries(tmp.path()), Vec::<String>::new());
}
