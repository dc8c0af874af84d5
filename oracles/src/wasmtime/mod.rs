//! wasmtime as an oracle: the store, linker, value conversion and trap mapping that every wasmtime tier shares.

pub mod aot;
pub mod compat;
pub mod cpu;
pub mod cranelift;
mod hooked;
pub mod pulley;
mod reuse;
mod shared;
mod stream;
mod values;
pub mod wasi;
pub mod winch;

use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session, SharedInstance, Watchdog};
use crate::hook::ImportHook;
use crate::outcome::{
    Exception, Outcome, Resource, State, TrapCode, UNEXPORTED_TAG, Unread, digest,
};
use crate::{Value, features, host, spectest};
pub use cpu::CpuLevel;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;
use wasmparser::WasmFeatures;
use wasmtime::{
    Config, Extern, Global, GlobalType, Instance, Linker, Memory, MemoryType, Module, Mutability,
    RefType, SharedMemory, Store, StoreLimits, StoreLimitsBuilder, Table, TableType, Tag, Trap,
    Val, ValType,
};

/// How often the epoch advances; call deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How one wasmtime tier configures wasmtime: each tier's file defines its `TIER`.
#[derive(Clone, Copy, Debug)]
pub struct Tier {
    /// The tier's engine id.
    pub id: &'static str,
    /// The proposals the tier runs.
    pub features: fn() -> WasmFeatures,
    /// The tier's settings on top of lockstep's common configuration.
    pub configure: fn(&mut Config),
    /// Modules are precompiled to an artifact that a second engine, which never
    /// saw the Wasm, loads.
    pub ahead_of_time: bool,
    /// The tier implements some proposals only partly and says so with a
    /// compile error, which is then a limitation of the tier (`Unsupported`),
    /// not a verdict on the module.
    pub partial: bool,
    /// The x86-64 level the tier's code is compiled for; fuzzing varies it
    /// only for a tier at the host's own level. `None`: the code is for no
    /// x86-64 CPU (Pulley bytecode), and no level applies.
    pub cpu: Option<CpuLevel>,
}

/// Everything wasmtime 48 runs with Cranelift on x86-64: Wasm 3.0 plus the
/// phase-3+ proposals it implements. Legacy exceptions are rejected by wasmtime.
fn full_features() -> WasmFeatures {
    WasmFeatures::WASM3 | WasmFeatures::CUSTOM_PAGE_SIZES | WasmFeatures::WIDE_ARITHMETIC
}

/// Configuration knobs that change generated code but never what a module
/// means: fuzzing varies them so that every code path gets exercised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Knobs {
    /// Cranelift without optimizations.
    pub unoptimized: bool,
    /// Explicit bounds checks instead of guard pages and signal handlers (Winch requires signals).
    pub no_signals: bool,
    /// A small memory reservation with no guard region, forcing bounds checks and moving memories.
    pub small_reservation: bool,
    /// The x86-64 feature level code is compiled for: Cranelift lowers many
    /// instructions differently per level.
    pub cpu: CpuLevel,
}

impl Knobs {
    /// wasmtime's defaults, code compiled for the host's features.
    pub const DEFAULT: Knobs = Knobs {
        unoptimized: false,
        no_signals: false,
        small_reservation: false,
        cpu: CpuLevel::Native,
    };

    /// The variants fuzzing picks from, the default first.
    pub const SWARM: [Knobs; 7] = [
        Knobs::DEFAULT,
        Knobs {
            unoptimized: true,
            ..Knobs::DEFAULT
        },
        Knobs {
            no_signals: true,
            ..Knobs::DEFAULT
        },
        Knobs {
            small_reservation: true,
            ..Knobs::DEFAULT
        },
        Knobs {
            cpu: CpuLevel::Baseline,
            ..Knobs::DEFAULT
        },
        Knobs {
            cpu: CpuLevel::X86_64V2,
            ..Knobs::DEFAULT
        },
        Knobs {
            cpu: CpuLevel::X86_64V3,
            ..Knobs::DEFAULT
        },
    ];

    /// These knobs on a tier whose code is compiled for `level`: the tier's own
    /// level wins, unless it is the host's, which the knobs' level replaces.
    fn at_level(self, level: Option<CpuLevel>) -> Knobs {
        match level {
            None | Some(CpuLevel::Native) => self,
            Some(level) => Knobs { cpu: level, ..self },
        }
    }

