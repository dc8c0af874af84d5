//! `wasmtime-aot`: modules precompiled to `.cwasm` files and loaded by a separate engine, the way AOT code ships.

use std::io::{Seek, SeekFrom, Write};
use wasmtime::{Engine, Module};

/// Cranelift's code, compiled ahead of time.
pub const TIER: super::Tier = super::Tier {
    id: "wasmtime-aot",
    ahead_of_time: true,
    ..super::cranelift::TIER
};

/// Precompiles `wasm` with `compiler`, writes the `.cwasm` artifact to a file
/// and loads it with `loader`, an engine that never saw the original bytes.
/// The file has no name (`oracles::tempfiles`): nothing can replace it between
/// the write and the load, and nothing is left behind.
pub(super) fn compile_and_load(
    compiler: &Engine,
    loader: &Engine,
    wasm: &[u8],
) -> wasmtime::Result<Module> {
    let cwasm = compiler.precompile_module(wasm)?;
    let mut file = crate::tempfiles::anonymous_file()?;
    file.write_all(&cwasm)?;
    file.seek(SeekFrom::Start(0))?;
    // SAFETY: the file was written just above by `precompile_module` of an
    // engine with the same configuration; it has no name, so no other process
    // can open it, and this handle is the only one.
    unsafe { Module::deserialize_open_file(loader, file) }
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
