//! The `wasmi` oracle: wasmi's interpreter behind lockstep's engine traits, metered by fuel and the clock.

use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session};
use crate::hook::ImportHook;
use crate::host;
use crate::outcome::{Heap, Outcome, Ref, Resource, State, TrapCode, Unread, Value, digest};
use crate::spectest::{self, ParamType};
use std::collections::HashMap;
use std::sync::Arc;
use wasmi::errors::{ErrorKind, InstantiationError, MemoryError, TableError};
use wasmi::{AsContext, Extern, ExternRef, Func, Nullable, StoreLimits, Val, ValType};
use wasmparser::WasmFeatures;

mod hooked;
mod metered;
#[cfg(feature = "native")]
pub mod wasi;

use metered::{Meter, OutOfTime};

/// The wasmi release lockstep is built against (pinned in the workspace manifest).
const VERSION: &str = "2.0.0";

/// Fuel a start function gets per second of `Limits::instantiate_time` when no fuel budget is given.
///
/// Rationale: wasmi runs a start function inside instantiation, which cannot be paused to read the
/// clock as calls are (see [`metered`]); a fixed tank is the only bound, at wasmi's rate on ordinary
/// instructions.
const START_FUEL_PER_SECOND: u128 = 100_000_000;

type Store = wasmi::Store<StoreLimits>;

/// Importable items: module name, then export name.
type Importables = HashMap<String, HashMap<String, Extern>>;

/// The wasmi engine, compiling eagerly and consuming fuel; each session gets a wasmi engine of its own.
pub struct Wasmi {
    config: wasmi::Config,
}

impl Wasmi {
    pub fn new() -> Self {
        Wasmi { config: config() }
    }
}

impl Default for Wasmi {
    fn default() -> Self {
        Self::new()
    }
}

/// Enables exactly the proposals [`Wasmi::features`] declares.
fn config() -> wasmi::Config {
    let mut config = wasmi::Config::default();
    config
        .floats(true)
        .wasm_mutable_global(true)
        .wasm_saturating_float_to_int(true)
        .wasm_sign_extension(true)
        .wasm_reference_types(true)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_simd(true)
        .wasm_relaxed_simd(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_multi_memory(true)
        .wasm_memory64(true)
        .wasm_custom_page_sizes(true)
        .wasm_wide_arithmetic(true)
        .compilation_mode(wasmi::CompilationMode::Eager)
        .consume_fuel(true);
    config
}

impl Engine for Wasmi {
    fn id(&self) -> &'static str {
        "wasmi"
    }

    fn version(&self) -> String {
        VERSION.to_string()
    }

    fn features(&self) -> WasmFeatures {
        // WASM2 includes the MVP's floats and GC types.
        WasmFeatures::WASM2
            | WasmFeatures::RELAXED_SIMD
            | WasmFeatures::TAIL_CALL
            | WasmFeatures::EXTENDED_CONST
            | WasmFeatures::MULTI_MEMORY
            | WasmFeatures::MEMORY64
            | WasmFeatures::CUSTOM_PAGE_SIZES
            | WasmFeatures::WIDE_ARITHMETIC
    }

    fn session(&self, limits: &Limits) -> Box<dyn Session> {
        Box::new(self.new_session(limits))
    }

    fn session_with_import_hook(
        &self,
        limits: &Limits,
        hook: Arc<dyn ImportHook>,
    ) -> Option<Box<dyn Session>> {
        let mut session = self.new_session(limits);
        session.import_hook = Some(hook);
        Some(Box::new(session))
    }
}

impl Wasmi {
    fn new_session(&self, limits: &Limits) -> WasmiSession {
        // A wasmi engine keeps the code of every module it compiled until it is
        // dropped: one engine per session frees it with the session.
        let engine = wasmi::Engine::new(&self.config);
        let mut store = Store::new(&engine, store_limits(limits));
        // Defined before the limiter is installed: spectest exists whatever the limits.
        let spectest = spectest_exports(&mut store);
        store.limiter(|limits| limits);
        WasmiSession {
            store,
            start_fuel: start_fuel(limits),
            meter: meter(limits),
            modules: Vec::new(),
            instances: Vec::new(),
            importables: HashMap::from([("spectest".to_string(), spectest)]),
            host_functions: limits.host_functions,
            import_hook: None,
        }
    }
}