    fn apply(self, config: &mut Config) {
        if self.unoptimized {
            config.cranelift_opt_level(wasmtime::OptLevel::None);
        }
        if self.no_signals {
            config.signals_based_traps(false);
        }
        if self.small_reservation {
            config
                .memory_reservation(1 << 20)
                .memory_guard_size(0)
                .memory_reservation_for_growth(0);
        }
        self.cpu.apply(config);
    }

    /// The setting as a variant name writes it (`TIER@SETTING`): the tokens of
    /// [`Knobs::describe`] joined by commas alone; empty for the default.
    pub fn setting(self) -> String {
        self.describe().replace(", ", ",")
    }

    /// The knobs of [`Knobs::varied`] by `tier` whose [`Knobs::setting`] is `text`:
    /// names are read back from the same tokens they are written with.
    pub fn named(tier: Tier, text: &str) -> Option<Knobs> {
        Knobs::varied(tier)
            .into_iter()
            .find(|knobs| knobs.setting() == text)
    }

    /// The knobs of [`Knobs::SWARM`] that `tier` varies, the default first: a
    /// tier whose code is compiled for one CPU level keeps that level (its
    /// knobs leave [`Knobs::cpu`] at the default, which means the tier's own),
    /// and Pulley has none.
    pub fn varied(tier: Tier) -> Vec<Knobs> {
        let keeps_level = move |knobs: &Knobs| {
            tier.cpu == Some(CpuLevel::Native) || knobs.cpu == CpuLevel::Native
        };
        Knobs::SWARM.into_iter().filter(keeps_level).collect()
    }

