//! Asyncify on wasmi: the import wrapper that lets an instrumented instance unwind at each import call.

use super::unwind::{self, Control};
use std::sync::{Arc, Mutex};
use wasmi::{AsContextMut, Error, Extern, Func, Val};

/// `real`, wrapped for the instance that will carry `tag`.
pub fn wrap<T: 'static>(
    mut store: impl AsContextMut<Data = T>,
    real: Func,
    control: Arc<Control>,
    tag: u64,
) -> Func {
    let ty = real.ty(&store);
    let saved = Mutex::new(None);
    Func::new(&mut store, ty, move |mut caller, params, results| {
        unwind::around_import(
            &mut caller,
            &control,
            tag,
            &saved,
            results,
            |caller, results| real.call(caller, params, results),
        )
    })
}

impl<T> unwind::Caller for wasmi::Caller<'_, T> {
    type Val = Val;
    type Error = Error;

    fn asyncify_state(&mut self) -> Result<Option<i32>, Error> {
        let Some(Extern::Func(get_state)) = self.get_export("asyncify_get_state") else {
            return Ok(None);
        };
        let mut result = [Val::I32(0)];
        get_state.call(&mut *self, &[], &mut result)?;
        Ok(result[0].i32())
    }

    fn asyncify_call(&mut self, export: &str, arg: Option<i32>) -> Result<(), Error> {
        let Some(Extern::Func(func)) = self.get_export(export) else {
            return Err(Self::error(&format!("the module exports no `{export}`")));
        };
        let args: Vec<Val> = arg.into_iter().map(Val::I32).collect();
        func.call(&mut *self, &args, &mut [])
    }

    fn write_header(&mut self) -> Result<(), Error> {
        let Some(Extern::Memory(memory)) = self.get_export(unwind::MEMORY) else {
            return Err(Self::error("the module exports no unwind buffer"));
        };
        let header = unwind::header();
        memory
            .write(&mut *self, unwind::HEADER as usize, &header)
            .map_err(|e| Error::new(e.to_string()))
    }

    fn error(message: &str) -> Error {
        Error::new(format!("asyncify: {message}"))
    }
}
