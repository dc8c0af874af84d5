//! Asyncify tiers for WASI programs: instrumented programs whose WASI calls unwind and rewind, as CRuby on WASI runs.

use super::unwind::{self, Control};
use crate::engine::Limits;
use crate::hook::ImportHook;
use crate::outcome::{Outcome, Value};
use crate::wasi::sandbox::Sandbox;
use crate::wasi::{CompiledProgram, Ending, Output, ProgramEngine, ProgramInstance};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmparser::WasmFeatures;

/// An Asyncify tier running WASI programs: binaryen instruments, the base tier runs.
pub struct AsyncifyPrograms {
    id: &'static str,
    base: Arc<dyn ProgramEngine>,
    /// The proposals of the base tier's module engine, which binaryen is told.
    features: WasmFeatures,
}

impl AsyncifyPrograms {
    /// The tier `id`, instrumenting for `features` and running on `base`.
    pub fn new(
        id: &'static str,
        base: Arc<dyn ProgramEngine>,
        features: WasmFeatures,
    ) -> AsyncifyPrograms {
        AsyncifyPrograms { id, base, features }
    }
}

impl ProgramEngine for AsyncifyPrograms {
    fn id(&self) -> &'static str {
        self.id
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome> {
        let rejection = || self.base.compile(wasm, limits).err();
        let time = limits.compile_time;
        let request = super::binaryen::Request {
            features: self.features,
            optimize: 0,
            pages: unwind::PROGRAM_PAGES,
        };
        let caching = super::Caching::Cached;
        let instrumented = super::instrument_for(wasm, request, time, caching, rejection)?;
        Ok(Box::new(Instrumented {
            base: self.base.compile(&instrumented, limits)?,
            call_time: limits.call_time,
        }))
    }
}

/// An instrumented program compiled by the base tier.
struct Instrumented {
    base: Box<dyn CompiledProgram>,
    call_time: Duration,
}

impl CompiledProgram for Instrumented {
    /// The base tier's instance, its WASI imports hooked to unwind under a
    /// control of its own. A layer above this one cannot hook it again.
    fn instantiate(
        &self,
        sandbox: &Sandbox,
        scratch: &Path,
        hook: Option<Arc<dyn ImportHook>>,
    ) -> Result<Box<dyn ProgramInstance>, Outcome> {
        if hook.is_some() {
            return Err(Outcome::HarnessFailed(
                "an Asyncify tier's imports are hooked already".into(),
            ));
        }
        let control = Arc::new(Control::new(unwind::PROGRAM_PAGES));
        let base = self
            .base
            .instantiate(sandbox, scratch, Some(control.clone()))?;
        Ok(Box::new(Unwinding {
            base,
            control,
            call_time: self.call_time,
        }))
    }
}

/// A program instance whose WASI calls unwind: every call of an export is
/// resumed after each unwind until it returns for good.
struct Unwinding {
    base: Box<dyn ProgramInstance>,
    control: Arc<Control>,
    call_time: Duration,
}

impl ProgramInstance for Unwinding {
    fn exports_function(&mut self, name: &str) -> bool {
        self.base.exports_function(name)
    }

    fn call(&mut self, export: &str, args: &[Value]) -> Ending {
        let base = &mut self.base;
        unwind::call_resuming(
            &self.control,
            0,
            self.call_time,
            |export, args| base.call(export, args),
            |ending| match ending {
                Ending::Outcome(outcome) => Some(outcome),
                Ending::Exit(_) => None,
            },
            |resource| Ending::Outcome(Outcome::Exhausted(resource)),
            (export, args),
        )
    }

    fn output(&self) -> Output {
        self.base.output()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_commands_and_reactors_on_wasmtime() {
        crate::wasi::testing::check_tier("asyncify");
    }

    #[test]
    fn runs_commands_and_reactors_on_wasmi() {
        crate::wasi::testing::check_tier("asyncify-wasmi");
    }
}
