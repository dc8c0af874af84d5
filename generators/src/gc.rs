//! GC patterns whose outcome the generator computes itself: struct and array new/get/set/fill/copy,
//! `ref.test`/`ref.cast`/`br_on_cast`/`br_on_cast_fail` over a small subtype tree, i31 references, and
//! the null-reference, array-bounds and cast-failure traps. Exports take and return numbers only, so
//! that every engine, V8 through its JS API included, can be called with them and answer.

use crate::Generated;
use crate::seed::Rng;
use oracles::differential::Invocation;
use oracles::{Outcome, TrapCode, Value};
use std::fmt::Write as _;

/// The types every module declares: a subtype tree (`$left` and `$right` are siblings under `$base`,
/// `$leaf` is under `$left`), a struct with two fields of each width, and two arrays.
const TYPES: &str = r#"  (rec
    (type $base (sub (struct (field i32))))
    (type $left (sub $base (struct (field i32) (field (mut i32)))))
    (type $right (sub $base (struct (field i32) (field (mut i64)))))
    (type $leaf (sub final $left (struct (field i32) (field (mut i32)) (field (mut i32))))))
  (type $fields (struct (field (mut i32)) (field (mut i32)) (field (mut i64)) (field (mut i64))
    (field (mut i8)) (field (mut i16))))
  (type $ints (array (mut i32)))
  (type $bytes (array (mut i8)))
"#;

/// `$make kind v`: an `anyref` of the [`Kind`] numbered `kind`. Each struct's first field is its
/// [`Kind::marker`]; the kind is a parameter, so that no engine can fold a cast away.
const MAKE: &str = r#"  (func $make (param $kind i32) (param $v i32) (result anyref)
    (block $null
      (block $i31
        (block $leaf
          (block $right
            (block $left
              (block $base (br_table $base $left $right $leaf $i31 $null (local.get $kind)))
              (return (struct.new $base (i32.const 10))))
            (return (struct.new $left (i32.const 11) (local.get $v))))
          (return (struct.new $right (i32.const 12) (i64.extend_i32_s (local.get $v)))))
        (return (struct.new $leaf (i32.const 13) (local.get $v) (local.get $v))))
      (return (ref.i31 (local.get $v))))
    (ref.null any))
"#;

/// What `$make` builds.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Base,
    Left,
    Right,
    Leaf,
    I31,
    Null,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Base,
        Kind::Left,
        Kind::Right,
        Kind::Leaf,
        Kind::I31,
        Kind::Null,
    ];

    /// The first field of a struct of this kind.
    fn marker(self) -> i32 {
        10 + self as i32
    }

    /// Whether a reference of this kind is in `target` (not counting null).
    fn is_in(self, target: Target) -> bool {
        use Target as T;
        match self {
            Kind::Base => matches!(target, T::Base | T::Struct | T::Eq),
            Kind::Left => matches!(target, T::Left | T::Base | T::Struct | T::Eq),
            Kind::Right => matches!(target, T::Right | T::Base | T::Struct | T::Eq),
            Kind::Leaf => matches!(target, T::Leaf | T::Left | T::Base | T::Struct | T::Eq),
            Kind::I31 => matches!(target, T::I31 | T::Eq),
            Kind::Null => false,
        }
    }
}

/// A heap type casts test against.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    Base,
    Left,
    Right,
    Leaf,
    I31,
    Struct,
    Eq,
}

impl Target {
    const ALL: [Target; 7] = [
        Target::Base,
        Target::Left,
        Target::Right,
        Target::Leaf,
        Target::I31,
        Target::Struct,
        Target::Eq,
    ];

    fn heap(self) -> &'static str {
        match self {
            Target::Base => "$base",
            Target::Left => "$left",
            Target::Right => "$right",
            Target::Leaf => "$leaf",
            Target::I31 => "i31",
            Target::Struct => "struct",
            Target::Eq => "eq",
        }
    }

    /// Instructions that turn the cast reference on the stack into an i32: a struct's marker,
    /// an i31's signed value, or 77 plus whether it is null for the abstract types.
    fn read(self) -> String {
        match self {
            Target::I31 => "i31.get_s".to_string(),
            Target::Struct | Target::Eq => "ref.is_null i32.const 77 i32.add".to_string(),
            concrete => format!("struct.get {} 0", concrete.heap()),
        }
    }

    /// What [`Target::read`] gives for a reference of `kind` made from `v` that is in this type.
    fn read_outcome(self, kind: Kind, v: i32) -> Outcome {
        match (self, kind) {
            (Target::Struct | Target::Eq, Kind::Null) => i32_outcome(78),
            (Target::Struct | Target::Eq, _) => i32_outcome(77),
            (_, Kind::Null) => trap(TrapCode::NullReference),
            (Target::I31, _) => i32_outcome(i31_signed(v)),
            (_, kind) => i32_outcome(kind.marker()),
        }
    }
}

