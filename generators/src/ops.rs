//! Operator probes: each export applies one numeric instruction to its parameters, called with edge-biased
//! arguments, so that a miscomputed instruction shows up directly in a result.

use crate::seed::Choices;
use crate::{Generated, args};
use oracles::differential::Invocation;
use oracles::host::ValType;
use std::fmt::Write as _;
use wasmparser::WasmFeatures;

/// Operators probed per module.
const PER_MODULE: usize = 12;
/// Calls per probed operator.
const CALLS_PER_OP: usize = 4;

/// An instruction, its operand types, its result type, and the proposal it needs.
pub(crate) type Op = (&'static str, &'static [ValType], ValType, WasmFeatures);

use ValType::{F32, F64, I32, I64};
const MVP: WasmFeatures = WasmFeatures::empty();
const SIGN: WasmFeatures = WasmFeatures::SIGN_EXTENSION;
const SAT: WasmFeatures = WasmFeatures::SATURATING_FLOAT_TO_INT;

const INT_BINARY: &[&str] = &[
    "add", "sub", "mul", "div_s", "div_u", "rem_s", "rem_u", "and", "or", "xor", "shl", "shr_s",
    "shr_u", "rotl", "rotr",
];
const INT_COMPARE: &[&str] = &[
    "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
];
const FLOAT_BINARY: &[&str] = &["add", "sub", "mul", "div", "min", "max", "copysign"];
const FLOAT_COMPARE: &[&str] = &["eq", "ne", "lt", "gt", "le", "ge"];
/// The comparisons, integer and float.
pub(crate) const COMPARISONS: [&[&str]; 2] = [INT_COMPARE, FLOAT_COMPARE];
const FLOAT_UNARY: &[&str] = &["abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"];

const CONVERSIONS: &[Op] = &[
    ("i32.clz", &[I32], I32, MVP),
    ("i32.ctz", &[I32], I32, MVP),
    ("i32.popcnt", &[I32], I32, MVP),
    ("i64.clz", &[I64], I64, MVP),
    ("i64.ctz", &[I64], I64, MVP),
    ("i64.popcnt", &[I64], I64, MVP),
    ("i32.eqz", &[I32], I32, MVP),
    ("i64.eqz", &[I64], I32, MVP),
    ("i32.wrap_i64", &[I64], I32, MVP),
    ("i64.extend_i32_s", &[I32], I64, MVP),
    ("i64.extend_i32_u", &[I32], I64, MVP),
    ("i32.trunc_f32_s", &[F32], I32, MVP),
    ("i32.trunc_f64_u", &[F64], I32, MVP),
    ("i64.trunc_f64_s", &[F64], I64, MVP),
    ("i64.trunc_f32_u", &[F32], I64, MVP),
    ("f32.convert_i64_u", &[I64], F32, MVP),
    ("f64.convert_i64_s", &[I64], F64, MVP),
    ("f64.convert_i32_u", &[I32], F64, MVP),
    ("f32.demote_f64", &[F64], F32, MVP),
    ("f64.promote_f32", &[F32], F64, MVP),
    ("i32.reinterpret_f32", &[F32], I32, MVP),
    ("f64.reinterpret_i64", &[I64], F64, MVP),
    ("i32.extend8_s", &[I32], I32, SIGN),
    ("i32.extend16_s", &[I32], I32, SIGN),
    ("i64.extend32_s", &[I64], I64, SIGN),
    ("i32.trunc_sat_f32_s", &[F32], I32, SAT),
    ("i64.trunc_sat_f64_u", &[F64], I64, SAT),
];

/// Every operator the probes know.
pub(crate) fn operators() -> Vec<Op> {
    let mut ops = Vec::new();
    for (ty, name) in [(I32, "i32"), (I64, "i64")] {
        ops.extend(
            INT_BINARY
                .iter()
                .map(|op| (leak(name, op), pair(ty), ty, MVP)),
        );
        ops.extend(
            INT_COMPARE
                .iter()
                .map(|op| (leak(name, op), pair(ty), I32, MVP)),
        );
    }
    for (ty, name) in [(F32, "f32"), (F64, "f64")] {
        ops.extend(
            FLOAT_BINARY
                .iter()
                .map(|op| (leak(name, op), pair(ty), ty, MVP)),
        );
        ops.extend(
            FLOAT_COMPARE
                .iter()
                .map(|op| (leak(name, op), pair(ty), I32, MVP)),
        );
        ops.extend(
            FLOAT_UNARY
                .iter()
                .map(|op| (leak(name, op), single(ty), ty, MVP)),
        );
    }
    ops.extend_from_slice(CONVERSIONS);
    ops
}

fn leak(ty: &str, op: &str) -> &'static str {
    Box::leak(format!("{ty}.{op}").into_boxed_str())
}

fn pair(ty: ValType) -> &'static [ValType] {
    match ty {
        I32 => &[I32, I32],
        I64 => &[I64, I64],
        F32 => &[F32, F32],
        _ => &[F64, F64],
    }
}

fn single(ty: ValType) -> &'static [ValType] {
    match ty {
        F32 => &[F32],
        _ => &[F64],
    }
}

pub(crate) fn type_name(ty: ValType) -> &'static str {
    match ty {
        I32 => "i32",
        I64 => "i64",
        F32 => "f32",
        F64 => "f64",
        ValType::V128 => "v128",
        ValType::Ref(_) => unreachable!("generated code uses number types only"),
    }
}

/// A module probing [`PER_MODULE`] random operators available under `shared`.
pub fn generate(rng: &mut impl Choices, shared: WasmFeatures) -> Result<Generated, String> {
    static OPERATORS: std::sync::OnceLock<Vec<Op>> = std::sync::OnceLock::new();
    let available: Vec<&Op> = OPERATORS
        .get_or_init(operators)
        .iter()
        .filter(|(_, _, _, needs)| shared.contains(*needs))
        .collect();
    let mut text = String::from("(module\n");
    let mut calls = Vec::new();
    for _ in 0..PER_MODULE {
        let (op, params, result, _) = available[rng.below(available.len() as u64) as usize];
        let export = format!("{op}#{}", calls.len() / CALLS_PER_OP);
        let params_text: String = params
            .iter()
            .map(|p| format!(" {}", type_name(*p)))
            .collect();
        let gets: String = (0..params.len())
            .map(|i| format!(" (local.get {i})"))
            .collect();
        let _ = writeln!(
            text,
            "  (func (export \"{export}\") (param{params_text}) (result {}) ({op}{gets}))",
            type_name(*result)
        );
        for _ in 0..CALLS_PER_OP {
            calls.push(Invocation {
                export: export.clone(),
                args: args::arguments(rng, params),
                expected: None,
            });
        }
    }
    text.push(')');
    Ok(Generated {
        wasm: crate::wat_to_wasm(&text)?,
        calls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;

    #[test]
    fn probes_are_valid_and_respect_the_features() {
        for item in 0..50 {
            let generated = generate(&mut Rng::for_item(2, item), WasmFeatures::WASM1).unwrap();
            assert!(oracles::features::validates(
                &generated.wasm,
                WasmFeatures::WASM1
            ));
            assert_eq!(generated.calls.len(), PER_MODULE * CALLS_PER_OP);
        }
    }
}
