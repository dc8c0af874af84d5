//! What a module declares, read once with wasmparser: its imports and exports, each with its type
//! (function signatures resolved through rec groups, subtypes and exact imports), and which
//! operators its code uses.

use crate::host::ValType;
use wasmparser::{CompositeInnerType, ExternalKind, Operator, Parser, Payload, TypeRef};

/// The imports and exports of a module, in order. Whatever does not parse is left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub module: String,
    pub name: String,
    pub item: Item,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    pub name: String,
    /// The index space the export names, and its index there.
    pub kind: ExternalKind,
    pub index: u32,
    pub item: Item,
}

/// An imported or exported item with its type.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Func(Signature),
    /// An exception tag, with its payload as the parameters.
    Tag(Signature),
    Global(ValType),
    Memory,
    Table,
}

/// A function type; empty for a type index the module does not define as a function.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signature {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl Facts {
    /// The exported functions, in export order, with their signatures.
    pub fn functions(&self) -> impl Iterator<Item = (&str, &Signature)> {
        self.exports.iter().filter_map(|export| match &export.item {
            Item::Func(signature) => Some((export.name.as_str(), signature)),
            _ => None,
        })
    }

    /// How many functions the module imports (they come first in the function index space).
    pub fn imported_functions(&self) -> usize {
        let functions = self
            .imports
            .iter()
            .filter(|i| matches!(i.item, Item::Func(_)));
        functions.count()
    }
}

/// The index spaces an import or export can refer to.
#[derive(Default)]
struct Spaces {
    /// Every type of every rec group, in index order; `None` where it is not a function type.
    types: Vec<Option<Signature>>,
    functions: Vec<u32>,
    globals: Vec<ValType>,
    tags: Vec<u32>,
}

impl Spaces {
    fn signature(&self, ty: Option<u32>) -> Signature {
        ty.and_then(|ty| self.types.get(ty as usize).cloned().flatten())
            .unwrap_or_default()
    }

    /// The item at `index` of the space of `kind`.
    fn item(&self, kind: ExternalKind, index: u32) -> Item {
        let at = |space: &[u32]| space.get(index as usize).copied();
        match kind {
            ExternalKind::Func | ExternalKind::FuncExact => {
                Item::Func(self.signature(at(&self.functions)))
            }
            ExternalKind::Tag => Item::Tag(self.signature(at(&self.tags))),
            ExternalKind::Global => {
                let ty = self.globals.get(index as usize);
                Item::Global(ty.copied().unwrap_or(ValType::I32))
            }
            ExternalKind::Memory => Item::Memory,
            ExternalKind::Table => Item::Table,
        }
    }

    /// Adds an imported item to its space, and returns it with its type.
    fn import(&mut self, ty: TypeRef) -> Item {
        let (kind, space) = match ty {
            TypeRef::Func(ty) | TypeRef::FuncExact(ty) => {
                self.functions.push(ty);
                (ExternalKind::Func, self.functions.len())
            }
            TypeRef::Global(global) => {
                self.globals.push(ValType::from(&global.content_type));
                (ExternalKind::Global, self.globals.len())
            }
            TypeRef::Tag(tag) => {
                self.tags.push(tag.func_type_idx);
                (ExternalKind::Tag, self.tags.len())
            }
            TypeRef::Memory(_) => (ExternalKind::Memory, 0),
            TypeRef::Table(_) => (ExternalKind::Table, 0),
        };
        self.item(kind, space.saturating_sub(1) as u32)
    }
}

fn signature(params: &[wasmparser::ValType], results: &[wasmparser::ValType]) -> Signature {
    Signature {
        params: params.iter().map(ValType::from).collect(),
        results: results.iter().map(ValType::from).collect(),
    }
}

