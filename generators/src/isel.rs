//! Instruction-selection shapes: small expression trees of the kinds Cranelift's lowering rules match,
//! where its miscompilations live, each export computing one tree on boundary arguments.
//!
//! A tree has 2 to 6 operators, built from templates combined at random: an operator with a constant
//! operand at a type boundary, one value used twice through `local.tee`, a load or store whose address
//! is `(shl x k)`, `(add x c)` or `(add (shl x k) y)` with an offset, `select` on a comparison with a
//! boundary, a comparison of a float with the `min`/`max` of itself, and shuffles and swizzles of a
//! vector with itself; every other node is a random operator of the type wanted.

use crate::ops::{self, type_name};
use crate::seed::Choices;
use crate::{Generated, args};
use oracles::Value;
use oracles::differential::Invocation;
use oracles::host::ValType::{self, F32, F64, I32, I64, V128};
use std::fmt::Write as _;
use wasmparser::WasmFeatures;

/// Exported trees per module.
const EXPORTS: usize = 10;
/// Calls per export.
const CALLS_PER_EXPORT: usize = 12;
/// The most operators in one tree (the fewest is 2).
const MOST_OPERATORS: usize = 6;
/// Every export's parameters: two of each number type, then two vectors when SIMD is shared.
const SCALAR_PARAMS: [ValType; 8] = [I32, I32, I64, I64, F32, F32, F64, F64];
/// Load and store offsets: mostly small, sometimes at the end of the 64 KiB memory or of the address space.
const OFFSETS: [u32; 8] = [0, 0, 1, 4, 8, 0xfff0, 0xffff, 0xffff_ffff];
/// Shift amounts of addresses: element sizes, and the shifts that push everything out.
const ADDRESS_SHIFTS: [i32; 7] = [0, 1, 2, 3, 4, 31, 32];
/// Added to addresses: small steps both ways and values that wrap around 2^32.
const ADDRESS_ADDENDS: [i32; 8] = [1, 4, 8, -1, -4, -8, 0x7fff_ffff, i32::MIN];
/// The memory's first bytes: every load meets boundary values.
const DATA: &str = r#"\ff\ff\ff\ff\00\00\00\80\01\00\00\00\ff\ff\ff\7f\00\00\c0\7f\00\00\00\3f\00\00\c0\bf\80\7f\01\fe"#;

/// Where a value may carry a NaN whose sign and payload the spec leaves to the engine. Such bits
/// must never reach an operator that exposes them (a reinterpretation, `copysign`, an integer lane
/// operation, a store): engines would disagree without a bug. Comparisons and truncations absorb them.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Nans {
    Never,
    /// In an f32, or in the f32 lanes of a vector.
    F32,
    /// In an f64, or in the f64 lanes of a vector.
    F64,
}

/// What an operator does with NaNs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Effect {
    /// Passes its operands' bits on: NaNs in, the same NaNs out.
    Pass,
    /// Computes floats: may make a new NaN of this kind.
    Arith(Nans),
    /// Its result is the same for every NaN (comparisons, truncations).
    Absorb,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    /// The instruction with its immediates, as in the text format.
    text: &'static str,
    operands: &'static [ValType],
    result: ValType,
    /// The NaNs its operands may carry without the operator exposing their bits.
    reads: Nans,
    effect: Effect,
}

impl Op {
    /// Whether the operator can compute a value that may carry `nans`.
    fn fits(&self, nans: Nans) -> bool {
        match self.effect {
            Effect::Arith(made) => made == nans,
            Effect::Pass | Effect::Absorb => true,
        }
    }

    /// What the operands may carry when the result may carry `nans`.
    fn operand_nans(&self, nans: Nans) -> Nans {
        match self.effect {
            Effect::Arith(_) | Effect::Absorb => self.reads,
            Effect::Pass if nans == self.reads => nans,
            Effect::Pass => Nans::Never,
        }
    }
}

/// A scalar operator of the probes, with its NaN behaviour read from its name and types.
fn scalar(&(text, operands, result, _): &ops::Op) -> Op {
    let float = |ty: ValType| match ty {
        F32 => Nans::F32,
        F64 => Nans::F64,
        _ => Nans::Never,
    };
    let reads = operands.first().map_or(Nans::Never, |ty| float(*ty));
    let exposes = text.contains("copysign") || text.contains("reinterpret");
    let sign_only = text.ends_with(".abs") || text.ends_with(".neg");
    let (reads, effect) = match (exposes, float(result)) {
        (true, _) => (Nans::Never, Effect::Pass),
        _ if reads == Nans::Never || sign_only => (reads, Effect::Pass),
        (false, Nans::Never) => (reads, Effect::Absorb),
        (false, made) => (reads, Effect::Arith(made)),
    };
    Op {
        text,
        operands,
        result,
        reads,
        effect,
    }
}

