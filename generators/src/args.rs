//! Arguments for exported functions, biased toward the boundary values where engines get things wrong.

use crate::seed::Choices;
use oracles::host::ValType;
use oracles::{Ref, Value};

/// i32 boundaries: 0, ±1, the shift widths around 32 and 64, byte and half-word limits, MIN, MAX.
const I32_BOUNDARIES: &[i32] = &[
    0,
    1,
    -1,
    2,
    31,
    32,
    33,
    63,
    64,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    i32::MIN,
    i32::MIN + 1,
    i32::MAX,
];

/// i64 boundaries: those of i32, and the 32-bit limits seen from 64 bits.
const I64_BOUNDARIES: &[i64] = &[
    0,
    1,
    -1,
    2,
    31,
    32,
    63,
    64,
    65,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    -0x8000_0000,
    i64::MIN,
    i64::MIN + 1,
    i64::MAX,
];

/// f32 boundaries: ±0, halfway values (where `nearest` must round to even), the last value
/// below 0.5, the largest halfway value, subnormals, conversion limits, infinities, NaNs with payloads.
const F32_BOUNDARIES: &[u32] = &[
    0x0000_0000, // 0.0
    0x8000_0000, // -0.0
    0x3f80_0000, // 1.0
    0xbf80_0000, // -1.0
    0x3f00_0000, // 0.5
    0xbf00_0000, // -0.5
    0x3fc0_0000, // 1.5
    0xbfc0_0000, // -1.5
    0x4020_0000, // 2.5
    0xc020_0000, // -2.5
    0x3eff_ffff, // 0.49999997
    0x4aff_ffff, // 2^23 - 0.5
    0x4a80_0001, // 2^22 + 0.5
    0x0000_0001, // smallest subnormal
    0x807f_ffff, // -largest subnormal
    0x0080_0000, // smallest normal
    0x4f00_0000, // 2^31
    0xcf00_0000, // -2^31
    0x4f80_0000, // 2^32
    0x5f00_0000, // 2^63
    0x7f7f_ffff, // MAX
    0xff7f_ffff, // MIN
    0x7f80_0000, // inf
    0xff80_0000, // -inf
    0x7fc0_0000, // canonical NaN
    0xffc0_0001, // negative quiet NaN with a payload
    0x7f80_0001, // signalling NaN
];

/// f64 boundaries, as for f32.
const F64_BOUNDARIES: &[u64] = &[
    0x0000_0000_0000_0000, // 0.0
    0x8000_0000_0000_0000, // -0.0
    0x3ff0_0000_0000_0000, // 1.0
    0xbff0_0000_0000_0000, // -1.0
    0x3fe0_0000_0000_0000, // 0.5
    0xbfe0_0000_0000_0000, // -0.5
    0x3ff8_0000_0000_0000, // 1.5
    0xbff8_0000_0000_0000, // -1.5
    0x4004_0000_0000_0000, // 2.5
    0xc004_0000_0000_0000, // -2.5
    0x3fdf_ffff_ffff_ffff, // 0.49999999999999994
    0x432f_ffff_ffff_ffff, // 2^52 - 0.5
    0x4160_0000_1000_0000, // 2^23 + 0.5
    0x0000_0000_0000_0001, // smallest subnormal
    0x800f_ffff_ffff_ffff, // -largest subnormal
    0x0010_0000_0000_0000, // smallest normal
    0x41df_ffff_ffc0_0000, // 2^31 - 1
    0xc1e0_0000_0000_0000, // -2^31
    0x41f0_0000_0000_0000, // 2^32
    0x43e0_0000_0000_0000, // 2^63
    0x7fef_ffff_ffff_ffff, // MAX
    0xffef_ffff_ffff_ffff, // MIN
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // canonical NaN
    0xfff8_0000_0000_0001, // negative quiet NaN with a payload
    0x7ff0_0000_0000_0001, // signalling NaN
];

/// An argument of type `ty`: half the time a boundary value, otherwise any bit pattern.
pub fn argument(rng: &mut impl Choices, ty: ValType) -> Value {
    if rng.chance(1, 2) {
        return boundary(rng, ty);
    }
    match ty {
        ValType::I32 => Value::I32(rng.next_u64() as i32),
        ValType::I64 => Value::I64(rng.next_u64() as i64),
        ValType::F32 => Value::F32(rng.next_u64() as u32),
        ValType::F64 => Value::F64(rng.next_u64()),
        ValType::V128 => Value::V128(random_v128(rng)),
        ValType::Ref(heap) => Value::Ref(Ref::Null(heap)),
    }
}

/// A value of type `ty` from its boundary set; v128 values are lane patterns.
pub fn boundary(rng: &mut impl Choices, ty: ValType) -> Value {
    match ty {
        ValType::I32 => Value::I32(pick(rng, I32_BOUNDARIES)),
        ValType::I64 => Value::I64(pick(rng, I64_BOUNDARIES)),
        ValType::F32 => Value::F32(pick(rng, F32_BOUNDARIES)),
        ValType::F64 => Value::F64(pick(rng, F64_BOUNDARIES)),
        ValType::V128 => Value::V128(lane_pattern(rng)),
        ValType::Ref(heap) => Value::Ref(Ref::Null(heap)),
    }
}