    /// The knobs that differ from the defaults (`opt-level=none, cpu=x86-64-v2`);
    /// empty for the defaults.
    fn describe(self) -> String {
        let level = format!("cpu={}", self.cpu.name());
        let names = [
            (self.unoptimized, "opt-level=none"),
            (self.no_signals, "signals-based-traps=off"),
            (self.small_reservation, "memory-reservation=1MiB,guard=0"),
            (self.cpu != CpuLevel::Native, level.as_str()),
        ];
        names
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One wasmtime tier: an engine configured for it, and for AOT a second
/// engine that only loads precompiled code.
pub struct Wasmtime {
    tier: Tier,
    knobs: Knobs,
    /// Whether this engine interrupts calls that run past their time limit.
    epochs: bool,
    engine: wasmtime::Engine,
    loader: Option<aot::Loader>,
    /// Modules compiled by this engine's sessions, for later sessions.
    reuse: Arc<reuse::Reuse>,
}

impl Wasmtime {
    /// The tier, its calls interrupted by the engine unless `watchdog` says another one does.
    pub fn new(tier: Tier, watchdog: Watchdog) -> Wasmtime {
        Wasmtime::as_lockstep_configures(tier, watchdog, |_| ())
    }

    /// The tier with non-default knobs (at the tier's CPU level, if it has one);
    /// some combinations a tier rejects.
    pub fn with_knobs(tier: Tier, knobs: Knobs, watchdog: Watchdog) -> wasmtime::Result<Wasmtime> {
        Wasmtime::configured(tier, knobs, watchdog, |_| ())
    }

    /// The tier for WASI programs, whose Wasm stack is [`crate::wasi::PROGRAM_STACK`].
    pub fn for_programs(tier: Tier, watchdog: Watchdog) -> Wasmtime {
        // wasmtime checks the Wasm stack against the fibers' stack, which no
        // lockstep tier uses.
        let deeper = |config: &mut Config| {
            config.async_stack_size(crate::wasi::PROGRAM_STACK);
            config.max_wasm_stack(crate::wasi::PROGRAM_STACK);
        };
        Wasmtime::as_lockstep_configures(tier, watchdog, deeper)
    }

    /// The tier at its default knobs, `adjust`ed: a configuration wasmtime must accept.
    fn as_lockstep_configures(
        tier: Tier,
        watchdog: Watchdog,
        adjust: impl FnOnce(&mut Config),
    ) -> Wasmtime {
        Wasmtime::configured(tier, Knobs::DEFAULT, watchdog, adjust)
            .unwrap_or_else(|e| panic!("lockstep's configuration of {} is rejected: {e}", tier.id))
    }

    fn configured(
        tier: Tier,
        knobs: Knobs,
        watchdog: Watchdog,
        adjust: impl FnOnce(&mut Config),
    ) -> wasmtime::Result<Wasmtime> {
        // Epoch interruption costs up to a quarter of the run time: skipped
        // when a watchdog outside the engine stops hung calls.
        let epochs = watchdog == Watchdog::InEngine;
        let mut config = configuration(tier, knobs, epochs);
        adjust(&mut config);
        let loader = match tier.ahead_of_time {
            true => Some(aot::Loader::faithful(start(&config, epochs)?, tier)),
            false => None,
        };
        Ok(Wasmtime {
            tier,
            knobs,
            epochs,
            engine: start(&config, epochs)?,
            loader,
            reuse: Arc::new(reuse::Reuse::new()),
        })
    }

    /// Artifacts of the ahead-of-time tier `compiler` as deployed elsewhere:
    /// they pass through `transit` to an engine configured as `loader` and
    /// then changed by `differ`. Calls are interrupted by the engine.
    pub fn deployed(
        compiler: Tier,
        loader: Tier,
        differ: impl FnOnce(&mut Config),
        transit: fn(&mut Vec<u8>),
    ) -> wasmtime::Result<Wasmtime> {
        let engine = start(&configuration(compiler, Knobs::DEFAULT, true), true)?;
        let mut config = configuration(loader, Knobs::DEFAULT, true);
        differ(&mut config);
        let loader = aot::Loader {
            engine: start(&config, true)?,
            transit,
            threads: (loader.features)().threads(),
        };
        Ok(Wasmtime {
            tier: compiler,
            knobs: Knobs::DEFAULT,
            epochs: true,
            engine,
            loader: Some(loader),
            reuse: Arc::new(reuse::Reuse::new()),
        })
    }
}

/// lockstep's configuration of `tier` under `knobs`, at the tier's CPU level.
fn configuration(tier: Tier, knobs: Knobs, epochs: bool) -> Config {
    let mut config = Config::new();
    config.wasm_features(to_wasmtime(features::all() | WasmFeatures::all()), false);
    config.wasm_features(to_wasmtime((tier.features)()), true);
    config.epoch_interruption(epochs);
    config.shared_memory((tier.features)().threads());
    // Rationale: lockstep reads a trap's code, never a backtrace, so it asks for
    // none: no Wasm backtrace captured at each trap, no address map compiled into
    // each function, no native unwind tables registered for each module. None
    // of them changes what the code computes.
    config
        .wasm_backtrace_max_frames(None)
        .generate_address_map(false)
        .native_unwind_info(false);
    (tier.configure)(&mut config);
    knobs.at_level(tier.cpu).apply(&mut config);
    config
}

fn start(config: &Config, epochs: bool) -> wasmtime::Result<wasmtime::Engine> {
    let engine = wasmtime::Engine::new(config)?;
    if epochs {
        start_epoch_ticker(&engine);
    }
    Ok(engine)
}

/// The tier's engine under every knob combination of [`Knobs::varied`] it accepts.
pub fn swarm(tier: Tier, watchdog: Watchdog) -> Vec<std::sync::Arc<dyn Engine>> {
    Knobs::varied(tier)
        .into_iter()
        .filter_map(|knobs| Wasmtime::with_knobs(tier, knobs, watchdog).ok())
        .map(|engine| std::sync::Arc::new(engine) as std::sync::Arc<dyn Engine>)
        .collect()
}

/// Translates wasmparser 0.263 features to the wasmparser version wasmtime uses, by name.
fn to_wasmtime(features: WasmFeatures) -> wasmtime::WasmFeatures {
    features
        .iter_names()
        .filter_map(|(name, _)| wasmtime::WasmFeatures::from_name(name))
        .fold(wasmtime::WasmFeatures::empty(), |acc, flag| acc | flag)
}

/// Advances the engine's epoch until the engine is dropped, so that a call
/// running past its deadline is interrupted instead of hanging the run.
///
/// Rationale: one thread ticks every engine of the process. A thread per
/// engine woke a hundred times a second each, and a fuzzing worker holds
/// every configuration of every wasmtime tier (about thirty engines): their
/// wake-ups took a twentieth of a campaign's CPU.
fn start_epoch_ticker(engine: &wasmtime::Engine) {
    static TICKED: Mutex<Vec<wasmtime::EngineWeak>> = Mutex::new(Vec::new());
    static TICKER: Once = Once::new();
    TICKED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(engine.weak());
    TICKER.call_once(|| {
        std::thread::Builder::new()
            .name("lockstep-epoch".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    let mut engines = TICKED.lock().unwrap_or_else(|p| p.into_inner());
                    engines.retain(|weak| weak.upgrade().map(|e| e.increment_epoch()).is_some());
                }
            })
            .expect("spawning the epoch thread");
    });
}