fn store_limits(limits: &Limits) -> StoreLimits {
    wasmi::StoreLimitsBuilder::new()
        .memory_size(limits.memory_bytes)
        .table_elements(limits.table_elements)
        .instances(limits.instances)
        .build()
}

/// The fuel a start function runs on: the budget given, or what `instantiate_time` buys.
fn start_fuel(limits: &Limits) -> u64 {
    let bought = limits.instantiate_time.as_nanos() * START_FUEL_PER_SECOND / 1_000_000_000;
    limits
        .fuel
        .unwrap_or_else(|| u64::try_from(bought).unwrap_or(u64::MAX))
}

/// What bounds each call: the fuel budget given, or else the call time.
fn meter(limits: &Limits) -> Meter {
    limits
        .fuel
        .map_or(Meter::Time(limits.call_time), Meter::Fuel)
}

/// The `spectest` host module, allocated in `store`.
fn spectest_exports(store: &mut Store) -> HashMap<String, Extern> {
    let mut exports: HashMap<String, Extern> = spectest::PRINTS
        .iter()
        .map(|(name, params)| (name.to_string(), Extern::Func(print_func(store, params))))
        .collect();
    let int = spectest::GLOBAL_INT;
    let float = spectest::GLOBAL_FLOAT;
    let globals = [
        ("global_i32", Val::I32(int)),
        ("global_i64", Val::I64(i64::from(int))),
        ("global_f32", Val::F32((float as f32).into())),
        ("global_f64", Val::F64(float.into())),
    ];
    for (name, value) in globals {
        let global = wasmi::Global::new(&mut *store, value, wasmi::Mutability::Const);
        exports.insert(name.to_string(), Extern::Global(global));
    }
    let (table_min, table_max) = spectest::TABLE_LIMITS;
    let tables = [
        (
            "table",
            wasmi::TableType::new(wasmi::RefType::Func, table_min, Some(table_max)),
        ),
        (
            "table64",
            wasmi::TableType::new64(
                wasmi::RefType::Func,
                table_min.into(),
                Some(table_max.into()),
            ),
        ),
    ];
    for (name, ty) in tables {
        let null = wasmi::Ref::Func(Nullable::Null);
        let table = wasmi::Table::new(&mut *store, ty, null)
            .expect("a spectest table fits in a store without limits");
        exports.insert(name.to_string(), Extern::Table(table));
    }
    let (pages_min, pages_max) = spectest::MEMORY_PAGES;
    let memory_type = wasmi::MemoryType::new(pages_min, Some(pages_max));
    let memory = wasmi::Memory::new(&mut *store, memory_type)
        .expect("the spectest memory fits in a store without limits");
    exports.insert("memory".to_string(), Extern::Memory(memory));
    exports
}

/// A `print*` function: takes `params` and does nothing.
fn print_func(store: &mut Store, params: &[ParamType]) -> Func {
    let params = params.iter().map(|param| match param {
        ParamType::I32 => ValType::I32,
        ParamType::I64 => ValType::I64,
        ParamType::F32 => ValType::F32,
        ParamType::F64 => ValType::F64,
    });
    let ty = wasmi::FuncType::new(params, []);
    Func::new(store, ty, |_caller, _params, _results| Ok(()))
}

/// A deterministic host function (see [`crate::host`]) standing in for a missing import.
fn host_func(store: &mut Store, module: &str, name: &str, ty: wasmi::FuncType) -> Func {
    let answer = host_answer(module, name, &ty);
    Func::new(store, ty, answer)
}

