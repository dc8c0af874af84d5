//! lockstep's oracles: WebAssembly engines behind one trait, and the shared outcome model.

pub mod asyncify;
pub mod child;
pub mod classify;
pub mod compare;
pub mod differential;
pub mod engine;
pub mod external;
pub mod facts;
pub mod features;
pub mod hex;
pub mod host;
pub mod mutants;
pub mod outcome;
pub mod spectest;
pub mod tempfiles;
pub mod wasi;
pub mod wasmi;
pub mod wasmtime;

#[cfg(test)]
mod testing;

pub use engine::{Engine, InstanceId, Limits, ModuleId, Session};
pub use outcome::{Exception, Heap, Outcome, Ref, Resource, State, TrapCode, Value};

use std::sync::{Arc, OnceLock};

/// The ids of the engines built into lockstep, in report order.
pub const ENGINE_IDS: &[&str] = &[
    "wasmtime-cranelift",
    "wasmtime-aot",
    "wasmtime-winch",
    "wasmtime-pulley",
    "wasmi",
    "asyncify",
    "asyncify-wasmi",
];

/// The built-in engine with this id (or a `mutant:*` self-test engine).
/// Engines are created once per process and shared.
pub fn engine(id: &str) -> Option<Arc<dyn Engine>> {
    if id.starts_with("mutant:") {
        return mutants::create(id, engine("wasmtime-cranelift")?);
    }
    if let Some(started) = external::engine(id) {
        return started.ok();
    }
    static ENGINES: OnceLock<Vec<OnceLock<Arc<dyn Engine>>>> = OnceLock::new();
    let slots = ENGINES.get_or_init(|| ENGINE_IDS.iter().map(|_| OnceLock::new()).collect());
    let index = ENGINE_IDS.iter().position(|known| *known == id)?;
    Some(slots[index].get_or_init(|| create(id)).clone())
}

/// Why the engine `id` cannot run on this machine (a bundled external engine
/// without its runtime, an Asyncify tier without binaryen.js), or `None`.
pub fn unavailable(id: &str) -> Option<String> {
    match external::engine(id) {
        Some(started) => started.err(),
        None => asyncify::unavailable(id),
    }
}

/// The engine with this id in every configuration fuzzing varies: the wasmtime
/// tiers under each knob combination, other engines as they are.
pub fn swarm(id: &str) -> Option<Vec<Arc<dyn Engine>>> {
    if let Some(variants) = asyncify::swarm(id) {
        return Some(variants);
    }
    let tier = match id {
        "wasmtime-cranelift" => wasmtime::Tier::Cranelift,
        "wasmtime-aot" => wasmtime::Tier::Aot,
        "wasmtime-winch" => wasmtime::Tier::Winch,
        "wasmtime-pulley" => wasmtime::Tier::Pulley,
        _ => return engine(id).map(|engine| vec![engine]),
    };
    Some(wasmtime::swarm(tier))
}

fn create(id: &str) -> Arc<dyn Engine> {
    use crate::wasmtime::Tier;
    match id {
        "wasmtime-cranelift" => Arc::new(wasmtime::Wasmtime::new(Tier::Cranelift)),
        "wasmtime-aot" => Arc::new(wasmtime::Wasmtime::new(Tier::Aot)),
        "wasmtime-winch" => Arc::new(wasmtime::Wasmtime::new(Tier::Winch)),
        "wasmtime-pulley" => Arc::new(wasmtime::Wasmtime::new(Tier::Pulley)),
        "wasmi" => Arc::new(wasmi::Wasmi::new()),
        "asyncify" => Arc::new(asyncify::Asyncify::on_wasmtime(0)),
        "asyncify-wasmi" => Arc::new(asyncify::Asyncify::on_wasmi(0)),
        _ => unreachable!("{id} is listed in ENGINE_IDS"),
    }
}
