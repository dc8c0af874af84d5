//! What a module exports for calling: each exported function's name and parameter types, read with wasmparser.

use oracles::host::ValType;
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef};

/// An exported function and its parameter types.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportedFunc {
    pub name: String,
    pub params: Vec<ValType>,
}

/// The exported functions of `wasm`, in export order. A module that does not parse exports nothing.
pub fn functions(wasm: &[u8]) -> Vec<ExportedFunc> {
    let mut types: Vec<Option<Vec<ValType>>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut exported = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::TypeSection(section)) => {
                for group in section.into_iter().flatten() {
                    for sub in group.into_types() {
                        types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                Some(f.params().iter().map(ValType::from).collect())
                            }
                            _ => None,
                        });
                    }
                }
            }
            Ok(Payload::ImportSection(section)) => {
                for import in section.into_imports().flatten() {
                    if let TypeRef::Func(ty) = import.ty {
                        funcs.push(ty);
                    }
                }
            }
            Ok(Payload::FunctionSection(section)) => funcs.extend(section.into_iter().flatten()),
            Ok(Payload::ExportSection(section)) => {
                for export in section.into_iter().flatten() {
                    if export.kind == ExternalKind::Func {
                        exported.push((export.name.to_string(), export.index));
                    }
                }
            }
            Err(_) => return Vec::new(),
            Ok(_) => {}
        }
    }
    exported
        .into_iter()
        .filter_map(|(name, index)| {
            let ty = *funcs.get(index as usize)?;
            let params = types.get(ty as usize)?.clone()?;
            Some(ExportedFunc { name, params })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_exported_functions_with_their_parameters() {
        let wasm = crate::wat_to_wasm(
            r#"(module (import "env" "h" (func (param f32)))
                 (func (export "a") (param i32 i64))
                 (memory (export "m") 1)
                 (export "h" (func 0)))"#,
        )
        .unwrap();
        let names: Vec<(String, Vec<ValType>)> = functions(&wasm)
            .into_iter()
            .map(|f| (f.name, f.params))
            .collect();
        assert_eq!(
            names,
            [
                ("a".into(), vec![ValType::I32, ValType::I64]),
                ("h".into(), vec![ValType::F32])
            ]
        );
    }
}
