//! Exact proposal detection: which Wasm proposals a module needs, decided by validating it with wasmparser.

use wasmparser::{Validator, WasmFeatures};

/// The wasmparser release lockstep validates with.
pub const WASMPARSER_VERSION: &str = "0.263";

/// The core-module proposals lockstep knows, with the names used in reports and expectations.
pub const PROPOSALS: &[(&str, WasmFeatures)] = &[
    ("mutable-global", WasmFeatures::MUTABLE_GLOBAL),
    (
        "saturating-float-to-int",
        WasmFeatures::SATURATING_FLOAT_TO_INT,
    ),
    ("sign-extension", WasmFeatures::SIGN_EXTENSION),
    ("reference-types", WasmFeatures::REFERENCE_TYPES),
    ("multi-value", WasmFeatures::MULTI_VALUE),
    ("bulk-memory", WasmFeatures::BULK_MEMORY),
    ("simd", WasmFeatures::SIMD),
    ("relaxed-simd", WasmFeatures::RELAXED_SIMD),
    ("threads", WasmFeatures::THREADS),
    ("tail-call", WasmFeatures::TAIL_CALL),
    ("multi-memory", WasmFeatures::MULTI_MEMORY),
    ("exceptions", WasmFeatures::EXCEPTIONS),
    ("memory64", WasmFeatures::MEMORY64),
    ("extended-const", WasmFeatures::EXTENDED_CONST),
    ("function-references", WasmFeatures::FUNCTION_REFERENCES),
    ("gc", WasmFeatures::GC),
    ("custom-page-sizes", WasmFeatures::CUSTOM_PAGE_SIZES),
    ("wide-arithmetic", WasmFeatures::WIDE_ARITHMETIC),
    ("gc-types", WasmFeatures::GC_TYPES),
    ("custom-descriptors", WasmFeatures::CUSTOM_DESCRIPTORS),
    ("legacy-exceptions", WasmFeatures::LEGACY_EXCEPTIONS),
    ("stack-switching", WasmFeatures::STACK_SWITCHING),
    (
        "shared-everything-threads",
        WasmFeatures::SHARED_EVERYTHING_THREADS,
    ),
];

/// Every core-module feature lockstep can detect, plus the MVP's floats and GC types.
pub fn all() -> WasmFeatures {
    PROPOSALS
        .iter()
        .fold(WasmFeatures::MVP, |acc, (_, flag)| acc | *flag)
}

/// The proposal names in `features`, in [`PROPOSALS`] order.
pub fn names(features: WasmFeatures) -> Vec<&'static str> {
    PROPOSALS
        .iter()
        .filter(|(_, flag)| features.contains(*flag))
        .map(|(name, _)| *name)
        .collect()
}

/// What an engine with a given feature set should do with a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// The module is valid with the engine's features.
    Met,
    /// The module is valid only with these further proposals.
    Missing(WasmFeatures),
    /// No feature set makes the module valid: every engine must reject it.
    InvalidEverywhere,
}

/// Why an engine with proposals `have` may reject `wasm` without being wrong:
/// the module needs proposals it lacks ("needs gc, tail-call").
pub fn missing(wasm: &[u8], have: WasmFeatures) -> Option<String> {
    requirement(wasm, have).missing()
}

impl Requirement {
    /// "needs gc, tail-call", when proposals are missing.
    pub fn missing(&self) -> Option<String> {
        match self {
            Requirement::Missing(needed) => Some(format!("needs {}", names(*needed).join(", "))),
            Requirement::Met | Requirement::InvalidEverywhere => None,
        }
    }
}

/// Validates `wasm` under `features`.
pub fn validates(wasm: &[u8], features: WasmFeatures) -> bool {
    Validator::new_with_features(features)
        .validate_all(wasm)
        .is_ok()
}

/// Decides exactly which proposals beyond `have` the module needs.
///
/// Starting from every feature, each proposal the engine lacks is removed
/// again if the module still validates without it; what remains is needed.
pub fn requirement(wasm: &[u8], have: WasmFeatures) -> Requirement {
    if validates(wasm, have) {
        return Requirement::Met;
    }
    let mut needed = all() | have;
    if !validates(wasm, needed) {
        return Requirement::InvalidEverywhere;
    }
    for (_, flag) in PROPOSALS.iter().rev() {
        if !have.contains(*flag) && validates(wasm, needed - *flag) {
            needed -= *flag;
        }
    }
    Requirement::Missing(needed - have)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        let buf = wast::parser::ParseBuffer::new(text).unwrap();
        let mut module: wast::Wat = wast::parser::parse(&buf).unwrap();
        module.encode().unwrap()
    }

    #[test]
    fn finds_the_one_missing_proposal() {
        let module = wat("(module (func (return_call 0)))");
        let requirement = requirement(&module, WasmFeatures::WASM2);
        assert_eq!(requirement, Requirement::Missing(WasmFeatures::TAIL_CALL));
        assert_eq!(
            missing(&module, WasmFeatures::WASM2).unwrap(),
            "needs tail-call"
        );
    }

    #[test]
    fn plain_modules_are_met_and_broken_ones_invalid_everywhere() {
        assert_eq!(
            requirement(&wat("(module (func))"), WasmFeatures::WASM1),
            Requirement::Met
        );
        let broken = wat("(module (func (result i32)))");
        assert_eq!(
            requirement(&broken, WasmFeatures::WASM1),
            Requirement::InvalidEverywhere
        );
    }
}
