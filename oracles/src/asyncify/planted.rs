//! Planted Asyncify bugs (`mutant:binaryen-o1-clz-as-ctz`, `mutant:unwind-abandoned`): one in binaryen's
//! optimized output, one in the unwind driver, so that `cargo xtask blame` can be seen to name the component at fault.

use wasmparser::Operator;

/// What a planted Asyncify tier gets wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plant {
    /// Binaryen's output at `-O1` and above computes `i32.clz` as `i32.ctz`; `-O0` output is right.
    OptimizedClzAsCtz,
    /// The unwind driver gives a call up at its first unwind: it reports what the export
    /// returned while its frames were saving themselves, and never rewinds.
    AbandonedUnwind,
}

/// One planted Asyncify tier: its id, the tier it runs on and binaryen's optimize level.
pub struct Planted {
    pub id: &'static str,
    pub base: &'static str,
    pub optimize: u8,
    pub plant: Plant,
}

/// Every planted Asyncify tier.
pub const PLANTED: &[Planted] = &[
    Planted {
        id: "mutant:binaryen-o1-clz-as-ctz",
        base: "wasmtime-cranelift",
        optimize: 1,
        plant: Plant::OptimizedClzAsCtz,
    },
    Planted {
        id: "mutant:unwind-abandoned",
        base: "wasmtime-cranelift",
        optimize: 0,
        plant: Plant::AbandonedUnwind,
    },
];

impl Plant {
    /// Binaryen's output at `optimize` as the planted bug leaves it.
    pub(super) fn rewrite(self, optimize: u8, instrumented: Vec<u8>) -> Vec<u8> {
        match self {
            Plant::OptimizedClzAsCtz if optimize >= 1 => crate::mutants::patch_opcodes(
                &instrumented,
                |op| matches!(op, Operator::I32Clz),
                0x68,
            ),
            _ => instrumented,
        }
    }

    /// Whether the driver gives calls up at their first unwind.
    pub(super) fn abandons_unwinds(self) -> bool {
        self == Plant::AbandonedUnwind
    }
}
