//! The engine trait every oracle implements, and the resource limits they all share.

use crate::hook::ImportHook;
use crate::outcome::{Outcome, State, Unread, Value};
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
use wasmparser::WasmFeatures;

/// A compiled module inside a [`Session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(pub usize);

/// An instance inside a [`Session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceId(pub usize);

/// Limits every engine applies the same way, so that a difference in outcome
/// is never a difference in configuration.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Largest table, in elements.
    pub table_elements: usize,
    /// Instances one session may create.
    pub instances: usize,
    /// Wall time one compilation may take; for an Asyncify tier, instrumenting too.
    ///
    /// Rationale: apart from `call_time` because compiling is not a call: Cranelift
    /// takes tens of seconds on a 16 MB interpreter, which runs its first call in one.
    pub compile_time: Duration,
    /// Wall time one instantiation may take: loading an AOT artifact, the start function.
    pub instantiate_time: Duration,
    /// Wall time one call may take.
    pub call_time: Duration,
    /// Fuel one call may burn on the fuel-metered tier (wasmi, about one unit per
    /// instruction), deterministically; `None`: wasmi keeps to `call_time`, reading the
    /// clock between slices of fuel.
    pub fuel: Option<u64>,
    /// Resolve function imports nothing else provides with lockstep's
    /// deterministic host functions (see [`crate::host`]). Off for spec
    /// tests, where an unknown import must stay unlinkable.
    pub host_functions: bool,
    /// The modules are generated for this run and met once: what a layer derives
    /// from them (an Asyncify tier's instrumented module) is not cached on disk,
    /// and an engine keeps no compiled code of them for its later sessions.
    ///
    /// Rationale: a fuzzing campaign fills any bounded cache with modules nobody
    /// asks for again, and a full cache no longer keeps the spec suites' modules,
    /// which every conformance run needs.
    #[serde(default)]
    pub one_off_modules: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 4 << 30,
            table_elements: 10_000_000,
            instances: 10_000,
            compile_time: Duration::from_secs(600),
            instantiate_time: Duration::from_secs(60),
            call_time: Duration::from_secs(10),
            fuel: None,
            host_functions: false,
            one_off_modules: false,
        }
    }
}

impl Limits {
    /// Limits for differential fuzzing: host functions on, modules one-off, and tighter than the
    /// spec suites' limits because every call is followed by a digest of
    /// memories and tables, which must stay cheap.
    pub fn fuzzing() -> Limits {
        Limits {
            host_functions: true,
            one_off_modules: true,
            call_time: Duration::from_secs(5),
            compile_time: Duration::from_secs(60),
            instantiate_time: Duration::from_secs(5),
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            ..Limits::default()
        }
    }

    /// The longest any one step (compile, instantiate, call) may take: how long a
    /// watchdog waits for a step before it calls the step hung.
    pub fn step_time(&self) -> Duration {
        self.compile_time
            .max(self.instantiate_time)
            .max(self.call_time)
    }
}

/// One of the [`Limits`] an engine may be unable to apply, named as in the protocol's `reset`
/// (an external engine lists those it cannot apply in its `hello`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    MemoryBytes,
    TableElements,
    Instances,
    CallTimeMs,
}

impl Limit {
    /// The limit in a sentence: "lockstep's {name} limit".
    pub fn name(self) -> &'static str {
        match self {
            Limit::MemoryBytes => "memory",
            Limit::TableElements => "table",
            Limit::Instances => "instance",
            Limit::CallTimeMs => "call time",
        }
    }
}

/// What stops a call that runs past [`Limits::call_time`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Watchdog {
    /// The engine itself: wasmtime's epoch interruption, wasmi's slices of fuel and the clock.
    #[default]
    InEngine,
    /// The parent process, which kills a worker whose call hangs: engines skip
    /// in-engine checks that cost run time (epoch interruption costs up to a
    /// quarter), and keep those that are free (fuel).
    Outside,
}

/// One engine tier: it declares what it supports and opens sessions.
///
/// An engine knows nothing about suites or fuzzing: it compiles, instantiates
/// and calls, and reports what the Wasm did as an [`Outcome`].
pub trait Engine: Send + Sync {
    /// The stable id used on the command line, in expectations and in reports.
    fn id(&self) -> &'static str;
    /// The engine's version as its crate or binary reports it.
    fn version(&self) -> String;
    /// The configuration as `--engine` takes it back: the id, or `TIER@SETTING` for a
    /// variant fuzzing runs (see [`crate::EngineChoice`]).
    fn variant(&self) -> String {
        self.id().to_string()
    }
    /// The proposals this engine runs. Modules needing more are skipped, not failed.
    fn features(&self) -> WasmFeatures;
    /// The limits this engine cannot apply (an external engine's `hello` says which): a
    /// difference that only they explain is not a bug (see `differential`).
    fn unapplied_limits(&self) -> Vec<Limit> {
        Vec::new()
    }
    /// A fresh store with the `spectest` host module already registered.
    fn session(&self, limits: &Limits) -> Box<dyn Session>;
    /// A session whose instances' function imports all hand their calls to
    /// `hook` (see [`crate::hook`]): how a layer wraps this engine. `None`
    /// when the engine cannot wrap imports (external engines, layers).
    fn session_with_import_hook(
        &self,
        _limits: &Limits,
        _hook: Arc<dyn ImportHook>,
    ) -> Option<Box<dyn Session>> {
        None
    }
}

/// A store on one engine: modules, instances, and the names they are registered under.
pub trait Session {
    /// Compiles a binary module. A rejection comes back as `Invalid`,
    /// `Malformed` or `Unsupported`.
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome>;
    /// Instantiates against `spectest` and every registered instance; runs the start function.
    fn instantiate(&mut self, module: ModuleId) -> Result<InstanceId, Outcome>;
    /// Makes an instance's exports importable under `name`.
    fn register(&mut self, name: &str, instance: InstanceId);
    /// Calls an exported function.
    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome;
    /// Reads an exported global.
    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome;
    /// What a call can leave behind: exported globals, memories and tables; or why the
    /// engine could not tell (an external engine that did not answer).
    fn state(&mut self, instance: InstanceId) -> Result<State, Unread>;
    /// The part of an instance another session of the same engine, on another
    /// thread, can import (a `.wast` `thread`'s shared module). An engine
    /// without threads says so, and the thread's directives are skipped.
    fn share(&mut self, instance: InstanceId) -> Result<SharedInstance, Outcome> {
        let _ = instance;
        Err(Outcome::Unsupported(NO_SHARING.into()))
    }
    /// Makes the importable exports of an instance [`Session::share`]d by
    /// another session importable here under `name`.
    fn register_shared(&mut self, name: &str, shared: &SharedInstance) -> Result<(), Outcome> {
        let _ = (name, shared);
        Err(Outcome::Unsupported(NO_SHARING.into()))
    }
}

/// Why a session that keeps the default [`Session::share`] skips a thread.
const NO_SHARING: &str = "this engine does not share instances between threads";

/// An instance's shareable state (for wasmtime, its shared memories), opaque
/// to everything but the engine that made it; it crosses threads.
#[derive(Clone)]
pub struct SharedInstance(Arc<dyn Any + Send + Sync>);

impl SharedInstance {
    pub fn new(state: impl Any + Send + Sync) -> SharedInstance {
        SharedInstance(Arc::new(state))
    }

    /// The state, if this engine's kind of session made it.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.downcast_ref()
    }
}
