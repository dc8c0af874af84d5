//! Tail-call chains through `return_call*`, up to 10^6 deep, on every engine, against the generator's known result.
#![no_main]

use generators::seed::FuzzerBytes;
use lockstep_fuzz::{any, check, engines};

libfuzzer_sys::fuzz_target!(|data: &[u8]| -> libfuzzer_sys::Corpus {
    let engines = engines(|_| true);
    // `return_call_ref` where some engine has typed function references; engines without sit it out.
    let generated = generators::tail_calls::generate(&mut FuzzerBytes::new(data), any(&engines));
    check(&engines, generated)
});
