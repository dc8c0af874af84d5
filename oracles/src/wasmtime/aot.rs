//! `wasmtime-aot`: modules precompiled to `.cwasm` files and loaded by a separate engine, the way AOT code ships.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::{Engine, Module};

/// Cranelift's code, compiled ahead of time.
pub const TIER: super::Tier = super::Tier {
    id: "wasmtime-aot",
    ahead_of_time: true,
    ..super::cranelift::TIER
};

/// Precompiles `wasm` with `compiler`, writes the `.cwasm` artifact to disk and
/// loads it with `loader`, an engine that never saw the original bytes.
pub(super) fn compile_and_load(
    compiler: &Engine,
    loader: &Engine,
    wasm: &[u8],
) -> wasmtime::Result<Module> {
    let cwasm = compiler.precompile_module(wasm)?;
    let path = artifact_path();
    std::fs::write(&path, &cwasm)?;
    // SAFETY: the file was written just above by `precompile_module` of an
    // engine with the same configuration, and nothing else writes to it.
    let module = unsafe { Module::deserialize_file(loader, &path) };
    // The module keeps its own mapping of the code; the file is no longer needed.
    let _ = std::fs::remove_file(&path);
    module
}

fn artifact_path() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("lockstep-aot-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(format!("{}.cwasm", NEXT.fetch_add(1, Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        super::super::smoke::check_tier(super::TIER);
    }

    #[test]
    fn artifacts_are_real_cwasm_files() {
        let engine = Engine::default();
        let cwasm = engine.precompile_module(b"\0asm\x01\0\0\0").unwrap();
        assert_eq!(&cwasm[..4], b"\x7fELF", "a .cwasm artifact is an ELF image");
        let module = compile_and_load(&engine, &Engine::default(), b"\0asm\x01\0\0\0");
        assert!(module.is_ok());
    }
}