impl Engine for Wasmtime {
    fn id(&self) -> &'static str {
        self.tier.id
    }

    /// The settings the code ran under, the tier's CPU level among them.
    fn version(&self) -> String {
        match self.knobs.at_level(self.tier.cpu).describe() {
            knobs if knobs.is_empty() => "48.0.8".to_string(),
            knobs => format!("48.0.8 ({knobs})"),
        }
    }

    fn variant(&self) -> String {
        match self.knobs.setting() {
            setting if setting.is_empty() => self.tier.id.to_string(),
            setting => format!("{}@{setting}", self.tier.id),
        }
    }

    fn features(&self) -> WasmFeatures {
        (self.tier.features)()
    }

    fn session(&self, limits: &Limits) -> Box<dyn Session> {
        Box::new(WasmtimeSession::new(self, limits))
    }

    fn session_with_import_hook(
        &self,
        limits: &Limits,
        hook: Arc<dyn ImportHook>,
    ) -> Option<Box<dyn Session>> {
        let mut session = WasmtimeSession::new(self, limits);
        session.import_hook = Some(hook);
        Some(Box::new(session))
    }
}

struct StoreData {
    limits: StoreLimits,
}

struct WasmtimeSession {
    tier: Tier,
    engine: wasmtime::Engine,
    loader: Option<aot::Loader>,
    store: Store<StoreData>,
    linker: Linker<StoreData>,
    modules: Vec<Module>,
    instances: Vec<Instance>,
    /// Epoch ticks a call may take, when the engine interrupts calls at all.
    deadline_ticks: Option<u64>,
    host_functions: bool,
    /// Where modules compiled in earlier sessions are kept, unless this session's modules are one-off.
    reuse: Option<Arc<reuse::Reuse>>,
    /// Set by a layer: every function import hands its calls to this hook.
    import_hook: Option<Arc<dyn ImportHook>>,
}