/// How a case asks whether a reference is in a type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Check {
    /// `ref.test`: 1 or 0.
    Test,
    /// `ref.cast`, then the read; a failed cast traps.
    Cast,
    /// `br_on_cast` to a block that reads; -1 when not taken.
    BrOnCast,
    /// `br_on_cast_fail` to a block that gives -1; the fall-through reads.
    BrOnCastFail,
}

/// The element type of an array case.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Elem {
    I32,
    /// Packed `i8`, read back sign- or zero-extended.
    I8 {
        signed: bool,
    },
}

impl Elem {
    fn array(self) -> &'static str {
        match self {
            Elem::I32 => "$ints",
            Elem::I8 { .. } => "$bytes",
        }
    }

    fn get(self) -> &'static str {
        match self {
            Elem::I32 => "array.get",
            Elem::I8 { signed: true } => "array.get_s",
            Elem::I8 { signed: false } => "array.get_u",
        }
    }

    /// `value` as stored and read back.
    fn round_trip(self, value: i32) -> i32 {
        match self {
            Elem::I32 => value,
            Elem::I8 { signed: true } => value as i8 as i32,
            Elem::I8 { signed: false } => value as u8 as i32,
        }
    }
}

/// One array operation, on the array `$a` of the case.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ArrayOp {
    /// `array.set $a i v`, with `i` and `v` the case's parameters.
    Set,
    Fill {
        start: u32,
        value: i32,
        count: u32,
    },
    /// `array.copy` from `$a` into itself: the overlapping case.
    Copy {
        to: u32,
        from: u32,
        count: u32,
    },
}

/// One exported function and what it computes.
#[derive(Clone, Debug, PartialEq)]
enum Case {
    /// `$make kind v`, then a cast of it to `target`.
    Cast {
        how: Check,
        target: Target,
        nullable: bool,
    },
    /// `struct.new $fields` from the parameters, one `struct.set` of the third, one `struct.get`.
    Fields {
        set: usize,
        get: usize,
        signed: bool,
    },
    /// `array.new` of the first parameter's length (a null array when `null`), the operations, then
    /// `array.get` at index `read` (or `array.len` when there is none).
    Array {
        elem: Elem,
        null: bool,
        ops: Vec<ArrayOp>,
        read: Option<u32>,
    },
    /// `ref.i31` of the parameter, read back signed or unsigned.
    I31 { signed: bool },
}

/// The storage types of `$fields`, in order.
const FIELDS: [&str; 6] = ["i32", "i32", "i64", "i64", "i8", "i16"];

impl Case {
    fn random(rng: &mut Rng) -> Case {
        match rng.below(8) {
            0..=3 => Case::Cast {
                how: [
                    Check::Test,
                    Check::Cast,
                    Check::BrOnCast,
                    Check::BrOnCastFail,
                ][rng.below(4) as usize],
                target: Target::ALL[rng.below(Target::ALL.len() as u64) as usize],
                nullable: rng.chance(1, 2),
            },
            4 | 5 => Case::Array {
                elem: [
                    Elem::I32,
                    Elem::I8 { signed: true },
                    Elem::I8 { signed: false },
                ][rng.below(3) as usize],
                null: rng.chance(1, 10),
                ops: (0..rng.below(4)).map(|_| array_op(rng)).collect(),
                read: rng.chance(4, 5).then(|| index(rng)),
            },
            6 => Case::Fields {
                set: rng.below(6) as usize,
                get: rng.below(6) as usize,
                signed: rng.chance(1, 2),
            },
            _ => Case::I31 {
                signed: rng.chance(1, 2),
            },
        }
    }

    /// The parameters' types, all i32, and the result's type.
    fn signature(&self) -> (usize, &'static str) {
        match self {
            Case::Cast { .. } => (2, "i32"),
            Case::Fields { .. } => (3, "i64"),
            Case::Array { .. } => (3, "i32"),
            Case::I31 { .. } => (1, "i32"),
        }
    }

