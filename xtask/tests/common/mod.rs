//! What every command-line test needs: run the built `xtask`, read what it printed, find a finding.

#![allow(dead_code, reason = "each test file uses the helpers it needs")]

pub mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A script whose last assertion is wrong on every engine (line 4, column 2).
pub const WRONG_ASSERTION: &str = r#"(module
  (func (export "two") (result i32) (i32.const 2)))
(assert_return (invoke "two") (i32.const 2))
(assert_return (invoke "two") (i32.const 3))
"#;

/// Runs `cargo xtask ARGS…` as a user would, and waits for it.
pub fn xtask(args: &[&str]) -> Output {
    xtask_with_env(args, &[])
}

/// Runs `cargo xtask ARGS…` with the variables `env` set, and waits for it.
pub fn xtask_with_env(args: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .output()
        .expect("running xtask")
}

/// Everything the command printed, standard output first.
pub fn shown(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr)
}

/// The finding folder in `out` whose name starts with `prefix`.
pub fn finding(out: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(out)
        .ok()?
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(prefix)
        })
}

/// Runs `cargo xtask ARGS…` under `timeout`, so that a hang fails the test
/// (exit 124) instead of blocking the suite.
pub fn xtask_within(seconds: u32, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg(seconds.to_string())
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("running timeout with xtask")
}

/// A test-sized `fuzz` campaign: seed 6, 400 modules on one job, each finding reduced for a second,
/// saved into `out`, on the engines `engine_args` name (`--engine ID` pairs).
pub fn fuzz_seed_6(out: &Path, engine_args: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec!["fuzz", "--seed", "6", "--iterations", "400", "--jobs", "1"];
    args.extend(["--reduce-time", "1", "--out", out]);
    args.extend(engine_args);
    xtask(&args)
}

/// `reduce` on the finding folder `dir` (one second, into `into`) still finds the divergence: exit 1.
pub fn assert_reduces(dir: &Path, into: &Path) {
    let dir = dir.to_str().unwrap();
    let reduced = xtask(&["reduce", dir, "--time", "1", "-o", into.to_str().unwrap()]);
    assert_eq!(reduced.status.code(), Some(1), "{}", shown(&reduced));
}
