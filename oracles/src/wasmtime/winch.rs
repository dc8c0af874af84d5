//! `wasmtime-winch`: wasmtime's Winch baseline compiler, a single-pass tier with a narrower proposal set.

use wasmparser::WasmFeatures;
use wasmtime::{Config, Strategy};

pub const TIER: super::Tier = super::Tier {
    id: "wasmtime-winch",
    features,
    configure,
    ahead_of_time: false,
    partial: true,
    cpu: Some(super::CpuLevel::Native),
};

/// Winch lacks the proposals wasmtime refuses to enable for it (see
/// `compiler_panicking_wasm_features` in wasmtime's config): no GC types, so
/// no `externref` either, no typed function references, no tail calls, no
/// exceptions, no relaxed SIMD.
fn features() -> WasmFeatures {
    super::full_features()
        - WasmFeatures::GC
        - WasmFeatures::GC_TYPES
        - WasmFeatures::FUNCTION_REFERENCES
        - WasmFeatures::TAIL_CALL
        - WasmFeatures::EXCEPTIONS
        - WasmFeatures::RELAXED_SIMD
}

fn configure(config: &mut Config) {
    config.strategy(Strategy::Winch);
}

#[cfg(test)]
mod tests {
    #[test]
    fn smoke() {
        super::super::smoke::check_tier(super::TIER);
    }
}
