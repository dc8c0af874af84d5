//! What the fuzz targets share: the engines and the differential run of `cargo xtask fuzz`,
//! which panics (a libFuzzer crash) on a divergence. The generators read libFuzzer's bytes
//! directly, through `generators::seed::FuzzerBytes`.

use generators::Generated;
use libfuzzer_sys::Corpus;
use oracles::compare::Verdict;
use oracles::differential;
use oracles::{Engine, Limits, features};
use std::fmt::Write as _;
use std::sync::Arc;
use wasmparser::WasmFeatures;

/// The built-in engines whose proposals pass `keep`, in report order.
pub fn engines(keep: impl Fn(WasmFeatures) -> bool) -> Vec<Arc<dyn Engine>> {
    oracles::tiers::default_ids()
        .into_iter()
        .filter_map(oracles::engine)
        .filter(|engine| keep(engine.features()))
        .collect()
}

/// The proposals every one of `engines` runs.
pub fn shared(engines: &[Arc<dyn Engine>]) -> WasmFeatures {
    engines
        .iter()
        .fold(features::all(), |acc, e| acc & e.features())
}

/// The proposals at least one of `engines` runs; the others sit such modules out.
pub fn any(engines: &[Arc<dyn Engine>]) -> WasmFeatures {
    engines
        .iter()
        .fold(WasmFeatures::empty(), |acc, e| acc | e.features())
}

/// Runs a generated module and its calls on `engines` and panics on the first
/// divergent step. A module the generator could not make is kept out of the corpus.
pub fn check(engines: &[Arc<dyn Engine>], generated: Result<Generated, String>) -> Corpus {
    let Ok(generated) = generated else {
        return Corpus::Reject;
    };
    let run = differential::run(engines, &generated.wasm, &generated.calls, &Limits::fuzzing());
    if let Some((index, step)) = run.divergence() {
        let Verdict::Diverge(divergence) = &step.verdict else {
            unreachable!("divergence() returns a divergent step")
        };
        let mut seen = String::new();
        for observation in &step.observations {
            let _ = write!(seen, "\n  {}: {}", observation.engine, observation.outcome);
            if let Some(state) = &observation.state {
                let _ = write!(seen, " {state:?}");
            }
        }
        panic!(
            "divergence {} at step {index} `{}` (majority {}, minority {}):{seen}",
            divergence.signature,
            step.label,
            divergence.majority.join(", "),
            divergence.minority.join(", "),
        );
    }
    Corpus::Keep
}
