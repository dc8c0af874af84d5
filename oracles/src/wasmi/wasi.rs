//! WASI preview 1 programs on wasmi, through `wasmi_wasi` (wasi-common): wasmi configured as for
//! modules and metered as its calls are, a sandboxed `WasiCtx` per instance, `proc_exit` kept apart from traps.

use super::hooked;
use super::{
    Meter, config, execution_failure, from_wasmi, host_answer, meter, metered, plain_wasmi,
    rejection, start_fuel, store_limits,
};
use crate::engine::Limits;
use crate::hook::{self, ImportHook};
use crate::outcome::{Outcome, Value};
use crate::wasi::limits::{CappedStream, OUTPUT_LIMITS};
use crate::wasi::sandbox::{self, Sandbox, Streams, VirtualClock};
use crate::wasi::{CompiledProgram, Ending, Output, ProgramEngine, ProgramInstance};
use cap_std::time::{Duration, Instant, SystemTime};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasi_common::pipe::{ReadPipe, WritePipe};
use wasi_common::sync::{Dir, ambient_authority};
use wasi_common::{WasiClocks, WasiCtx};
use wasmi::{StoreLimits, Val};
use wasmi_wasi::wasi_common;

/// How deep a WASI program's calls may nest on wasmi. wasmi limits depth and
/// values apart, where wasmtime's one stack limit holds both; its default depth
/// (1000) stops recursion that [`crate::wasi::PROGRAM_STACK`] holds on
/// wasmtime, whose smallest frames take 64 bytes.
const PROGRAM_CALL_DEPTH: usize = crate::wasi::PROGRAM_STACK / 64;

/// How many bytes of values a WASI program's frames may hold on wasmi, on the
/// heap. A wasmi frame holds a register for every temporary of its function,
/// however few are live at a call, where wasmtime keeps only the live ones:
/// machine-rewritten code has many, and nesting that fits in wasmtime's
/// [`crate::wasi::PROGRAM_STACK`] took up to four times that here.
const PROGRAM_VALUES: usize = 4 * crate::wasi::PROGRAM_STACK;

/// wasmi running WASI programs; each program gets a wasmi engine of its own.
pub struct WasmiPrograms {
    config: wasmi::Config,
}

impl WasmiPrograms {
    pub fn new() -> WasmiPrograms {
        let mut config = config();
        config
            .set_max_stack_height(PROGRAM_VALUES)
            .set_max_recursion_depth(PROGRAM_CALL_DEPTH);
        WasmiPrograms { config }
    }
}

impl Default for WasmiPrograms {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgramEngine for WasmiPrograms {
    fn id(&self) -> &'static str {
        "wasmi"
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome> {
        if !wasm.starts_with(b"\0asm") {
            return Err(Outcome::Malformed("magic header not detected".to_string()));
        }
        let engine = wasmi::Engine::new(&self.config);
        let module = wasmi::Module::new(&engine, wasm).map_err(rejection)?;
        let mut linker = wasmi::Linker::new(&engine);
        wasmi_wasi::add_to_linker(&mut linker, |state: &mut State| &mut state.wasi)
            .map_err(|e| Outcome::HarnessFailed(format!("linking WASI: {e}")))?;
        define_host_functions(&mut linker, &module)
            .map_err(|e| Outcome::HarnessFailed(format!("linking host functions: {e}")))?;
        Ok(Box::new(Compiled {
            engine,
            module,
            linker,
            limits: limits.clone(),
        }))
    }
}

/// Rationale: an interpreter imports a few functions besides WASI (say, CRuby's
/// JS interop); every tier answers them with the same pure function.
fn define_host_functions(
    linker: &mut wasmi::Linker<State>,
    module: &wasmi::Module,
) -> Result<(), String> {
    let mut defined = std::collections::HashSet::new();
    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        let wasmi::ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if crate::wasi::is_wasi(module_name) || !defined.insert((module_name, name)) {
            continue;
        }
        let answer = host_answer(module_name, name, ty);
        linker
            .func_new(module_name, name, ty.clone(), answer)
            .map_err(|e| format!("{module_name}.{name}: {e}"))?;
    }
    Ok(())
}

struct Compiled {
    engine: wasmi::Engine,
    module: wasmi::Module,
    linker: wasmi::Linker<State>,
    limits: Limits,
}

struct State {
    wasi: WasiCtx,
    limits: StoreLimits,
}

