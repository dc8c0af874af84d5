//! What a module exports for calling: each exported function's name and parameter types, from [`oracles::facts`].

use oracles::host::ValType;

/// An exported function and its parameter types.
#[derive(Clone, Debug, PartialEq)]
pub struct ExportedFunc {
    pub name: String,
    pub params: Vec<ValType>,
}

/// The exported functions of `wasm`, in export order (up to the first part that does not parse).
pub fn functions(wasm: &[u8]) -> Vec<ExportedFunc> {
    let facts = oracles::facts::read(wasm);
    let functions = facts.functions().map(|(name, signature)| ExportedFunc {
        name: name.to_string(),
        params: signature.params.clone(),
    });
    functions.collect()
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