const VV: &[ValType] = &[V128, V128];
const V: &[ValType] = &[V128];

/// Vector operators of the same operands, result and NaN behaviour.
type VectorGroup = (
    &'static [&'static str],
    &'static [ValType],
    ValType,
    Nans,
    Effect,
);

const VECTOR_GROUPS: &[VectorGroup] = {
    use Effect::{Absorb, Arith, Pass};
    use Nans::{F32 as N32, F64 as N64, Never};
    &[
        (
            &[
                "i8x16.add",
                "i8x16.sub",
                "i8x16.add_sat_s",
                "i8x16.sub_sat_u",
                "i8x16.min_s",
                "i8x16.max_u",
                "i8x16.avgr_u",
                "i8x16.eq",
                "i8x16.lt_s",
                "i8x16.gt_u",
                "i8x16.narrow_i16x8_s",
                "i8x16.narrow_i16x8_u",
                "i8x16.swizzle",
                "i16x8.add",
                "i16x8.mul",
                "i16x8.sub_sat_s",
                "i16x8.q15mulr_sat_s",
                "i16x8.extmul_low_i8x16_s",
                "i16x8.lt_u",
                "i16x8.max_s",
                "i32x4.add",
                "i32x4.sub",
                "i32x4.mul",
                "i32x4.min_s",
                "i32x4.max_u",
                "i32x4.dot_i16x8_s",
                "i32x4.gt_s",
                "i32x4.le_u",
                "i32x4.extmul_high_i16x8_u",
                "i64x2.add",
                "i64x2.sub",
                "i64x2.mul",
                "i64x2.lt_s",
                "i64x2.eq",
                "i64x2.extmul_low_i32x4_s",
                "v128.and",
                "v128.or",
                "v128.xor",
                "v128.andnot",
            ],
            VV,
            V128,
            Never,
            Pass,
        ),
        (
            &[
                "i8x16.popcnt",
                "i8x16.abs",
                "i8x16.neg",
                "i16x8.extend_high_i8x16_u",
                "i16x8.extadd_pairwise_i8x16_s",
                "i32x4.extend_low_i16x8_s",
                "i32x4.extadd_pairwise_i16x8_u",
                "i64x2.extend_high_i32x4_s",
                "i64x2.abs",
                "i64x2.neg",
                "v128.not",
                "f32x4.convert_i32x4_s",
                "f32x4.convert_i32x4_u",
                "f64x2.convert_low_i32x4_u",
            ],
            V,
            V128,
            Never,
            Pass,
        ),
        (&["v128.bitselect"], &[V128, V128, V128], V128, Never, Pass),
        (
            &[
                "i8x16.shl",
                "i8x16.shr_s",
                "i16x8.shr_u",
                "i32x4.shl",
                "i32x4.shr_s",
                "i64x2.shl",
                "i64x2.shr_u",
            ],
            &[V128, I32],
            V128,
            Never,
            Pass,
        ),
        (
            &[
                "v128.any_true",
                "i8x16.all_true",
                "i16x8.bitmask",
                "i32x4.all_true",
                "i64x2.bitmask",
                "i8x16.extract_lane_s 15",
                "i8x16.extract_lane_u 0",
                "i16x8.extract_lane_s 7",
                "i32x4.extract_lane 3",
            ],
            V,
            I32,
            Never,
            Pass,
        ),
        (&["i64x2.extract_lane 1"], V, I64, Never, Pass),
        (
            &["f32x4.extract_lane 0", "f32x4.extract_lane 3"],
            V,
            F32,
            N32,
            Pass,
        ),
        (&["f64x2.extract_lane 1"], V, F64, N64, Pass),
        (
            &["i8x16.splat", "i16x8.splat", "i32x4.splat"],
            &[I32],
            V128,
            Never,
            Pass,
        ),
        (&["i64x2.splat"], &[I64], V128, Never, Pass),
        (&["f32x4.splat"], &[F32], V128, N32, Pass),
        (&["f64x2.splat"], &[F64], V128, N64, Pass),
        (
            &["i8x16.replace_lane 15", "i32x4.replace_lane 0"],
            &[V128, I32],
            V128,
            Never,
            Pass,
        ),
        (&["i64x2.replace_lane 1"], &[V128, I64], V128, Never, Pass),
        (&["f32x4.replace_lane 2"], &[V128, F32], V128, N32, Pass),
        (&["f64x2.replace_lane 0"], &[V128, F64], V128, N64, Pass),
        (
            &[
                "f32x4.add",
                "f32x4.sub",
                "f32x4.mul",
                "f32x4.div",
                "f32x4.min",
                "f32x4.max",
            ],
            VV,
            V128,
            N32,
            Arith(N32),
        ),
        (
            &["f32x4.nearest", "f32x4.sqrt", "f32x4.ceil"],
            V,
            V128,
            N32,
            Arith(N32),
        ),
        (
            &["f64x2.add", "f64x2.mul", "f64x2.min", "f64x2.max"],
            VV,
            V128,
            N64,
            Arith(N64),
        ),
        (
            &["f64x2.nearest", "f64x2.floor", "f64x2.trunc"],
            V,
            V128,
            N64,
            Arith(N64),
        ),
        (&["f64x2.promote_low_f32x4"], V, V128, N32, Arith(N64)),
        (&["f32x4.demote_f64x2_zero"], V, V128, N64, Arith(N32)),
        (&["f32x4.abs", "f32x4.neg"], V, V128, N32, Pass),
        (&["f32x4.pmin", "f32x4.pmax"], VV, V128, N32, Pass),
        (&["f64x2.abs", "f64x2.neg"], V, V128, N64, Pass),
        (&["f64x2.pmin"], VV, V128, N64, Pass),
        (&["f32x4.eq", "f32x4.lt", "f32x4.ge"], VV, V128, N32, Absorb),
        (&["f64x2.ne", "f64x2.gt"], VV, V128, N64, Absorb),
        (
            &["i32x4.trunc_sat_f32x4_s", "i32x4.trunc_sat_f32x4_u"],
            V,
            V128,
            N32,
            Absorb,
        ),
        (&["i32x4.trunc_sat_f64x2_s_zero"], V, V128, N64, Absorb),
    ]
};

