//! Compiled modules a wasmtime engine keeps, so that a later session compiling the same bytes gets the same code.

use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard};
use wasmtime::Module;

/// Modules kept at most. The spec suites carry the same module in several
/// files (the core tests again in each spec version and proposal): lockstep
/// runs those files one after another, so the modules of a few files suffice.
const MODULES: NonZeroUsize = NonZeroUsize::new(256).expect("not zero");

/// Wasm bytes kept at most, so that a few large modules cannot pin their
/// (larger still) compiled code for the engine's lifetime.
const WASM_BYTES: usize = 8 << 20;

/// One engine's compiled modules, by a digest of their Wasm, least recently used dropped first.
///
/// Rationale: compiling is most of what the spec suites cost, and compiled code
/// is immutable: each instance of a module starts from its definitions, never
/// from what another instance did, so a module compiled once serves every session
/// of the engine that compiled it. Only sessions whose modules recur use it: a
/// fuzzing campaign's would fill it with modules nobody asks for again.
pub(super) struct Reuse {
    kept: Mutex<Kept>,
}

struct Kept {
    /// The most Wasm bytes `modules` may stand for.
    budget: usize,
    /// Each module with the size of its Wasm.
    modules: LruCache<blake3::Hash, (Module, usize)>,
    /// The sizes in `modules`, summed.
    wasm_bytes: usize,
}

impl Reuse {
    pub(super) fn new() -> Reuse {
        Reuse::bounded(MODULES, WASM_BYTES)
    }

    fn bounded(modules: NonZeroUsize, budget: usize) -> Reuse {
        Reuse {
            kept: Mutex::new(Kept {
                budget,
                modules: LruCache::new(modules),
                wasm_bytes: 0,
            }),
        }
    }

    /// The module this engine compiled from `wasm` before, or `compile`d now and kept.
    pub(super) fn module(
        &self,
        wasm: &[u8],
        compile: impl FnOnce() -> wasmtime::Result<Module>,
    ) -> wasmtime::Result<Module> {
        let digest = blake3::hash(wasm);
        if let Some((module, _)) = self.lock().modules.get(&digest) {
            return Ok(module.clone());
        }
        // Compiled without the lock: the sessions of `thread` blocks compile at the same time.
        let module = compile()?;
        self.lock().keep(digest, wasm.len(), module.clone());
        Ok(module)
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Kept {
    fn keep(&mut self, digest: blake3::Hash, size: usize, module: Module) {
        if size > self.budget {
            return;
        }
        if let Some((_, (_, dropped))) = self.modules.push(digest, (module, size)) {
            self.wasm_bytes -= dropped;
        }
        self.wasm_bytes += size;
        while self.wasm_bytes > self.budget {
            match self.modules.pop_lru() {
                Some((_, (_, dropped))) => self.wasm_bytes -= dropped,
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// A module of about `size` bytes, distinct for each `n`.
    fn wasm(n: u32, size: usize) -> Vec<u8> {
        let name = format!("{n:0size$}");
        crate::testing::wat(&format!(r#"(module (func (export "{name}")))"#))
    }

    /// `reuse.module(wasm)`, and whether it compiled.
    fn compiles(reuse: &Reuse, engine: &wasmtime::Engine, wasm: &[u8]) -> bool {
        let compiled = Cell::new(false);
        reuse
            .module(wasm, || {
                compiled.set(true);
                Module::new(engine, wasm)
            })
            .unwrap();
        compiled.get()
    }

    #[test]
    fn the_same_bytes_are_compiled_once_and_give_the_same_module() {
        let engine = wasmtime::Engine::default();
        let reuse = Reuse::new();
        let (first, second) = (wasm(1, 1), wasm(2, 1));
        let original = reuse.module(&first, || Module::new(&engine, &first));
        assert!(compiles(&reuse, &engine, &second));
        assert!(!compiles(&reuse, &engine, &first));
        let again = reuse.module(&first, || unreachable!()).unwrap();
        assert!(Module::same(&again, &original.unwrap()));
    }

    #[test]
    fn the_least_recently_used_go_first_and_the_budget_holds() {
        let engine = wasmtime::Engine::default();
        let reuse = Reuse::bounded(NonZeroUsize::new(2).unwrap(), 1000);
        let [a, b, c] = [1, 2, 3].map(|n| wasm(n, 1));
        for module in [&a, &b, &a, &c] {
            compiles(&reuse, &engine, module);
        }
        assert!(!compiles(&reuse, &engine, &a), "used more recently than b");
        assert!(compiles(&reuse, &engine, &b), "dropped for c");

        let big = wasm(4, 600);
        assert!(compiles(&reuse, &engine, &big));
        assert!(!compiles(&reuse, &engine, &big));
        assert!(compiles(&reuse, &engine, &wasm(5, 600)));
        assert!(
            compiles(&reuse, &engine, &big),
            "two of them exceed the budget"
        );
        assert!(compiles(&reuse, &engine, &wasm(6, 1200)));
        assert!(
            compiles(&reuse, &engine, &wasm(6, 1200)),
            "larger than the budget"
        );
        assert!(reuse.lock().wasm_bytes <= 1000);
    }
}
