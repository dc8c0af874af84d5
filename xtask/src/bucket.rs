//! Buckets: findings of one cause grouped by the first instruction whose value differs between engines,
//! found by probing every numeric result of the reduced module.
//!
//! A signature is made of outcome classes, so one bug that flows into values, addresses and branches shows
//! up under many signatures. The instruction where the values first part is the same for all of them.

use crate::finding::Evidence;
use oracles::compare::{Divergence, Verdict};
use oracles::differential::{Invocation, Run};
use oracles::{State, Value};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use wasm_encoder::reencode::{Error, Reencode, utils};
use wasm_encoder::{ConstExpr, ExportKind, GlobalSection, GlobalType, Instruction, SectionId};
use wasmparser::{Parser, Payload, TypeRef, ValType, ValidPayload, Validator, WasmFeatures};

/// The cause a finding is grouped under, and how it was told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The odd engines out and the instruction, e.g. `mutant:clz-as-ctz: I32Clz`.
    pub name: String,
    pub by: Method,
}

/// How a bucket was told.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The first probed result, in execution order, whose value differs.
    FirstDifferentValue,
    /// No probed value differs before one side stops (a trap where the others go on, another trap code):
    /// the last probed instruction the odd engines reached.
    LastReached,
    /// Probing cannot apply: the signature stands in for the cause.
    Signature(Unprobed),
    /// An instance of a known divergence: its entry is the cause.
    Known,
}

/// Why a finding could not be probed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unprobed {
    /// The engines disagree before any call: on validation, compilation or linking.
    BeforeCalls,
    /// No function computes a numeric value to probe.
    NothingToProbe,
    /// The probed module did not reach the diverging call with a state on both sides (a crash, a harness failure).
    NoProbedState,
    /// Probes neither differ nor were reached.
    ProbesAgree,
}

impl Bucket {
    /// The bucket of a finding that is not probed.
    pub fn by_signature(signature: &str, why: Unprobed) -> Bucket {
        Bucket {
            name: format!("signature {signature} ({})", why.explained()),
            by: Method::Signature(why),
        }
    }

    /// The bucket with the component at fault in front of its name: `[binaryen:-O1] asyncify: I32Clz`.
    pub fn blamed(self, verdict: &str) -> Bucket {
        Bucket {
            name: format!("[{verdict}] {}", unblamed(&self.name)),
            ..self
        }
    }

    /// The bucket of an instance of the known divergence `id`.
    pub fn known(id: &str) -> Bucket {
        Bucket {
            name: format!("known {id}"),
            by: Method::Known,
        }
    }
}

/// A bucket name without the blame in front of it, if it has one.
fn unblamed(name: &str) -> &str {
    match name
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
    {
        Some((_, rest)) => rest,
        None => name,
    }
}

impl Unprobed {
    fn explained(self) -> &'static str {
        match self {
            Unprobed::BeforeCalls => "not probed: diverges before any call",
            Unprobed::NothingToProbe => "not probed: no numeric instruction",
            Unprobed::NoProbedState => "not probed: the probed run kept no state",
            Unprobed::ProbesAgree => "probed: every probe agrees",
        }
    }
}

