//! wasm-smith narrowed to the proposals every chosen engine runs, with a swarm over which of those are on.

use crate::seed::Choices;
use crate::{Generated, args, exports};
use oracles::differential::Invocation;
use wasmparser::WasmFeatures;

/// Raw bytes wasm-smith draws a module from.
const ENTROPY: usize = 8 * 1024;
/// More raw bytes for each function a module must have.
const ENTROPY_PER_FUNCTION: usize = 1024;
/// Loop iterations and calls a generated module may make before it traps, per instance.
const FUEL: u32 = 1000;

/// How many functions [`HOST_IMPORTS`] offers.
const HOST_IMPORT_COUNT: usize = 7;
/// The host functions generated modules may import; lockstep's sessions supply them.
const HOST_IMPORTS: &str = r#"(module
  (import "host" "i32" (func (param i32) (result i32)))
  (import "host" "i64" (func (param i64) (result i64)))
  (import "host" "f32" (func (param f32) (result f32)))
  (import "host" "f64" (func (param f64) (result f64)))
  (import "host" "mix" (func (param i32 i64 f32 f64) (result i32)))
  (import "host" "tick" (func (result i32)))
  (import "host" "sink" (func (param i32))))"#;

/// A wasm-smith configuration using only proposals in `shared`, each of them
/// switched on or off at random so that runs explore feature combinations.
pub fn config(shared: WasmFeatures, rng: &mut impl Choices) -> wasm_smith::Config {
    let mut swarm = |feature: WasmFeatures| shared.contains(feature) && rng.chance(3, 4);
    let mut config = wasm_smith::Config {
        simd_enabled: swarm(WasmFeatures::SIMD),
        tail_call_enabled: swarm(WasmFeatures::TAIL_CALL),
        exceptions_enabled: swarm(WasmFeatures::EXCEPTIONS),
        multi_value_enabled: swarm(WasmFeatures::MULTI_VALUE),
        bulk_memory_enabled: swarm(WasmFeatures::BULK_MEMORY),
        saturating_float_to_int_enabled: swarm(WasmFeatures::SATURATING_FLOAT_TO_INT),
        sign_extension_ops_enabled: swarm(WasmFeatures::SIGN_EXTENSION),
        memory64_enabled: swarm(WasmFeatures::MEMORY64),
        wide_arithmetic_enabled: swarm(WasmFeatures::WIDE_ARITHMETIC),
        custom_page_sizes_enabled: swarm(WasmFeatures::CUSTOM_PAGE_SIZES),
        extended_const_enabled: swarm(WasmFeatures::EXTENDED_CONST),
        // wasm-smith's reference types include `externref`, which needs GC types.
        reference_types_enabled: swarm(WasmFeatures::REFERENCE_TYPES | WasmFeatures::GC_TYPES),
        gc_enabled: swarm(WasmFeatures::GC | WasmFeatures::GC_TYPES),
        max_memories: if swarm(WasmFeatures::MULTI_MEMORY) {
            2
        } else {
            1
        },
        // Relaxed SIMD results may legitimately differ between engines; threads
        // need more than one thread to mean anything. Neither is generated.
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        custom_descriptors_enabled: false,
        compact_imports_enabled: false,
        // Every export is called, every NaN is canonical, every module terminates.
        export_everything: true,
        canonicalize_nans: true,
        available_imports: crate::wat_to_wasm(HOST_IMPORTS).ok(),
        max_funcs: 30,
        max_memory32_bytes: 16 << 16,
        max_memory64_bytes: 16 << 16,
        max_table_elements: 1000,
        ..wasm_smith::Config::default()
    };
    if !config.reference_types_enabled {
        config.gc_enabled = false;
    }
    config
}

/// A random module valid under `shared`, with a call of every export.
pub fn module(shared: WasmFeatures, rng: &mut impl Choices) -> Result<Generated, String> {
    module_with_functions(shared, rng, 0)
}

/// A random module with at least `functions` defined functions.
pub fn module_with_functions(
    shared: WasmFeatures,
    rng: &mut impl Choices,
    functions: usize,
) -> Result<Generated, String> {
    let mut config = config(shared, rng);
    config.min_funcs = functions;
    // wasm-smith counts imported functions against the maximum too.
    config.max_funcs = config.max_funcs.max(functions + HOST_IMPORT_COUNT);
    let entropy = ENTROPY + functions * ENTROPY_PER_FUNCTION;
    let mut module = rng
        .with_unstructured(entropy, |u| wasm_smith::Module::new(config, u))
        .map_err(|e| e.to_string())?;
    module.ensure_termination(FUEL).map_err(|e| e.to_string())?;
    let wasm = crate::canonical::canonicalize_conversions(&module.to_bytes())?;
    let calls = exports::functions(&wasm)
        .into_iter()
        .map(|f| Invocation {
            args: args::arguments(rng, &f.params),
            export: f.name,
            expected: None,
        })
        .collect();
    Ok(Generated { wasm, calls })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;

    #[test]
    fn modules_stay_inside_the_shared_features() {
        let shared = WasmFeatures::WASM2 - WasmFeatures::SIMD;
        for item in 0..20 {
            let generated = module(shared, &mut Rng::for_item(7, item)).unwrap();
            assert!(
                oracles::features::validates(&generated.wasm, shared),
                "module {item}"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_module() {
        let a = module(WasmFeatures::WASM2, &mut Rng::for_item(3, 9)).unwrap();
        let b = module(WasmFeatures::WASM2, &mut Rng::for_item(3, 9)).unwrap();
        assert_eq!(a.wasm, b.wasm);
    }
}
