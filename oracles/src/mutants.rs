//! Deliberately broken engines (`mutant:*`): each plants one known bug in wasmtime-cranelift, so that
//! lockstep's own tests, and users checking their setup, can see a planted bug get found.

use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session, SharedInstance};
use crate::facts::{contains_operator, operator_offsets};
use crate::outcome::{Outcome, State, Unread, Value};
use crate::rewrite::{self, Rule};
use crate::wasi::{CompiledProgram, ProgramEngine};
use std::sync::Arc;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{Instruction, ValType};
use wasmparser::{CompositeInnerType, FieldType, Operator, Parser, Payload, WasmFeatures};

/// The mutant engines, by id.
pub const MUTANT_IDS: &[&str] = &[
    "mutant:rem-s-as-rem-u",
    "mutant:return-call-as-call",
    "mutant:exception-payload",
    "mutant:abort-on-popcnt",
    "mutant:clz-as-ctz",
    "mutant:nearest-ties-away",
    "mutant:convert-i64-u-as-s",
    "mutant:swizzle-index-mod-16",
    "mutant:div-s-by-minus-one-no-trap",
    "mutant:div-s-by-power-of-two-as-shr",
    "mutant:shl-unmasked",
    "mutant:lt-minimum-off-by-one",
    "mutant:add-zero-folded",
    "mutant:self-shuffle-zeroes-high",
    "mutant:load-address-no-wrap",
    "mutant:unoptimized-clz-as-ctz",
    "mutant:baseline-clz-as-ctz",
    "mutant:struct-get-wrong-field",
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
    /// `struct.get` of field 2k reads field 2k+1 and the other way round, where the two have the same
    /// type: a GC lowering bug that validation cannot see and only a differential run finds.
    StructGetWrongField,
    /// `f32.nearest` and `f64.nearest` round halfway values away from zero instead of to even.
    NearestTiesAway,
    /// `f32.convert_i64_u` computed as `f32.convert_i64_s`: wrong from 2^63 up.
    ConvertUnsignedAsSigned,
    /// `i8x16.swizzle` as x86's `pshufb`, unclamped: indices 16 to 127 wrap around instead of giving 0.
    SwizzleIndexModulo,
    /// `(div_s x (const -1))` lowered to `(mul x -1)`: no overflow trap for MIN.
    DivByMinusOneNoTrap,
    /// `(i32.div_s x (const 2^k))` lowered to `(shr_s x k)`: rounds negative quotients down, not toward 0.
    DivByPowerOfTwoAsShift,
    /// `(shl x (const c))` with `c` at least the width gives 0: the amount is not taken modulo the width.
    ShiftUnmasked,
    /// `(lt_s x (const MIN))` and `(lt_u x (const 0))` rewritten as `le` against the constant minus
    /// one, which wraps: always true instead of always false.
    LessThanMinimum,
    /// `(add x (const +0.0))` folded to `x`: wrong for x = -0.0.
    AddZeroFolded,
    /// `(i8x16.shuffle m $v $v)` lowered to a one-operand permute: lanes picked from the second
    /// operand come out 0.
    SelfShuffleZeroesHigh,
    /// `(load (i32.add x (const c)))` with `c` negative folded into a 64-bit address: an address
    /// that wraps around 2^32 traps out of bounds instead of loading.
    LoadAddressNoWrap,
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
        "mutant:nearest-ties-away" => Mutation::NearestTiesAway,
        "mutant:convert-i64-u-as-s" => Mutation::ConvertUnsignedAsSigned,
        "mutant:swizzle-index-mod-16" => Mutation::SwizzleIndexModulo,
        "mutant:div-s-by-minus-one-no-trap" => Mutation::DivByMinusOneNoTrap,
        "mutant:div-s-by-power-of-two-as-shr" => Mutation::DivByPowerOfTwoAsShift,
        "mutant:shl-unmasked" => Mutation::ShiftUnmasked,
        "mutant:lt-minimum-off-by-one" => Mutation::LessThanMinimum,
        "mutant:add-zero-folded" => Mutation::AddZeroFolded,
        "mutant:self-shuffle-zeroes-high" => Mutation::SelfShuffleZeroesHigh,
        "mutant:load-address-no-wrap" => Mutation::LoadAddressNoWrap,
        // Built on the unoptimized variant of the tier, and on its code for
        // the x86-64 baseline (see `tiers::SETTING_MUTANTS`).
        "mutant:unoptimized-clz-as-ctz" | "mutant:baseline-clz-as-ctz" => Mutation::ClzAsCtz,
        "mutant:struct-get-wrong-field" => Mutation::StructGetWrongField,
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
            && let Some(first) = exception.payload.as_mut().and_then(|p| p.first_mut())
        {
            *first = perturbed(first);
        }
        outcome
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        self.inner.global(instance, export)
    }

    fn state(&mut self, instance: InstanceId) -> Result<State, Unread> {
        self.inner.state(instance)
    }
}

