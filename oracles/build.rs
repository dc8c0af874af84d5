//! Digests the sources the wasmi guest is built from into `LOCKSTEP_GUEST_SOURCES`, so that the
//! nested tiers can refuse a guest that `cargo xtask guest` built from other sources
//! (`oracles::nested`).

use std::path::{Path, PathBuf};

/// What the guest (`engines/wasmi-guest`) is built from, relative to the workspace root: its own
/// crate, the crates it depends on in this workspace, and the versions of the others.
const GUEST_SOURCES: [&str; 9] = [
    "engines/wasmi-guest/src",
    "engines/wasmi-guest/Cargo.toml",
    "protocol-server/src",
    "protocol-server/Cargo.toml",
    "oracles/src",
    "oracles/Cargo.toml",
    "oracles/build.rs",
    "Cargo.toml",
    "Cargo.lock",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut hasher = blake3::Hasher::new();
    for source in GUEST_SOURCES {
        println!("cargo:rerun-if-changed=../{source}");
        for file in files(&root.join(source)) {
            let name = file.strip_prefix(&root).unwrap_or(&file);
            let contents = std::fs::read(&file).unwrap_or_default();
            hasher.update(name.to_string_lossy().as_bytes());
            hasher.update(&(contents.len() as u64).to_le_bytes());
            hasher.update(&contents);
        }
    }
    let digest = hasher.finalize().to_hex();
    println!("cargo:rustc-env=LOCKSTEP_GUEST_SOURCES={}", &digest[..32]);
}

/// `path` if it is a file, else every file below it, in name order.
fn files(path: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(path) else {
        return vec![path.to_path_buf()];
    };
    let mut below: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    below.sort();
    below.iter().flat_map(|entry| files(entry)).collect()
}
