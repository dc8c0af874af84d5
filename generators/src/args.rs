//! Arguments for exported functions, biased toward the edge values where engines get things wrong.

use crate::seed::Choices;
use oracles::host::ValType;
use oracles::{Ref, Value};

/// An argument of type `ty`: half the time an edge value (0, ±1, MIN, MAX,
/// NaN, ±inf, ±0), otherwise any bit pattern.
pub fn argument(rng: &mut impl Choices, ty: ValType) -> Value {
    let edge = rng.chance(1, 2);
    match ty {
        ValType::I32 => Value::I32(if edge {
            pick(rng, &[0, 1, -1, i32::MIN, i32::MAX])
        } else {
            rng.next_u64() as i32
        }),
        ValType::I64 => Value::I64(if edge {
            pick(rng, &[0, 1, -1, i64::MIN, i64::MAX])
        } else {
            rng.next_u64() as i64
        }),
        ValType::F32 => Value::F32(if edge {
            pick(
                rng,
                &[
                    0.0f32,
                    -0.0,
                    1.0,
                    -1.0,
                    f32::NAN,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::MIN,
                    f32::MAX,
                ],
            )
            .to_bits()
        } else {
            rng.next_u64() as u32
        }),
        ValType::F64 => Value::F64(if edge {
            pick(
                rng,
                &[
                    0.0f64,
                    -0.0,
                    1.0,
                    -1.0,
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::MIN,
                    f64::MAX,
                ],
            )
            .to_bits()
        } else {
            rng.next_u64()
        }),
        ValType::V128 => Value::V128(if edge {
            pick(rng, &[0, u128::MAX, 1])
        } else {
            u128::from(rng.next_u64()) | (u128::from(rng.next_u64()) << 64)
        }),
        ValType::Ref(heap) => Value::Ref(Ref::Null(heap)),
    }
}

pub fn arguments(rng: &mut impl Choices, types: &[ValType]) -> Vec<Value> {
    types.iter().map(|ty| argument(rng, *ty)).collect()
}

fn pick<T: Copy>(rng: &mut impl Choices, choices: &[T]) -> T {
    choices[rng.below(choices.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;

    #[test]
    fn same_seed_same_arguments_and_edges_show_up() {
        let types = [ValType::I32, ValType::F64, ValType::I64];
        let a: Vec<Vec<Value>> = (0..50)
            .map(|i| arguments(&mut Rng::for_item(1, i), &types))
            .collect();
        let b: Vec<Vec<Value>> = (0..50)
            .map(|i| arguments(&mut Rng::for_item(1, i), &types))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|args| args[0] == Value::I32(i32::MIN)));
        assert!(
            a.iter()
                .any(|args| matches!(args[1], Value::F64(bits) if f64::from_bits(bits).is_nan()))
        );
    }
}