/// The bucket of the divergence in `evidence`; `run` runs a module on the finding's engines.
///
/// Every numeric result is folded, in execution order, into a running hash; a limit on the number of
/// results folded in is bisected to find the first result where the odd engines part from the majority.
pub fn of(evidence: &Evidence, run: &mut dyn FnMut(&[u8], &[Invocation]) -> Run) -> Bucket {
    let step = &evidence.run.steps[evidence.step];
    let Verdict::Diverge(divergence) = &step.verdict else {
        unreachable!("evidence is of a divergence");
    };
    let signature = |why| Bucket::by_signature(&divergence.signature, why);
    // Steps 0 and 1 are compilation and instantiation: nothing has run to be probed.
    if evidence.step < 2 {
        return signature(Unprobed::BeforeCalls);
    }
    let Ok(probes) = plan(evidence.wasm) else {
        return signature(Unprobed::NothingToProbe);
    };
    if probes.probes.is_empty() {
        return signature(Unprobed::NothingToProbe);
    }
    let mut trace = |limit: u64| {
        let probed = probes.rewrite(evidence.wasm, limit)?;
        let run = run(&probed, evidence.invocations);
        let (odd, reference) = sides(run.steps.get(evidence.step)?, divergence)?;
        Some(Trace {
            parted: global(&odd, HASH) != global(&reference, HASH),
            reached: global(&odd, REACHED),
            events: (global(&odd, EVENTS), global(&reference, EVENTS)),
        })
    };
    let Some(whole) = trace(u64::MAX) else {
        return signature(Unprobed::NoProbedState);
    };
    let engines = divergence.minority.join(", ");
    let opcode = |reached: u64| probes.probes[reached as usize - 1].opcode.as_str();
    let last_reached = |reached| match reached {
        0 => signature(Unprobed::ProbesAgree),
        reached => Bucket {
            name: format!("{engines}: after {}", opcode(reached)),
            by: Method::LastReached,
        },
    };
    if !whole.parted {
        return last_reached(whole.reached);
    }
    // The hashes agree after no result and part after all of them: find the first result they part at.
    let (mut agree, mut parted) = (0, whole.events.0.max(whole.events.1));
    let mut at_parting = whole;
    while parted - agree > 1 {
        let middle = agree + (parted - agree) / 2;
        match trace(middle) {
            Some(t) if t.parted => (parted, at_parting) = (middle, t),
            Some(_) => agree = middle,
            None => return signature(Unprobed::NoProbedState),
        }
    }
    // A side that stopped (trapped, ran out of stack) before the parting result parted by having
    // fewer results, not another value: the odd engines' last result is all there is to go by.
    if at_parting.events.0.min(at_parting.events.1) < parted {
        return last_reached(at_parting.reached);
    }
    Bucket {
        name: format!("{engines}: {}", opcode(at_parting.reached)),
        by: Method::FirstDifferentValue,
    }
}

/// What the probes of one run say.
struct Trace {
    /// Whether the odd engine's hash differs from the majority's.
    parted: bool,
    /// The probe (from 1) of the odd engine's last result folded in; 0 for none.
    reached: u64,
    /// How many results were folded in: by the odd engine, by the majority's.
    events: (u64, u64),
}

/// The states after the diverging call of the first odd engine and the first engine of the majority.
fn sides(step: &oracles::differential::Step, divergence: &Divergence) -> Option<(State, State)> {
    let state_of = |engines: &[String]| {
        step.observations
            .iter()
            .find(|o| engines.contains(&o.engine))
            .and_then(|o| o.state.clone())
    };
    Some((
        state_of(&divergence.minority)?,
        state_of(&divergence.majority)?,
    ))
}

/// A probe global's value as a number (0 when absent).
fn global(state: &State, name: &str) -> u64 {
    match state.globals.iter().find(|(n, _)| n == name) {
        Some((_, Value::I64(v))) => *v as u64,
        Some((_, Value::I32(v))) => *v as u32 as u64,
        _ => 0,
    }
}

/// The exported global holding the running hash of the results.
const HASH: &str = "lockstep.hash";
/// The exported global counting the results folded in.
const EVENTS: &str = "lockstep.events";
/// The exported global holding the number (from 1) of the last probe folded in.
const REACHED: &str = "lockstep.reached";

/// An instruction whose result is recorded.
struct Probe {
    /// Index among the module's defined functions.
    function: usize,
    /// Index of the instruction in the function's body.
    at: usize,
    /// The instruction's name, as wasmparser spells it.
    opcode: String,
    ty: ValType,
}

/// The numeric instructions of a module, and how many globals it has (imported and defined).
struct Plan {
    probes: Vec<Probe>,
    globals: u32,
}

/// The scratch global of each probed type, after the module's own globals, then the three exported ones.
const SCRATCH: [ValType; 4] = [ValType::I32, ValType::I64, ValType::F32, ValType::F64];

