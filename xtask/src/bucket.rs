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
    /// The first probed instruction, in module order, whose value differs.
    FirstDifferentValue,
    /// No probed value differs (a trap where the other returns, another trap code):
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
}

impl Bucket {
    /// The bucket of an instance of the known divergence `id`.
    pub fn known(id: &str) -> Bucket {
        Bucket {
            name: format!("known {id}"),
            by: Method::Known,
        }
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
    let Some((probes, probed)) = probe(evidence.wasm) else {
        return signature(Unprobed::NothingToProbe);
    };
    let probed_run = run(&probed, evidence.invocations);
    let Some((odd, reference)) = probed_run
        .steps
        .get(evidence.step)
        .and_then(|step| sides(&step.observations, divergence))
    else {
        return signature(Unprobed::NoProbedState);
    };
    let engines = divergence.minority.join(", ");
    let differs = |k: usize| {
        let name = probe_export(k);
        !same_value(global(odd, &name), global(reference, &name))
    };
    if let Some(k) = (0..probes.len()).find(|k| differs(*k)) {
        return Bucket {
            name: format!("{engines}: {}", probes[k].opcode),
            by: Method::FirstDifferentValue,
        };
    }
    match global(odd, REACHED) {
        Some(Value::I32(reached)) if *reached > 0 => Bucket {
            name: format!("{engines}: after {}", probes[*reached as usize - 1].opcode),
            by: Method::LastReached,
        },
        _ => signature(Unprobed::ProbesAgree),
    }
}

/// The states after the diverging call of the first odd engine and the first engine of the majority.
fn sides<'a>(
    observations: &'a [oracles::compare::Observation],
    divergence: &Divergence,
) -> Option<(&'a State, &'a State)> {
    let state_of = |engines: &[String]| {
        observations
            .iter()
            .find(|o| engines.contains(&o.engine))
            .and_then(|o| o.state.as_ref())
    };
    Some((
        state_of(&divergence.minority)?,
        state_of(&divergence.majority)?,
    ))
}

fn global<'a>(state: &'a State, name: &str) -> Option<&'a Value> {
    state.globals.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Rationale: engines may return any NaN where the spec allows a choice of NaN bits, so NaNs
/// are one value here; a probe only tells where computed numbers part.
fn same_value(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::F32(x)), Some(Value::F32(y))) => {
            x == y || (f32::from_bits(*x).is_nan() && f32::from_bits(*y).is_nan())
        }
        (Some(Value::F64(x)), Some(Value::F64(y))) => {
            x == y || (f64::from_bits(*x).is_nan() && f64::from_bits(*y).is_nan())
        }
        _ => a == b,
    }
}

/// The exported global that holds the number (from 1) of the last probe reached.
const REACHED: &str = "lockstep.reached";

fn probe_export(k: usize) -> String {
    format!("lockstep.probe.{k}")
}

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

/// The module with every numeric result copied into an exported global of its own, and
/// the number of the probe into [`REACHED`]; `None` when there is nothing to probe.
fn probe(wasm: &[u8]) -> Option<(Vec<Probe>, Vec<u8>)> {
    let (probes, globals) = plan(wasm).ok()?;
    if probes.is_empty() {
        return None;
    }
    let mut rewriter = Rewriter {
        probes: &probes,
        first_global: globals,
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
    Some((probes, probed))
}

/// The probes of `wasm`, and how many globals it has (imported and defined).
fn plan(wasm: &[u8]) -> wasmparser::Result<(Vec<Probe>, u32)> {
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
                if let Some(ty) = result.filter(|_| numeric(&wasm[offset..])) {
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
    Ok((probes, globals))
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
    probes: &'a [Probe],
    first_global: u32,
    /// The defined function being copied.
    function: usize,
    globals_written: bool,
    exports_written: bool,
}

impl Rewriter<'_> {
    fn reached_global(&self) -> u32 {
        self.first_global + self.probes.len() as u32
    }

    fn add_globals(&mut self, globals: &mut GlobalSection) {
        for probe in self.probes {
            let (ty, init) = match probe.ty {
                ValType::I64 => (wasm_encoder::ValType::I64, ConstExpr::i64_const(0)),
                ValType::F32 => (wasm_encoder::ValType::F32, ConstExpr::f32_const(0.0.into())),
                ValType::F64 => (wasm_encoder::ValType::F64, ConstExpr::f64_const(0.0.into())),
                ValType::V128 => (wasm_encoder::ValType::V128, ConstExpr::v128_const(0)),
                _ => (wasm_encoder::ValType::I32, ConstExpr::i32_const(0)),
            };
            globals.global(mutable(ty), &init);
        }
        globals.global(mutable(wasm_encoder::ValType::I32), &ConstExpr::i32_const(0));
        self.globals_written = true;
    }

    fn add_exports(&mut self, exports: &mut wasm_encoder::ExportSection) {
        for k in 0..self.probes.len() {
            exports.export(
                &probe_export(k),
                ExportKind::Global,
                self.first_global + k as u32,
            );
        }
        exports.export(REACHED, ExportKind::Global, self.reached_global());
        self.exports_written = true;
    }
}

fn mutable(val_type: wasm_encoder::ValType) -> GlobalType {
    GlobalType {
        val_type,
        mutable: true,
        shared: false,
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
            let here = self.probes.iter().enumerate();
            for (k, _) in here.filter(|(_, p)| (p.function, p.at) == (self.function, at)) {
                let global = self.first_global + k as u32;
                function.instruction(&Instruction::GlobalSet(global));
                function.instruction(&Instruction::GlobalGet(global));
                function.instruction(&Instruction::I32Const(k as i32 + 1));
                function.instruction(&Instruction::GlobalSet(self.reached_global()));
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
        let (probes, probed) = probe(&module).unwrap();
        let names: Vec<&str> = probes.iter().map(|p| p.opcode.as_str()).collect();
        assert_eq!(names, ["I32Clz", "I32Add"]);
        let text = wasmprinter::print_bytes(&probed).unwrap();
        assert!(text.contains("(export \"lockstep.probe.1\" (global 1))"), "{text}");
        assert!(text.contains("(export \"lockstep.reached\" (global 2))"), "{text}");
        assert!(text.contains("(export \"f\""), "{text}");
    }

    #[test]
    fn a_module_without_numbers_has_nothing_to_probe() {
        let module = wat(r#"(module (global (export "g") i32 (i32.const 0)) (func (export "f")))"#);
        assert!(probe(&module).is_none());
    }
}
