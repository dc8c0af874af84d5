//! WASI preview 1 programs on the wasmtime tiers, through `wasmtime-wasi`: each tier's engine as it is
//! configured for modules, a sandboxed `WasiP1Ctx` per instance, and `proc_exit` kept apart from traps.

use super::hooked;
use super::{Tier, Wasmtime, rejection, trap_outcome};
use crate::engine::{Limits, Watchdog};
use crate::hook::ImportHook;
use crate::outcome::{Outcome, TrapCode, Value};
use crate::wasi::limits::{CappedStream, OUTPUT_LIMITS};
use crate::wasi::sandbox::{self, Sandbox, Streams, VirtualClock};
use crate::wasi::{CompiledProgram, Ending, Output, ProgramEngine, ProgramInstance};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{Instance, Linker, Module, Store, StoreLimits, StoreLimitsBuilder, Trap};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{Deterministic, FsPerms, I32Exit, WasiCtxBuilder};

/// A wasmtime tier running WASI programs.
pub struct WasmtimePrograms {
    wasmtime: Wasmtime,
}

impl WasmtimePrograms {
    pub fn new(tier: Tier, watchdog: Watchdog) -> WasmtimePrograms {
        WasmtimePrograms {
            wasmtime: Wasmtime::for_programs(tier, watchdog),
        }
    }
}

/// What compilation produced: a module ready to instantiate, or for AOT the
/// artifact that start-up loads.
enum Code {
    Module(Module),
    Artifact(Vec<u8>),
}

struct Compiled {
    /// The engine instances live in: for AOT, the loader that never saw the Wasm.
    runtime: wasmtime::Engine,
    code: Code,
    limits: Limits,
    deadline_ticks: Option<u64>,
}

impl ProgramEngine for WasmtimePrograms {
    fn id(&self) -> &'static str {
        self.wasmtime.tier.id
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome> {
        let tier = self.wasmtime.tier;
        let compiler = &self.wasmtime.engine;
        let code = match &self.wasmtime.loader {
            Some(loader) => compiler
                .precompile_module(wasm)
                .map(|artifact| Code::Artifact(loader.ship(artifact))),
            None => Module::from_binary(compiler, wasm).map(Code::Module),
        };
        let code = code.map_err(|e| rejection(tier, &e))?;
        Ok(Box::new(Compiled {
            runtime: self
                .wasmtime
                .loader
                .as_ref()
                .map_or_else(|| compiler.clone(), |loader| loader.engine.clone()),
            code,
            limits: limits.clone(),
            deadline_ticks: self.wasmtime.epochs.then(|| {
                (limits.call_time.as_millis() / super::EPOCH_TICK.as_millis()).max(1) as u64
            }),
        }))
    }
}

impl Compiled {
    fn module(&self) -> wasmtime::Result<Module> {
        match &self.code {
            Code::Module(module) => Ok(module.clone()),
            // SAFETY: the artifact was produced by `precompile_module` of this
            // tier's compiler; see `aot::Loader` for when it arrives changed.
            Code::Artifact(cwasm) => unsafe { Module::deserialize(&self.runtime, cwasm) },
        }
    }
}