/// Finds the numeric instructions of `wasm` and the type of each one's result.
fn plan(wasm: &[u8]) -> wasmparser::Result<Plan> {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let (mut probes, mut globals, mut function) = (Vec::new(), 0, 0);
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        match &payload {
            Payload::ImportSection(imports) => {
                for import in imports.clone().into_imports() {
                    globals += u32::from(matches!(import?.ty, TypeRef::Global(_)));
                }
            }
            Payload::GlobalSection(section) => globals += section.count(),
            _ => {}
        }
        if let ValidPayload::Func(func, body) = validator.payload(&payload)? {
            let mut validator = func.into_validator(Default::default());
            let mut locals = body.get_binary_reader();
            validator.read_locals(&mut locals)?;
            let reader = body.get_operators_reader()?;
            for (at, operator) in reader.into_iter_with_offsets().enumerate() {
                let (operator, offset) = operator?;
                let offset = offset as usize;
                validator.op(offset as u64, &operator)?;
                let result = validator.get_operand_type(0).flatten();
                let probed = result.filter(|ty| SCRATCH.contains(ty) && numeric(&wasm[offset..]));
                if let Some(ty) = probed {
                    let opcode = format!("{operator:?}");
                    let opcode = opcode.split([' ', '{']).next().unwrap_or_default();
                    probes.push(Probe {
                        function,
                        at,
                        opcode: opcode.to_string(),
                        ty,
                    });
                }
            }
            function += 1;
        }
    }
    Ok(Plan { probes, globals })
}

impl Plan {
    /// `wasm` with the results of its first `limit` probed instructions folded into [`HASH`].
    fn rewrite(&self, wasm: &[u8], limit: u64) -> Option<Vec<u8>> {
        let mut rewriter = Rewriter {
            plan: self,
            limit,
            function: 0,
            globals_written: false,
            exports_written: false,
        };
        let mut module = wasm_encoder::Module::new();
        rewriter
            .parse_core_module(&mut module, Parser::new(0), wasm)
            .ok()?;
        let probed = module.finish();
        Validator::new_with_features(WasmFeatures::all())
            .validate_all(&probed)
            .ok()?;
        Some(probed)
    }
}

/// Whether the instruction encoded at the start of `code` computes one number:
/// a load, a numeric operator, or a saturating truncation.
fn numeric(code: &[u8]) -> bool {
    match code {
        [0x28..=0x35, ..] | [0x45..=0xc4, ..] => true,
        [0xfc, sub, ..] => *sub <= 0x07,
        _ => false,
    }
}

/// Copies a module, adding the probe globals, their exports, and the probes after their instructions.
struct Rewriter<'a> {
    plan: &'a Plan,
    /// How many results are folded in, at most.
    limit: u64,
    /// The defined function being copied.
    function: usize,
    globals_written: bool,
    exports_written: bool,
}

/// The probe globals, in order after the module's own: one scratch per type, then these.
const EXPORTED: [(&str, ValType); 3] = [
    (HASH, ValType::I64),
    (EVENTS, ValType::I64),
    (REACHED, ValType::I32),
];