    /// Arguments that reach the interesting edges: every kind, lengths and indices near the bounds,
    /// values whose high bits an i8 or i31 drops.
    fn arguments(&self, rng: &mut Rng) -> Vec<i32> {
        let value = |rng: &mut Rng| {
            const EDGES: [i32; 7] = [0, 1, -1, 0x3fff_ffff, 0x4000_0000, i32::MIN, 0x80];
            match rng.chance(1, 2) {
                true => EDGES[rng.below(EDGES.len() as u64) as usize],
                false => rng.next_u64() as i32,
            }
        };
        match self {
            Case::Cast { .. } => vec![rng.below(Kind::ALL.len() as u64) as i32, value(rng)],
            Case::Fields { .. } => vec![value(rng), value(rng), value(rng)],
            Case::Array { .. } => vec![rng.below(9) as i32, index(rng) as i32, value(rng)],
            Case::I31 { .. } => vec![value(rng)],
        }
    }

    fn body(&self) -> String {
        match self {
            Case::Cast {
                how,
                target,
                nullable,
            } => cast_body(*how, *target, *nullable),
            Case::Fields { set, get, signed } => fields_body(*set, *get, *signed),
            Case::Array {
                elem,
                null,
                ops,
                read,
            } => array_body(*elem, *null, ops, *read),
            Case::I31 { signed } => {
                let get = if *signed { "i31.get_s" } else { "i31.get_u" };
                format!("({get} (ref.i31 (local.get 0)))")
            }
        }
    }

    /// What the case returns for `args`, or how it traps.
    fn outcome(&self, args: &[i32]) -> Outcome {
        match self {
            Case::Cast {
                how,
                target,
                nullable,
            } => {
                let kind = Kind::ALL
                    .get(args[0] as usize)
                    .copied()
                    .unwrap_or(Kind::Null);
                let fits = kind.is_in(*target) || (*nullable && kind == Kind::Null);
                match (how, fits) {
                    (Check::Test, fits) => i32_outcome(fits as i32),
                    (Check::Cast, false) => trap(TrapCode::CastFailure),
                    (Check::BrOnCast | Check::BrOnCastFail, false) => i32_outcome(-1),
                    (_, true) => target.read_outcome(kind, args[1]),
                }
            }
            Case::Fields { set, get, signed } => {
                let mut fields = initial_fields(args[0], args[1]);
                fields[*set] = stored(*set, args[2] as i64);
                Outcome::Values(vec![Value::I64(read_field(*get, fields[*get], *signed))])
            }
            Case::Array {
                elem,
                null,
                ops,
                read,
            } => array_outcome(*elem, *null, ops, *read, args),
            Case::I31 { signed: true } => i32_outcome(i31_signed(args[0])),
            Case::I31 { signed: false } => i32_outcome(args[0] & 0x7fff_ffff),
        }
    }
}

fn cast_body(how: Check, target: Target, nullable: bool) -> String {
    let null = if nullable { "null " } else { "" };
    let ty = format!("(ref {null}{})", target.heap());
    let make = "(call $make (local.get 0) (local.get 1))";
    let read = target.read();
    match how {
        Check::Test => format!("(ref.test {ty} {make})"),
        Check::Cast => format!("(ref.cast {ty} {make})\n    {read}"),
        Check::BrOnCast => format!(
            "(block $hit (result {ty})\n      (br_on_cast $hit anyref {ty} {make})\n      (return (i32.const -1)))\n    {read}"
        ),
        Check::BrOnCastFail => format!(
            "(block $miss (result anyref)\n      (br_on_cast_fail $miss anyref {ty} {make})\n      {read}\n      (return))\n    (drop)\n    (i32.const -1)"
        ),
    }
}

/// The fields `$fields` starts with for parameters `a` and `b`, as [`stored`] keeps them.
fn initial_fields(a: i32, b: i32) -> [i64; 6] {
    let inits = [
        a as i64,
        b as i64,
        (a as i64).wrapping_mul(3),
        (b as i64).wrapping_sub(7),
        a as i64,
        b as i64,
    ];
    std::array::from_fn(|field| stored(field, inits[field]))
}

/// The initial values in the text format, matching [`initial_fields`].
const FIELD_INITS: &str = "(local.get 0) (local.get 1) (i64.mul (i64.extend_i32_s (local.get 0)) (i64.const 3)) (i64.sub (i64.extend_i32_s (local.get 1)) (i64.const 7)) (local.get 0) (local.get 1)";

/// A value as field `field` stores it: i32 fields wrap, packed fields keep their low bits.
fn stored(field: usize, value: i64) -> i64 {
    match FIELDS[field] {
        "i32" => value as i32 as i64,
        "i8" => value & 0xff,
        "i16" => value & 0xffff,
        _ => value,
    }
}

