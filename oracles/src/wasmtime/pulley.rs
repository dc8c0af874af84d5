//! `wasmtime-pulley`: wasmtime's portable Pulley interpreter, Cranelift compiling to `pulley64` bytecode.

use wasmparser::WasmFeatures;
use wasmtime::Config;

pub const TIER: super::Tier = super::Tier {
    id: "wasmtime-pulley",
    features,
    configure,
    ahead_of_time: false,
    partial: true,
    cpu: None,
};

/// Pulley cannot implement shared memory soundly in Rust, so it has no threads.
fn features() -> WasmFeatures {
    super::full_features() - WasmFeatures::THREADS
}

fn configure(config: &mut Config) {
    config
        .target("pulley64")
        .expect("pulley64 is a target wasmtime always knows");
}

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        super::super::smoke::check_tier(super::TIER);
    }
}
