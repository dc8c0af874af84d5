//! Rewrites of function bodies, operator by operator: what generators and mutant engines use to
//! change a module's code while keeping every index (functions, types, locals) as it was.

use std::convert::Infallible;
use wasm_encoder::reencode::{self, Reencode};
use wasm_encoder::{Function, Instruction, ValType};
use wasmparser::{FunctionBody, Operator, Parser, Payload};

/// A rewrite of straight-line operator sequences.
pub trait Rule {
    /// Scratch locals the rewrite needs in a function whose operators are `ops`, appended after
    /// the function's own locals (so that no existing index moves).
    fn scratch(&self, ops: &[Operator]) -> Vec<ValType>;

    /// At the start of `ops`: how many operators to replace, and with what, or `None` to keep the
    /// first one. `scratch` is the index of the first scratch local.
    fn rewrite<'a>(
        &self,
        ops: &[Operator<'a>],
        scratch: u32,
    ) -> Option<(usize, Vec<Instruction<'a>>)>;
}

/// `wasm` with every defined function's body rewritten by `rule`.
pub fn rewrite(wasm: &[u8], rule: &dyn Rule) -> Result<Vec<u8>, String> {
    let mut rewriter = Rewriter {
        rule,
        params: defined_function_params(wasm)?,
        next: 0,
    };
    let mut module = wasm_encoder::Module::new();
    rewriter
        .parse_core_module(&mut module, Parser::new(0), wasm)
        .map_err(|e| e.to_string())?;
    Ok(module.finish())
}

/// The parameter count of each defined function, in order.
pub fn defined_function_params(wasm: &[u8]) -> Result<Vec<u32>, String> {
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

struct Rewriter<'a> {
    rule: &'a dyn Rule,
    params: Vec<u32>,
    /// The defined function being re-encoded.
    next: usize,
}

impl Reencode for Rewriter<'_> {
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
        let ops = func
            .get_operators_reader()?
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        locals.extend(self.rule.scratch(&ops).into_iter().map(|ty| (1, ty)));
        let mut function = Function::new(locals);
        let mut at = 0;
        while at < ops.len() {
            match self.rule.rewrite(&ops[at..], params + declared) {
                Some((replaced, instructions)) => {
                    for instruction in &instructions {
                        function.instruction(instruction);
                    }
                    at += replaced.max(1);
                }
                None => {
                    function.instruction(&self.instruction(ops[at].clone())?);
                    at += 1;
                }
            }
        }
        code.function(&function);
        Ok(())
    }
}
