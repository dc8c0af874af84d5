//! lockstep's generators: modules and arguments for differential runs, all reproducible from a seed.

pub mod args;
pub mod canonical;
pub mod exceptions;
pub mod exports;
pub mod gc;
pub mod isel;
pub mod ops;
pub mod planted;
pub mod seed;
pub mod smith;
pub mod tail_calls;

use oracles::differential::Invocation;

/// The number types generated code passes around.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    I32,
    I64,
    F32,
    F64,
}

impl Num {
    pub const ALL: [Num; 4] = [Num::I32, Num::I64, Num::F32, Num::F64];

    /// The type's name in the text format.
    pub fn name(self) -> &'static str {
        match self {
            Num::I32 => "i32",
            Num::I64 => "i64",
            Num::F32 => "f32",
            Num::F64 => "f64",
        }
    }

    /// A small integer as a value of this type (exact in every type).
    pub fn value(self, n: i64) -> oracles::Value {
        match self {
            Num::I32 => oracles::Value::I32(n as i32),
            Num::I64 => oracles::Value::I64(n),
            Num::F32 => oracles::Value::F32((n as f32).to_bits()),
            Num::F64 => oracles::Value::F64((n as f64).to_bits()),
        }
    }
}

/// A generated module, and what the generator knows it must do.
#[derive(Clone, Debug)]
pub struct Generated {
    pub wasm: Vec<u8>,
    /// Calls with their expected outcome, when the generator knows it.
    pub calls: Vec<Invocation>,
}

/// Encodes a module written in the text format.
pub fn wat_to_wasm(text: &str) -> Result<Vec<u8>, String> {
    let buffer = wast::parser::ParseBuffer::new(text).map_err(|e| e.to_string())?;
    let mut module: wast::Wat = wast::parser::parse(&buffer).map_err(|e| e.to_string())?;
    module.encode().map_err(|e| e.to_string())
}
