//! wasm-smith modules within the proposals every engine runs, called on all engines and compared step by step.
#![no_main]

use generators::seed::FuzzerBytes;
use lockstep_fuzz::{check, engines, shared};

libfuzzer_sys::fuzz_target!(|data: &[u8]| -> libfuzzer_sys::Corpus {
    let engines = engines(|_| true);
    let generated = generators::smith::module(shared(&engines), &mut FuzzerBytes::new(data));
    check(&engines, generated)
});