/// The WASI context of one instance: the sandbox and nothing else of the host.
fn wasi_context(
    sandbox: &Sandbox,
    scratch: &Path,
    stdout: &CappedStream,
    stderr: &CappedStream,
) -> Result<WasiCtx, String> {
    let clock = Arc::new(VirtualClock::default());
    let clocks = WasiClocks::new()
        .with_system(Wall(clock.clone()))
        .with_monotonic(Monotonic::new(clock));
    let random = wasi_common::random::Deterministic::new(sandbox.random_bytes());
    let table = wasi_common::Table::new();
    let mut wasi = WasiCtx::new(
        Box::new(random),
        clocks,
        wasi_common::sync::sched_ctx(),
        table,
    );
    for arg in &sandbox.args {
        wasi.push_arg(arg)
            .map_err(|e| format!("argument {arg:?}: {e}"))?;
    }
    for (key, value) in &sandbox.env {
        wasi.push_env(key, value)
            .map_err(|e| format!("variable {key:?}: {e}"))?;
    }
    match sandbox.streams {
        Streams::Captured => {
            wasi.set_stdin(Box::new(ReadPipe::from(sandbox.stdin.clone())));
            wasi.set_stdout(Box::new(WritePipe::new(stdout.clone())));
            wasi.set_stderr(Box::new(WritePipe::new(stderr.clone())));
        }
        Streams::Live => {
            wasi.set_stdin(Box::new(wasi_common::sync::stdio::stdin()));
            wasi.set_stdout(Box::new(wasi_common::sync::stdio::stdout()));
            wasi.set_stderr(Box::new(wasi_common::sync::stdio::stderr()));
        }
    }
    let dir = Dir::open_ambient_dir(scratch, ambient_authority())
        .map_err(|e| format!("opening {}: {e}", scratch.display()))?;
    let dir = wasi_common::sync::dir::Dir::from_cap_std(dir);
    wasi.push_preopened_dir(Box::new(dir), sandbox::GUEST_DIR)
        .map_err(|e| format!("preopening the scratch directory: {e}"))?;
    Ok(wasi)
}

impl CompiledProgram for Compiled {
    fn instantiate(
        &self,
        sandbox: &Sandbox,
        scratch: &Path,
        hook: Option<Arc<dyn ImportHook>>,
    ) -> Result<Box<dyn ProgramInstance>, Outcome> {
        let stdout = CappedStream::new(OUTPUT_LIMITS.stdout_bytes);
        let stderr = CappedStream::new(OUTPUT_LIMITS.stderr_bytes);
        let wasi =
            wasi_context(sandbox, scratch, &stdout, &stderr).map_err(Outcome::HarnessFailed)?;
        let state = State {
            wasi,
            limits: store_limits(&self.limits),
        };
        let mut store = wasmi::Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        let mut instance = WasmiInstance {
            store,
            instance: None,
            meter: meter(&self.limits),
            stdout,
            stderr,
        };
        let start_fuel = instance.store.set_fuel(start_fuel(&self.limits));
        start_fuel.map_err(|e| Outcome::HarnessFailed(format!("setting fuel: {e}")))?;
        let created = match hook {
            Some(hook) => self.instantiate_hooked(&mut instance.store, hook),
            None => self
                .linker
                .instantiate_and_start(&mut instance.store, &self.module),
        };
        instance.instance = Some(created.map_err(|e| super::instantiation_failure(&e))?);
        Ok(Box::new(instance))
    }
}

impl Compiled {
    /// The linker's function for each of the program's imports, as a plain
    /// function: wasmi's linker keeps host functions as definitions until an
    /// instance imports them, so a re-exporting module imports them first.
    fn host_functions(
        &self,
        store: &mut wasmi::Store<State>,
    ) -> Result<Vec<wasmi::Func>, wasmi::Error> {
        let mut imports = Vec::new();
        for import in self.module.imports() {
            let wasmi::ExternType::Func(ty) = import.ty() else {
                let (module, name) = (import.module(), import.name());
                return Err(wasmi::Error::new(format!(
                    "{module}.{name} is not a function"
                )));
            };
            imports.push(hook::FuncImport {
                module: import.module(),
                name: import.name(),
                params: hooked::names(ty.params())?,
                results: hooked::names(ty.results())?,
            });
        }
        let text = hook::reexporter(&imports);
        let module = wasmi::Module::new(&self.engine, text.as_bytes())?;
        let exporter = self.linker.instantiate_and_start(&mut *store, &module)?;
        (0..imports.len())
            .map(|index| {
                let func = exporter.get_func(&*store, &index.to_string());
                func.ok_or_else(|| wasmi::Error::new("the re-exporter lost a function"))
            })
            .collect()
    }