impl Rewriter<'_> {
    fn scratch(&self, ty: ValType) -> u32 {
        let slot = SCRATCH.iter().position(|t| *t == ty).unwrap_or(0);
        self.plan.globals + slot as u32
    }

    fn exported(&self, name: &str) -> u32 {
        let slot = EXPORTED.iter().position(|(n, _)| *n == name).unwrap_or(0);
        self.plan.globals + (SCRATCH.len() + slot) as u32
    }

    fn add_globals(&mut self, globals: &mut GlobalSection) {
        for ty in SCRATCH.iter().chain(EXPORTED.iter().map(|(_, ty)| ty)) {
            let (val_type, init) = match ty {
                ValType::I64 => (wasm_encoder::ValType::I64, ConstExpr::i64_const(0)),
                ValType::F32 => (wasm_encoder::ValType::F32, ConstExpr::f32_const(0.0.into())),
                ValType::F64 => (wasm_encoder::ValType::F64, ConstExpr::f64_const(0.0.into())),
                _ => (wasm_encoder::ValType::I32, ConstExpr::i32_const(0)),
            };
            let ty = GlobalType {
                val_type,
                mutable: true,
                shared: false,
            };
            globals.global(ty, &init);
        }
        self.globals_written = true;
    }

    fn add_exports(&mut self, exports: &mut wasm_encoder::ExportSection) {
        for (name, _) in EXPORTED {
            exports.export(name, ExportKind::Global, self.exported(name));
        }
        self.exports_written = true;
    }

    /// Folds the result on top of the stack into the hash, leaving it there.
    fn probe(&self, function: &mut wasm_encoder::Function, k: usize, ty: ValType) {
        use Instruction as I;
        let (scratch, events, hash) =
            (self.scratch(ty), self.exported(EVENTS), self.exported(HASH));
        let mut emit = |instructions: &[Instruction]| {
            for instruction in instructions {
                function.instruction(instruction);
            }
        };
        emit(&[
            I::GlobalSet(scratch),
            I::GlobalGet(events),
            I::I64Const(self.limit as i64),
            I::I64LtU,
            I::If(wasm_encoder::BlockType::Empty),
            I::GlobalGet(events),
            I::I64Const(1),
            I::I64Add,
            I::GlobalSet(events),
            I::GlobalGet(hash),
            I::I64Const(0x100_0000_01b3),
            I::I64Mul,
            I::GlobalGet(scratch),
        ]);
        // Rationale: engines may return any NaN where the spec allows a choice of NaN bits, so every
        // NaN is folded in as the canonical one; the hash only tells where computed numbers part.
        match ty {
            ValType::I32 => emit(&[I::I64ExtendI32U]),
            ValType::F32 => emit(&[
                I::I32ReinterpretF32,
                I::I32Const(0x7fc0_0000),
                I::GlobalGet(scratch),
                I::GlobalGet(scratch),
                I::F32Eq,
                I::Select,
                I::I64ExtendI32U,
            ]),
            ValType::F64 => emit(&[
                I::I64ReinterpretF64,
                I::I64Const(0x7ff8_0000_0000_0000),
                I::GlobalGet(scratch),
                I::GlobalGet(scratch),
                I::F64Eq,
                I::Select,
            ]),
            _ => {}
        }
        emit(&[
            I::I64Xor,
            I::GlobalSet(hash),
            I::I32Const(k as i32 + 1),
            I::GlobalSet(self.exported(REACHED)),
            I::End,
            I::GlobalGet(scratch),
        ]);
    }
}

/// Where a section belongs in a module, for inserting the ones a module lacks.
fn rank(section: Option<SectionId>) -> usize {
    use SectionId as S;
    let order = [
        S::Type,
        S::Import,
        S::Function,
        S::Table,
        S::Memory,
        S::Tag,
        S::Global,
        S::Export,
        S::Start,
        S::Element,
        S::DataCount,
        S::Code,
        S::Data,
    ];
    section.map_or(usize::MAX, |s| {
        order.iter().position(|o| *o == s).unwrap_or(0)
    })
}