/// Every operator the trees use under `shared`.
fn operators(shared: WasmFeatures) -> Vec<Op> {
    let scalars = ops::operators();
    let scalars = scalars
        .iter()
        .filter(|(_, _, _, needs)| shared.contains(*needs))
        .map(scalar);
    let vectors = VECTOR_GROUPS.iter().filter(|_| shared.simd()).flat_map(
        |&(texts, operands, result, reads, effect)| {
            texts.iter().map(move |&text| Op {
                text,
                operands,
                result,
                reads,
                effect,
            })
        },
    );
    scalars.chain(vectors).collect()
}

/// A module of [`EXPORTS`] trees available under `shared`, each called on boundary arguments.
pub fn generate(rng: &mut impl Choices, shared: WasmFeatures) -> Result<Generated, String> {
    let operators = operators(shared);
    let mut params = SCALAR_PARAMS.to_vec();
    if shared.simd() {
        params.extend([V128, V128]);
    }
    let mut text = format!("(module\n  (memory 1)\n  (data (i32.const 0) \"{DATA}\")\n");
    let mut calls = Vec::new();
    for index in 0..EXPORTS {
        let export = format!("isel#{index}");
        let result = args::pick(rng, &params);
        let function = Function::new(rng, &operators, &params).body(result);
        let _ = writeln!(
            text,
            "  (func (export \"{export}\") (param{}) (result {}){}\n    {})",
            names(&params),
            type_name(result),
            function.locals,
            function.body
        );
        for _ in 0..CALLS_PER_EXPORT {
            calls.push(Invocation {
                export: export.clone(),
                args: args::boundary_arguments(rng, &params),
                expected: None,
            });
        }
    }
    text.push(')');
    Ok(Generated {
        wasm: crate::wat_to_wasm(&text)?,
        calls,
    })
}

fn names(types: &[ValType]) -> String {
    types
        .iter()
        .map(|ty| format!(" {}", type_name(*ty)))
        .collect()
}

/// A function's scratch locals, as text, and its body.
struct Text {
    locals: String,
    body: String,
}

/// One tree being built.
struct Function<'a, C: Choices> {
    rng: &'a mut C,
    operators: &'a [Op],
    params: &'a [ValType],
    /// Operators still to place.
    budget: usize,
    /// Scratch locals after the parameters, with the NaNs each may hold.
    locals: Vec<(ValType, Nans)>,
}

/// The templates a node is built from.
#[derive(Clone, Copy)]
enum Shape {
    /// A random operator.
    Random,
    /// A binary operator with a boundary constant as one operand.
    Constant,
    /// A binary operator applied to one value twice, through `local.tee`.
    Reuse,
    /// A load from a computed address.
    Load,
    /// `select` on a comparison with a boundary constant.
    Select,
    /// A comparison of a float with the `min` or `max` of itself and another.
    MinMax,
    /// A shuffle or swizzle of a vector with itself.
    SelfShuffle,
}

impl<'a, C: Choices> Function<'a, C> {
    fn new(rng: &'a mut C, operators: &'a [Op], params: &'a [ValType]) -> Self {
        Function {
            rng,
            operators,
            params,
            budget: 0,
            locals: Vec::new(),
        }
    }

