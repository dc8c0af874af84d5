//! Exception patterns (throw, catch, catch_ref + throw_ref, catch_all) on the engines with exceptions, against the known outcome.
#![no_main]

use generators::seed::FuzzerBytes;
use lockstep_fuzz::{check, engines};

libfuzzer_sys::fuzz_target!(|data: &[u8]| -> libfuzzer_sys::Corpus {
    let engines = engines(|features| features.exceptions());
    let generated = generators::exceptions::generate(&mut FuzzerBytes::new(data));
    check(&engines, generated)
});
