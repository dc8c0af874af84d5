//! lockstep's oracles: WebAssembly engines behind one trait, and the shared outcome model.
//!
//! Modules depend one way (`tests/layering.rs` keeps it so): the shared
//! model (`engine`, `outcome`, `hook`, `features`, ...) at the bottom, the base
//! engines (`wasmtime`, `wasmi`, `external`) and the WASI program model above
//! it, layers (`asyncify`, `mutants`) above the engines they wrap, and the
//! registry (`tiers`), which builds every tier, on top.

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
pub mod hook;
pub mod host;
pub mod mutants;
pub mod npm;
pub mod outcome;
pub mod rewrite;
pub mod spectest;
pub mod tempfiles;
pub mod tiers;
pub mod wasi;
pub mod wasmi;
pub mod wasmtime;

#[cfg(test)]
mod testing;

pub use engine::{Engine, InstanceId, Limits, ModuleId, Session, SharedInstance, Watchdog};
pub use outcome::{Exception, Heap, Outcome, Ref, Resource, State, TrapCode, Value};
pub use tiers::{EngineChoice, Engines, engine, swarm};
