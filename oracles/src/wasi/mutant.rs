//! `mutant:fd-write-byte`: a self-test tier with one planted WASI bug, built on wasmtime-cranelift.
//! One byte the program writes to standard output arrives changed, so that lockstep's own tests, and
//! users checking their setup, can see a wrong `fd_write` found and pointed at.

use super::sandbox::Sandbox;
use super::{CompiledProgram, Ending, Output, ProgramEngine, ProgramInstance};
use crate::engine::Limits;
use crate::hook::ImportHook;
use crate::outcome::{Outcome, Value};
use std::path::Path;
use std::sync::Arc;

pub(super) const ID: &str = "mutant:fd-write-byte";

pub(super) fn create(base: Arc<dyn ProgramEngine>) -> Arc<dyn ProgramEngine> {
    Arc::new(Mutant { base })
}

struct Mutant {
    base: Arc<dyn ProgramEngine>,
}

impl ProgramEngine for Mutant {
    fn id(&self) -> &'static str {
        ID
    }

    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome> {
        let inner = self.base.compile(wasm, limits)?;
        Ok(Box::new(MutantProgram { inner }))
    }
}

struct MutantProgram {
    inner: Box<dyn CompiledProgram>,
}

impl CompiledProgram for MutantProgram {
    fn instantiate(
        &self,
        sandbox: &Sandbox,
        scratch: &Path,
        hook: Option<Arc<dyn ImportHook>>,
    ) -> Result<Box<dyn ProgramInstance>, Outcome> {
        let inner = self.inner.instantiate(sandbox, scratch, hook)?;
        Ok(Box::new(MutantInstance { inner }))
    }
}

struct MutantInstance {
    inner: Box<dyn ProgramInstance>,
}

impl ProgramInstance for MutantInstance {
    fn exports_function(&mut self, name: &str) -> bool {
        self.inner.exports_function(name)
    }

    fn call(&mut self, export: &str, args: &[Value]) -> Ending {
        self.inner.call(export, args)
    }

    fn output(&self) -> Output {
        let mut output = self.inner.output();
        corrupt(&mut output.stdout);
        output
    }
}

/// Flips the lowest bit of the first letter or digit in the second half of
/// what was written: a wrong character in the middle of one line, never a
/// changed line break.
fn corrupt(stdout: &mut [u8]) {
    let middle = stdout.len() / 2;
    if let Some(byte) = stdout[middle..]
        .iter_mut()
        .find(|byte| byte.is_ascii_alphanumeric())
    {
        *byte ^= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_character_in_the_second_half_changes() {
        let mut stdout = b"line 1\nline 2\n".to_vec();
        corrupt(&mut stdout);
        assert_eq!(stdout, b"line 1\nmine 2\n");
    }
}
