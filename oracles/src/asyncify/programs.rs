//! Asyncify tiers for WASI programs: instrumented programs whose WASI calls unwind and rewind, as CRuby on WASI runs.

use super::unwind::{self, Control};
use crate::engine::Limits;
use crate::outcome::{Outcome, Value};
use crate::wasi::{CompiledProgram, Ending, Output, ProgramEngine, ProgramInstance};
use crate::wasmi::wasi::WasmiPrograms;
use crate::wasmtime::{Tier, wasi::WasmtimePrograms};
use std::sync::Arc;
use std::time::Duration;
use wasmparser::WasmFeatures;

/// An Asyncify tier running WASI programs: binaryen instruments, the base tier runs.
pub struct AsyncifyPrograms {
    id: &'static str,
    base: Box<dyn ProgramEngine>,
    features: WasmFeatures,
}

impl AsyncifyPrograms {
    /// `asyncify`: on wasmtime's Cranelift tier.
    pub fn on_wasmtime() -> AsyncifyPrograms {
        AsyncifyPrograms {
            id: "asyncify",
            base: Box::new(WasmtimePrograms::unwinding(Tier::Cranelift)),
            features: base_features("wasmtime-cranelift"),
        }
    }

    /// `asyncify-wasmi`: on wasmi.
    pub fn on_wasmi() -> AsyncifyPrograms {
        AsyncifyPrograms {
            id: "asyncify-wasmi",
            base: Box::new(WasmiPrograms::unwinding()),
            features: base_features("wasmi"),
        }
    }
}

/// The proposals of the built-in base engine, without building another one.
fn base_features(id: &str) -> WasmFeatures {
    crate::engine(id).expect("a built-in engine").features()
}

impl ProgramEngine for AsyncifyPrograms {
    fn id(&self) -> &'static str {
        self.id
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome> {
        let rejection = || self.base.compile(wasm, limits).err();
        let instrumented = super::instrument_for(wasm, self.features, 0, rejection)?;
        self.base.compile(&instrumented, limits)
    }
}

/// A program instance whose WASI calls unwind: every call of an export is
/// resumed after each unwind until it returns for good.
pub struct Unwinding {
    base: Box<dyn ProgramInstance>,
    control: Arc<Control>,
    call_time: Duration,
}

impl Unwinding {
    pub fn new(
        base: Box<dyn ProgramInstance>,
        control: Arc<Control>,
        limits: &Limits,
    ) -> Unwinding {
        Unwinding {
            base,
            control,
            call_time: limits.call_time,
        }
    }
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
