//! Canonical NaNs after float conversions: wasm-smith canonicalizes the NaNs of arithmetic, but not of `demote` and `promote`.
//!
//! The spec lets a conversion of a non-canonical NaN return any arithmetic NaN:
//! hardware keeps the payload, binaryen's constant folding does not. Once
//! reinterpreted or stored, those bits would make honest engines disagree, so
//! every conversion result goes through `x == x ? x : canonical NaN`.

use std::convert::Infallible;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{Function, Instruction, ValType};
use wasmparser::{FunctionBody, Operator, Parser, Payload};

/// `wasm` with a NaN canonicalization after every float conversion.
pub fn canonicalize_conversions(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let mut canonicalizer = Canonicalizer {
        params: defined_function_params(wasm)?,
        next: 0,
    };
    let mut module = wasm_encoder::Module::new();
    canonicalizer
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| e.to_string())?;
    Ok(module.finish())
}

/// The parameter count of each defined function, in order.
fn defined_function_params(wasm: &[u8]) -> Result<Vec<u32>, String> {
    let mut types = Vec::new();
    let mut params = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(|e| e.to_string())? {
            Payload::TypeSection(section) => {
                for group in section {
                    for ty in group.map_err(|e| e.to_string())?.types() {
                        let params = match &ty.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(func) => func.params().len(),
                            _ => 0,
                        };
                        types.push(params as u32);
                    }
                }
            }
            Payload::FunctionSection(section) => {
                for index in section {
                    let index = index.map_err(|e| e.to_string())?;
                    params.push(types.get(index as usize).copied().unwrap_or(0));
                }
            }
            _ => {}
        }
    }
    Ok(params)
}

struct Canonicalizer {
    params: Vec<u32>,
    /// The defined function being re-encoded.
    next: usize,
}

/// Scratch locals added to a function: one per float type, then a v128.
struct Scratch {
    f32: u32,
    f64: u32,
    v128: u32,
}

impl Reencode for Canonicalizer {
    type Error = Infallible;

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        func: FunctionBody<'_>,
    ) -> Result<(), reencode::Error<Infallible>> {
        let params = self.params.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        let mut locals = Vec::new();
        for pair in func.get_locals_reader()? {
            let (count, ty) = pair?;
            locals.push((count, self.val_type(ty)?));
        }
        let declared: u32 = locals.iter().map(|(count, _)| count).sum();
        let base = params + declared;
        let scratch = Scratch {
            f32: base,
            f64: base + 1,
            v128: base + 2,
        };
        let vectors = uses_vector_conversions(&func)?;
        locals.push((1, ValType::F32));
        locals.push((1, ValType::F64));
        if vectors {
            locals.push((1, ValType::V128));
        }
        let mut function = Function::new(locals);
        let mut reader = func.get_operators_reader()?;
        while !reader.eof() {
            let operator = reader.read()?;
            let canonical = canonicalization(&operator, &scratch);
            function.instruction(&self.instruction(operator)?);
            for instruction in canonical {
                function.instruction(&instruction);
            }
        }
        code.function(&function);
        Ok(())
    }
}

fn uses_vector_conversions(func: &FunctionBody<'_>) -> Result<bool, wasmparser::BinaryReaderError> {
    let mut reader = func.get_operators_reader()?;
    while !reader.eof() {
        if matches!(
            reader.read()?,
            Operator::F32x4DemoteF64x2Zero | Operator::F64x2PromoteLowF32x4
        ) {
            return Ok(true);
        }
    }
    Ok(false)
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