impl WasmtimeSession {
    fn new(wasmtime: &Wasmtime, limits: &Limits) -> WasmtimeSession {
        let data = StoreData {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .table_elements(limits.table_elements)
                .instances(limits.instances)
                .build(),
        };
        let runtime = wasmtime
            .loader
            .as_ref()
            .map_or(&wasmtime.engine, |loader| &loader.engine);
        let mut store = Store::new(runtime, data);
        store.limiter(|data| &mut data.limits);
        let mut linker = Linker::new(runtime);
        linker.allow_shadowing(true);
        let threads = wasmtime.loader.as_ref().map_or_else(
            || (wasmtime.tier.features)().threads(),
            |loader| loader.threads,
        );
        define_spectest(&mut linker, &mut store, threads)
            .expect("defining spectest on a fresh store");
        WasmtimeSession {
            tier: wasmtime.tier,
            engine: wasmtime.engine.clone(),
            loader: wasmtime.loader.clone(),
            store,
            linker,
            modules: Vec::new(),
            instances: Vec::new(),
            deadline_ticks: wasmtime
                .epochs
                .then(|| (limits.call_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64),
            host_functions: limits.host_functions,
            reuse: (!limits.one_off_modules).then(|| wasmtime.reuse.clone()),
            import_hook: None,
        }
    }

    /// Starts the time limit of the call or instantiation about to run.
    fn arm_deadline(&mut self) {
        if let Some(ticks) = self.deadline_ticks {
            self.store.set_epoch_deadline(ticks);
        }
    }

    fn instance(&self, id: InstanceId) -> Result<Instance, Outcome> {
        self.instances
            .get(id.0)
            .copied()
            .ok_or_else(|| Outcome::HarnessFailed(format!("no instance #{}", id.0)))
    }

    /// Turns an error from running Wasm into what the Wasm did.
    fn run_error(&mut self, error: wasmtime::Error, instance: Option<Instance>) -> Outcome {
        if let Some(trap) = error.downcast_ref::<Trap>() {
            return trap_outcome(*trap);
        }
        if error.is::<wasmtime::ThrownException>() {
            return self.exception_outcome(instance);
        }
        if out_of_memory(&error) {
            return Outcome::Exhausted(Resource::Memory);
        }
        Outcome::HarnessFailed(format!("{error:?}"))
    }

    fn exception_outcome(&mut self, instance: Option<Instance>) -> Outcome {
        match self.read_exception(instance) {
            Ok(exception) => Outcome::Exception(exception),
            Err(e) => Outcome::HarnessFailed(format!("reading the exception: {e:?}")),
        }
    }

    fn read_exception(&mut self, instance: Option<Instance>) -> wasmtime::Result<Exception> {
        let Some(exn) = self.store.take_pending_exception() else {
            wasmtime::bail!("exception thrown but none pending");
        };
        let tag = exn.tag(&mut self.store)?;
        let fields: Vec<Val> = exn.fields(&mut self.store)?.collect();
        let mut payload = Vec::with_capacity(fields.len());
        for field in &fields {
            payload.push(values::from_val(&mut self.store, field)?);
        }
        let tag = self.tag_name(&tag, instance);
        Ok(Exception {
            tag,
            payload: Some(payload),
        })
    }

    /// Names a tag by the export it is reachable under, searching the called instance first.
    fn tag_name(&mut self, tag: &Tag, instance: Option<Instance>) -> String {
        let candidates: Vec<Instance> = instance
            .into_iter()
            .chain(self.instances.iter().rev().copied())
            .collect();
        for candidate in candidates {
            let exports: Vec<(String, Extern)> = candidate
                .exports(&mut self.store)
                .map(|e| (e.name().to_string(), e.into_extern()))
                .collect();
            for (name, export) in exports {
                if let Extern::Tag(t) = export
                    && Tag::eq(&t, tag, &self.store)
                {
                    return name;
                }
            }
        }
        UNEXPORTED_TAG.to_string()
    }

    /// The module compiled from `wasm`, by this session or an earlier one.
    fn load(&self, wasm: &[u8]) -> wasmtime::Result<Module> {
        let compile = || match &self.loader {
            Some(loader) => aot::compile_and_load(&self.engine, loader, wasm),
            None => Module::from_binary(&self.engine, wasm),
        };
        match &self.reuse {
            Some(reuse) => reuse.module(wasm, compile),
            None => compile(),
        }
    }
}

/// Gives every function import of `module` that `linker` does not define a
/// deterministic host function.
fn define_host_functions<T: 'static>(
    linker: &mut Linker<T>,
    store: &mut Store<T>,
    module: &Module,
) {
    for import in module.imports() {
        let wasmtime::ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if linker
            .get(&mut *store, import.module(), import.name())
            .is_ok()
        {
            continue;
        }
        let (module_name, name) = (import.module().to_string(), import.name().to_string());
        let result_types: Vec<host::ValType> =
            ty.results().map(|t| values::host_type(&t)).collect();
        let answered = linker.func_new(
            import.module(),
            import.name(),
            ty,
            move |_, params, results| {
                let args: Vec<Value> = params.iter().map(values::host_arg).collect();
                let answers = host::results(&module_name, &name, &args, &result_types);
                for (slot, answer) in results.iter_mut().zip(&answers) {
                    *slot = values::host_result(answer);
                }
                Ok(())
            },
        );
        answered.expect("shadowing is allowed");
    }
}

impl Session for WasmtimeSession {
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome> {
        match self.load(wasm) {
            Ok(module) => {
                self.modules.push(module);
                Ok(ModuleId(self.modules.len() - 1))
            }
            Err(e) => Err(rejection(self.tier, &e)),
        }
    }

