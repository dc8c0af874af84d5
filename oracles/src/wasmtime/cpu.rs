//! x86-64 CPU feature levels code is compiled for, reached by switching Cranelift's ISA flags off.

use wasmtime::Config;

/// The flags of x86-64-v2 (psABI): SSE3 to SSE4.2, POPCNT, CMPXCHG16B.
const V2_FLAGS: [&str; 6] = [
    "has_sse3",
    "has_ssse3",
    "has_cmpxchg16b",
    "has_sse41",
    "has_sse42",
    "has_popcnt",
];

/// The flags x86-64-v3 adds to v2: AVX, AVX2, FMA, BMI1/2, LZCNT.
const V3_EXTRA_FLAGS: [&str; 6] = [
    "has_avx",
    "has_avx2",
    "has_fma",
    "has_bmi1",
    "has_bmi2",
    "has_lzcnt",
];

/// The x86 ISA flags of Cranelift (cranelift-codegen's `isa/x86` settings)
/// that no level here has: AVX-VNNI and AVX-512.
const ABOVE_V3_FLAGS: [&str; 7] = [
    "has_avx_vnni",
    "has_avx512bitalg",
    "has_avx512dq",
    "has_avx512vl",
    "has_avx512vbmi",
    "has_avx512f",
    "has_avx512vnni",
];

/// The x86-64 feature level Cranelift compiles for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CpuLevel {
    /// Every feature the host has (wasmtime's default).
    #[default]
    Native,
    /// SSE2 only: the x86-64 baseline every such CPU has.
    Baseline,
    X86_64V2,
    X86_64V3,
}

impl CpuLevel {
    /// Every level, native first.
    pub const ALL: [CpuLevel; 4] = [
        CpuLevel::Native,
        CpuLevel::Baseline,
        CpuLevel::X86_64V2,
        CpuLevel::X86_64V3,
    ];

    /// The level as variant names spell it (`cpu=NAME`).
    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Native => "native",
            CpuLevel::Baseline => "baseline",
            CpuLevel::X86_64V2 => "x86-64-v2",
            CpuLevel::X86_64V3 => "x86-64-v3",
        }
    }

    /// The level called `name`, as [`CpuLevel::name`] spells it.
    pub fn named(name: &str) -> Option<CpuLevel> {
        CpuLevel::ALL.into_iter().find(|level| level.name() == name)
    }

    /// The ISA flags the level turns on; `None` keeps the host's.
    fn flags(self) -> Option<Vec<&'static str>> {
        match self {
            CpuLevel::Native => None,
            CpuLevel::Baseline => Some(Vec::new()),
            CpuLevel::X86_64V2 => Some(V2_FLAGS.to_vec()),
            CpuLevel::X86_64V3 => Some([V2_FLAGS, V3_EXTRA_FLAGS].concat()),
        }
    }

    /// Sets every x86-64 ISA flag to the level's value. The host's own features
    /// are the starting point, so a flag left alone would stay on (this machine
    /// has AVX-512): each is set explicitly. A non-x86 target (Pulley) knows none
    /// of these flags, and its engine is then refused when built.
    pub fn apply(self, config: &mut Config) {
        let Some(on) = self.flags() else {
            return;
        };
        let every_flag = V2_FLAGS
            .iter()
            .chain(&V3_EXTRA_FLAGS)
            .chain(&ABOVE_V3_FLAGS);
        for flag in every_flag {
            let value = if on.contains(flag) { "true" } else { "false" };
            // SAFETY: the flags only switch CPU features off relative to the
            // host's (every level is a subset of x86-64-v3, which wasmtime
            // checks against the host when an engine with it is built), so
            // the code never uses an instruction the CPU lacks.
            unsafe {
                config.cranelift_flag_set(flag, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for level in CpuLevel::ALL {
            assert_eq!(CpuLevel::named(level.name()), Some(level));
        }
        assert_eq!(CpuLevel::named("x86-64-v4"), None);
    }

    #[test]
    fn levels_nest_and_stay_below_avx512() {
        let v2 = CpuLevel::X86_64V2.flags().unwrap();
        let v3 = CpuLevel::X86_64V3.flags().unwrap();
        assert!(v2.iter().all(|flag| v3.contains(flag)));
        assert!(v3.iter().all(|flag| !ABOVE_V3_FLAGS.contains(flag)));
        assert!(!v3.iter().any(|flag| flag.starts_with("has_avx512")));
    }

    /// The machine code `wat` compiles to for `level`.
    fn code(level: CpuLevel, wat: &str) -> Vec<u8> {
        let mut config = Config::new();
        config.wasm_simd(true);
        level.apply(&mut config);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, wat).unwrap();
        module.text().to_vec()
    }

    fn has(code: &[u8], opcode: &[u8]) -> bool {
        code.windows(opcode.len()).any(|window| window == opcode)
    }

    /// `popcnt` (SSE4.2 era, `F3 0F B8`) and `roundss`/`roundsd` (SSE4.1, `66 0F 3A 0A/0B`):
    /// from x86-64-v2 on each is one instruction; at the baseline neither appears.
    #[test]
    fn baseline_code_uses_no_instruction_of_a_higher_level() {
        let wat = r#"(module
          (func (export "popcnt") (param i32) (result i32) (i32.popcnt (local.get 0)))
          (func (export "nearest") (param f32) (result f32) (f32.nearest (local.get 0)))
          (func (export "ceil") (param f64) (result f64) (f64.ceil (local.get 0))))"#;
        let [popcnt, roundss, roundsd] =
            [&[0x0f, 0xb8][..], &[0x0f, 0x3a, 0x0a], &[0x0f, 0x3a, 0x0b]];
        let baseline = code(CpuLevel::Baseline, wat);
        let v2 = code(CpuLevel::X86_64V2, wat);
        for opcode in [popcnt, roundss, roundsd] {
            assert!(!has(&baseline, opcode), "{opcode:02x?} at the baseline");
            assert!(has(&v2, opcode), "{opcode:02x?} at x86-64-v2");
        }
    }

    /// SIMD lowers differently at each level (SSE2 sequences, SSE4.1 instructions, AVX's VEX encodings).
    #[test]
    fn each_level_compiles_simd_differently() {
        let wat = r#"(module (func (export "f") (param v128 v128) (result v128)
          (i32x4.max_s (i32x4.mul (local.get 0) (local.get 1)) (f32x4.ceil (local.get 1)))))"#;
        let levels = [CpuLevel::Baseline, CpuLevel::X86_64V2, CpuLevel::X86_64V3];
        let codes = levels.map(|level| code(level, wat));
        assert_ne!(codes[0], codes[1]);
        assert_ne!(codes[1], codes[2]);
        assert_eq!(
            codes[1],
            code(CpuLevel::X86_64V2, wat),
            "compiling is deterministic"
        );
    }
}