    /// A body of 2 to [`MOST_OPERATORS`] operators computing a `result`, sometimes after a store.
    fn body(mut self, result: ValType) -> Text {
        let root = match result {
            F32 => Nans::F32,
            F64 => Nans::F64,
            V128 => args::pick(self.rng, &[Nans::F32, Nans::F64]),
            _ => Nans::Never,
        };
        loop {
            self.locals.clear();
            self.budget = 2 + self.rng.below(MOST_OPERATORS as u64 - 1) as usize;
            let planned = self.budget;
            let store = match self.rng.chance(1, 4) {
                true => self.store(),
                false => String::new(),
            };
            let tree = self.expr(result, root);
            if planned - self.budget >= 2 {
                let locals = match self.locals.is_empty() {
                    true => String::new(),
                    false => format!(" (local{})", names(&self.locals_types())),
                };
                return Text {
                    locals,
                    body: format!("{store}{tree}"),
                };
            }
        }
    }

    fn locals_types(&self) -> Vec<ValType> {
        self.locals.iter().map(|(ty, _)| *ty).collect()
    }

    /// An expression of type `ty` whose value may carry `nans`.
    fn expr(&mut self, ty: ValType, nans: Nans) -> String {
        if self.budget == 0 {
            return self.leaf(ty, nans);
        }
        let mut shapes = vec![
            Shape::Random,
            Shape::Random,
            Shape::Constant,
            Shape::Constant,
            Shape::Constant,
        ];
        shapes.extend([Shape::Reuse, Shape::Load]);
        if ty == V128 {
            shapes.extend([Shape::SelfShuffle, Shape::SelfShuffle]);
        }
        if self.budget >= 2 {
            shapes.push(Shape::Select);
            if ty == I32 {
                shapes.push(Shape::MinMax);
            }
        }
        let built = match args::pick(self.rng, &shapes) {
            Shape::Random => self.random(ty, nans),
            Shape::Constant => self.with_constant(ty, nans),
            Shape::Reuse => self.reuse(ty, nans),
            Shape::Load => self.load(ty),
            Shape::Select => self.select(ty, nans),
            Shape::MinMax => self.min_max(),
            Shape::SelfShuffle => self.self_shuffle(),
        };
        built.unwrap_or_else(|| self.leaf(ty, nans))
    }

    /// Takes one operator from the budget.
    fn spend(&mut self) {
        self.budget -= 1;
    }

    /// A parameter, a boundary constant, or a value computed before.
    fn leaf(&mut self, ty: ValType, nans: Nans) -> String {
        let earlier: Vec<usize> = (0..self.locals.len())
            .filter(|&i| {
                let (local, holds) = self.locals[i];
                local == ty && (holds == Nans::Never || holds == nans)
            })
            .collect();
        match self.rng.below(4) {
            0 | 1 => {
                let choices: Vec<usize> = (0..self.params.len())
                    .filter(|&i| self.params[i] == ty)
                    .collect();
                format!("(local.get {})", args::pick(self.rng, &choices))
            }
            2 if !earlier.is_empty() => {
                let local = args::pick(self.rng, &earlier) + self.params.len();
                format!("(local.get {local})")
            }
            _ => constant(args::boundary(self.rng, ty)),
        }
    }

    /// A new scratch local of type `ty` that may hold `nans`.
    fn scratch(&mut self, ty: ValType, nans: Nans) -> usize {
        self.locals.push((ty, nans));
        self.params.len() + self.locals.len() - 1
    }

    /// A random operator from those `chosen` selects that can make `ty` with `nans`.
    fn operator(&mut self, ty: ValType, nans: Nans, chosen: impl Fn(&Op) -> bool) -> Option<Op> {
        let fitting: Vec<Op> = self
            .operators
            .iter()
            .filter(|op| op.result == ty && op.fits(nans) && chosen(op))
            .copied()
            .collect();
        (!fitting.is_empty()).then(|| args::pick(self.rng, &fitting))
    }

    fn random(&mut self, ty: ValType, nans: Nans) -> Option<String> {
        let op = self.operator(ty, nans, |_| true)?;
        self.spend();
        let inner = op.operand_nans(nans);
        let operands: String = op
            .operands
            .iter()
            .map(|operand| format!(" {}", self.expr(*operand, inner)))
            .collect();
        Some(format!("({}{operands})", op.text))
    }

