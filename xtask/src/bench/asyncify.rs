//! `cargo xtask bench asyncify`: what Asyncify costs: instrumentation time, code growth, and one unwind/rewind cycle.

use crate::Conclusion;
use generators::seed::Rng;
use oracles::asyncify::{self, Asyncify, OPTIMIZE_LEVELS, UNWIND_LOOP};
use oracles::tiers::TIERS;
use oracles::{Engine, Limits, Outcome, Session, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Generated modules instrumented per optimize level.
const MODULES: u64 = 200;
/// Invocations of the unwind loop, each making as many import calls as all unwind.
const INVOCATIONS: u64 = 200;
const CALLS: u64 = INVOCATIONS * asyncify::unwind::UNWIND_FIRST;

pub fn run() -> anyhow::Result<Conclusion> {
    let features = oracles::engine("asyncify-wasmi")
        .expect("built in")
        .features();
    let corpus: Vec<Vec<u8>> = (0..MODULES)
        .filter_map(|i| generators::smith::module(features, &mut Rng::for_item(1, i)).ok())
        .map(|generated| generated.wasm)
        .collect();
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    println!(
        "instrumenting {} generated modules ({} KiB) with binaryen {}, uncached:",
        corpus.len(),
        bytes / 1024,
        asyncify::BINARYEN_VERSION
    );
    println!("  level  median ms  mean ms  size after/before  unsupported");
    for level in OPTIMIZE_LEVELS {
        instrumentation(&corpus, features, level);
    }
    println!("one unwind/rewind cycle ({CALLS} import calls, 4 live locals each):");
    println!("  base                 plain µs/call  asyncify µs/call  cycle cost µs  ratio");
    for layer in TIERS.iter().filter(|tier| tier.base().is_some()) {
        let base = layer.base().expect("filtered");
        let plain = oracles::engine(base.id).expect("a built-in tier");
        unwind_cycle(&plain, &Asyncify::new(layer.id, plain.clone(), 0))?;
    }
    Ok(Conclusion::Agree)
}

fn instrumentation(corpus: &[Vec<u8>], features: wasmparser::WasmFeatures, level: u8) {
    let mut times = Vec::new();
    let (mut before, mut after, mut unsupported) = (0, 0, 0);
    for wasm in corpus {
        let started = Instant::now();
        let result = asyncify::instrument_uncached(wasm, features, level);
        times.push(started.elapsed());
        match result {
            Ok(instrumented) => {
                before += wasm.len();
                after += instrumented.len();
            }
            Err(_) => unsupported += 1,
        }
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    println!(
        "  -O{level}   {:>9.2}  {:>7.2}  {:>17.2}  {unsupported:>11}",
        millis(times[times.len() / 2]),
        millis(mean),
        after as f64 / before.max(1) as f64
    );
}

/// Times the unwind loop on a plain base engine and on its Asyncify tier.
fn unwind_cycle(plain: &Arc<dyn Engine>, instrumented: &Asyncify) -> anyhow::Result<()> {
    let limits = Limits {
        call_time: Duration::from_secs(60),
        ..Limits::fuzzing()
    };
    let plain_time = time_loop(plain.session(&limits))?;
    let (session, control) = instrumented.session_with_control(&limits);
    let instrumented_time = time_loop(session)?;
    anyhow::ensure!(control.unwinds() == CALLS, "expected one unwind per call");
    let per_call = |time: Duration| time.as_secs_f64() * 1e6 / CALLS as f64;
    println!(
        "  {:<20} {:>13.3}  {:>16.3}  {:>13.3}  {:>5.1}",
        plain.id(),
        per_call(plain_time),
        per_call(instrumented_time),
        per_call(instrumented_time.saturating_sub(plain_time)),
        instrumented_time.as_secs_f64() / plain_time.as_secs_f64()
    );
    Ok(())
}

fn time_loop(mut session: Box<dyn Session>) -> anyhow::Result<Duration> {
    let wasm = generators::wat_to_wasm(UNWIND_LOOP).map_err(anyhow::Error::msg)?;
    let module = session.compile(&wasm).map_err(|o| anyhow::anyhow!("{o}"))?;
    let instance = session
        .instantiate(module)
        .map_err(|o| anyhow::anyhow!("{o}"))?;
    let calls = [Value::I32(asyncify::unwind::UNWIND_FIRST as i32)];
    let started = Instant::now();
    for _ in 0..INVOCATIONS {
        let outcome = session.invoke(instance, "run", &calls);
        anyhow::ensure!(
            matches!(outcome, Outcome::Values(_)),
            "the loop ended with {outcome}"
        );
    }
    Ok(started.elapsed())
}

fn millis(time: Duration) -> f64 {
    time.as_secs_f64() * 1e3
}