    fn instantiate(&mut self, module: ModuleId) -> Result<InstanceId, Outcome> {
        let module = self
            .modules
            .get(module.0)
            .cloned()
            .ok_or_else(|| Outcome::HarnessFailed(format!("no module #{}", module.0)))?;
        if self.host_functions {
            define_host_functions(&mut self.linker, &mut self.store, &module);
        }
        self.arm_deadline();
        let instantiated = match &self.import_hook {
            Some(hook) => hooked::instantiate(
                &self.linker,
                &mut self.store,
                &module,
                hook,
                hooked::Reach::Direct,
            ),
            None => self.linker.instantiate(&mut self.store, &module),
        };
        match instantiated {
            Ok(instance) => {
                self.instances.push(instance);
                Ok(InstanceId(self.instances.len() - 1))
            }
            Err(e)
                if e.downcast_ref::<Trap>().is_none() && !e.is::<wasmtime::ThrownException>() =>
            {
                Err(instantiation_failure(&e))
            }
            Err(e) => Err(self.run_error(e, None)),
        }
    }

    fn register(&mut self, name: &str, instance: InstanceId) {
        if let Ok(instance) = self.instance(instance) {
            self.linker
                .instance(&mut self.store, name, instance)
                .expect("shadowing is allowed");
        }
    }

    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        let instance = match self.instance(instance) {
            Ok(instance) => instance,
            Err(outcome) => return outcome,
        };
        let Some(func) = instance.get_func(&mut self.store, export) else {
            return Outcome::HarnessFailed(format!("no exported function `{export}`"));
        };
        let (params, mut results) = match values::call_slots(&mut self.store, &func, args) {
            Ok(slots) => slots,
            Err(outcome) => return outcome,
        };
        self.arm_deadline();
        match func.call(&mut self.store, &params, &mut results) {
            Ok(()) => values::outcome(&mut self.store, &results),
            Err(e) => self.run_error(e, Some(instance)),
        }
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        let instance = match self.instance(instance) {
            Ok(instance) => instance,
            Err(outcome) => return outcome,
        };
        match instance.get_global(&mut self.store, export) {
            Some(global) => {
                let val = global.get(&mut self.store);
                values::outcome(&mut self.store, &[val])
            }
            None => Outcome::HarnessFailed(format!("no exported global `{export}`")),
        }
    }

    fn state(&mut self, instance: InstanceId) -> Result<State, Unread> {
        let mut state = State::default();
        let Ok(instance) = self.instance(instance) else {
            return Err(Unread::UnknownInstance);
        };
        let exports: Vec<(String, Extern)> = instance
            .exports(&mut self.store)
            .map(|e| (e.name().to_string(), e.into_extern()))
            .collect();
        for (name, export) in exports {
            match export {
                Extern::Global(global) => {
                    let val = global.get(&mut self.store);
                    if let Ok(value) = values::from_val(&mut self.store, &val) {
                        state.globals.push((name, value));
                    }
                }
                Extern::Memory(memory) => {
                    let data = memory.data(&self.store);
                    state.memories.push((name, data.len() as u64, digest(data)));
                }
                Extern::SharedMemory(memory) => {
                    state.memories.push((name, memory.data_size() as u64, 0))
                }
                Extern::Table(table) => {
                    let size = table.size(&self.store);
                    let nulls: Vec<u8> = (0..size)
                        .map(|i| table.get(&mut self.store, i).is_none_or(|r| r.is_null()) as u8)
                        .collect();
                    state.tables.push((name, size, digest(&nulls)));
                }
                _ => {}
            }
        }
        Ok(state.sorted())
    }

    fn share(&mut self, instance: InstanceId) -> Result<SharedInstance, Outcome> {
        let instance = self.instance(instance)?;
        Ok(shared::share(&mut self.store, instance))
    }

    fn register_shared(&mut self, name: &str, shared: &SharedInstance) -> Result<(), Outcome> {
        shared::register(&mut self.linker, &mut self.store, name, shared)
    }
}

/// A module wasmtime refused to compile: invalid, or beyond what this tier implements.
fn rejection(tier: Tier, error: &wasmtime::Error) -> Outcome {
    let message = format!("{error:#}");
    // See `Tier::partial`.
    let unsupported = [
        "unsupported",
        "not supported",
        "not implemented",
        "Unimplemented",
    ];
    if tier.partial && unsupported.iter().any(|s| message.contains(s)) {
        return Outcome::Unsupported(message);
    }
    Outcome::Invalid(message)
}