    /// `(op X c)` or `(op c X)` with `c` a boundary constant of that operand's type; mostly an
    /// operator on `ty` itself (arithmetic rather than a comparison of another type).
    fn with_constant(&mut self, ty: ValType, nans: Nans) -> Option<String> {
        let same_type = self.rng.chance(2, 3);
        let op = self.operator(ty, nans, |op| {
            op.operands.len() == 2 && (!same_type || op.operands[0] == ty)
        })?;
        self.spend();
        let inner = op.operand_nans(nans);
        // Mostly the right operand (a shift amount, a divisor, a lane value), sometimes the left.
        let at = match self.rng.chance(1, 4) {
            true => 0,
            false => 1,
        };
        // Half the time straight on a parameter or local, whose boundary values meet the
        // constant unchanged: the combination a lowering rule matches, at the values it breaks on.
        let value = match self.rng.chance(1, 2) {
            true => self.leaf(op.operands[1 - at], inner),
            false => self.expr(op.operands[1 - at], inner),
        };
        let constant = constant(self.edge(op.text, op.operands[at]));
        Some(match at {
            0 => format!("({} {constant} {value})", op.text),
            _ => format!("({} {value} {constant})", op.text),
        })
    }

    /// `(op (local.tee $t X) (local.get $t))`: one value used twice.
    fn reuse(&mut self, ty: ValType, nans: Nans) -> Option<String> {
        let op = self.operator(ty, nans, |op| {
            op.operands.len() == 2 && op.operands[0] == op.operands[1]
        })?;
        self.spend();
        let (operand, inner) = (op.operands[0], op.operand_nans(nans));
        let value = self.expr(operand, inner);
        let local = self.scratch(operand, inner);
        Some(format!(
            "({} (local.tee {local} {value}) (local.get {local}))",
            op.text
        ))
    }

    /// A load of `ty` from a computed address.
    fn load(&mut self, ty: ValType) -> Option<String> {
        let loads: &[&str] = match ty {
            I32 => &[
                "i32.load",
                "i32.load8_s",
                "i32.load8_u",
                "i32.load16_s",
                "i32.load16_u",
            ],
            I64 => &[
                "i64.load",
                "i64.load8_s",
                "i64.load16_u",
                "i64.load32_s",
                "i64.load32_u",
            ],
            F32 => &["f32.load"],
            F64 => &["f64.load"],
            _ => &[
                "v128.load",
                "v128.load8x8_s",
                "v128.load32_splat",
                "v128.load64_zero",
            ],
        };
        let load = args::pick(self.rng, loads);
        self.spend();
        let address = self.address();
        Some(format!("({load}{} {address})", self.offset()))
    }

    /// ` offset=N`, or nothing for offset 0.
    fn offset(&mut self) -> String {
        match args::pick(self.rng, &OFFSETS) {
            0 => String::new(),
            offset => format!(" offset={offset}"),
        }
    }

    /// `(i32.shl x k)`, `(i32.add x c)` or `(i32.add (i32.shl x k) y)` (`y` a base: a parameter,
    /// local or constant); a plain value without budget.
    fn address(&mut self) -> String {
        if self.budget == 0 {
            return self.leaf(I32, Nans::Never);
        }
        let index = self.leaf(I32, Nans::Never);
        self.spend();
        let shift = args::pick(self.rng, &ADDRESS_SHIFTS);
        let shifted = format!("(i32.shl {index} (i32.const {shift}))");
        match self.rng.below(3) {
            0 => shifted,
            1 => format!(
                "(i32.add {index} (i32.const {}))",
                args::pick(self.rng, &ADDRESS_ADDENDS)
            ),
            _ if self.budget > 0 => {
                self.spend();
                let base = self.leaf(I32, Nans::Never);
                format!("(i32.add {shifted} {base})")
            }
            _ => shifted,
        }
    }

    /// A store to a computed address, before the tree.
    fn store(&mut self) -> String {
        let (ty, store) = args::pick(
            self.rng,
            &[
                (I32, "i32.store"),
                (I32, "i32.store8"),
                (I64, "i64.store"),
                (I64, "i64.store16"),
                (F64, "f64.store"),
            ],
        );
        self.spend();
        let offset = self.offset();
        let address = self.address();
        let value = self.expr(ty, Nans::Never);
        format!("({store}{offset} {address} {value})\n    ")
    }

    /// `(select X Y (cmp Z c))` with `c` at a boundary.
    fn select(&mut self, ty: ValType, nans: Nans) -> Option<String> {
        self.spend();
        let compared = args::pick(self.rng, &[I32, I64, F32, F64]);
        let condition = self.with_constant_compare(compared)?;
        let first = self.expr(ty, nans);
        let second = self.expr(ty, nans);
        Some(format!("(select {first} {second} {condition})"))
    }

    /// A comparison of a `ty` value with a boundary constant.
    fn with_constant_compare(&mut self, ty: ValType) -> Option<String> {
        let op = self.operator(I32, Nans::Never, |op| {
            let name = op.text.split_once('.').map_or("", |(_, name)| name);
            op.operands == [ty, ty] && ops::COMPARISONS.iter().any(|c| c.contains(&name))
        })?;
        self.spend();
        let value = self.expr(ty, op.operand_nans(Nans::Never));
        let constant = constant(self.edge(op.text, ty));
        Some(format!("({} {value} {constant})", op.text))
    }

