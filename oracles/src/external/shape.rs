//! What lockstep tells an external engine of a module: its imports and exports with their types, read with wasmparser.

use super::protocol::{ExternType, type_name};
use crate::host::ValType;
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, TypeRef};

/// A function type as names on the wire.
type Signature = (Vec<String>, Vec<String>);

/// The imports and exports of a module, in order. Whatever does not parse is left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    pub imports: Vec<ExternType>,
    pub exports: Vec<ExternType>,
}

/// The index spaces an export can refer to.
#[derive(Default)]
struct Spaces {
    types: Vec<Option<Signature>>,
    functions: Vec<u32>,
    globals: Vec<String>,
    tags: Vec<u32>,
}

impl Spaces {
    fn signature(&self, ty: u32) -> Signature {
        self.types
            .get(ty as usize)
            .cloned()
            .flatten()
            .unwrap_or_default()
    }

    /// The typed entry for `kind` with the item at `index` of its space.
    fn typed(&self, kind: ExternalKind, index: u32) -> ExternType {
        let at = |space: &[u32]| space.get(index as usize).copied();
        match kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                let (params, results) = at(&self.functions)
                    .map(|t| self.signature(t))
                    .unwrap_or_default();
                entry("func", params, results, None)
            }
            ExternalKind::Tag => {
                let (params, _) = at(&self.tags)
                    .map(|t| self.signature(t))
                    .unwrap_or_default();
                entry("tag", params, Vec::new(), None)
            }
            ExternalKind::Global => entry(
                "global",
                Vec::new(),
                Vec::new(),
                self.globals.get(index as usize).cloned(),
            ),
            ExternalKind::Memory => entry("memory", Vec::new(), Vec::new(), None),
            ExternalKind::Table => entry("table", Vec::new(), Vec::new(), None),
        }
    }
}

fn entry(kind: &str, params: Vec<String>, results: Vec<String>, ty: Option<String>) -> ExternType {
    ExternType {
        kind: kind.to_string(),
        params,
        results,
        r#type: ty,
        ..ExternType::default()
    }
}

fn names(types: &[wasmparser::ValType]) -> Vec<String> {
    types.iter().map(|t| type_name(ValType::from(t))).collect()
}

pub fn shape(wasm: &[u8]) -> Shape {
    let mut spaces = Spaces::default();
    let mut shape = Shape::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::TypeSection(section)) => {
                for group in section.into_iter().flatten() {
                    for sub in group.into_types() {
                        spaces.types.push(match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                Some((names(f.params()), names(f.results())))
                            }
                            _ => None,
                        });
                    }
                }
            }
            Ok(Payload::ImportSection(section)) => {
                for import in section.into_imports().flatten() {
                    let (kind, index) = match import.ty {
                        TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                            spaces.functions.push(ty);
                            (ExternalKind::Func, spaces.functions.len() - 1)
                        }
                        TypeRef::Global(global) => {
                            spaces
                                .globals
                                .push(type_name(ValType::from(&global.content_type)));
                            (ExternalKind::Global, spaces.globals.len() - 1)
                        }
                        TypeRef::Tag(tag) => {
                            spaces.tags.push(tag.func_type_idx);
                            (ExternalKind::Tag, spaces.tags.len() - 1)
                        }
                        TypeRef::Memory(_) => (ExternalKind::Memory, 0),
                        TypeRef::Table(_) => (ExternalKind::Table, 0),
                    };
                    shape.imports.push(ExternType {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        ..spaces.typed(kind, index as u32)
                    });
                }
            }
            Ok(Payload::FunctionSection(section)) => {
                spaces.functions.extend(section.into_iter().flatten())
            }
            Ok(Payload::GlobalSection(section)) => {
                for global in section.into_iter().flatten() {
                    spaces
                        .globals
                        .push(type_name(ValType::from(&global.ty.content_type)));
                }
            }
            Ok(Payload::TagSection(section)) => {
                spaces
                    .tags
                    .extend(section.into_iter().flatten().map(|tag| tag.func_type_idx));
            }
            Ok(Payload::ExportSection(section)) => {
                for export in section.into_iter().flatten() {
                    shape.exports.push(ExternType {
                        name: export.name.to_string(),
                        ..spaces.typed(export.kind, export.index)
                    });
                }
            }
            Ok(Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    shape
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::wat;

    #[test]
    fn imports_and_exports_carry_their_types() {
        let shape = shape(&wat(r#"(module
                (import "env" "h" (func (param f32) (result i64)))
                (global (export "g") (mut f64) (f64.const 0))
                (func (export "f") (param i32) (result f32 f64) unreachable)
                (export "h" (func 0)))"#));
        assert_eq!(shape.imports[0].module, "env");
        assert_eq!(shape.imports[0].params, ["f32"]);
        assert_eq!(shape.imports[0].results, ["i64"]);
        let exports: Vec<(&str, &str, Vec<String>, Option<String>)> = shape
            .exports
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.kind.as_str(),
                    e.results.clone(),
                    e.r#type.clone(),
                )
            })
            .collect();
        assert_eq!(
            exports,
            [
                ("g", "global", vec![], Some("f64".to_string())),
                (
                    "f",
                    "func",
                    vec!["f32".to_string(), "f64".to_string()],
                    None
                ),
                ("h", "func", vec!["i64".to_string()], None),
            ]
        );
    }
}
