//! Canonical NaNs after float conversions: wasm-smith canonicalizes the NaNs of arithmetic, but not of `demote` and `promote`.
//!
//! The spec lets a conversion of a non-canonical NaN return any arithmetic NaN:
//! hardware keeps the payload, binaryen's constant folding does not. Once
//! reinterpreted or stored, those bits would make honest engines disagree, so
//! every conversion result goes through `x == x ? x : canonical NaN`.

use oracles::rewrite::{self, Rule};
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{Instruction, ValType};
use wasmparser::Operator;

/// `wasm` with a NaN canonicalization after every float conversion.
pub fn canonicalize_conversions(wasm: &[u8]) -> Result<Vec<u8>, String> {
    rewrite::rewrite(wasm, &Conversions)
}

struct Conversions;

/// Scratch locals added to a function: one per float type, then a v128.
struct Scratch {
    f32: u32,
    f64: u32,
    v128: u32,
}

impl Rule for Conversions {
    fn scratch(&self, ops: &[Operator]) -> Vec<ValType> {
        let vectors = ops.iter().any(|op| {
            matches!(
                op,
                Operator::F32x4DemoteF64x2Zero | Operator::F64x2PromoteLowF32x4
            )
        });
        let mut scratch = vec![ValType::F32, ValType::F64];
        if vectors {
            scratch.push(ValType::V128);
        }
        scratch
    }

    fn rewrite<'a>(
        &self,
        ops: &[Operator<'a>],
        first: u32,
    ) -> Option<(usize, Vec<Instruction<'a>>)> {
        let scratch = Scratch {
            f32: first,
            f64: first + 1,
            v128: first + 2,
        };
        let canonical = canonicalization(&ops[0], &scratch);
        if canonical.is_empty() {
            return None;
        }
        let conversion = RoundtripReencoder.instruction(ops[0].clone()).ok()?;
        Some((1, [conversion].into_iter().chain(canonical).collect()))
    }
}

/// What follows `operator` to canonicalize its NaN, if it converts floats.
fn canonicalization(operator: &Operator<'_>, scratch: &Scratch) -> Vec<Instruction<'static>> {
    let (local, nan, equal, choose) = match operator {
        Operator::F32DemoteF64 => (
            scratch.f32,
            Instruction::F32Const(f32::from_bits(0x7fc0_0000).into()),
            Instruction::F32Eq,
            Instruction::Select,
        ),
        Operator::F64PromoteF32 => (
            scratch.f64,
            Instruction::F64Const(f64::from_bits(0x7ff8_0000_0000_0000).into()),
            Instruction::F64Eq,
            Instruction::Select,
        ),
        Operator::F32x4DemoteF64x2Zero => (
            scratch.v128,
            Instruction::V128Const(0x7fc0_0000_7fc0_0000_7fc0_0000_7fc0_0000),
            Instruction::F32x4Eq,
            Instruction::V128Bitselect,
        ),
        Operator::F64x2PromoteLowF32x4 => (
            scratch.v128,
            Instruction::V128Const(0x7ff8_0000_0000_0000_7ff8_0000_0000_0000),
            Instruction::F64x2Eq,
            Instruction::V128Bitselect,
        ),
        _ => return Vec::new(),
    };
    // x == x ? x : NaN; for vectors the lane mask selects x where it is not NaN.
    vec![
        Instruction::LocalTee(local),
        nan,
        Instruction::LocalGet(local),
        Instruction::LocalGet(local),
        equal,
        choose,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_demoted_nan_payload_comes_out_canonical() {
        let wasm = crate::wat_to_wasm(
            r#"(module (func (export "f") (param f64) (result i32)
                 (i32.reinterpret_f32 (f32.demote_f64 (local.get 0)))))"#,
        )
        .unwrap();
        let run = |wasm: &[u8]| {
            let engine = oracles::engine("wasmtime-cranelift").unwrap();
            let mut session = engine.session(&oracles::Limits::default());
            let module = session.compile(wasm).unwrap();
            let instance = session.instantiate(module).unwrap();
            let payload = oracles::Value::F64(0x7ff8_0000_dead_0000);
            session.invoke(instance, "f", &[payload])
        };
        let canonical = oracles::Outcome::Values(vec![oracles::Value::I32(0x7fc0_0000)]);
        assert_ne!(run(&wasm), canonical, "x86 keeps the payload");
        assert_eq!(run(&canonicalize_conversions(&wasm).unwrap()), canonical);
    }
}
