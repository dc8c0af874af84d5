//! Deterministic host functions: what an import call returns, computed the same way by every engine.

use crate::outcome::{Heap, Ref, Value, digest};

/// A value type as host functions see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValType {
    I32,
    I64,
    F32,
    F64,
    V128,
    /// A reference type; host functions return a null of its hierarchy.
    Ref(Heap),
}

impl From<&wasmparser::ValType> for ValType {
    fn from(ty: &wasmparser::ValType) -> ValType {
        match ty {
            wasmparser::ValType::I32 => ValType::I32,
            wasmparser::ValType::I64 => ValType::I64,
            wasmparser::ValType::F32 => ValType::F32,
            wasmparser::ValType::F64 => ValType::F64,
            wasmparser::ValType::V128 => ValType::V128,
            wasmparser::ValType::Ref(r) => ValType::Ref(heap(r)),
        }
    }
}

fn heap(r: &wasmparser::RefType) -> Heap {
    use wasmparser::{AbstractHeapType as A, HeapType};
    match r.heap_type() {
        HeapType::Abstract {
            ty: A::Extern | A::NoExtern,
            ..
        } => Heap::Extern,
        HeapType::Abstract {
            ty: A::Exn | A::NoExn,
            ..
        } => Heap::Exn,
        HeapType::Abstract {
            ty: A::Func | A::NoFunc,
            ..
        } => Heap::Func,
        HeapType::Abstract { .. } => Heap::Any,
        // Concrete types are function types unless the module uses GC; null funcref is the safe guess.
        _ => Heap::Func,
    }
}

/// The results of calling import `module.name` with `args`.
///
/// A pure function of the import's name and arguments, so that every engine
/// sees the same answers and a different argument shows up in the results.
/// Floats are never NaN, so a host result cannot introduce NaN-bit noise.
pub fn results(module: &str, name: &str, args: &[Value], types: &[ValType]) -> Vec<Value> {
    let mut seed = digest(format!("{module}\u{0}{name}").as_bytes());
    for arg in args {
        seed = mix(seed ^ arg_bits(arg));
    }
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| value(mix(seed.wrapping_add(i as u64)), *ty))
        .collect()
}

/// Rationale: a NaN's sign and payload are nondeterministic in Wasm and lost in JS, whose numbers
/// V8 may canonicalize on the way into a JS import; so every NaN argument counts as the same NaN,
/// and an engine passing other NaN bits still gets the same answer.
fn arg_bits(value: &Value) -> u64 {
    match value {
        Value::I32(v) => *v as u32 as u64,
        Value::I64(v) => *v as u64,
        Value::F32(bits) if f32::from_bits(*bits).is_nan() => u64::from(f32::NAN.to_bits()),
        Value::F64(bits) if f64::from_bits(*bits).is_nan() => f64::NAN.to_bits(),
        Value::F32(bits) => u64::from(*bits),
        Value::F64(bits) => *bits,
        Value::V128(v) => (*v as u64) ^ ((*v >> 64) as u64),
        Value::Ref(Ref::Null(_)) => 0,
        Value::Ref(_) => 1,
    }
}

/// SplitMix64's finalizer: every input bit affects every output bit.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn value(bits: u64, ty: ValType) -> Value {
    match ty {
        ValType::I32 => Value::I32(bits as i32),
        ValType::I64 => Value::I64(bits as i64),
        // Small integers as floats: exact in every format, never NaN.
        ValType::F32 => Value::F32(((bits % 2001) as f32 - 1000.0).to_bits()),
        ValType::F64 => Value::F64(((bits % 2_000_001) as f64 - 1e6).to_bits()),
        ValType::V128 => Value::V128(u128::from(bits) | (u128::from(mix(bits)) << 64)),
        ValType::Ref(heap) => Value::Ref(Ref::Null(heap)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_call_same_answer_and_arguments_matter() {
        let types = [ValType::I32, ValType::F64];
        let a = results("env", "f", &[Value::I32(1)], &types);
        assert_eq!(a, results("env", "f", &[Value::I32(1)], &types));
        assert_ne!(a, results("env", "f", &[Value::I32(2)], &types));
        assert_ne!(a, results("env", "g", &[Value::I32(1)], &types));
        let Value::F64(bits) = a[1] else { panic!() };
        assert!(!f64::from_bits(bits).is_nan());
    }

    #[test]
    fn every_nan_argument_gets_the_answer_of_every_other() {
        let types = [ValType::I64];
        let nan = |f32_bits, f64_bits| [Value::F32(f32_bits), Value::F64(f64_bits)];
        let canonical = results("env", "h", &nan(0x7fc0_0000, f64::NAN.to_bits()), &types);
        let payloads = results("env", "h", &nan(0xffa0_0001, 0x7ff4_0000_0000_0000), &types);
        assert_eq!(canonical, payloads);
        assert_ne!(canonical, results("env", "h", &nan(0x3f80_0000, 0), &types));
    }
}