/// The facts of `wasm`, read up to its code (or to the first thing that does not parse).
pub fn read(wasm: &[u8]) -> Facts {
    let mut spaces = Spaces::default();
    let mut facts = Facts::default();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::TypeSection(section)) => {
                let types = section.into_iter().flatten().flat_map(|g| g.into_types());
                spaces
                    .types
                    .extend(types.map(|sub| match &sub.composite_type.inner {
                        CompositeInnerType::Func(f) => Some(signature(f.params(), f.results())),
                        _ => None,
                    }));
            }
            Ok(Payload::ImportSection(section)) => {
                for import in section.into_imports().flatten() {
                    facts.imports.push(Import {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                        item: spaces.import(import.ty),
                    });
                }
            }
            Ok(Payload::FunctionSection(section)) => {
                spaces.functions.extend(section.into_iter().flatten())
            }
            Ok(Payload::GlobalSection(section)) => {
                let globals = section.into_iter().flatten();
                spaces
                    .globals
                    .extend(globals.map(|g| ValType::from(&g.ty.content_type)));
            }
            Ok(Payload::TagSection(section)) => {
                let tags = section.into_iter().flatten();
                spaces.tags.extend(tags.map(|tag| tag.func_type_idx));
            }
            Ok(Payload::ExportSection(section)) => {
                for export in section.into_iter().flatten() {
                    facts.exports.push(Export {
                        name: export.name.to_string(),
                        kind: export.kind,
                        index: export.index,
                        item: spaces.item(export.kind, export.index),
                    });
                }
            }
            Ok(Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    facts
}

/// Whether any function body of `wasm` uses an operator `chosen` selects.
pub fn contains_operator(wasm: &[u8], chosen: impl Fn(&Operator) -> bool) -> bool {
    operator_offsets(wasm, chosen).next().is_some()
}

/// The byte offsets of the operators `chosen` selects, in every function body.
pub fn operator_offsets<'a>(
    wasm: &'a [u8],
    chosen: impl Fn(&Operator) -> bool + 'a,
) -> impl Iterator<Item = usize> + 'a {
    Parser::new(0)
        .parse_all(wasm)
        .filter_map(|payload| match payload {
            Ok(Payload::CodeSectionEntry(body)) => body.get_operators_reader().ok(),
            _ => None,
        })
        .flat_map(|reader| reader.into_iter_with_offsets().map_while(Result::ok))
        .filter(move |(op, _)| chosen(op))
        .map(|(_, offset)| offset as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::wat;

    #[test]
    fn imports_and_exports_carry_their_types() {
        let facts = read(&wat(r#"(module
                (import "env" "h" (func (param f32) (result i64)))
                (global (export "g") (mut f64) (f64.const 0))
                (func (export "f") (param i32) (result f32 f64) unreachable)
                (export "h" (func 0)))"#));
        let h = Signature {
            params: vec![ValType::F32],
            results: vec![ValType::I64],
        };
        assert_eq!(facts.imports[0].module, "env");
        assert_eq!(facts.imports[0].item, Item::Func(h.clone()));
        let f = Signature {
            params: vec![ValType::I32],
            results: vec![ValType::F32, ValType::F64],
        };
        let exports: Vec<(&str, &Item)> = facts
            .exports
            .iter()
            .map(|e| (e.name.as_str(), &e.item))
            .collect();
        assert_eq!(
            exports,
            [
                ("g", &Item::Global(ValType::F64)),
                ("f", &Item::Func(f)),
                ("h", &Item::Func(h)),
            ]
        );
        assert_eq!(facts.imported_functions(), 1);
    }

    #[test]
    fn function_types_are_found_through_rec_groups_subtypes_and_exact_imports() {
        let facts = read(&wat(r#"(module
                (rec (type $s (struct)) (type $a (sub (func (param i64)))))
                (type $b (sub $a (func (param i64))))
                (type $c (func (param f64 i32)))
                (import "m" "exact" (func (exact (type $c))))
                (import "m" "plain" (func (type $b)))
                (func (export "e") (type $c) unreachable)
                (export "x" (func 0))
                (export "p" (func 1)))"#));
        let params: Vec<(&str, &[ValType])> = facts
            .functions()
            .map(|(name, signature)| (name, signature.params.as_slice()))
            .collect();
        let (c, b) = (&[ValType::F64, ValType::I32][..], &[ValType::I64][..]);
        assert_eq!(params, [("e", c), ("x", c), ("p", b)]);
    }
}
