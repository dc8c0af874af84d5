//! lockstep's generators: modules and arguments for differential runs, all reproducible from a seed.

pub mod args;
pub mod exceptions;
pub mod exports;
pub mod ops;
pub mod seed;
pub mod smith;
pub mod tail_calls;

/// A generated module, and what the generator knows it must do.
#[derive(Clone, Debug)]
pub struct Generated {
    pub wasm: Vec<u8>,
    /// Calls with their expected outcome, when the generator knows it.
    pub calls: Vec<Call>,
}

/// One call of an export.
#[derive(Clone, Debug)]
pub struct Call {
    pub export: String,
    pub args: Vec<oracles::Value>,
    pub expected: Option<oracles::Outcome>,
}

/// Encodes a module written in the text format.
pub fn wat_to_wasm(text: &str) -> Result<Vec<u8>, String> {
    let buffer = wast::parser::ParseBuffer::new(text).map_err(|e| e.to_string())?;
    let mut module: wast::Wat = wast::parser::parse(&buffer).map_err(|e| e.to_string())?;
    module.encode().map_err(|e| e.to_string())
}
