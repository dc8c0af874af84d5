//! wasmi's side of the import hook: function imports wrapped to hand each call to an [`ImportHook`].

use crate::hook::{self, HookFailure, HookedCall, ImportHook};
use std::sync::{Arc, Mutex, MutexGuard};
use wasmi::{AsContextMut, Caller, Error, Extern, Func, FuncType, Val};
#[cfg(feature = "native")]
use wasmi::{Instance, Module, ValType};

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

hook::hooked_call!(
    Error,
    Error::new,
    |e| Error::new(e.to_string()),
    super::metered::nested
);

/// Value types as the text format spells them, for the trampoline and re-exporter modules.
#[cfg(feature = "native")]
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
#[cfg(feature = "native")]
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
