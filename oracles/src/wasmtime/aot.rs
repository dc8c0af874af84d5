//! `wasmtime-aot`: modules precompiled to `.cwasm` files and loaded by a separate engine, the way AOT code ships.

use super::CpuLevel;
use std::io::{Seek, SeekFrom, Write};
use wasmtime::{Engine, Module};

/// Cranelift's code, compiled ahead of time for the host's CPU features.
pub const TIER: super::Tier = super::Tier {
    id: "wasmtime-aot",
    ahead_of_time: true,
    ..super::cranelift::TIER
};

/// Artifacts for any x86-64 CPU: SSE2 only.
pub const BASELINE: super::Tier = at_level("wasmtime-aot-baseline", CpuLevel::Baseline);

/// Artifacts for x86-64-v2: up to SSE4.2 and POPCNT.
pub const X86_64_V2: super::Tier = at_level("wasmtime-aot-x86-64-v2", CpuLevel::X86_64V2);

/// Artifacts for x86-64-v3: AVX2, FMA, BMI1/2, LZCNT.
pub const X86_64_V3: super::Tier = at_level("wasmtime-aot-x86-64-v3", CpuLevel::X86_64V3);

/// The AOT tier compiling for `cpu` instead of the host's features, as
/// artifacts built once for a fleet of machines are.
const fn at_level(id: &'static str, cpu: CpuLevel) -> super::Tier {
    super::Tier {
        id,
        cpu: Some(cpu),
        ..TIER
    }
}

/// The engine that loads artifacts, and what happens to them on the way.
#[derive(Clone)]
pub(super) struct Loader {
    pub engine: Engine,
    /// Changes an artifact between the compiler and the loader: nothing for
    /// the tier; tampering for the compatibility check (`compat.rs`), which
    /// loads such artifacts only in a worker process.
    pub transit: fn(&mut Vec<u8>),
    /// Whether the loader is configured for shared memories (Pulley's is not),
    /// and so whether its sessions get `spectest`'s shared memory.
    pub threads: bool,
}

impl Loader {
    /// A loader that gets every artifact as compiled, configured as the compiler of `tier`.
    pub fn faithful(engine: Engine, tier: super::Tier) -> Loader {
        Loader {
            engine,
            transit: |_| {},
            threads: (tier.features)().threads(),
        }
    }

    /// `artifact` as it reaches the loader.
    pub fn ship(&self, mut artifact: Vec<u8>) -> Vec<u8> {
        (self.transit)(&mut artifact);
        artifact
    }
}

/// Precompiles `wasm` with `compiler`, writes the `.cwasm` artifact to a file
/// and loads it with `loader`, an engine that never saw the original bytes.
/// The file has no name and is sealed once written (`oracles::tempfiles`):
/// nothing can replace or change it between the write and the load, and
/// nothing is left behind.
pub(super) fn compile_and_load(
    compiler: &Engine,
    loader: &Loader,
    wasm: &[u8],
) -> wasmtime::Result<Module> {
    let cwasm = loader.ship(compiler.precompile_module(wasm)?);
    let mut file = crate::tempfiles::anonymous_file()?;
    file.write_all(&cwasm)?;
    file.seek(SeekFrom::Start(0))?;
    let file = crate::tempfiles::seal(file)?;
    // SAFETY: the file was written just above from `precompile_module` and
    // sealed; it has no name, so no other process can open it, and this handle
    // is the only one. A loader configured apart from the compiler, or an artifact
    // changed in transit, is what wasmtime's compatibility checks are for;
    // where they fail to catch it, the compatibility check's worker process
    // bears the consequences.
    unsafe { Module::deserialize_open_file(&loader.engine, file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke() {
        super::super::smoke::check_tier(super::TIER);
    }

    #[test]
    fn smoke_at_every_level() {
        for tier in [BASELINE, X86_64_V2, X86_64_V3] {
            super::super::smoke::check_tier(tier);
        }
    }

    #[test]
    fn artifacts_are_real_cwasm_files() {
        let engine = Engine::default();
        let cwasm = engine.precompile_module(b"\0asm\x01\0\0\0").unwrap();
        assert_eq!(&cwasm[..4], b"\x7fELF", "a .cwasm artifact is an ELF image");
        let loader = Loader::faithful(Engine::default(), TIER);
        let module = compile_and_load(&engine, &loader, b"\0asm\x01\0\0\0");
        assert!(module.is_ok());
    }
}