/// Field `field` holding `value` as the case returns it: extended to i64 (i32 fields as unsigned).
fn read_field(field: usize, value: i64, signed: bool) -> i64 {
    let as_i32 = match (FIELDS[field], signed) {
        ("i64", _) => return value,
        ("i8", true) => value as i8 as i32,
        ("i16", true) => value as i16 as i32,
        _ => value as i32,
    };
    as_i32 as u32 as i64
}

fn fields_body(set: usize, get: usize, signed: bool) -> String {
    let new_value = match FIELDS[set] {
        "i64" => "(i64.extend_i32_s (local.get 2))",
        _ => "(local.get 2)",
    };
    let get_op = match (FIELDS[get], signed) {
        ("i8" | "i16", true) => "struct.get_s",
        ("i8" | "i16", false) => "struct.get_u",
        _ => "struct.get",
    };
    let read = format!("({get_op} $fields {get} (local.get $s))");
    let widened = match FIELDS[get] {
        "i64" => read,
        _ => format!("(i64.extend_i32_u {read})"),
    };
    format!(
        "(local $s (ref $fields))\n    (local.set $s (struct.new $fields {FIELD_INITS}))\n    (struct.set $fields {set} (local.get $s) {new_value})\n    {widened}"
    )
}

fn array_op(rng: &mut Rng) -> ArrayOp {
    match rng.below(3) {
        0 => ArrayOp::Set,
        1 => ArrayOp::Fill {
            start: index(rng),
            value: rng.next_u64() as i32,
            count: index(rng),
        },
        _ => ArrayOp::Copy {
            to: index(rng),
            from: index(rng),
            count: index(rng),
        },
    }
}

/// An index or count around the lengths arrays get (0 to 8), past them now and then.
fn index(rng: &mut Rng) -> u32 {
    rng.below(10) as u32
}

/// The initial element of every array.
const ARRAY_INIT: i32 = 0x1234_5687;

fn array_body(elem: Elem, null: bool, ops: &[ArrayOp], read: Option<u32>) -> String {
    let array = elem.array();
    let mut body = format!("(local $a (ref null {array}))\n");
    if !null {
        let _ = writeln!(
            body,
            "    (local.set $a (array.new {array} (i32.const {ARRAY_INIT}) (local.get 0)))"
        );
    }
    for op in ops {
        let _ = match op {
            ArrayOp::Set => writeln!(
                body,
                "    (array.set {array} (local.get $a) (local.get 1) (local.get 2))"
            ),
            ArrayOp::Fill {
                start,
                value,
                count,
            } => writeln!(
                body,
                "    (array.fill {array} (local.get $a) (i32.const {start}) (i32.const {value}) (i32.const {count}))"
            ),
            ArrayOp::Copy { to, from, count } => writeln!(
                body,
                "    (array.copy {array} {array} (local.get $a) (i32.const {to}) (local.get $a) (i32.const {from}) (i32.const {count}))"
            ),
        };
    }
    let _ = match read {
        Some(at) => write!(
            body,
            "    ({} {array} (local.get $a) (i32.const {at}))",
            elem.get()
        ),
        None => write!(body, "    (array.len (local.get $a))"),
    };
    body
}

/// Runs the array case on a model: the first operation out of bounds (or on null) traps.
fn array_outcome(
    elem: Elem,
    null: bool,
    ops: &[ArrayOp],
    read: Option<u32>,
    args: &[i32],
) -> Outcome {
    if null {
        return trap(TrapCode::NullReference);
    }
    let mut array = vec![ARRAY_INIT; args[0] as usize];
    let len = array.len() as u64;
    let fits = |start: u32, count: u32| start as u64 + count as u64 <= len;
    for op in ops {
        match *op {
            ArrayOp::Set => {
                let Some(slot) = array.get_mut(args[1] as u32 as usize) else {
                    return trap(TrapCode::ArrayOutOfBounds);
                };
                *slot = args[2];
            }
            ArrayOp::Fill {
                start,
                value,
                count,
            } => {
                if !fits(start, count) {
                    return trap(TrapCode::ArrayOutOfBounds);
                }
                array[start as usize..(start + count) as usize].fill(value);
            }
            ArrayOp::Copy { to, from, count } => {
                if !fits(to, count) || !fits(from, count) {
                    return trap(TrapCode::ArrayOutOfBounds);
                }
                array.copy_within(from as usize..(from + count) as usize, to as usize);
            }
        }
    }
    match read {
        None => i32_outcome(array.len() as i32),
        Some(at) => match array.get(at as usize) {
            Some(value) => i32_outcome(elem.round_trip(*value)),
            None => trap(TrapCode::ArrayOutOfBounds),
        },
    }
}