/// An instantiation that failed before any Wasm ran: a memory over the limit, or a constant
/// expression's allocation the GC heap had no room for, is exhaustion, not a failure to link.
fn instantiation_failure(error: &wasmtime::Error) -> Outcome {
    let message = format!("{error:#}");
    if out_of_memory(error) || message.contains("exceeds") && message.contains("limit") {
        return Outcome::Exhausted(Resource::Memory);
    }
    Outcome::Unlinkable(message)
}

/// Whether memory ran out: the GC heap (bounded by the store's memory limit), or the host.
fn out_of_memory(error: &wasmtime::Error) -> bool {
    error.is::<wasmtime::GcHeapOutOfMemory<()>>() || format!("{error:?}").contains("out of memory")
}

fn trap_outcome(trap: Trap) -> Outcome {
    let code = match trap {
        Trap::StackOverflow => return Outcome::Exhausted(Resource::Stack),
        Trap::Interrupt => return Outcome::Exhausted(Resource::Time),
        Trap::OutOfFuel => return Outcome::Exhausted(Resource::Fuel),
        Trap::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        Trap::HeapMisaligned => TrapCode::UnalignedAtomic,
        Trap::TableOutOfBounds => TrapCode::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapCode::IndirectCallToNull,
        Trap::BadSignature => TrapCode::IndirectCallTypeMismatch,
        Trap::IntegerOverflow => TrapCode::IntegerOverflow,
        Trap::IntegerDivisionByZero => TrapCode::IntegerDivideByZero,
        Trap::BadConversionToInteger => TrapCode::InvalidConversionToInteger,
        Trap::UnreachableCodeReached => TrapCode::Unreachable,
        Trap::AtomicWaitNonSharedMemory => TrapCode::AtomicWaitOnNonSharedMemory,
        Trap::NullReference => TrapCode::NullReference,
        Trap::ArrayOutOfBounds => TrapCode::ArrayOutOfBounds,
        Trap::AllocationTooLarge => TrapCode::AllocationTooLarge,
        Trap::CastFailure => TrapCode::CastFailure,
        _ => TrapCode::Other,
    };
    Outcome::trap(code, trap.to_string())
}

