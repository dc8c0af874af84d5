//! Reading the user's modules and arguments: `.wasm` and `.wat` files, and typed argument words.

use anyhow::{Context, bail};
use oracles::host::ValType;
use oracles::{Heap, Ref, Value};
use std::path::Path;

/// The binary module in a `.wasm` or `.wat` file. Text with a syntax error, or a
/// binary that does not decode, is bad input: the error names the file and position.
pub fn module(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"\0asm") {
        check_decodes(path, &bytes)?;
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: neither a binary module nor UTF-8 text", path.display()))?;
    let located = |mut e: wast::Error| {
        e.set_path(path);
        e.set_text(&text);
        anyhow::anyhow!("{e}")
    };
    let buffer = wast::parser::ParseBuffer::new(&text).map_err(located)?;
    let mut wat: wast::Wat = wast::parser::parse(&buffer).map_err(located)?;
    wat.encode().map_err(located)
}

/// Decodes every section and every function body, without validating.
fn check_decodes(path: &Path, wasm: &[u8]) -> anyhow::Result<()> {
    let malformed = |e: wasmparser::BinaryReaderError| {
        anyhow::anyhow!(
            "{}: malformed module at byte offset {:#x}: {}",
            path.display(),
            e.offset(),
            e.message()
        )
    };
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.map_err(malformed)? {
            let mut reader = body.get_operators_reader().map_err(malformed)?;
            while !reader.eof() {
                reader.read().map_err(malformed)?;
            }
        }
    }
    Ok(())
}

/// An argument word typed by the parameter: `5`, `-1`, `0x10`, `1.5`, `nan`, `-inf`, `null`.
pub fn argument(word: &str, ty: ValType) -> anyhow::Result<Value> {
    let parsed = match ty {
        ValType::I32 => integer(word).map(|v| Value::I32(v as i32)),
        ValType::I64 => integer(word).map(|v| Value::I64(v as i64)),
        ValType::F32 => word.parse::<f32>().ok().map(|v| Value::F32(v.to_bits())),
        ValType::F64 => word.parse::<f64>().ok().map(|v| Value::F64(v.to_bits())),
        ValType::V128 => integer(word).map(|v| Value::V128(v as u128)),
        ValType::Ref(heap) if word == "null" => Some(Value::Ref(Ref::Null(heap))),
        ValType::Ref(Heap::Extern) => word.parse().ok().map(|n| Value::Ref(Ref::Extern(Some(n)))),
        ValType::Ref(_) => None,
    };
    match parsed {
        Some(value) => Ok(value),
        None => bail!("`{word}` is not a {ty:?} argument"),
    }
}

fn integer(word: &str) -> Option<i128> {
    let (negative, digits) = match word.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i128>().ok()?,
    };
    Some(if negative { -magnitude } else { magnitude })
}
