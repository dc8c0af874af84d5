//! Asyncify on wasmtime: the import wrapper that lets an instrumented instance unwind at each import call.

use super::unwind::{self, Control};
use std::sync::{Arc, Mutex};
use wasmtime::{AsContextMut, Caller, Extern, Func, FuncType, Instance, Module, Val, ValType};

/// `real`, wrapped for the instance that will carry `tag`.
pub fn wrap<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    real: Func,
    control: Arc<Control>,
    tag: u64,
) -> Func {
    let ty = real.ty(&store);
    wrapper(&mut store, ty, control, tag, move |_| Ok(real))
}

/// `real`, a WASI function that reads the calling instance's `memory`,
/// wrapped to unwind: it is called through an [`unwind::trampoline`] instance
/// made on the first call, when the program's memory is known.
pub fn wrap_wasi<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    real: Func,
    control: Arc<Control>,
    tag: u64,
) -> wasmtime::Result<Func> {
    let ty = real.ty(&store);
    let params = names(ty.params())?;
    let results = names(ty.results())?;
    let engine = store.as_context_mut().engine().clone();
    let helper = Module::new(&engine, unwind::trampoline(&params, &results))?;
    let made = Mutex::new(None);
    let target = move |caller: &mut Caller<'_, T>| trampoline(caller, &helper, real, &made);
    Ok(wrapper(&mut store, ty, control, tag, target))
}

/// A host function of type `ty` that calls what `target` picks, through [`unwind::around_import`].
fn wrapper<T: 'static>(
    store: impl AsContextMut<Data = T>,
    ty: FuncType,
    control: Arc<Control>,
    tag: u64,
    target: impl Fn(&mut Caller<'_, T>) -> wasmtime::Result<Func> + Send + Sync + 'static,
) -> Func {
    let saved = Mutex::new(None);
    Func::new(store, ty, move |mut caller, params, results| {
        let call = target(&mut caller)?;
        unwind::around_import(
            &mut caller,
            &control,
            tag,
            &saved,
            results,
            |caller, results| call.call(caller, params, results),
        )
    })
}

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
    let Some(memory) = caller.get_export("memory") else {
        wasmtime::bail!("the program exports no `memory` for WASI");
    };
    let instance = Instance::new(&mut *caller, helper, &[real.into(), memory])?;
    let call = instance.get_func(&mut *caller, "call");
    let call = call.ok_or_else(|| wasmtime::format_err!("the trampoline exports no `call`"))?;
    *made = Some(call);
    Ok(call)
}

impl<T> unwind::Caller for wasmtime::Caller<'_, T> {
    type Val = Val;
    type Error = wasmtime::Error;

    fn asyncify_state(&mut self) -> wasmtime::Result<Option<i32>> {
        let Some(Extern::Func(get_state)) = self.get_export("asyncify_get_state") else {
            return Ok(None);
        };
        let mut result = [Val::I32(0)];
        get_state.call(&mut *self, &[], &mut result)?;
        Ok(result[0].i32())
    }

    fn asyncify_call(&mut self, export: &str, arg: Option<i32>) -> wasmtime::Result<()> {
        let Some(Extern::Func(func)) = self.get_export(export) else {
            return Err(Self::error(&format!("the module exports no `{export}`")));
        };
        let args: Vec<Val> = arg.into_iter().map(Val::I32).collect();
        func.call(&mut *self, &args, &mut [])
    }

    fn write_header(&mut self) -> wasmtime::Result<()> {
        let Some(Extern::Memory(memory)) = self.get_export(unwind::MEMORY) else {
            return Err(Self::error("the module exports no unwind buffer"));
        };
        memory.write(&mut *self, unwind::HEADER as usize, &unwind::header())?;
        Ok(())
    }

    fn error(message: &str) -> wasmtime::Error {
        wasmtime::format_err!("asyncify: {message}")
    }
}
