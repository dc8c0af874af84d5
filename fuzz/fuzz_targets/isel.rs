//! Instruction-selection trees (boundary constants, reused values, address arithmetic, self-shuffles) on every engine.
#![no_main]

use generators::seed::FuzzerBytes;
use lockstep_fuzz::{check, engines, shared};

libfuzzer_sys::fuzz_target!(|data: &[u8]| -> libfuzzer_sys::Corpus {
    let engines = engines(|_| true);
    let generated = generators::isel::generate(&mut FuzzerBytes::new(data), shared(&engines));
    check(&engines, generated)
});
