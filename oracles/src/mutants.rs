//! Deliberately broken engines (`mutant:*`): each plants one known bug in wasmtime-cranelift, so that
//! lockstep's own tests, and users checking their setup, can see a planted bug get found.

use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session, SharedInstance};
use crate::outcome::{Outcome, State, Value};
use crate::wasi::{CompiledProgram, ProgramEngine};
use std::sync::Arc;
use wasmparser::{Operator, Parser, Payload, WasmFeatures};

/// The mutant engines, by id.
pub const MUTANT_IDS: &[&str] = &[
    "mutant:rem-s-as-rem-u",
    "mutant:return-call-as-call",
    "mutant:exception-payload",
    "mutant:abort-on-popcnt",
    "mutant:clz-as-ctz",
    "mutant:unoptimized-clz-as-ctz",
    "mutant:baseline-clz-as-ctz",
];

/// What a mutant gets wrong.
#[derive(Clone, Copy, Debug)]
enum Mutation {
    /// `i64.rem_s` computed as `i64.rem_u`: wrong only when an operand is negative.
    RemSignedAsUnsigned,
    /// `return_call` lowered to `call`: right results, but the stack grows with every tail call.
    ReturnCallAsCall,
    /// The first payload value of an uncaught exception comes back changed.
    ExceptionPayload,
    /// Compiling a module that contains `i32.popcnt` aborts the whole process, like a JIT crash.
    AbortOnPopcnt,
    /// `i32.clz` computed as `i32.ctz`: wrong for most operands, and the wrong count flows on into
    /// values, addresses, branches and traps, so that one bug shows up under many signatures.
    ClzAsCtz,
}

pub(crate) fn create(id: &str, base: Arc<dyn Engine>) -> Option<Arc<dyn Engine>> {
    let (id, mutation) = mutation(id)?;
    Some(Arc::new(Mutant { id, base, mutation }))
}

/// The mutant `id` running WASI programs on `base`, if its bug is in compiled code: the program's
/// own code meets it. A guest runtime run this way (a nested tier) miscomputes wherever its
/// interpreter executes the mutated instruction.
pub(crate) fn programs(id: &str, base: Arc<dyn ProgramEngine>) -> Option<Arc<dyn ProgramEngine>> {
    let (id, mutation) = mutation(id)?;
    let patches_code = !matches!(mutation, Mutation::ExceptionPayload);
    patches_code.then(|| Arc::new(MutantPrograms { id, base, mutation }) as Arc<dyn ProgramEngine>)
}

fn mutation(id: &str) -> Option<(&'static str, Mutation)> {
    let mutation = match id {
        "mutant:rem-s-as-rem-u" => Mutation::RemSignedAsUnsigned,
        "mutant:return-call-as-call" => Mutation::ReturnCallAsCall,
        "mutant:exception-payload" => Mutation::ExceptionPayload,
        "mutant:abort-on-popcnt" => Mutation::AbortOnPopcnt,
        "mutant:clz-as-ctz" => Mutation::ClzAsCtz,
        // Built on the unoptimized variant of the tier, and on its code for
        // the x86-64 baseline (see `tiers::SETTING_MUTANTS`).
        "mutant:unoptimized-clz-as-ctz" | "mutant:baseline-clz-as-ctz" => Mutation::ClzAsCtz,
        _ => return None,
    };
    let id = MUTANT_IDS.iter().find(|known| **known == id)?;
    Some((id, mutation))
}

struct Mutant {
    id: &'static str,
    base: Arc<dyn Engine>,
    mutation: Mutation,
}

impl Engine for Mutant {
    fn id(&self) -> &'static str {
        self.id
    }

    fn version(&self) -> String {
        format!("{} with a planted bug", self.base.version())
    }

    fn features(&self) -> WasmFeatures {
        self.base.features()
    }

    fn session(&self, limits: &Limits) -> Box<dyn Session> {
        Box::new(MutantSession {
            inner: self.base.session(limits),
            mutation: self.mutation,
        })
    }
}

struct MutantSession {
    inner: Box<dyn Session>,
    mutation: Mutation,
}

impl Session for MutantSession {
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome> {
        self.inner.compile(&mutated(self.mutation, wasm))
    }

    fn instantiate(&mut self, module: ModuleId) -> Result<InstanceId, Outcome> {
        self.inner.instantiate(module)
    }

    fn share(&mut self, instance: InstanceId) -> Result<SharedInstance, Outcome> {
        self.inner.share(instance)
    }

    fn register_shared(&mut self, name: &str, shared: &SharedInstance) -> Result<(), Outcome> {
        self.inner.register_shared(name, shared)
    }

    fn register(&mut self, name: &str, instance: InstanceId) {
        self.inner.register(name, instance)
    }

    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        let mut outcome = self.inner.invoke(instance, export, args);
        if let (Mutation::ExceptionPayload, Outcome::Exception(exception)) =
            (self.mutation, &mut outcome)
            && let Some(first) = exception.payload.first_mut()
        {
            *first = perturbed(first);
        }
        outcome
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        self.inner.global(instance, export)
    }

    fn state(&mut self, instance: InstanceId) -> State {
        self.inner.state(instance)
    }
}