    /// Instantiates with every WASI import handing its calls to `hook`, and runs the start function.
    fn instantiate_hooked(
        &self,
        store: &mut wasmi::Store<State>,
        hook: Arc<dyn ImportHook>,
    ) -> Result<wasmi::Instance, wasmi::Error> {
        let tag = hook.instance_starting();
        let reals = self.host_functions(store)?;
        let mut imports = Vec::new();
        for real in reals {
            let wrapped = hooked::through_trampoline(&mut *store, real, hook.clone(), tag)?;
            imports.push(wasmi::Extern::Func(wrapped));
        }
        let instance = wasmi::Instance::new(&mut *store, &self.module, &imports)?;
        hook.instance_created(tag);
        Ok(instance)
    }
}

struct WasmiInstance {
    store: wasmi::Store<State>,
    instance: Option<wasmi::Instance>,
    /// What bounds each call.
    meter: Meter,
    stdout: CappedStream,
    stderr: CappedStream,
}

impl WasmiInstance {
    fn func(&self, name: &str) -> Option<wasmi::Func> {
        self.instance?.get_func(&self.store, name)
    }

    fn try_call(&mut self, export: &str, args: &[Value]) -> Result<Ending, Outcome> {
        let harness = Outcome::HarnessFailed;
        let func = self
            .func(export)
            .ok_or_else(|| harness(format!("no exported function `{export}`")))?;
        let params = args
            .iter()
            .map(|arg| plain_wasmi(arg).ok_or_else(|| harness(format!("wasmi cannot take {arg}"))))
            .collect::<Result<Vec<Val>, Outcome>>()?;
        let mut results: Vec<Val> = func
            .ty(&self.store)
            .results()
            .iter()
            .map(|ty| Val::default_for_ty(*ty))
            .collect();
        let called = metered::call(func, &mut self.store, &params, &mut results, self.meter);
        Ok(match called {
            Ok(()) => {
                let values = results.iter().map(|v| from_wasmi(&self.store, v)).collect();
                Ending::Outcome(Outcome::Values(values))
            }
            Err(e) => match e.i32_exit_status() {
                Some(status) => Ending::Exit(status),
                None => Ending::Outcome(execution_failure(&e)),
            },
        })
    }
}

impl ProgramInstance for WasmiInstance {
    fn exports_function(&mut self, name: &str) -> bool {
        self.func(name).is_some()
    }

    fn call(&mut self, export: &str, args: &[Value]) -> Ending {
        self.try_call(export, args).unwrap_or_else(Ending::Outcome)
    }

    fn output(&self) -> Output {
        Output {
            stdout: self.stdout.contents(),
            stderr: self.stderr.contents(),
        }
    }
}

/// The sandbox's virtual wall clock in the shape wasi-common reads it.
struct Wall(Arc<VirtualClock>);

impl wasi_common::WasiSystemClock for Wall {
    fn resolution(&self) -> Duration {
        VirtualClock::TICK
    }

    fn now(&self, _precision: Duration) -> SystemTime {
        SystemTime::from_std(std::time::UNIX_EPOCH + self.0.wall())
    }
}

/// The sandbox's virtual monotonic clock. wasi-common reports readings
/// relative to one it takes when the context is built; that first reading is
/// the origin and does not advance the virtual clock.
struct Monotonic {
    clock: Arc<VirtualClock>,
    origin: Instant,
    originated: AtomicBool,
}

impl Monotonic {
    fn new(clock: Arc<VirtualClock>) -> Monotonic {
        Monotonic {
            clock,
            origin: Instant::from_std(std::time::Instant::now()),
            originated: AtomicBool::new(false),
        }
    }
}

impl wasi_common::WasiMonotonicClock for Monotonic {
    fn resolution(&self) -> Duration {
        VirtualClock::TICK
    }

    fn now(&self, _precision: Duration) -> Instant {
        if !self.originated.swap(true, Ordering::Relaxed) {
            return self.origin;
        }
        self.origin + Duration::from_nanos(self.clock.monotonic_nanos())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_commands_and_reactors() {
        crate::wasi::testing::check_tier("wasmi");
    }
}