/// The planted bugs that rewrite a short operator sequence: each replaces what one lowering rule
/// would match with Wasm computing the wrong answer that rule would give.
impl Rule for Mutation {
    fn scratch(&self, _ops: &[Operator]) -> Vec<ValType> {
        match self {
            Mutation::NearestTiesAway => vec![ValType::F32, ValType::F64],
            Mutation::LoadAddressNoWrap => vec![ValType::I32, ValType::I32],
            _ => Vec::new(),
        }
    }

    fn rewrite<'a>(
        &self,
        ops: &[Operator<'a>],
        scratch: u32,
    ) -> Option<(usize, Vec<Instruction<'a>>)> {
        use Instruction as I;
        use Operator as O;
        let replaced = match (self, ops) {
            (Mutation::NearestTiesAway, [O::F32Nearest, ..]) => {
                (1, ties_away(F32_ROUNDING, scratch))
            }
            (Mutation::NearestTiesAway, [O::F64Nearest, ..]) => {
                (1, ties_away(F64_ROUNDING, scratch + 1))
            }
            (Mutation::SwizzleIndexModulo, [O::I8x16Swizzle, ..]) => {
                let pshufb = i128::from_le_bytes([0x8f; 16]);
                (1, vec![I::V128Const(pshufb), I::V128And, I::I8x16Swizzle])
            }
            (Mutation::DivByMinusOneNoTrap, [O::I32Const { value: -1 }, O::I32DivS, ..]) => {
                (2, vec![I::I32Const(-1), I::I32Mul])
            }
            (Mutation::DivByMinusOneNoTrap, [O::I64Const { value: -1 }, O::I64DivS, ..]) => {
                (2, vec![I::I64Const(-1), I::I64Mul])
            }
            (Mutation::DivByPowerOfTwoAsShift, [O::I32Const { value }, O::I32DivS, ..])
                if *value > 1 && value.count_ones() == 1 =>
            {
                (
                    2,
                    vec![I::I32Const(value.trailing_zeros() as i32), I::I32ShrS],
                )
            }
            (Mutation::ShiftUnmasked, [O::I32Const { value }, O::I32Shl, ..])
                if !(0..32).contains(value) =>
            {
                (2, vec![I::Drop, I::I32Const(0)])
            }
            (Mutation::ShiftUnmasked, [O::I64Const { value }, O::I64Shl, ..])
                if !(0..64).contains(value) =>
            {
                (2, vec![I::Drop, I::I64Const(0)])
            }
            (Mutation::LessThanMinimum, [O::I32Const { value: i32::MIN }, O::I32LtS, ..]) => {
                (2, vec![I::I32Const(i32::MAX), I::I32LeS])
            }
            (Mutation::LessThanMinimum, [O::I32Const { value: 0 }, O::I32LtU, ..]) => {
                (2, vec![I::I32Const(-1), I::I32LeU])
            }
            (Mutation::LessThanMinimum, [O::I64Const { value: i64::MIN }, O::I64LtS, ..]) => {
                (2, vec![I::I64Const(i64::MAX), I::I64LeS])
            }
            (Mutation::LessThanMinimum, [O::I64Const { value: 0 }, O::I64LtU, ..]) => {
                (2, vec![I::I64Const(-1), I::I64LeU])
            }
            (Mutation::AddZeroFolded, [O::F32Const { value }, O::F32Add, ..])
                if value.bits() == 0 =>
            {
                (2, Vec::new())
            }
            (Mutation::AddZeroFolded, [O::F64Const { value }, O::F64Add, ..])
                if value.bits() == 0 =>
            {
                (2, Vec::new())
            }
            (
                Mutation::SelfShuffleZeroesHigh,
                [
                    first @ (O::LocalGet { local_index: a } | O::LocalTee { local_index: a }),
                    O::LocalGet { local_index: b },
                    O::I8x16Shuffle { lanes },
                    ..,
                ],
            ) if a == b => {
                let permute = lanes.map(|lane| if lane < 16 { lane } else { 0xff });
                let first = RoundtripReencoder.instruction(first.clone()).ok()?;
                let permute = I::V128Const(i128::from_le_bytes(permute));
                (3, vec![first, permute, I::I8x16Swizzle])
            }
            (Mutation::LoadAddressNoWrap, [O::I32Const { value }, O::I32Add, load, ..])
                if *value < 0 && is_load(load) =>
            {
                let (base, sum) = (scratch, scratch + 1);
                let load = RoundtripReencoder.instruction(load.clone()).ok()?;
                // base + c wrapped when the sum is below base: then address -1, out of bounds.
                let address = [
                    I::LocalTee(base),
                    I::I32Const(*value),
                    I::I32Add,
                    I::LocalTee(sum),
                    I::I32Const(-1),
                    I::LocalGet(sum),
                    I::LocalGet(base),
                    I::I32GeU,
                    I::Select,
                ];
                (3, address.into_iter().chain([load]).collect())
            }
            _ => return None,
        };
        Some(replaced)
    }
}