/// `wasm` with the mutation's bug planted in its code (or the process aborted, for `AbortOnPopcnt`).
fn mutated(mutation: Mutation, wasm: &[u8]) -> Vec<u8> {
    match mutation {
        Mutation::RemSignedAsUnsigned => {
            patch_opcodes(wasm, |op| matches!(op, Operator::I64RemS), 0x82)
        }
        Mutation::ReturnCallAsCall => {
            patch_opcodes(wasm, |op| matches!(op, Operator::ReturnCall { .. }), 0x10)
        }
        Mutation::ClzAsCtz => patch_opcodes(wasm, |op| matches!(op, Operator::I32Clz), 0x68),
        Mutation::ExceptionPayload => wasm.to_vec(),
        Mutation::AbortOnPopcnt => {
            if contains_operator(wasm, |op| matches!(op, Operator::I32Popcnt)) {
                std::process::abort();
            }
            wasm.to_vec()
        }
    }
}

/// A mutant running WASI programs: each program compiled by the base tier with the bug planted.
struct MutantPrograms {
    id: &'static str,
    base: Arc<dyn ProgramEngine>,
    mutation: Mutation,
}

impl ProgramEngine for MutantPrograms {
    fn id(&self) -> &'static str {
        self.id
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome> {
        self.base.compile(&mutated(self.mutation, wasm), limits)
    }
}

fn perturbed(value: &Value) -> Value {
    match value {
        Value::I32(v) => Value::I32(v.wrapping_add(1)),
        Value::I64(v) => Value::I64(v.wrapping_add(1)),
        Value::F32(bits) => Value::F32(bits ^ 1),
        Value::F64(bits) => Value::F64(bits ^ 1),
        Value::V128(v) => Value::V128(v ^ 1),
        other => other.clone(),
    }
}

fn contains_operator(wasm: &[u8], chosen: impl Fn(&Operator) -> bool) -> bool {
    operator_offsets(wasm, chosen).next().is_some()
}

/// Rewrites, in place, the one-byte opcode of every operator `chosen` selects.
/// Both opcodes have the same immediates, so the binary's layout is unchanged.
pub(crate) fn patch_opcodes(
    wasm: &[u8],
    chosen: impl Fn(&Operator) -> bool,
    opcode: u8,
) -> Vec<u8> {
    let mut patched = wasm.to_vec();
    for offset in operator_offsets(wasm, chosen) {
        patched[offset] = opcode;
    }
    patched
}

/// The byte offsets of the operators `chosen` selects, in every function body.
fn operator_offsets<'a>(
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

    fn run(engine: &str, text: &str, export: &str, args: &[Value]) -> Outcome {
        let engine = crate::tiers::engine(engine).unwrap();
        let mut session = engine.session(&Limits::default());
        let module = session.compile(&wat(text)).unwrap();
        let instance = session.instantiate(module).unwrap();
        session.invoke(instance, export, args)
    }

    #[test]
    fn rem_s_is_wrong_only_for_negative_operands() {
        let module = r#"(module (func (export "rem") (param i64 i64) (result i64)
            (i64.rem_s (local.get 0) (local.get 1))))"#;
        let positive = [Value::I64(7), Value::I64(3)];
        let negative = [Value::I64(-7), Value::I64(3)];
        let honest = "wasmtime-cranelift";
        let mutant = "mutant:rem-s-as-rem-u";
        assert_eq!(
            run(mutant, module, "rem", &positive),
            run(honest, module, "rem", &positive)
        );
        assert_ne!(
            run(mutant, module, "rem", &negative),
            run(honest, module, "rem", &negative)
        );
    }

    #[test]
    fn programs_meet_the_bug_in_their_own_code() {
        let program = r#"(module (func (export "rem") (result i64)
            (i64.rem_s (i64.const -7) (i64.const 3))))"#;
        let rem = |id: &str| {
            let engine = crate::tiers::program_engine(id).unwrap();
            let sandbox = crate::wasi::sandbox::Sandbox::new("rem", &[]);
            let entry = crate::wasi::Entry::Reactor {
                export: "rem".into(),
                args: Vec::new(),
            };
            let limits = Limits::default();
            crate::wasi::run(engine.as_ref(), &wat(program), &sandbox, &entry, &limits).ending
        };
        let values = |v: i64| crate::wasi::Ending::Outcome(Outcome::Values(vec![Value::I64(v)]));
        assert_eq!(rem("wasmtime-cranelift"), values(-1));
        assert_eq!(rem("mutant:rem-s-as-rem-u"), values(0));
        assert!(crate::tiers::program_engine("mutant:exception-payload").is_none());
    }

    #[test]
    fn return_call_as_call_overflows_deep_chains() {
        let module = r#"(module (func $f (export "f") (param i64) (result i64)
            (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 42))
              (else (return_call $f (i64.sub (local.get 0) (i64.const 1)))))))"#;
        let deep = [Value::I64(1_000_000)];
        assert_eq!(
            run("wasmtime-cranelift", module, "f", &deep),
            Outcome::Values(vec![Value::I64(42)])
        );
        assert_eq!(
            run("mutant:return-call-as-call", module, "f", &deep),
            Outcome::Exhausted(crate::Resource::Stack)
        );
    }

    #[test]
    fn clz_counts_trailing_zeros() {
        let module = r#"(module (func (export "clz") (param i32) (result i32)
            (i32.clz (local.get 0))))"#;
        let one = [Value::I32(1)];
        assert_eq!(
            run("wasmtime-cranelift", module, "clz", &one),
            Outcome::Values(vec![Value::I32(31)])
        );
        assert_eq!(
            run("mutant:clz-as-ctz", module, "clz", &one),
            Outcome::Values(vec![Value::I32(0)])
        );
    }
}