impl Reencode for Rewriter<'_> {
    type Error = Infallible;

    fn parse_global_section(
        &mut self,
        globals: &mut GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Result<(), Error<Infallible>> {
        utils::parse_global_section(self, globals, section)?;
        self.add_globals(globals);
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Result<(), Error<Infallible>> {
        utils::parse_export_section(self, exports, section)?;
        self.add_exports(exports);
        Ok(())
    }

    fn intersperse_section_hook(
        &mut self,
        module: &mut wasm_encoder::Module,
        _after: Option<SectionId>,
        before: Option<SectionId>,
    ) -> Result<(), Error<Infallible>> {
        if !self.globals_written && rank(before) > rank(Some(SectionId::Global)) {
            let mut globals = GlobalSection::new();
            self.add_globals(&mut globals);
            module.section(&globals);
        }
        if !self.exports_written && rank(before) > rank(Some(SectionId::Export)) {
            let mut exports = wasm_encoder::ExportSection::new();
            self.add_exports(&mut exports);
            module.section(&exports);
        }
        Ok(())
    }

    fn parse_function_body(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        body: wasmparser::FunctionBody<'_>,
    ) -> Result<(), Error<Infallible>> {
        let mut function = self.new_function_with_parsed_locals(&body)?;
        let mut reader = body.get_operators_reader()?;
        let mut at = 0;
        while !reader.eof() {
            function.instruction(&self.parse_instruction(&mut reader)?);
            let probes = self.plan.probes.iter().enumerate();
            for (k, probe) in probes.filter(|(_, p)| (p.function, p.at) == (self.function, at)) {
                self.probe(&mut function, k, probe.ty);
            }
            at += 1;
        }
        code.function(&function);
        self.function += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wat(text: &str) -> Vec<u8> {
        generators::wat_to_wasm(text).unwrap()
    }

    #[test]
    fn probes_copy_every_numeric_result_and_keep_the_module_valid() {
        let module = wat(r#"(module
            (func (export "f") (param i32) (result i32)
              (i32.add (i32.clz (local.get 0)) (i32.const 1))))"#);
        let plan = plan(&module).unwrap();
        let names: Vec<&str> = plan.probes.iter().map(|p| p.opcode.as_str()).collect();
        assert_eq!(names, ["I32Clz", "I32Add"]);
        let probed = plan.rewrite(&module, u64::MAX).unwrap();
        let text = wasmprinter::print_bytes(&probed).unwrap();
        assert!(
            text.contains("(export \"lockstep.hash\" (global 4))"),
            "{text}"
        );
        assert!(
            text.contains("(export \"lockstep.reached\" (global 6))"),
            "{text}"
        );
        assert!(text.contains("(export \"f\""), "{text}");
    }

    /// The bucket of the first divergence of calling `export` with `args` on `engines`.
    fn bucket_of(engines: &[&str], text: &str, export: &str, args: &[Value]) -> Bucket {
        let engines: Vec<_> = engines
            .iter()
            .map(|id| oracles::engine(id).unwrap())
            .collect();
        let engines = crate::worker::references(&engines);
        let limits = oracles::Limits::default();
        let mut run = |wasm: &[u8], invocations: &[Invocation]| {
            crate::worker::run_all(
                None,
                &engines,
                wasm,
                invocations,
                &limits,
                None,
                &mut |_| {},
            )
        };
        let wasm = wat(text);
        let invocations = [Invocation {
            export: export.into(),
            args: args.to_vec(),
            expected: None,
        }];
        let found = run(&wasm, &invocations);
        let (step, _) = found.divergence().expect("the engines diverge");
        let evidence = Evidence {
            wasm: &wasm,
            invocations: &invocations,
            run: &found,
            step,
        };
        of(&evidence, &mut run)
    }

    const CLZ: [&str; 3] = ["wasmtime-cranelift", "wasmi", "mutant:clz-as-ctz"];

    #[test]
    fn the_bucket_is_the_first_wrong_result_in_execution_order() {
        // `$triple` comes first in the module, but runs on what `i32.clz` computed.
        let module = r#"(module
            (func $triple (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
            (func (export "f") (param i32) (result i32) (call $triple (i32.clz (local.get 0)))))"#;
        let bucket = bucket_of(&CLZ, module, "f", &[Value::I32(1)]);
        assert_eq!(bucket.name, "mutant:clz-as-ctz: I32Clz");
        assert_eq!(bucket.by, Method::FirstDifferentValue);
    }

    #[test]
    fn a_side_that_stops_early_is_bucketed_by_the_last_result_reached() {
        let module = r#"(module (func $f (export "f") (param i64) (result i64)
            (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 42))
              (else (return_call $f (i64.sub (local.get 0) (i64.const 1)))))))"#;
        let engines = ["wasmtime-cranelift", "wasmi", "mutant:return-call-as-call"];
        let bucket = bucket_of(&engines, module, "f", &[Value::I64(1_000_000)]);
        assert_eq!(bucket.by, Method::LastReached, "{bucket:?}");
        assert!(
            bucket
                .name
                .starts_with("mutant:return-call-as-call: after I64"),
            "{bucket:?}"
        );
    }

    #[test]
    fn without_a_numeric_result_the_signature_is_the_bucket() {
        let module = r#"(module (tag $t (param i32))
            (func (export "f") (throw $t (i32.const 1))))"#;
        let engines = ["wasmtime-cranelift", "wasmi", "mutant:exception-payload"];
        let bucket = bucket_of(&engines, module, "f", &[]);
        assert_eq!(bucket.by, Method::Signature(Unprobed::NothingToProbe));
        assert!(bucket.name.contains("not probed"), "{bucket:?}");
    }

    #[test]
    fn a_module_without_numbers_has_nothing_to_probe() {
        let module = wat(r#"(module (global (export "g") i32 (i32.const 0)) (func (export "f")))"#);
        assert!(plan(&module).unwrap().probes.is_empty());
    }
}
