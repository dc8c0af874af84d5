//! wasmi's side of the import hook: function imports wrapped to hand each call to an [`ImportHook`].

use crate::hook::{self, HookFailure, HookedCall, ImportHook};
use std::sync::{Arc, Mutex, MutexGuard};
use wasmi::{AsContextMut, Caller, Error, Extern, Func, FuncType, Instance, Module, Val, ValType};

/// `real`, wrapped to hand each call to `hook` for the instance that will carry `tag`.
pub fn wrap<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    real: Func,
    hook: Arc<dyn ImportHook>,
    tag: u64,
) -> Func {
    let ty = real.ty(&store);
    wrapper(&mut store, ty, hook, tag, move |_| Ok(real))
}

/// `real`, a WASI function that reads the calling instance's memory, wrapped
/// like [`wrap`] but called through a [`hook::trampoline`] instance made on
/// the first call, when the program's memory is known.
pub fn wrap_through_trampoline<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    real: Func,
    hook: Arc<dyn ImportHook>,
    tag: u64,
) -> Result<Func, Error> {
    let ty = real.ty(&store);
    let params = names(ty.params())?;
    let results = names(ty.results())?;
    let engine = store.as_context_mut().engine().clone();
    let helper = Module::new(&engine, hook::trampoline(&params, &results))?;
    let made = Mutex::new(None);
    let target = move |caller: &mut Caller<'_, T>| trampoline(caller, &helper, real, &made);
    Ok(wrapper(&mut store, ty, hook, tag, target))
}

/// A host function of type `ty` that hands each call of what `target` picks to `hook`.
fn wrapper<T: 'static>(
    store: impl AsContextMut<Data = T>,
    ty: FuncType,
    hook: Arc<dyn ImportHook>,
    tag: u64,
    target: impl Fn(&mut Caller<'_, T>) -> Result<Func, Error> + Send + Sync + 'static,
) -> Func {
    let saved = Mutex::new(None);
    Func::new(store, ty, move |mut caller, params, results| {
        let real = target(&mut caller)?;
        let mut call = Call {
            caller: &mut caller,
            real,
            params,
            results,
            saved: &saved,
            error: None,
        };
        match hook.call(tag, &mut call) {
            Ok(()) => Ok(()),
            Err(HookFailure::Engine) => Err(call.error.take().unwrap_or_else(|| {
                Error::new("an import hook failed the call with no engine error")
            })),
            Err(HookFailure::Hook(why)) => Err(Error::new(why)),
        }
    })
}

/// One call of a wrapped import, offered to the hook.
struct Call<'a, 'c, T> {
    caller: &'a mut Caller<'c, T>,
    real: Func,
    params: &'a [Val],
    results: &'a mut [Val],
    saved: &'a Mutex<Option<Vec<Val>>>,
    /// The engine's error behind a [`HookFailure::Engine`].
    error: Option<Error>,
}

impl<T> Call<'_, '_, T> {
    fn engine<R>(&mut self, result: Result<R, Error>) -> Result<R, HookFailure> {
        result.map_err(|error| {
            self.error = Some(error);
            HookFailure::Engine
        })
    }

    /// Locked only for a moment: the real import may call back into this instance and this wrapper.
    fn saved(&self) -> MutexGuard<'_, Option<Vec<Val>>> {
        self.saved
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<T> HookedCall for Call<'_, '_, T> {
    fn call_real(&mut self) -> Result<(), HookFailure> {
        let called = self.real.call(&mut *self.caller, self.params, self.results);
        self.engine(called)
    }

    fn save_results(&mut self) {
        *self.saved() = Some(self.results.to_vec());
    }

    fn replay(&mut self) -> bool {
        let Some(values) = self.saved().take() else {
            return false;
        };
        self.results.clone_from_slice(&values);
        true
    }

    fn call_export(&mut self, name: &str, args: &[i32]) -> Result<Option<Vec<i32>>, HookFailure> {
        let Some(Extern::Func(func)) = self.caller.get_export(name) else {
            return Ok(None);
        };
        let params: Vec<Val> = args.iter().copied().map(Val::I32).collect();
        let mut results = vec![Val::I32(0); func.ty(&*self.caller).results().len()];
        let called = func.call(&mut *self.caller, &params, &mut results);
        self.engine(called)?;
        Ok(Some(results.iter().filter_map(Val::i32).collect()))
    }

    fn write_memory(&mut self, name: &str, offset: u64, bytes: &[u8]) -> Result<bool, HookFailure> {
        let Some(Extern::Memory(memory)) = self.caller.get_export(name) else {
            return Ok(false);
        };
        let written = memory.write(&mut *self.caller, offset as usize, bytes);
        self.engine(written.map_err(|e| Error::new(e.to_string())))?;
        Ok(true)
    }
}

/// Value types as the text format spells them, for the trampoline and re-exporter modules.
pub(crate) fn names(types: &[ValType]) -> Result<Vec<&'static str>, Error> {
    types
        .iter()
        .map(|ty| match ty {
            ValType::I32 => Ok("i32"),
            ValType::I64 => Ok("i64"),
            ValType::F32 => Ok("f32"),
            ValType::F64 => Ok("f64"),
            other => Err(Error::new(format!(
                "no trampoline for a {other:?} parameter"
            ))),
        })
        .collect()
}

/// The trampoline's `call`, instantiated against the caller's memory the first time.
fn trampoline<T>(
    caller: &mut Caller<'_, T>,
    helper: &Module,
    real: Func,
    made: &Mutex<Option<Func>>,
) -> Result<Func, Error> {
    let mut made = made.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(call) = *made {
        return Ok(call);
    }
    let Some(memory) = caller.get_export(hook::PROGRAM_MEMORY) else {
        return Err(Error::new("the program exports no `memory` for WASI"));
    };
    let instance = Instance::new(&mut *caller, helper, &[real.into(), memory])?;
    let call = instance.get_func(&*caller, "call");
    let call = call.ok_or_else(|| Error::new("the trampoline exports no `call`"))?;
    *made = Some(call);
    Ok(call)
}
