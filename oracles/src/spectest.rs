//! The `spectest` host module every spec test imports from, described once for all engines.

/// The value of `spectest.global_i32` and `spectest.global_i64`.
pub const GLOBAL_INT: i32 = 666;
/// The value of `spectest.global_f32` and `spectest.global_f64`.
pub const GLOBAL_FLOAT: f64 = 666.6;
/// `spectest.table`: funcref, min 10, max 20.
pub const TABLE_LIMITS: (u32, u32) = (10, 20);
/// `spectest.memory` and `spectest.shared_memory`: min 1 page, max 2.
pub const MEMORY_PAGES: (u32, u32) = (1, 2);

/// The `print*` functions and their parameter types, in the spec interpreter's order.
pub const PRINTS: &[(&str, &[ParamType])] = &[
    ("print", &[]),
    ("print_i32", &[ParamType::I32]),
    ("print_i64", &[ParamType::I64]),
    ("print_f32", &[ParamType::F32]),
    ("print_f64", &[ParamType::F64]),
    ("print_i32_f32", &[ParamType::I32, ParamType::F32]),
    ("print_f64_f64", &[ParamType::F64, ParamType::F64]),
];

/// Parameter types of the `print*` functions.
#[derive(Clone, Copy, Debug)]
pub enum ParamType {
    I32,
    I64,
    F32,
    F64,
}
