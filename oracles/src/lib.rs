//! lockstep's oracles: WebAssembly engines behind one trait, and the shared outcome model.
//!
//! Modules depend one way (`tests/layering.rs` keeps it so): the shared
//! model (`engine`, `outcome`, `hook`, `features`, ...) at the bottom, the base
//! engines (`wasmtime`, `wasmi`, `external`) and the WASI program model above
//! it, layers (`asyncify`, `mutants`) above the engines they wrap, and the
//! registry (`tiers`), which builds every tier, on top.

#[cfg(feature = "native")]
pub mod asyncify;
#[cfg(feature = "native")]
pub mod child;
pub mod classify;
pub mod compare;
pub mod differential;
pub mod engine;
#[cfg(feature = "native")]
pub mod external;
/// Without `native`, only the protocol's types: what a protocol server needs.
#[cfg(not(feature = "native"))]
pub mod external {
    pub mod protocol;
}
pub mod facts;
pub mod features;
pub mod hex;
pub mod hook;
pub mod host;
#[cfg(feature = "native")]
pub mod mutants;
#[cfg(feature = "native")]
pub mod nested;
#[cfg(feature = "native")]
pub mod npm;
pub mod outcome;
#[cfg(feature = "native")]
pub mod rewrite;
pub mod spectest;
#[cfg(feature = "native")]
pub mod tempfiles;
#[cfg(feature = "native")]
pub mod tiers;
#[cfg(feature = "native")]
pub mod timed;
#[cfg(feature = "native")]
pub mod wasi;
pub mod wasmi;
#[cfg(feature = "native")]
pub mod wasmtime;

#[cfg(test)]
mod testing;

pub use engine::{Engine, InstanceId, Limit, Limits, ModuleId, Session, SharedInstance, Watchdog};
pub use outcome::{Exception, Heap, Outcome, Ref, Resource, State, TrapCode, Unread, Value};
#[cfg(feature = "native")]
pub use tiers::{EngineChoice, Engines, engine, swarm};