/// The instructions of one float width that [`ties_away`] is written in.
struct Rounding {
    trunc: Instruction<'static>,
    nearest: Instruction<'static>,
    one: Instruction<'static>,
    half: Instruction<'static>,
    copysign: Instruction<'static>,
    add: Instruction<'static>,
    sub: Instruction<'static>,
    abs: Instruction<'static>,
    eq: Instruction<'static>,
}

const F32_ROUNDING: Rounding = Rounding {
    trunc: Instruction::F32Trunc,
    nearest: Instruction::F32Nearest,
    one: Instruction::F32Const(wasm_encoder::Ieee32::new(0x3f80_0000)),
    half: Instruction::F32Const(wasm_encoder::Ieee32::new(0x3f00_0000)),
    copysign: Instruction::F32Copysign,
    add: Instruction::F32Add,
    sub: Instruction::F32Sub,
    abs: Instruction::F32Abs,
    eq: Instruction::F32Eq,
};

const F64_ROUNDING: Rounding = Rounding {
    trunc: Instruction::F64Trunc,
    nearest: Instruction::F64Nearest,
    one: Instruction::F64Const(wasm_encoder::Ieee64::new(0x3ff0_0000_0000_0000)),
    half: Instruction::F64Const(wasm_encoder::Ieee64::new(0x3fe0_0000_0000_0000)),
    copysign: Instruction::F64Copysign,
    add: Instruction::F64Add,
    sub: Instruction::F64Sub,
    abs: Instruction::F64Abs,
    eq: Instruction::F64Eq,
};

/// `nearest(x)` with ties away from zero, x in local `x`:
/// `|x - trunc(x)| == 0.5 ? trunc(x) + copysign(1, x) : nearest(x)`.
fn ties_away(f: Rounding, x: u32) -> Vec<Instruction<'static>> {
    use Instruction::{LocalGet, LocalTee, Select};
    vec![
        LocalTee(x),
        f.trunc.clone(),
        f.one,
        LocalGet(x),
        f.copysign,
        f.add,
        LocalGet(x),
        f.nearest,
        LocalGet(x),
        LocalGet(x),
        f.trunc,
        f.sub,
        f.abs,
        f.half,
        f.eq,
        Select,
    ]
}