struct State {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// The WASI context of one instance: the sandbox and nothing else of the host.
fn wasi_context(
    sandbox: &Sandbox,
    scratch: &Path,
    stdout: &CappedStream,
    stderr: &CappedStream,
) -> wasmtime::Result<WasiP1Ctx> {
    let clock = Arc::new(VirtualClock::default());
    let mut builder = WasiCtxBuilder::new();
    builder
        // Synchronous file operations on the calling thread, the option
        // wasmtime-wasi offers to synchronous embedders: handing each one to a
        // blocking-task pool made file-heavy programs run five times slower
        // than on wasmi (`bench programs`).
        // Set before the preopen, which takes the setting.
        .allow_blocking_current_thread(true)
        .args(&sandbox.args)
        .envs(&sandbox.env);
    match sandbox.streams {
        Streams::Captured => builder
            .stdin(MemoryInputPipe::new(sandbox.stdin.clone()))
            .stdout(stdout.clone())
            .stderr(stderr.clone()),
        Streams::Live => builder.inherit_stdio(),
    };
    builder
        .preopened_dir(scratch, sandbox::GUEST_DIR, FsPerms::ReadWrite)?
        .wall_clock(Clock(clock.clone()))
        .monotonic_clock(Clock(clock))
        .secure_random(random_source(sandbox))
        .insecure_random(random_source(sandbox))
        .insecure_random_seed(u128::from(sandbox.random_seed));
    Ok(builder.build_p1())
}

/// The sandbox's random stream as `random_get` hands it out. `wasmtime-wasi`
/// draws each byte as `next_u32() as u8`, and `Deterministic` builds each
/// `u32` from the next four bytes of its cycle, big-endian: three zeros before
/// every byte of the stream make `random_get` return the stream itself.
fn random_source(sandbox: &Sandbox) -> Deterministic {
    let padded = sandbox
        .random_bytes()
        .into_iter()
        .flat_map(|byte| [0, 0, 0, byte]);
    Deterministic::new(padded.collect())
}

impl CompiledProgram for Compiled {
    fn instantiate(
        &self,
        sandbox: &Sandbox,
        scratch: &Path,
        hook: Option<Arc<dyn ImportHook>>,
    ) -> Result<Box<dyn ProgramInstance>, Outcome> {
        let harness =
            |what: &str, e: wasmtime::Error| Outcome::HarnessFailed(format!("{what}: {e:#}"));
        let module = self
            .module()
            .map_err(|e| harness("loading the AOT artifact", e))?;
        let stdout = CappedStream::new(OUTPUT_LIMITS.stdout_bytes);
        let stderr = CappedStream::new(OUTPUT_LIMITS.stderr_bytes);
        let wasi = wasi_context(sandbox, scratch, &stdout, &stderr)
            .map_err(|e| harness("preopening the scratch directory", e))?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.limits.memory_bytes)
            .table_elements(self.limits.table_elements)
            .build();
        let mut store = Store::new(&self.runtime, State { wasi, limits });
        store.limiter(|state| &mut state.limits);
        let mut linker = Linker::new(&self.runtime);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut State| &mut state.wasi)
            .map_err(|e| harness("linking WASI", e))?;
        // Rationale: an interpreter imports a few functions besides WASI (say,
        // CRuby's JS interop); each tier answers them with the same pure function.
        super::define_host_functions(&mut linker, &mut store, &module);
        let mut instance = WasmtimeInstance {
            store,
            instance: None,
            deadline_ticks: self.deadline_ticks,
            stdout,
            stderr,
        };
        instance.arm_deadline();
        let created = match &hook {
            Some(hook) => hooked::instantiate(
                &linker,
                &mut instance.store,
                &module,
                hook,
                hooked::Reach::Trampoline,
            ),
            None => linker.instantiate(&mut instance.store, &module),
        };
        match created {
            Ok(created) => instance.instance = Some(created),
            Err(e) if e.downcast_ref::<Trap>().is_some() => return Err(stopped(e)),
            Err(e) => return Err(Outcome::Unlinkable(format!("{e:#}"))),
        }
        Ok(Box::new(instance))
    }
}

struct WasmtimeInstance {
    store: Store<State>,
    instance: Option<Instance>,
    deadline_ticks: Option<u64>,
    stdout: CappedStream,
    stderr: CappedStream,
}

impl WasmtimeInstance {
    fn arm_deadline(&mut self) {
        if let Some(ticks) = self.deadline_ticks {
            self.store.set_epoch_deadline(ticks);
        }
    }

    fn func(&mut self, name: &str) -> Option<wasmtime::Func> {
        self.instance?.get_func(&mut self.store, name)
    }
}

impl ProgramInstance for WasmtimeInstance {
    fn exports_function(&mut self, name: &str) -> bool {
        self.func(name).is_some()
    }

    fn call(&mut self, export: &str, args: &[Value]) -> Ending {
        let Some(func) = self.func(export) else {
            return Ending::Outcome(Outcome::HarnessFailed(format!(
                "no exported function `{export}`"
            )));
        };
        let (params, mut results) = match super::values::call_slots(&mut self.store, &func, args) {
            Ok(slots) => slots,
            Err(outcome) => return Ending::Outcome(outcome),
        };
        self.arm_deadline();
        match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => Ending::Outcome(super::values::outcome(&mut self.store, &results)),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ending::Exit(exit.0),
                None => Ending::Outcome(stopped(e)),
            },
        }
    }

    fn output(&self) -> Output {
        Output {
            stdout: self.stdout.contents(),
            stderr: self.stderr.contents(),
        }
    }
}

/// What stopped the program when it did not return or exit: a Wasm trap, or a
/// WASI function refusing to go on (a host trap).
fn stopped(error: wasmtime::Error) -> Outcome {
    match error.downcast_ref::<Trap>() {
        Some(trap) => trap_outcome(*trap),
        None => Outcome::trap(TrapCode::Host, format!("{error:#}")),
    }
}

/// The sandbox's virtual clock in the shape `wasmtime-wasi` reads clocks.
struct Clock(Arc<VirtualClock>);

impl wasmtime_wasi::HostWallClock for Clock {
    fn resolution(&self) -> Duration {
        VirtualClock::TICK
    }

    fn now(&self) -> Duration {
        self.0.wall()
    }
}

impl wasmtime_wasi::HostMonotonicClock for Clock {
    fn resolution(&self) -> u64 {
        VirtualClock::TICK.as_nanos() as u64
    }

    fn now(&self) -> u64 {
        self.0.monotonic_nanos()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_tier_runs_commands_and_reactors() {
        for id in [
            "wasmtime-cranelift",
            "wasmtime-aot",
            "wasmtime-winch",
            "wasmtime-pulley",
        ] {
            crate::wasi::testing::check_tier(id);
        }
    }
}