    /// A constant operand of type `ty` for operator `text`: mostly one its lowering rules single
    /// out ([`edges`]), otherwise any boundary of the type.
    fn edge(&mut self, text: &str, ty: ValType) -> Value {
        match edges(text, ty) {
            Some(mut edges) if self.rng.chance(3, 4) => {
                edges.swap_remove(self.rng.below(edges.len() as u64) as usize)
            }
            _ => args::boundary(self.rng, ty),
        }
    }

    /// `(f.cmp (local.tee $t X) (f.min (local.get $t) Y))`, or with `max`.
    fn min_max(&mut self) -> Option<String> {
        let (ty, nans) = args::pick(self.rng, &[(F32, Nans::F32), (F64, Nans::F64)]);
        let name = type_name(ty);
        let compare = args::pick(self.rng, &["eq", "ne", "lt", "gt", "le", "ge"]);
        let extreme = args::pick(self.rng, &["min", "max"]);
        self.budget -= 2;
        let value = self.expr(ty, nans);
        let local = self.scratch(ty, nans);
        let other = self.expr(ty, nans);
        Some(format!(
            "({name}.{compare} (local.tee {local} {value}) ({name}.{extreme} (local.get {local}) {other}))"
        ))
    }

    /// `(i8x16.shuffle m (local.tee $v X) (local.get $v))`, or a swizzle of a vector by itself.
    fn self_shuffle(&mut self) -> Option<String> {
        self.spend();
        let value = self.expr(V128, Nans::Never);
        let local = self.scratch(V128, Nans::Never);
        let operator = match self.rng.chance(1, 3) {
            true => "i8x16.swizzle".to_string(),
            false => format!("i8x16.shuffle{}", shuffle_lanes(self.rng)),
        };
        Some(format!(
            "({operator} (local.tee {local} {value}) (local.get {local}))"
        ))
    }
}

/// The constants of type `ty` that the lowering rules of operator `text` (`i32.div_s`,
/// `i8x16.shl`) single out: a divisor of -1 or a power of two, a shift by the width or more,
/// the bounds that make a comparison always true or false, identities and absorbing values.
/// `None` for a vector operand (lane patterns come from [`args::boundary`]).
fn edges(text: &str, ty: ValType) -> Option<Vec<Value>> {
    let (kind, name) = text.split_once('.')?;
    match ty {
        // A vector shift's amount, shifting lanes of the width the operator's name gives.
        I32 if kind != "i32" => {
            let lane = kind.split_once('x')?.0.get(1..)?.parse().ok()?;
            let amounts = shifts(lane).map(|c| Value::I32(c as i32));
            name.starts_with("sh").then(|| amounts.collect())
        }
        I32 => Some(
            integer_edges(name, 32)
                .into_iter()
                .map(|c| Value::I32(c as i32))
                .collect(),
        ),
        I64 => Some(
            integer_edges(name, 64)
                .into_iter()
                .map(Value::I64)
                .collect(),
        ),
        F32 => Some(
            float_edges(name)
                .iter()
                .map(|c| Value::F32((*c as f32).to_bits()))
                .collect(),
        ),
        F64 => Some(
            float_edges(name)
                .iter()
                .map(|c| Value::F64(c.to_bits()))
                .collect(),
        ),
        _ => None,
    }
}

/// Shift amounts around a `width`-bit lane or value: the amount is taken modulo the width.
fn shifts(width: u32) -> impl Iterator<Item = i64> {
    let width = i64::from(width);
    [0, 1, width - 1, width, width + 1, 2 * width, -1].into_iter()
}

/// [`edges`] of a `width`-bit integer operator `name`, as sign-extended 64-bit numbers.
fn integer_edges(name: &str, width: u32) -> Vec<i64> {
    let (min, max) = (i64::MIN >> (64 - width), i64::MAX >> (64 - width));
    match name {
        "div_s" | "rem_s" => vec![-1, 1, 2, 8, 1 << (width - 2), min],
        "div_u" | "rem_u" => vec![1, 2, 8, -1, min],
        "shl" | "shr_s" | "shr_u" | "rotl" | "rotr" => shifts(width).collect(),
        "mul" => vec![-1, 0, 1, 2, 8, min],
        "lt_s" | "le_s" | "gt_s" | "ge_s" => vec![min, max, 0, -1],
        "lt_u" | "le_u" | "gt_u" | "ge_u" => vec![0, -1, min, max],
        _ => vec![0, 1, -1, min, max],
    }
}

/// [`edges`] of a float operator `name`: signed zeros, one, infinities.
fn float_edges(name: &str) -> &'static [f64] {
    match name {
        "add" | "sub" => &[0.0, -0.0, 1.0, -1.0],
        "mul" | "div" => &[1.0, -1.0, 0.0, -0.0, 2.0, 0.5],
        "min" | "max" => &[0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY],
        _ => &[0.0, -0.0, 1.0, f64::INFINITY, f64::NEG_INFINITY],
    }
}