pub fn arguments(rng: &mut impl Choices, types: &[ValType]) -> Vec<Value> {
    types.iter().map(|ty| argument(rng, *ty)).collect()
}

/// Arguments drawn from the boundary sets only.
pub fn boundary_arguments(rng: &mut impl Choices, types: &[ValType]) -> Vec<Value> {
    types.iter().map(|ty| boundary(rng, *ty)).collect()
}

/// A v128 whose lanes form a pattern: all zero or all ones, alternating signs, byte indices
/// in and past range (for shuffles and swizzles), float boundaries in every lane, or one lane at a
/// boundary among zeros.
fn lane_pattern(rng: &mut impl Choices) -> u128 {
    let bytes = |f: &dyn Fn(usize) -> u8| u128::from_le_bytes(std::array::from_fn(f));
    match rng.below(10) {
        0 => 0,
        1 => u128::MAX,
        // i8x16 0x7f, 0x80, ...; i32x4 1, -1, 1, -1.
        2 => bytes(&|i| if i % 2 == 0 { 0x7f } else { 0x80 }),
        3 => u128::from_le_bytes(std::array::from_fn(|i| {
            [1u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff][i % 8]
        })),
        // Byte indices 0..16, 15..0, 16..32, and around the 0x80 bit a swizzle must still zero.
        4 => bytes(&|i| i as u8),
        5 => bytes(&|i| 15 - i as u8),
        6 => bytes(&|i| {
            [
                16, 31, 0x7f, 0x80, 0xff, 1, 17, 8, 20, 0x10, 0x8f, 0x90, 2, 47, 64, 15,
            ][i]
        }),
        // Every f32 lane at one boundary, or every f64 lane.
        7 => {
            let bits = u128::from(pick(rng, F32_BOUNDARIES));
            bits | bits << 32 | bits << 64 | bits << 96
        }
        8 => {
            let bits = u128::from(pick(rng, F64_BOUNDARIES));
            bits | bits << 64
        }
        _ => {
            let lane = rng.below(4) * 32;
            let bits = pick(rng, &[i32::MIN as u32, i32::MAX as u32]);
            u128::from(bits) << lane
        }
    }
}

fn random_v128(rng: &mut impl Choices) -> u128 {
    u128::from(rng.next_u64()) | (u128::from(rng.next_u64()) << 64)
}

pub(crate) fn pick<T: Copy>(rng: &mut impl Choices, choices: &[T]) -> T {
    choices[rng.below(choices.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;

    fn many(ty: ValType) -> Vec<Value> {
        (0..400)
            .map(|i| argument(&mut Rng::for_item(1, i), ty))
            .collect()
    }

    #[test]
    fn same_seed_same_arguments_and_edges_show_up() {
        let types = [ValType::I32, ValType::F64, ValType::I64];
        // MIN is one boundary in 18, drawn half the time: 400 draws all but surely have it.
        let a: Vec<Vec<Value>> = (0..400)
            .map(|i| arguments(&mut Rng::for_item(1, i), &types))
            .collect();
        let b: Vec<Vec<Value>> = (0..400)
            .map(|i| arguments(&mut Rng::for_item(1, i), &types))
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().any(|args| args[0] == Value::I32(i32::MIN)));
        assert!(
            a.iter()
                .any(|args| matches!(args[1], Value::F64(bits) if f64::from_bits(bits).is_nan()))
        );
    }

    #[test]
    fn halfway_values_subnormals_signed_zeros_and_nan_payloads_show_up() {
        let floats = many(ValType::F32);
        let has = |value: u32| floats.contains(&Value::F32(value));
        assert!(has(2.5f32.to_bits()) && has((-1.5f32).to_bits()));
        assert!(has(8_388_607.5f32.to_bits()));
        assert!(has(f32::from_bits(1).to_bits()) && has((-0.0f32).to_bits()));
        assert!(has(0xffc0_0001));
        let doubles = many(ValType::F64);
        assert!(doubles.contains(&Value::F64(4_503_599_627_370_495.5f64.to_bits())));
    }

    #[test]
    fn v128_arguments_include_lane_patterns() {
        let vectors = many(ValType::V128);
        let alternating = u128::from_le_bytes(std::array::from_fn(|i| {
            [1u8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff][i % 8]
        }));
        assert!(vectors.contains(&Value::V128(alternating)));
        let one_lane_min = vectors.iter().any(|v| {
            let Value::V128(v) = v else { return false };
            (0..4).any(|lane| *v == u128::from(i32::MIN as u32) << (32 * lane))
        });
        assert!(one_lane_min, "no vector with one i32 lane at MIN");
    }
}
