//! lockstep's own reduction passes, where wasm-shrink's random search is slow: keep one export, stub out
//! function bodies, cut or fold instruction runs. All rewrite sections in place, so every index in the
//! module stays valid.

mod cuts;

pub use cuts::cuts;
use std::ops::Range;
use wasmparser::{ExternalKind, Parser, Payload};

/// The module with `export` as its only export, if it has it.
pub fn only_export(wasm: &[u8], export: &str) -> Option<Vec<u8>> {
    let facts = oracles::facts::read(wasm);
    let kept = facts.exports.iter().find(|e| e.name == export)?;
    let mut contents = Vec::new();
    leb(1, &mut contents);
    leb(export.len() as u64, &mut contents);
    contents.extend_from_slice(export.as_bytes());
    contents.push(kind_byte(kept.kind));
    leb(u64::from(kept.index), &mut contents);
    Some(replace_section(wasm, 7, |_| contents.clone()))
}

/// The defined-function index `export` names, if it names a defined function.
pub fn exported_function(wasm: &[u8], export: &str) -> Option<usize> {
    let facts = oracles::facts::read(wasm);
    let found = facts.exports.iter().find(|e| e.name == export)?;
    let function = matches!(found.kind, ExternalKind::Func | ExternalKind::FuncExact);
    let index = function.then_some(found.index as usize)?;
    index.checked_sub(facts.imported_functions())
}

/// How many functions the module defines.
pub fn defined_functions(wasm: &[u8]) -> usize {
    function_bodies(wasm).len()
}

/// The module with the bodies of the defined functions `stub` selects replaced by `unreachable`.
pub fn stub_bodies(wasm: &[u8], stub: impl Fn(usize) -> bool) -> Vec<u8> {
    let bodies = function_bodies(wasm);
    replace_section(wasm, 10, |_| {
        let mut contents = Vec::new();
        leb(bodies.len() as u64, &mut contents);
        for (index, range) in bodies.iter().enumerate() {
            // No locals, `unreachable`, `end`: valid for any function type.
            let body: &[u8] = if stub(index) {
                &[0x00, 0x00, 0x0b]
            } else {
                &wasm[range.clone()]
            };
            leb(body.len() as u64, &mut contents);
            contents.extend_from_slice(body);
        }
        contents
    })
}

pub(crate) fn function_bodies(wasm: &[u8]) -> Vec<Range<usize>> {
    Parser::new(0)
        .parse_all(wasm)
        .flatten()
        .filter_map(|payload| match payload {
            Payload::CodeSectionEntry(body) => {
                Some(body.range().start as usize..body.range().end as usize)
            }
            _ => None,
        })
        .collect()
}

/// Rebuilds the module with the contents of section `id` replaced.
pub(crate) fn replace_section(wasm: &[u8], id: u8, contents: impl Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut out = wasm[..8].to_vec();
    for payload in Parser::new(0).parse_all(wasm).flatten() {
        let Some((section, range)) = payload.as_section() else {
            continue;
        };
        let range = range.start as usize..range.end as usize;
        let bytes = if section == id {
            contents(&wasm[range])
        } else {
            wasm[range].to_vec()
        };
        out.push(section);
        leb(bytes.len() as u64, &mut out);
        out.extend_from_slice(&bytes);
    }
    out
}

fn kind_byte(kind: ExternalKind) -> u8 {
    match kind {
        ExternalKind::Func => 0x00,
        ExternalKind::FuncExact => 0x20,
        ExternalKind::Table => 1,
        ExternalKind::Memory => 2,
        ExternalKind::Global => 3,
        ExternalKind::Tag => 4,
    }
}

pub(crate) fn leb(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_keep_the_module_valid() {
        let wasm = generators::wat_to_wasm(
            r#"(module (import "host" "i32" (func (param i32) (result i32)))
                 (func (export "a") (result i32) (call 2))
                 (func (export "b") (result i32) (i32.const 7))
                 (global (export "g") i32 (i32.const 1)))"#,
        )
        .unwrap();
        let all = oracles::features::all();
        let one = only_export(&wasm, "b").unwrap();
        assert!(oracles::features::validates(&one, all));
        assert_eq!(generators::exports::functions(&one).len(), 1);
        assert_eq!(exported_function(&wasm, "b"), Some(1));
        let stubbed = stub_bodies(&one, |index| index != 1);
        assert!(oracles::features::validates(&stubbed, all));
        assert!(stubbed.len() < one.len());
        assert_eq!(defined_functions(&stubbed), 2);
    }
}