/// Shuffle lane indices: the identity, a reversal, only the second operand, a broadcast, an interleave, or random.
fn shuffle_lanes(rng: &mut impl Choices) -> String {
    let pattern = rng.below(6);
    let lanes: Vec<u64> = (0..16u64)
        .map(|i| match pattern {
            0 => i,
            1 => 15 - i,
            2 => 16 + i,
            3 => 0,
            4 => i / 2 + 16 * (i % 2),
            _ => rng.below(32),
        })
        .collect();
    lanes.iter().map(|lane| format!(" {lane}")).collect()
}

/// A value as a constant instruction in the text format.
fn constant(value: Value) -> String {
    match value {
        Value::I32(v) => format!("(i32.const {v})"),
        Value::I64(v) => format!("(i64.const {v})"),
        Value::F32(bits) => {
            let x = f32::from_bits(bits);
            let payload = u64::from(bits & 0x7f_ffff);
            float(
                "f32",
                x.is_nan(),
                x.is_sign_negative(),
                payload,
                format!("{x:?}"),
            )
        }
        Value::F64(bits) => {
            let x = f64::from_bits(bits);
            let payload = bits & 0xf_ffff_ffff_ffff;
            float(
                "f64",
                x.is_nan(),
                x.is_sign_negative(),
                payload,
                format!("{x:?}"),
            )
        }
        Value::V128(bits) => {
            let lanes: String = (0..4)
                .map(|lane| format!(" {:#x}", (bits >> (32 * lane)) as u32))
                .collect();
            format!("(v128.const i32x4{lanes})")
        }
        other => unreachable!("trees use number constants only, not {other:?}"),
    }
}

