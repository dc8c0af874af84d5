//! wasmtime's side of the import hook: function imports wrapped to hand each call to an [`ImportHook`].

use crate::hook::{self, HookFailure, HookedCall, ImportHook};
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime::{
    AsContextMut, Caller, Extern, Func, FuncType, Instance, Linker, Module, Store, Val, ValType,
};

/// How a wrapper reaches the real import.
#[derive(Clone, Copy)]
pub enum Reach {
    /// Called straight from the wrapper: for imports that do not read the caller.
    Direct,
    /// Called through a [`hook::trampoline`] sharing the program's memory: for WASI functions.
    Trampoline,
}

/// Instantiates `module` with every function import the linker provides wrapped to call `hook`.
pub fn instantiate<T: 'static>(
    linker: &Linker<T>,
    store: &mut Store<T>,
    module: &Module,
    hook: &Arc<dyn ImportHook>,
    reach: Reach,
) -> wasmtime::Result<Instance> {
    let tag = hook.instance_starting();
    let mut imports = Vec::new();
    for import in module.imports() {
        let Some(item) = linker.get_by_import(&mut *store, &import) else {
            let (module, name) = (import.module(), import.name());
            wasmtime::bail!("unknown import: `{module}::{name}` has not been defined");
        };
        imports.push(match (item, reach) {
            (Extern::Func(real), Reach::Direct) => {
                let ty = real.ty(&*store);
                Extern::Func(wrapper(&mut *store, ty, hook.clone(), tag, move |_| {
                    Ok(real)
                }))
            }
            (Extern::Func(real), Reach::Trampoline) => {
                Extern::Func(through_trampoline(&mut *store, real, hook.clone(), tag)?)
            }
            (other, _) => other,
        });
    }
    let instance = Instance::new(&mut *store, module, &imports)?;
    hook.instance_created(tag);
    Ok(instance)
}

hook::hooked_call!(
    wasmtime::Error,
    |why: String| wasmtime::format_err!("{why}"),
    wasmtime::Error::from,
    |func: Func, caller: &mut Caller<'_, T>, params: &[Val], results: &mut [Val]| func
        .call(caller, params, results)
);

fn names(types: impl Iterator<Item = ValType>) -> wasmtime::Result<Vec<&'static str>> {
    types
        .map(|ty| match ty {
            ValType::I32 => Ok("i32"),
            ValType::I64 => Ok("i64"),
            ValType::F32 => Ok("f32"),
            ValType::F64 => Ok("f64"),
            other => wasmtime::bail!("no trampoline for a {other} parameter"),
        })
        .collect()
}

/// The trampoline's `call`, instantiated against the caller's memory the first time.
fn trampoline<T>(
    caller: &mut Caller<'_, T>,
    helper: &Module,
    real: Func,
    made: &Mutex<Option<Func>>,
) -> wasmtime::Result<Func> {
    let mut made = made.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(call) = *made {
        return Ok(call);
    }
    let Some(memory) = caller.get_export(hook::PROGRAM_MEMORY) else {
        wasmtime::bail!("the program exports no `memory` for WASI");
    };
    let instance = Instance::new(&mut *caller, helper, &[real.into(), memory])?;
    let call = instance.get_func(&mut *caller, "call");
    let call = call.ok_or_else(|| wasmtime::format_err!("the trampoline exports no `call`"))?;
    *made = Some(call);
    Ok(call)
}