fn define_spectest(
    linker: &mut Linker<StoreData>,
    store: &mut Store<StoreData>,
    shared_memory: bool,
) -> wasmtime::Result<()> {
    for (name, params) in spectest::PRINTS {
        let params = params.iter().map(|p| match p {
            spectest::ParamType::I32 => ValType::I32,
            spectest::ParamType::I64 => ValType::I64,
            spectest::ParamType::F32 => ValType::F32,
            spectest::ParamType::F64 => ValType::F64,
        });
        let ty = wasmtime::FuncType::new(linker.engine(), params, []);
        linker.func_new("spectest", name, ty, |_, _, _| Ok(()))?;
    }
    let int = spectest::GLOBAL_INT;
    let float = spectest::GLOBAL_FLOAT;
    let globals = [
        ("global_i32", Val::I32(int)),
        ("global_i64", Val::I64(int.into())),
        ("global_f32", Val::F32((float as f32).to_bits())),
        ("global_f64", Val::F64(float.to_bits())),
    ];
    for (name, val) in globals {
        let ty = GlobalType::new(val.ty(&*store)?, Mutability::Const);
        let global = Global::new(&mut *store, ty, val)?;
        linker.define(&mut *store, "spectest", name, global)?;
    }
    let (min, max) = spectest::TABLE_LIMITS;
    let table = Table::new(
        &mut *store,
        TableType::new(RefType::FUNCREF, min, Some(max)),
        wasmtime::Ref::Func(None),
    )?;
    linker.define(&mut *store, "spectest", "table", table)?;
    let table64 = TableType::new64(RefType::FUNCREF, min.into(), Some(max.into()));
    let table64 = Table::new(&mut *store, table64, wasmtime::Ref::Func(None))?;
    linker.define(&mut *store, "spectest", "table64", table64)?;
    let (min, max) = spectest::MEMORY_PAGES;
    let memory = Memory::new(&mut *store, MemoryType::new(min, Some(max)))?;
    linker.define(&mut *store, "spectest", "memory", memory)?;
    if shared_memory {
        let shared = SharedMemory::new(linker.engine(), MemoryType::shared(min, max))?;
        linker.define(&mut *store, "spectest", "shared_memory", shared)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_builds_the_knob_variants_it_accepts_and_says_so() {
        for tier in [cranelift::TIER, aot::TIER, pulley::TIER] {
            let variants = swarm(tier, Watchdog::InEngine);
            assert_eq!(variants.len(), Knobs::varied(tier).len(), "{tier:?}");
            assert!(variants[1].version().contains("opt-level=none"));
            crate::testing::check_common_behaviour(variants[3].as_ref());
        }
        let no_signals = Knobs::SWARM[2];
        let rejected = Wasmtime::with_knobs(winch::TIER, no_signals, Watchdog::InEngine);
        assert!(format!("{}", rejected.err().unwrap()).contains("signals-based-traps"));
        assert_eq!(
            swarm(winch::TIER, Watchdog::InEngine).len(),
            Knobs::SWARM.len() - 1
        );
    }

    /// A counter: each call of `bump` adds one to a mutable global and returns it.
    const COUNTER: &str = r#"(module (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
          (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))"#;

    /// What `bump` returns on a fresh instance of [`COUNTER`] in a new session, twice.
    fn bump_in_a_new_session(engine: &Wasmtime, limits: &Limits) -> Vec<Outcome> {
        let mut session = engine.session(limits);
        let module = session.compile(&crate::testing::wat(COUNTER)).unwrap();
        let instance = session.instantiate(module).unwrap();
        (0..2)
            .map(|_| session.invoke(instance, "bump", &[]))
            .collect()
    }

    #[test]
    fn a_later_session_reuses_compiled_code_unless_its_modules_are_one_off() {
        let engine = Wasmtime::new(cranelift::TIER, Watchdog::InEngine);
        let counts = [1, 2].map(|n| Outcome::Values(vec![Value::I32(n)]));
        for limits in [Limits::fuzzing(), Limits::default(), Limits::default()] {
            assert_eq!(bump_in_a_new_session(&engine, &limits), counts);
        }
        let kept = engine.reuse.module(&crate::testing::wat(COUNTER), || {
            panic!("the spec suites' sessions keep what they compile")
        });
        assert!(kept.is_ok());
        let one_off = Wasmtime::new(cranelift::TIER, Watchdog::InEngine);
        bump_in_a_new_session(&one_off, &Limits::fuzzing());
        let compiled = std::cell::Cell::new(false);
        let wasm = crate::testing::wat(COUNTER);
        let _ = one_off.reuse.module(&wasm, || {
            compiled.set(true);
            Module::new(&one_off.engine, &wasm)
        });
        assert!(compiled.get(), "a fuzzing session keeps nothing");
    }

    #[test]
    fn a_gc_heap_that_runs_out_while_instantiating_is_exhausted_memory() {
        let engine = Wasmtime::new(cranelift::TIER, Watchdog::InEngine);
        let limits = Limits {
            memory_bytes: 16 << 20,
            ..Limits::default()
        };
        let mut session = engine.session(&limits);
        let module = session
            .compile(&crate::testing::wat(include_str!(
                "../../../xtask/tests/fixtures/gc_heap_exhausted.wat"
            )))
            .unwrap();
        let outcome = session.instantiate(module).err();
        assert_eq!(outcome, Some(Outcome::Exhausted(Resource::Memory)));
    }
}

#[cfg(test)]
pub(crate) mod smoke {
    //! The checks every wasmtime tier's smoke test runs.
    use super::*;
    use crate::testing::{check_common_behaviour, wat};

    pub fn check_tier(tier: Tier) {
        let engine = Wasmtime::new(tier, Watchdog::InEngine);
        check_common_behaviour(&engine);
        let exn = wat(r#"(module (tag $t (export "t") (param i32 i64))
              (func (export "throw") (throw $t (i32.const 7) (i64.const -1))))"#);
        if (tier.features)().exceptions() {
            let mut session = engine.session(&Limits::default());
            let module = session.compile(&exn).unwrap();
            let instance = session.instantiate(module).unwrap();
            let outcome = session.invoke(instance, "throw", &[]);
            let expected = Exception {
                tag: "t".into(),
                payload: Some(vec![Value::I32(7), Value::I64(-1)]),
            };
            assert_eq!(outcome, Outcome::Exception(expected));
        }
    }
}