fn is_load(op: &Operator) -> bool {
    use Operator as O;
    matches!(
        op,
        O::I32Load { .. }
            | O::I64Load { .. }
            | O::F32Load { .. }
            | O::F64Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. }
            | O::V128Load { .. }
            | O::V128Load8x8S { .. }
            | O::V128Load8x8U { .. }
            | O::V128Load16x4S { .. }
            | O::V128Load16x4U { .. }
            | O::V128Load32x2S { .. }
            | O::V128Load32x2U { .. }
            | O::V128Load8Splat { .. }
            | O::V128Load16Splat { .. }
            | O::V128Load32Splat { .. }
            | O::V128Load64Splat { .. }
            | O::V128Load32Zero { .. }
            | O::V128Load64Zero { .. }
    )
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
        Mutation::StructGetWrongField => swap_struct_get_fields(wasm),
        Mutation::ConvertUnsignedAsSigned => {
            patch_opcodes(wasm, |op| matches!(op, Operator::F32ConvertI64U), 0xb4)
        }
        Mutation::ExceptionPayload => wasm.to_vec(),
        Mutation::AbortOnPopcnt => {
            if contains_operator(wasm, |op| matches!(op, Operator::I32Popcnt)) {
                std::process::abort();
            }
            wasm.to_vec()
        }
        // A module the rewrite cannot read is passed on: the engine reports it as it is.
        rule => rewrite::rewrite(wasm, &rule).unwrap_or_else(|_| wasm.to_vec()),
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

/// Rewrites, in place, the field index of every `struct.get` whose neighbouring field (index ^ 1) has
/// the same storage type. Indices below 128 are one LEB byte, the instruction's last, so the layout stays.
fn swap_struct_get_fields(wasm: &[u8]) -> Vec<u8> {
    let structs = struct_fields(wasm);
    let mut patched = wasm.to_vec();
    for body in function_bodies(wasm) {
        for pair in body.windows(2) {
            let (
                Operator::StructGet {
                    struct_type_index,
                    field_index,
                },
                next,
            ) = (&pair[0].0, pair[1].1)
            else {
                continue;
            };
            let fields = structs
                .get(*struct_type_index as usize)
                .and_then(Option::as_ref);
            let partner = field_index ^ 1;
            let same_type = fields.is_some_and(|fields| {
                let type_of = |index: u32| fields.get(index as usize).map(|f| f.element_type);
                type_of(partner).is_some() && type_of(partner) == type_of(*field_index)
            });
            if same_type && *field_index < 128 && partner < 128 {
                patched[next - 1] = partner as u8;
            }
        }
    }
    patched
}

/// The fields of every type, by type index; `None` for a type that is not a struct.
fn struct_fields(wasm: &[u8]) -> Vec<Option<Vec<FieldType>>> {
    let sections = Parser::new(0)
        .parse_all(wasm)
        .filter_map(|payload| match payload {
            Ok(Payload::TypeSection(reader)) => Some(reader),
            _ => None,
        });
    let groups = sections.flat_map(|reader| reader.into_iter().map_while(Result::ok));
    groups
        .flat_map(|group| group.into_types())
        .map(|ty| match ty.composite_type.inner {
            CompositeInnerType::Struct(fields) => Some(fields.fields.to_vec()),
            _ => None,
        })
        .collect()
}

