//! The nested table of `cargo xtask bench programs`: binary-trees at several depths run directly on
//! each host tier and through the wasmi guest on it (the nested tier), with each nested tier's
//! slowdown against its host, as the founding document measured runtimes compiled to Wasm.

use crate::Conclusion;
use oracles::tiers::{Class, TIERS, Tier};
use oracles::{Engine, EngineChoice, Engines, Limits, Outcome, Value, Watchdog};
use std::path::Path;
use std::time::{Duration, Instant};

/// The depths measured: 21, the founding document's deepest, takes the guest on wasmi far longer
/// than a few minutes.
const DEPTHS: [i32; 3] = [7, 11, 14];

/// One measurement: binary-trees' result and how long the call took.
struct Timed {
    result: Outcome,
    run: Duration,
}

pub fn run() -> anyhow::Result<Conclusion> {
    let wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bench/binary_trees.wat");
    let wasm = crate::input::module(&wat)?;
    let engines = Engines::new(Watchdog::Outside, Default::default());
    println!();
    println!(
        "binary-trees through the wasmi guest (nested) and directly on its host; run time of one call"
    );
    println!(
        "{:<20} {:>5} {:>12} {:>12} {:>9}",
        "nested tier", "depth", "host", "nested", "slowdown"
    );
    let mut conclusion = Conclusion::Agree;
    let nested = TIERS.iter().filter(|tier| tier.class == Class::Nested);
    for tier in nested.filter(|tier| !tier.id.starts_with("mutant:")) {
        let host = Tier::named(tier.host().expect("a nested tier")).expect("a registered host");
        let started = Instant::now();
        let guest = match engines.engine(&EngineChoice::Tier(tier)) {
            Ok(guest) => guest,
            Err(why) => {
                println!("{:<20} unavailable: {why}", tier.id);
                continue;
            }
        };
        let start_up = started.elapsed();
        let direct = engines.tier(host);
        for depth in DEPTHS {
            let on_host = measure(direct.as_ref(), &wasm, depth);
            let through_guest = measure(guest.as_ref(), &wasm, depth);
            if on_host.result != through_guest.result {
                println!(
                    "{:<20} {depth:>5} results differ: {} directly, {} nested",
                    tier.id, on_host.result, through_guest.result
                );
                conclusion = Conclusion::Diverge;
                continue;
            }
            let slowdown = through_guest.run.as_secs_f64() / on_host.run.as_secs_f64();
            println!(
                "{:<20} {depth:>5} {:>12} {:>12} {slowdown:>8.1}x",
                tier.id,
                super::programs::millis(on_host.run),
                super::programs::millis(through_guest.run),
            );
        }
        println!(
            "{:<20} guest start-up on {}: {}",
            "",
            host.id,
            super::programs::millis(start_up)
        );
    }
    Ok(conclusion)
}

/// binary-trees of `depth` on `engine`, in a fresh session, timing the call alone.
fn measure(engine: &dyn Engine, wasm: &[u8], depth: i32) -> Timed {
    let limits = Limits {
        call_time: Duration::from_secs(600),
        ..Limits::default()
    };
    let mut session = engine.session(&limits);
    let instance = session
        .compile(wasm)
        .and_then(|module| session.instantiate(module));
    let instance = match instance {
        Ok(instance) => instance,
        Err(outcome) => {
            return Timed {
                result: outcome,
                run: Duration::ZERO,
            };
        }
    };
    let started = Instant::now();
    let result = session.invoke(instance, "run", &[Value::I32(depth)]);
    Timed {
        result,
        run: started.elapsed(),
    }
}
