//! Planted divergences: a large generated module with one extra function that a mutant engine gets wrong,
//! for measuring and testing reduction.

use crate::seed::Rng;
use wasmparser::WasmFeatures;

/// Functions planted bugs hide among.
pub const HAYSTACK: usize = 50;

/// A bug to plant, the mutant engine that has it, and the proposals the planted function needs.
pub struct Plant {
    pub name: &'static str,
    pub mutant: &'static str,
    pub function: &'static str,
    pub features: WasmFeatures,
}

/// One plant per mutant that miscomputes rather than crashes.
pub const PLANTS: &[Plant] = &[
    Plant {
        name: "i64.rem_s of a negative number",
        mutant: "mutant:rem-s-as-rem-u",
        function: "(func (export \"planted\") (param i64) (result i64)
           (i64.add (local.get 0) (i64.rem_s (i64.const -7) (i64.const 3))))",
        features: WasmFeatures::empty(),
    },
    Plant {
        name: "a million tail calls",
        mutant: "mutant:return-call-as-call",
        function: "(func $planted (export \"planted\") (param i64) (result i64)
           (if (result i64) (i64.ge_u (local.get 0) (i64.const 1000000)) (then (local.get 0))
             (else (return_call $planted (i64.add (local.get 0) (i64.const 1))))))",
        features: WasmFeatures::TAIL_CALL,
    },
    Plant {
        name: "an uncaught exception's payload",
        mutant: "mutant:exception-payload",
        function: "(tag $planted (export \"planted-tag\") (param i32 f64))
         (func (export \"planted\") (param i32) (throw $planted (local.get 0) (f64.const 1.5)))",
        features: WasmFeatures::EXCEPTIONS,
    },
];

/// A generated module of at least [`HAYSTACK`] functions with `plant`'s function added, as text.
pub fn module(plant: &Plant, seed: u64) -> Result<String, String> {
    let haystack =
        crate::smith::module_with_functions(WasmFeatures::WASM2, &mut Rng::new(seed), HAYSTACK)?;
    let text = wasmprinter::print_bytes(&haystack.wasm).map_err(|e| e.to_string())?;
    let end = text.rfind(')').ok_or("printed module has no end")?;
    Ok(format!(
        "{}{}\n{}",
        &text[..end],
        plant.function,
        &text[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_modules_are_valid_and_large() {
        for plant in PLANTS {
            let wasm = crate::wat_to_wasm(&module(plant, 5).unwrap()).unwrap();
            assert!(
                oracles::features::validates(&wasm, WasmFeatures::WASM2 | plant.features),
                "{}",
                plant.name
            );
            assert!(
                crate::exports::functions(&wasm).len() > HAYSTACK,
                "{}",
                plant.name
            );
        }
    }
}