/// Every function body's operators with their byte offsets, its final `end` included.
fn function_bodies(wasm: &[u8]) -> Vec<Vec<(Operator<'_>, usize)>> {
    Parser::new(0)
        .parse_all(wasm)
        .filter_map(|payload| match payload {
            Ok(Payload::CodeSectionEntry(body)) => body.get_operators_reader().ok(),
            _ => None,
        })
        .map(|reader| {
            let operators = reader.into_iter_with_offsets().map_while(Result::ok);
            operators
                .map(|(op, offset)| (op, offset as usize))
                .collect()
        })
        .collect()
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

    /// Each rewriting mutant with a module, arguments where it is right, and arguments where it is wrong.
    const REWRITES: &[(&str, &str, [Value; 1], [Value; 1])] = &[
        (
            "mutant:nearest-ties-away",
            "(func (export \"f\") (param f32) (result f32) (f32.nearest (local.get 0)))",
            [Value::F32(0x4019_9999)], // 2.4
            [Value::F32(0x4020_0000)], // 2.5
        ),
        (
            "mutant:convert-i64-u-as-s",
            "(func (export \"f\") (param i64) (result f32) (f32.convert_i64_u (local.get 0)))",
            [Value::I64(7)],
            [Value::I64(-1)],
        ),
        (
            "mutant:swizzle-index-mod-16",
            "(func (export \"f\") (param v128) (result v128) (i8x16.swizzle (local.get 0) (local.get 0)))",
            [Value::V128(0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100)],
            [Value::V128(0x1111_1111_1111_1111_1111_1111_1111_1111)],
        ),
        (
            "mutant:div-s-by-minus-one-no-trap",
            "(func (export \"f\") (param i32) (result i32) (i32.div_s (local.get 0) (i32.const -1)))",
            [Value::I32(5)],
            [Value::I32(i32::MIN)],
        ),
        (
            "mutant:div-s-by-power-of-two-as-shr",
            "(func (export \"f\") (param i32) (result i32) (i32.div_s (local.get 0) (i32.const 4)))",
            [Value::I32(-8)],
            [Value::I32(-7)],
        ),
        (
            "mutant:shl-unmasked",
            "(func (export \"f\") (param i64) (result i64) (i64.shl (local.get 0) (i64.const 65)))",
            [Value::I64(0)],
            [Value::I64(1)],
        ),
        (
            "mutant:lt-minimum-off-by-one",
            "(func (export \"f\") (param i32) (result i32)
               (select (i32.const 7) (i32.lt_s (local.get 0) (i32.const -2147483648)) (i32.eqz (local.get 0))))",
            [Value::I32(0)],
            [Value::I32(5)],
        ),
        (
            "mutant:add-zero-folded",
            "(func (export \"f\") (param f64) (result f64) (f64.add (local.get 0) (f64.const 0)))",
            [Value::F64(0x3ff0_0000_0000_0000)],
            [Value::F64(0x8000_0000_0000_0000)],
        ),
        (
            "mutant:self-shuffle-zeroes-high",
            "(func (export \"f\") (param v128) (result v128)
               (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31 (local.get 0) (local.get 0)))",
            [Value::V128(0x00ff_ffff_ffff_ffff_ffff_ffff_ffff_ffff)],
            [Value::V128(u128::MAX)],
        ),
        (
            "mutant:load-address-no-wrap",
            "(memory 1) (func (export \"f\") (param i32) (result i32) (i32.load (i32.add (local.get 0) (i32.const -4))))",
            [Value::I32(-4)],
            [Value::I32(8)],
        ),
    ];

    #[test]
    fn each_rewrite_is_wrong_only_where_its_lowering_rule_is() {
        for (mutant, function, right, wrong) in REWRITES {
            let module = format!("(module {function})");
            let honest = "wasmtime-cranelift";
            assert_eq!(
                run(mutant, &module, "f", right),
                run(honest, &module, "f", right),
                "{mutant} on {right:?}"
            );
            assert_ne!(
                run(mutant, &module, "f", wrong),
                run(honest, &module, "f", wrong),
                "{mutant} on {wrong:?}"
            );
        }
    }

    #[test]
    fn struct_get_reads_the_neighbouring_field_of_the_same_type() {
        let module = r#"(module
            (type $s (struct (field i32) (field i32) (field i64)))
            (func (export "get") (param i32) (result i32)
              (struct.get $s 0 (struct.new $s (local.get 0) (i32.const 7) (i64.const 9))))
            (func (export "wide") (result i64)
              (struct.get $s 2 (struct.new $s (i32.const 1) (i32.const 2) (i64.const 9)))))"#;
        let five = [Value::I32(5)];
        let honest = "wasmtime-cranelift";
        let mutant = "mutant:struct-get-wrong-field";
        assert_eq!(
            run(honest, module, "get", &five),
            Outcome::Values(vec![Value::I32(5)])
        );
        assert_eq!(
            run(mutant, module, "get", &five),
            Outcome::Values(vec![Value::I32(7)])
        );
        // Field 2 has no neighbour of its type: the read stays right.
        assert_eq!(
            run(mutant, module, "wide", &[]),
            run(honest, module, "wide", &[])
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
