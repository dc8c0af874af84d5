//! The wasmi guest of the nested tiers: `cargo xtask guest` builds it (`engines/wasmi-guest`) to
//! `wasm32-wasip1`, and `run-live` runs it on a host tier with this process's standard streams, the
//! process a nested tier talks to (see `oracles::nested`).

use crate::Conclusion;
use anyhow::{Context, bail};
use oracles::wasi::{Ending, live};
use oracles::{EngineChoice, Engines, Watchdog};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::TARGET;

/// Builds the guest in release and copies it where the nested tiers find it, stamped with the
/// digest of its sources (see `oracles::nested::SOURCES`). It goes to
/// `CARGO_TARGET_DIR` when that is set (a target dir shared by several checkouts), else to
/// `target/guest`, so that it never waits for nor invalidates the workspace's own build.
pub fn build() -> anyhow::Result<Conclusion> {
    crate::corpus::add_target()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target").join("guest"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "wasmi-guest",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&root)
        .status()
        .context("running cargo build on the guest")?;
    if !status.success() {
        bail!("building the wasmi guest failed");
    }
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join("wasmi-guest.wasm");
    let installed = oracles::nested::guest_path();
    std::fs::copy(&built, &installed)
        .with_context(|| format!("copying {} to {}", built.display(), installed.display()))?;
    // The sources this lockstep was built from are those the guest was just built from.
    let stamp = oracles::nested::stamp_path();
    std::fs::write(&stamp, format!("{}\n", oracles::nested::SOURCES))
        .with_context(|| format!("writing {}", stamp.display()))?;
    let size = std::fs::metadata(&installed)?.len();
    println!("{} {size} bytes", installed.display());
    Ok(Conclusion::Agree)
}

/// Runs the WASI command `program` on `engine` with this process's standard streams until it exits;
/// exits as it did. A guest that traps or cannot start is a harness failure, told on standard error.
pub fn run_live(engine: &EngineChoice, program: &Path) -> anyhow::Result<Conclusion> {
    let engines = Engines::new(Watchdog::Outside, Default::default());
    let Some(host) = engines.program_engine(engine) else {
        bail!("`{engine}` does not run WASI programs");
    };
    let wasm = std::fs::read(program).with_context(|| format!("reading {}", program.display()))?;
    let name = program.file_name().unwrap_or_default().to_string_lossy();
    match live::run(host.as_ref(), &wasm, &name) {
        Ending::Exit(0) => Ok(Conclusion::Agree),
        Ending::Exit(status) => std::process::exit(status),
        Ending::Outcome(outcome) => bail!("{} on {engine}: {outcome}", program.display()),
    }
}