/// A float constant; NaNs keep their sign and payload.
fn float(ty: &str, nan: bool, negative: bool, payload: u64, number: String) -> String {
    match nan {
        true => {
            let sign = if negative { "-" } else { "" };
            format!("({ty}.const {sign}nan:{payload:#x})")
        }
        false => format!("({ty}.const {number})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;
    use wasmparser::{Operator, Parser, Payload};

    /// Item `item` of a campaign with `seed`, checked to validate under `shared`.
    fn valid(shared: WasmFeatures, seed: u64, item: u64) -> Generated {
        let generated = generate(&mut Rng::for_item(seed, item), shared).unwrap();
        let validated =
            wasmparser::Validator::new_with_features(shared).validate_all(&generated.wasm);
        let error = validated.err();
        assert!(error.is_none(), "seed {seed} item {item}: {error:?}");
        generated
    }

    /// Each function's operators, from many generated modules.
    fn functions(shared: WasmFeatures) -> Vec<Vec<Operator<'static>>> {
        let mut all = Vec::new();
        for item in 0..60 {
            let generated = valid(shared, 7, item);
            let wasm: &'static [u8] = Box::leak(generated.wasm.into_boxed_slice());
            for payload in Parser::new(0).parse_all(wasm) {
                if let Ok(Payload::CodeSectionEntry(body)) = payload {
                    let reader = body.get_operators_reader().unwrap();
                    all.push(reader.into_iter().map(Result::unwrap).collect());
                }
            }
        }
        all
    }

    fn count(functions: &[Vec<Operator>], shape: impl Fn(&[Operator]) -> bool) -> usize {
        functions
            .iter()
            .filter(|ops| (1..=ops.len()).any(|end| shape(&ops[..end])))
            .count()
    }

    /// Whether the operators end with a `LocalTee` and `LocalGet` of one scratch local, then `last`.
    fn self_pair(ops: &[Operator], last: impl Fn(&Operator) -> bool) -> bool {
        matches!(ops, [.., Operator::LocalTee { local_index: t }, Operator::LocalGet { local_index: g }, op]
            if t == g && *t >= 10 && last(op))
    }

    fn is_load(op: &Operator) -> bool {
        matches!(
            op,
            Operator::I32Load { .. }
                | Operator::I64Load { .. }
                | Operator::I32Load8S { .. }
                | Operator::I64Load32U { .. }
                | Operator::F64Load { .. }
                | Operator::V128Load { .. }
        )
    }

    /// A shape the issue lists, by name, and whether a function's operators end with it.
    type Listed<'a> = (&'a str, &'a dyn Fn(&[Operator]) -> bool);

    #[test]
    fn every_listed_shape_is_generated() {
        let functions = functions(WasmFeatures::WASM2);
        let shapes: [Listed; 10] = [
            ("shift by a width boundary", &|ops| {
                matches!(
                    ops,
                    [.., Operator::I32Const { value: 31..=33 }, Operator::I32Shl]
                ) || matches!(
                    ops,
                    [
                        ..,
                        Operator::I64Const { value: 63..=65 },
                        Operator::I64Shl | Operator::I64ShrS | Operator::I64Rotl
                    ]
                )
            }),
            ("arithmetic with MIN or -1", &|ops| {
                matches!(
                    ops,
                    [
                        ..,
                        Operator::I32Const {
                            value: -1 | i32::MIN
                        },
                        Operator::I32DivS
                            | Operator::I32RemS
                            | Operator::I32Mul
                            | Operator::I32Add
                            | Operator::I32Sub
                    ]
                )
            }),
            ("one value used twice", &|ops| {
                self_pair(ops, |op| {
                    matches!(
                        op,
                        Operator::I32Add
                            | Operator::I32Sub
                            | Operator::I32Xor
                            | Operator::I64Mul
                            | Operator::F64Sub
                            | Operator::F32Div
                            | Operator::I32Eq
                            | Operator::I64Ne
                    )
                })
            }),
            (
                "load from (shl x k)",
                &|ops| matches!(ops, [.., Operator::I32Const { .. }, Operator::I32Shl, load] if is_load(load)),
            ),
            (
                "load from (add x c) with an offset",
                &|ops| matches!(ops, [.., Operator::I32Const { value: -1 | -4 | -8 }, Operator::I32Add, load] if is_load(load)),
            ),
            (
                "load from (add (shl x k) y)",
                &|ops| matches!(ops, [.., Operator::I32Shl, _, Operator::I32Add, load] if is_load(load)),
            ),
            ("select on a boundary comparison", &|ops| {
                matches!(ops, [.., Operator::Select])
                    && ops.iter().any(|op| {
                        matches!(
                            op,
                            Operator::I32LtS
                                | Operator::I64GtU
                                | Operator::F32Le
                                | Operator::F64Ge
                                | Operator::I32GeU
                        )
                    })
            }),
            ("float compared with min/max of itself", &|ops| {
                matches!(
                    ops,
                    [
                        ..,
                        Operator::F32Min | Operator::F32Max | Operator::F64Min | Operator::F64Max,
                        Operator::F32Lt
                            | Operator::F32Eq
                            | Operator::F64Ge
                            | Operator::F64Ne
                            | Operator::F32Gt
                            | Operator::F64Le
                    ]
                ) && ops.iter().any(|op| matches!(op, Operator::LocalTee { .. }))
            }),
            ("shuffle of a vector with itself", &|ops| {
                self_pair(ops, |op| matches!(op, Operator::I8x16Shuffle { .. }))
            }),
            ("swizzle of a vector by itself", &|ops| {
                self_pair(ops, |op| matches!(op, Operator::I8x16Swizzle))
            }),
        ];
        for (name, shape) in shapes {
            let found = count(&functions, shape);
            assert!(
                found >= 2,
                "{name}: in {found} of {} trees",
                functions.len()
            );
        }
        let stores = count(&functions, |ops| {
            matches!(
                ops,
                [
                    ..,
                    Operator::I32Store { .. }
                        | Operator::I64Store { .. }
                        | Operator::F64Store { .. }
                ]
            )
        });
        assert!(stores >= 2, "stores in {stores} trees");
    }

    #[test]
    fn trees_have_two_to_six_operators_of_every_type() {
        let leaves = |op: &Operator| {
            matches!(
                op,
                Operator::LocalGet { .. }
                    | Operator::LocalTee { .. }
                    | Operator::I32Const { .. }
                    | Operator::I64Const { .. }
                    | Operator::F32Const { .. }
                    | Operator::F64Const { .. }
                    | Operator::V128Const { .. }
                    | Operator::End
            )
        };
        let functions = functions(WasmFeatures::WASM2);
        for ops in &functions {
            let operators = ops.iter().filter(|op| !leaves(op)).count();
            assert!((2..=MOST_OPERATORS).contains(&operators), "{ops:?}");
        }
        let vectors = functions
            .iter()
            .filter(|ops| ops.iter().any(|op| format!("{op:?}").starts_with("F32x4")))
            .count();
        assert!(vectors > 0, "no f32x4 operator in any tree");
    }

    /// Every module validates, whatever the seed: a tree's operand types and NaN rules hold
    /// through every template, with and without SIMD.
    #[test]
    fn many_seeds_make_valid_modules() {
        for shared in [WasmFeatures::WASM2, WasmFeatures::WASM1] {
            for seed in 0..8 {
                for item in 0..40 {
                    valid(shared, seed, item);
                }
            }
        }
    }

    #[test]
    fn without_simd_no_vectors() {
        for item in 0..20 {
            let generated = valid(WasmFeatures::WASM1, 3, item);
            assert_eq!(generated.calls.len(), EXPORTS * CALLS_PER_EXPORT);
        }
    }
}
