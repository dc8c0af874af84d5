//! Expected results of `assert_return`: exact values, NaN classes, lane patterns and reference kinds.

use oracles::{Heap, Ref, Value};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A float expectation: exact bits, or one of the spec's NaN classes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum FloatPattern<T> {
    Bits(T),
    CanonicalNan,
    ArithmeticNan,
}

/// One lane-typed `v128` expectation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LanePattern {
    Bits(u128),
    F32([FloatPattern<u32>; 4]),
    F64([FloatPattern<u64>; 2]),
}

/// What a reference result must be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RefPattern {
    /// A null; `None` accepts a null of any hierarchy.
    Null(Option<Heap>),
    Func,
    /// An externref; `Some(n)` requires the harness-created host payload `n`.
    Extern(Option<u32>),
    Host(u32),
    Any,
    Eq,
    I31,
    Struct,
    Array,
}

/// One expected result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expected {
    I32(i32),
    I64(i64),
    F32(FloatPattern<u32>),
    F64(FloatPattern<u64>),
    V128(LanePattern),
    Ref(RefPattern),
    Either(Vec<Expected>),
}

impl Expected {
    pub fn matches(&self, actual: &Value) -> bool {
        match (self, actual) {
            (Expected::Either(options), _) => options.iter().any(|e| e.matches(actual)),
            (Expected::I32(e), Value::I32(a)) => e == a,
            (Expected::I64(e), Value::I64(a)) => e == a,
            (Expected::F32(e), Value::F32(a)) => f32_matches(*e, *a),
            (Expected::F64(e), Value::F64(a)) => f64_matches(*e, *a),
            (Expected::V128(e), Value::V128(a)) => lanes_match(e, *a),
            (Expected::Ref(e), Value::Ref(a)) => ref_matches(e, a),
            _ => false,
        }
    }
}

pub fn f32_matches(expected: FloatPattern<u32>, bits: u32) -> bool {
    const CANONICAL: u32 = 0x7fc0_0000;
    const QUIET: u32 = 0x0040_0000;
    match expected {
        FloatPattern::Bits(e) => e == bits,
        FloatPattern::CanonicalNan => bits & 0x7fff_ffff == CANONICAL,
        FloatPattern::ArithmeticNan => bits & 0x7f80_0000 == 0x7f80_0000 && bits & QUIET != 0,
    }
}

pub fn f64_matches(expected: FloatPattern<u64>, bits: u64) -> bool {
    const CANONICAL: u64 = 0x7ff8_0000_0000_0000;
    const QUIET: u64 = 0x0008_0000_0000_0000;
    const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
    match expected {
        FloatPattern::Bits(e) => e == bits,
        FloatPattern::CanonicalNan => bits & !(1 << 63) == CANONICAL,
        FloatPattern::ArithmeticNan => bits & EXPONENT == EXPONENT && bits & QUIET != 0,
    }
}

fn lanes_match(expected: &LanePattern, actual: u128) -> bool {
    match expected {
        LanePattern::Bits(e) => *e == actual,
        LanePattern::F32(lanes) => lanes
            .iter()
            .enumerate()
            .all(|(i, lane)| f32_matches(*lane, (actual >> (32 * i)) as u32)),
        LanePattern::F64(lanes) => lanes
            .iter()
            .enumerate()
            .all(|(i, lane)| f64_matches(*lane, (actual >> (64 * i)) as u64)),
    }
}

fn ref_matches(expected: &RefPattern, actual: &Ref) -> bool {
    match (expected, actual) {
        (RefPattern::Null(None), Ref::Null(_)) => true,
        (RefPattern::Null(Some(e)), Ref::Null(a)) => e == a,
        (RefPattern::Func, Ref::Func) => true,
        (RefPattern::Extern(None), Ref::Extern(_)) => true,
        (RefPattern::Extern(Some(e)), Ref::Extern(Some(a))) => e == a,
        (RefPattern::Host(e), Ref::Host(a)) => e == a,
        (RefPattern::I31, Ref::I31(_)) => true,
        (RefPattern::Struct, Ref::Struct) => true,
        (RefPattern::Array, Ref::Array) => true,
        (RefPattern::Eq, Ref::I31(_) | Ref::Struct | Ref::Array) => true,
        (RefPattern::Any, Ref::I31(_) | Ref::Struct | Ref::Array | Ref::Host(_) | Ref::Opaque) => {
            true
        }
        _ => false,
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::I32(v) => write!(f, "i32:{v}"),
            Expected::I64(v) => write!(f, "i64:{v}"),
            Expected::F32(FloatPattern::Bits(b)) => write!(f, "f32:{}", f32::from_bits(*b)),
            Expected::F64(FloatPattern::Bits(b)) => write!(f, "f64:{}", f64::from_bits(*b)),
            Expected::F32(p) => write!(f, "f32:{p:?}"),
            Expected::F64(p) => write!(f, "f64:{p:?}"),
            Expected::V128(LanePattern::Bits(b)) => write!(f, "v128:{b:#034x}"),
            Expected::V128(p) => write!(f, "v128:{p:?}"),
            Expected::Ref(p) => write!(f, "{p:?}"),
            Expected::Either(options) => {
                let shown: Vec<String> = options.iter().map(Expected::to_string).collect();
                write!(f, "either({})", shown.join(" | "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_classes_follow_the_spec() {
        assert!(f32_matches(FloatPattern::CanonicalNan, 0xffc0_0000));
        assert!(!f32_matches(FloatPattern::CanonicalNan, 0x7fc0_0001));
        assert!(f32_matches(FloatPattern::ArithmeticNan, 0x7fc0_0001));
        assert!(!f32_matches(FloatPattern::ArithmeticNan, 0x7f80_0001));
        assert!(f64_matches(
            FloatPattern::CanonicalNan,
            0xfff8_0000_0000_0000
        ));
        assert!(!f64_matches(
            FloatPattern::ArithmeticNan,
            0x7ff0_0000_0000_0001
        ));
    }

    #[test]
    fn reference_kinds_nest() {
        let eq = Expected::Ref(RefPattern::Eq);
        assert!(eq.matches(&Value::Ref(Ref::I31(3))));
        assert!(!eq.matches(&Value::Ref(Ref::Host(3))));
        let either = Expected::Either(vec![Expected::I32(1), Expected::I32(2)]);
        assert!(either.matches(&Value::I32(2)));
        assert!(!either.matches(&Value::I64(2)));
    }
}
