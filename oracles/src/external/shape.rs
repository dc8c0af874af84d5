//! What lockstep tells an external engine of a module: its imports and exports with their types as names on the wire.

use super::protocol::{ExternType, type_name};
use crate::facts::{self, Item};
use crate::host::ValType;

/// The imports and exports of a module, in order. Whatever does not parse is left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    pub imports: Vec<ExternType>,
    pub exports: Vec<ExternType>,
}

pub fn shape(wasm: &[u8]) -> Shape {
    let facts = facts::read(wasm);
    let imports = facts.imports.into_iter().map(|import| ExternType {
        module: import.module,
        name: import.name,
        ..typed(import.item)
    });
    let exports = facts.exports.into_iter().map(|export| ExternType {
        name: export.name,
        ..typed(export.item)
    });
    Shape {
        imports: imports.collect(),
        exports: exports.collect(),
    }
}

/// An item's kind and types as names on the wire.
fn typed(item: Item) -> ExternType {
    let names = |types: Vec<ValType>| types.into_iter().map(type_name).collect();
    let (kind, params, results, ty) = match item {
        Item::Func(f) => ("func", names(f.params), names(f.results), None),
        Item::Tag(t) => ("tag", names(t.params), Vec::new(), None),
        Item::Global(ty) => ("global", Vec::new(), Vec::new(), Some(type_name(ty))),
        Item::Memory => ("memory", Vec::new(), Vec::new(), None),
        Item::Table => ("table", Vec::new(), Vec::new(), None),
    };
    ExternType {
        kind: kind.to_string(),
        params,
        results,
        r#type: ty,
        ..ExternType::default()
    }
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