fn i31_signed(v: i32) -> i32 {
    (v << 1) >> 1
}

fn i32_outcome(value: i32) -> Outcome {
    Outcome::Values(vec![Value::I32(value)])
}

fn trap(code: TrapCode) -> Outcome {
    Outcome::Trap {
        code,
        message: code.spec_message().to_string(),
        alternatives: Vec::new(),
    }
}

/// A module of one to six cases, `c0`, `c1`, …, each called twice with its outcome known.
#[derive(Clone, Debug)]
pub struct Pattern {
    cases: Vec<Case>,
}

impl Pattern {
    pub fn random(rng: &mut Rng) -> Pattern {
        Pattern {
            cases: (0..1 + rng.below(6)).map(|_| Case::random(rng)).collect(),
        }
    }

    pub fn wat(&self) -> String {
        let mut out = format!("(module\n{TYPES}{MAKE}");
        for (i, case) in self.cases.iter().enumerate() {
            let (params, result) = case.signature();
            let _ = writeln!(
                out,
                "  (func (export \"c{i}\"){} (result {result})\n    {})",
                " (param i32)".repeat(params),
                case.body()
            );
        }
        out.push_str(")\n");
        out
    }

    pub fn generated(&self, rng: &mut Rng) -> Result<Generated, String> {
        let calls = self
            .cases
            .iter()
            .enumerate()
            .flat_map(|(i, case)| {
                let args: [Vec<i32>; 2] = std::array::from_fn(|_| case.arguments(rng));
                args.map(|args| Invocation {
                    export: format!("c{i}"),
                    expected: Some(case.outcome(&args)),
                    args: args.into_iter().map(Value::I32).collect(),
                })
            })
            .collect();
        Ok(Generated {
            wasm: crate::wat_to_wasm(&self.wat())?,
            calls,
        })
    }
}

pub fn generate(rng: &mut Rng) -> Result<Generated, String> {
    Pattern::random(rng).generated(rng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracles::Limits;

    /// Every case kind, so that the model is checked against a real engine for each.
    fn every_case() -> Vec<Case> {
        let mut cases = vec![
            Case::I31 { signed: true },
            Case::I31 { signed: false },
            Case::Array {
                elem: Elem::I32,
                null: true,
                ops: vec![],
                read: None,
            },
        ];
        for how in [
            Check::Test,
            Check::Cast,
            Check::BrOnCast,
            Check::BrOnCastFail,
        ] {
            for target in Target::ALL {
                for nullable in [false, true] {
                    cases.push(Case::Cast {
                        how,
                        target,
                        nullable,
                    });
                }
            }
        }
        for set in 0..6 {
            for get in 0..6 {
                cases.push(Case::Fields {
                    set,
                    get,
                    signed: (set + get) % 2 == 0,
                });
            }
        }
        cases
    }

    /// Runs the calls on wasmtime-cranelift, with their known outcomes as one more engine to agree with.
    fn check(pattern: &Pattern, calls: &[Invocation], wasm: &[u8]) {
        let engine = oracles::engine("wasmtime-cranelift").unwrap();
        let run = oracles::differential::run(&[engine], wasm, calls, &Limits::default());
        if let Some((_, step)) = run.divergence() {
            panic!("{step:?}\n{}", pattern.wat());
        }
    }

    #[test]
    fn the_generator_knows_every_case_kinds_outcome() {
        let pattern = Pattern {
            cases: every_case(),
        };
        let mut rng = Rng::for_item(5, 0);
        let wasm = crate::wat_to_wasm(&pattern.wat()).unwrap_or_else(|e| panic!("{e}"));
        for kind in 0..Kind::ALL.len() as i32 {
            let calls: Vec<Invocation> = pattern
                .cases
                .iter()
                .enumerate()
                .map(|(i, case)| {
                    let mut args = case.arguments(&mut rng);
                    if matches!(case, Case::Cast { .. }) {
                        args[0] = kind;
                    }
                    Invocation {
                        export: format!("c{i}"),
                        expected: Some(case.outcome(&args)),
                        args: args.into_iter().map(Value::I32).collect(),
                    }
                })
                .collect();
            check(&pattern, &calls, &wasm);
        }
    }

    #[test]
    fn the_generator_knows_random_modules_outcomes() {
        for item in 0..60 {
            let mut rng = Rng::for_item(17, item);
            let pattern = Pattern::random(&mut rng);
            let generated = pattern
                .generated(&mut rng)
                .unwrap_or_else(|e| panic!("{e}\n{}", pattern.wat()));
            check(&pattern, &generated.calls, &generated.wasm);
        }
    }
}