/// A host function's body: lockstep's deterministic answer for import `module.name` of type `ty`.
fn host_answer<T: 'static>(
    module: &str,
    name: &str,
    ty: &wasmi::FuncType,
) -> impl Fn(wasmi::Caller<'_, T>, &[Val], &mut [Val]) -> Result<(), wasmi::Error> + Send + Sync + 'static
{
    let (module, name) = (module.to_string(), name.to_string());
    let result_types: Vec<host::ValType> = ty.results().iter().map(host_type).collect();
    move |caller, params, results| {
        let args: Vec<Value> = params.iter().map(|v| from_wasmi(&caller, v)).collect();
        let answers = host::results(&module, &name, &args, &result_types);
        for (slot, answer) in results.iter_mut().zip(&answers) {
            *slot = host_result(answer);
        }
        Ok(())
    }
}

fn host_type(ty: &ValType) -> host::ValType {
    match ty {
        ValType::I32 => host::ValType::I32,
        ValType::I64 => host::ValType::I64,
        ValType::F32 => host::ValType::F32,
        ValType::F64 => host::ValType::F64,
        ValType::V128 => host::ValType::V128,
        ValType::FuncRef => host::ValType::Ref(Heap::Func),
        ValType::ExternRef => host::ValType::Ref(Heap::Extern),
    }
}

fn host_result(value: &Value) -> Val {
    plain_wasmi(value).unwrap_or(Val::FuncRef(Nullable::Null))
}

/// Numbers and nulls, the values that need no store to create.
fn plain_wasmi(value: &Value) -> Option<Val> {
    Some(match value {
        Value::I32(v) => Val::I32(*v),
        Value::I64(v) => Val::I64(*v),
        Value::F32(bits) => Val::F32(wasmi::F32::from_bits(*bits)),
        Value::F64(bits) => Val::F64(wasmi::F64::from_bits(*bits)),
        Value::V128(v) => Val::V128(wasmi::V128::from(*v)),
        Value::Ref(Ref::Null(Heap::Func)) => Val::FuncRef(Nullable::Null),
        Value::Ref(Ref::Null(Heap::Extern)) => Val::ExternRef(Nullable::Null),
        _ => return None,
    })
}

/// A store with its modules, instances, and the names instances are registered under.
struct WasmiSession {
    store: Store,
    /// The fuel every instantiation starts with.
    start_fuel: u64,
    /// What bounds each call.
    meter: Meter,
    modules: Vec<wasmi::Module>,
    instances: Vec<wasmi::Instance>,
    importables: Importables,
    /// Whether unresolved function imports get deterministic host functions.
    host_functions: bool,
    /// Set by a layer: every function import hands its calls to this hook.
    import_hook: Option<Arc<dyn ImportHook>>,
}

impl WasmiSession {
    fn instance(&self, id: InstanceId) -> Result<wasmi::Instance, Outcome> {
        let instance = self.instances.get(id.0).copied();
        instance.ok_or_else(|| harness_failure(format!("unknown instance {id:?}")))
    }

    fn refuel_for_start(&mut self) -> Result<(), Outcome> {
        let fuel = self.store.set_fuel(self.start_fuel);
        fuel.map_err(|error| harness_failure(format!("setting fuel: {error}")))
    }

    /// The items `module` imports, in import order; a missing one makes it
    /// unlinkable, unless it is a function and host functions are on.
    fn resolve_imports(&mut self, module: &wasmi::Module) -> Result<Vec<Extern>, Outcome> {
        let mut resolved = Vec::new();
        for import in module.imports() {
            let (module_name, name) = (import.module(), import.name());
            let known = self
                .importables
                .get(module_name)
                .and_then(|exports| exports.get(name));
            let item = match (known, import.ty()) {
                (Some(item), _) => *item,
                (None, wasmi::ExternType::Func(ty)) if self.host_functions => {
                    Extern::Func(host_func(&mut self.store, module_name, name, ty.clone()))
                }
                _ => {
                    return Err(Outcome::Unlinkable(format!(
                        "unknown import {module_name}.{name}"
                    )));
                }
            };
            resolved.push(item);
        }
        Ok(resolved)
    }

    fn call(
        &mut self,
        instance: InstanceId,
        export: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, Outcome> {
        let func = self.instance(instance)?.get_func(&self.store, export);
        let func = func.ok_or_else(|| harness_failure(format!("no exported function {export}")))?;
        let args = args
            .iter()
            .map(|arg| to_wasmi(&mut self.store, arg))
            .collect::<Result<Vec<_>, _>>()?;
        let func_type = func.ty(&self.store);
        let mut results: Vec<Val> = func_type
            .results()
            .iter()
            .map(|ty| Val::default_for_ty(*ty))
            .collect();
        metered::call(func, &mut self.store, &args, &mut results, self.meter)
            .map_err(|error| execution_failure(&error))?;
        let values = results.iter().map(|result| from_wasmi(&self.store, result));
        Ok(values.collect())
    }

    fn read_global(&self, instance: InstanceId, export: &str) -> Result<Value, Outcome> {
        let global = self.instance(instance)?.get_global(&self.store, export);
        let global =
            global.ok_or_else(|| harness_failure(format!("no exported global {export}")))?;
        Ok(from_wasmi(&self.store, &global.get(&self.store)))
    }
}

impl Session for WasmiSession {
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome> {
        // `Module::new` would also accept the text format; lockstep compiles binaries only.
        if !wasm.starts_with(b"\0asm") {
            return Err(Outcome::Malformed("magic header not detected".to_string()));
        }
        let module = wasmi::Module::new(self.store.engine(), wasm).map_err(rejection)?;
        self.modules.push(module);
        Ok(ModuleId(self.modules.len() - 1))
    }

    fn instantiate(&mut self, id: ModuleId) -> Result<InstanceId, Outcome> {
        let module = self.modules.get(id.0).cloned();
        let module = module.ok_or_else(|| harness_failure(format!("unknown module {id:?}")))?;
        let mut imports = self.resolve_imports(&module)?;
        let hooking = self
            .import_hook
            .clone()
            .map(|hook| (hook.instance_starting(), hook));
        if let Some((tag, hook)) = &hooking {
            for import in &mut imports {
                if let Extern::Func(real) = *import {
                    *import = Extern::Func(hooked::wrap(&mut self.store, real, hook.clone(), *tag));
                }
            }
        }
        self.refuel_for_start()?;
        let instance = wasmi::Instance::new(&mut self.store, &module, &imports)
            .map_err(|error| instantiation_failure(&error))?;
        if let Some((tag, hook)) = hooking {
            hook.instance_created(tag);
        }
        self.instances.push(instance);
        Ok(InstanceId(self.instances.len() - 1))
    }

    fn register(&mut self, name: &str, instance: InstanceId) {
        let instance = *self
            .instances
            .get(instance.0)
            .expect("lockstep registers only instances this session created");
        let exports = instance
            .exports(&self.store)
            .map(|export| (export.name().to_string(), export.into_extern()))
            .collect();
        self.importables.insert(name.to_string(), exports);
    }

    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        let values = self.call(instance, export, args);
        values.map_or_else(|outcome| outcome, Outcome::Values)
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        let value = self.read_global(instance, export);
        value.map_or_else(|outcome| outcome, |value| Outcome::Values(vec![value]))
    }

    fn state(&mut self, instance: InstanceId) -> Result<State, Unread> {
        let mut state = State::default();
        let Ok(instance) = self.instance(instance) else {
            return Err(Unread::UnknownInstance);
        };
        for export in instance.exports(&self.store) {
            let name = export.name().to_string();
            match export.into_extern() {
                Extern::Global(global) => {
                    let value = from_wasmi(&self.store, &global.get(&self.store));
                    state.globals.push((name, value));
                }
                Extern::Memory(memory) => {
                    let data = memory.data(&self.store);
                    state.memories.push((name, data.len() as u64, digest(data)));
                }
                Extern::Table(table) => {
                    let size = table.size(&self.store);
                    let nulls: Vec<u8> = (0..size)
                        .map(|i| table.get(&self.store, i).is_none_or(|r| r.is_null()) as u8)
                        .collect();
                    state.tables.push((name, size, digest(&nulls)));
                }
                Extern::Func(_) => {}
            }
        }
        Ok(state.sorted())
    }
}

fn to_wasmi(store: &mut Store, value: &Value) -> Result<Val, Outcome> {
    match (plain_wasmi(value), value) {
        (Some(val), _) => Ok(val),
        (None, Value::Ref(Ref::Extern(Some(n)))) => Ok(Val::ExternRef(Nullable::Val(
            ExternRef::new(&mut *store, *n),
        ))),
        (None, other) => Err(harness_failure(format!(
            "wasmi cannot take argument {other}"
        ))),
    }
}

fn from_wasmi(store: impl AsContext, value: &Val) -> Value {
    match value {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(v) => Value::F32(v.to_bits()),
        Val::F64(v) => Value::F64(v.to_bits()),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(Nullable::Null) => Value::Ref(Ref::Null(Heap::Func)),
        Val::FuncRef(Nullable::Val(_)) => Value::Ref(Ref::Func),
        Val::ExternRef(Nullable::Null) => Value::Ref(Ref::Null(Heap::Extern)),
        Val::ExternRef(Nullable::Val(extern_ref)) => {
            let payload = extern_ref
                .data(store.as_context())
                .downcast_ref::<u32>()
                .copied();
            Value::Ref(Ref::Extern(payload))
        }
    }
}

/// A module wasmi would not compile.
fn rejection(error: wasmi::Error) -> Outcome {
    match error.kind() {
        ErrorKind::ImplementationLimits(_) => Outcome::Unsupported(error.to_string()),
        _ => Outcome::Invalid(error.to_string()),
    }
}

/// Why an instantiation failed: linking, a resource limit, or a trap while initializing.
fn instantiation_failure(error: &wasmi::Error) -> Outcome {
    use InstantiationError as Failure;
    match error.kind() {
        ErrorKind::Instantiation(Failure::ElementSegmentDoesNotFit { .. }) => {
            Outcome::trap(TrapCode::TableOutOfBounds, error.to_string())
        }
        ErrorKind::Instantiation(
            Failure::TooManyInstances
            | Failure::TooManyTables
            | Failure::TooManyMemories
            | Failure::FailedToInstantiateMemory(_)
            | Failure::FailedToInstantiateTable(_),
        ) => Outcome::Exhausted(Resource::Memory),
        ErrorKind::Instantiation(_) | ErrorKind::Linker(_) => {
            Outcome::Unlinkable(error.to_string())
        }
        _ => execution_failure(error),
    }
}

/// Why running Wasm (a call or a start function) failed.
fn execution_failure(error: &wasmi::Error) -> Outcome {
    if error.downcast_ref::<OutOfTime>().is_some() {
        return Outcome::Exhausted(Resource::Time);
    }
    if let Some(code) = error.as_trap_code() {
        return trap(code, error.to_string());
    }
    match error.kind() {
        ErrorKind::Host(_) | ErrorKind::Message(_) | ErrorKind::I32ExitStatus(_) => {
            Outcome::trap(TrapCode::Host, error.to_string())
        }
        ErrorKind::Func(_) => harness_failure(format!("arguments do not match: {error}")),
        ErrorKind::Memory(
            MemoryError::OutOfSystemMemory | MemoryError::ResourceLimiterDeniedAllocation,
        )
        | ErrorKind::Table(
            TableError::OutOfSystemMemory | TableError::ResourceLimiterDeniedAllocation,
        ) => Outcome::Exhausted(Resource::Memory),
        _ => Outcome::trap(TrapCode::Other, error.to_string()),
    }
}

fn trap(code: wasmi::TrapCode, message: String) -> Outcome {
    use wasmi::TrapCode as Wasmi;
    let code = match code {
        Wasmi::StackOverflow => return Outcome::Exhausted(Resource::Stack),
        Wasmi::OutOfFuel => return Outcome::Exhausted(Resource::Fuel),
        Wasmi::GrowthOperationLimited | Wasmi::OutOfSystemMemory => {
            return Outcome::Exhausted(Resource::Memory);
        }
        Wasmi::UnreachableCodeReached => TrapCode::Unreachable,
        Wasmi::MemoryOutOfBounds => TrapCode::MemoryOutOfBounds,
        Wasmi::TableOutOfBounds => TrapCode::TableOutOfBounds,
        Wasmi::IndirectCallToNull => TrapCode::IndirectCallToNull,
        Wasmi::IntegerDivisionByZero => TrapCode::IntegerDivideByZero,
        Wasmi::IntegerOverflow => TrapCode::IntegerOverflow,
        Wasmi::BadConversionToInteger => TrapCode::InvalidConversionToInteger,
        Wasmi::BadSignature => TrapCode::IndirectCallTypeMismatch,
    };
    Outcome::trap(code, message)
}

fn harness_failure(message: String) -> Outcome {
    Outcome::HarnessFailed(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_common_behaviour, wat};
    use std::time::Duration;

    fn session(call_time: Duration) -> Box<dyn Session> {
        let limits = Limits {
            call_time,
            ..Limits::default()
        };
        Wasmi::new().session(&limits)
    }

    fn instantiate(session: &mut Box<dyn Session>, text: &str) -> InstanceId {
        let module = session.compile(&wat(text)).expect("test module compiles");
        session
            .instantiate(module)
            .expect("test module instantiates")
    }

    #[test]
    fn behaves_like_every_engine() {
        check_common_behaviour(&Wasmi::new());
    }

    const SPIN: &str = r#"(module (func (export "spin") (loop (br 0))))"#;

    /// Counts down from its argument; returns how often it looped.
    const COUNT: &str = r#"(module (func (export "count") (param i32) (result i32) (local i32)
        (loop (local.set 1 (i32.add (local.get 1) (i32.const 1)))
              (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
        (local.get 1)))"#;

    #[test]
    fn an_endless_loop_runs_out_of_time_once_its_call_time_has_passed() {
        let call_time = Duration::from_millis(300);
        let mut session = session(call_time);
        let instance = instantiate(&mut session, SPIN);
        let started = std::time::Instant::now();
        let outcome = session.invoke(instance, "spin", &[]);
        assert_eq!(outcome, Outcome::Exhausted(Resource::Time));
        assert!(started.elapsed() >= call_time, "{:?}", started.elapsed());
    }

    #[test]
    fn a_fuel_budget_ends_an_endless_loop_as_out_of_fuel() {
        let limits = Limits {
            fuel: Some(1_000_000),
            ..Limits::default()
        };
        let mut session = Wasmi::new().session(&limits);
        let instance = instantiate(&mut session, SPIN);
        let outcome = session.invoke(instance, "spin", &[]);
        assert_eq!(outcome, Outcome::Exhausted(Resource::Fuel));
    }

    #[test]
    fn a_call_longer_than_many_slices_of_fuel_finishes_with_its_result() {
        let mut session = session(Duration::from_secs(60));
        let instance = instantiate(&mut session, COUNT);
        let loops = 40_000_000;
        let outcome = session.invoke(instance, "count", &[Value::I32(loops)]);
        assert_eq!(outcome, Outcome::Values(vec![Value::I32(loops)]));
    }

    #[test]
    fn externrefs_keep_their_payload() {
        let mut session = session(Duration::from_secs(1));
        let text =
            r#"(module (func (export "id") (param externref) (result externref) (local.get 0)))"#;
        let instance = instantiate(&mut session, text);
        let seven = Value::Ref(Ref::Extern(Some(7)));
        assert_eq!(
            session.invoke(instance, "id", std::slice::from_ref(&seven)),
            Outcome::Values(vec![seven])
        );
    }

    #[test]
    fn every_spectest_item_links() {
        let mut session = session(Duration::from_secs(1));
        instantiate(
            &mut session,
            r#"(module
              (import "spectest" "print_f64_f64" (func (param f64 f64)))
              (import "spectest" "global_f32" (global f32))
              (import "spectest" "table" (table 10 20 funcref))
              (import "spectest" "table64" (table i64 10 20 funcref))
              (import "spectest" "memory" (memory 1 2)))"#,
        );
    }

    #[test]
    fn a_later_registration_shadows_an_earlier_one() {
        let mut session = session(Duration::from_secs(1));
        let first = instantiate(
            &mut session,
            r#"(module (global (export "g") i32 (i32.const 1)))"#,
        );
        let second = instantiate(
            &mut session,
            r#"(module (global (export "h") i32 (i32.const 2)))"#,
        );
        session.register("M", first);
        session.register("M", second);
        let stale = session.compile(&wat(r#"(module (import "M" "g" (global i32)))"#));
        let stale = stale.expect("valid module");
        assert!(matches!(
            session.instantiate(stale),
            Err(Outcome::Unlinkable(_))
        ));
        instantiate(&mut session, r#"(module (import "M" "h" (global i32)))"#);
    }
}
