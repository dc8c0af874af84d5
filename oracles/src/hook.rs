//! The import hook: how a layer (Asyncify) wraps every function import of a base engine's instances, in engine-neutral terms.
//!
//! A base engine that supports hooks wraps each function import of an
//! instance it creates in a host function that hands the call to the hook
//! ([`ImportHook::call`]) as a [`HookedCall`]. The hook decides whether and
//! when the real import runs, and may call the calling instance's exports and
//! write its memories around it. The engine knows nothing of what the hook is for.

/// A callback around every function import call of the instances one session creates.
pub trait ImportHook: Send + Sync {
    /// An instance is about to be created: its wrapped imports carry the tag returned.
    fn instance_starting(&self) -> u64;
    /// The instance with `tag` was created, as the session's next instance.
    fn instance_created(&self, tag: u64);
    /// One call of a wrapped import of the instance with `tag`.
    fn call(&self, tag: u64, call: &mut dyn HookedCall) -> Result<(), HookFailure>;
}

/// One call of a wrapped import, as the engine running it offers it to an [`ImportHook`].
pub trait HookedCall {
    /// Runs the real import with the call's arguments; its results become the call's.
    fn call_real(&mut self) -> Result<(), HookFailure>;
    /// Keeps the call's results in the wrapper, for a later call's [`HookedCall::replay`].
    fn save_results(&mut self);
    /// Makes the results the wrapper saved last this call's; `false` when none were saved.
    fn replay(&mut self) -> bool;
    /// Calls the calling instance's function export `name`, whose parameters
    /// and results are all `i32`; `None` when it exports no such function.
    fn call_export(&mut self, name: &str, args: &[i32]) -> Result<Option<Vec<i32>>, HookFailure>;
    /// Writes `bytes` at `offset` into the calling instance's exported memory
    /// `name`; `false` when it exports no such memory.
    fn write_memory(&mut self, name: &str, offset: u64, bytes: &[u8]) -> Result<bool, HookFailure>;
}

/// Why a hooked call failed.
#[derive(Debug, PartialEq, Eq)]
pub enum HookFailure {
    /// The engine failed (the real import or an export trapped, an exit): the
    /// engine kept its own error and reports it as the call's.
    Engine,
    /// The hook's own reason, reported as the call's error.
    Hook(String),
}

/// One function import, by module, name and value type names as the text format spells them.
pub struct FuncImport<'a> {
    pub module: &'a str,
    pub name: &'a str,
    pub params: Vec<&'static str>,
    pub results: Vec<&'static str>,
}

/// A module that imports `imports` and exports the `i`th as `"i"`: instantiated
/// by a linker, it hands out the linker's host functions as plain functions.
pub fn reexporter(imports: &[FuncImport<'_>]) -> String {
    let mut text = String::from("(module");
    for import in imports {
        text += &format!(
            "\n  (import {:?} {:?} (func (param {}) (result {})))",
            import.module,
            import.name,
            import.params.join(" "),
            import.results.join(" ")
        );
    }
    for index in 0..imports.len() {
        text += &format!("\n  (export \"{index}\" (func {index}))");
    }
    text + ")"
}

/// A module that calls its import `m.f` (of type `params -> results`, value
/// type names as the text format spells them) from its export `call`, and
/// re-exports the memory it imports as `m.memory`.
///
/// A host function called by another host function sees no calling instance;
/// WASI functions find the program's memory through theirs. Called by a hook
/// through this trampoline, whose memory is the program's, they see it again.
pub fn trampoline(params: &[&str], results: &[&str]) -> String {
    let locals: String = (0..params.len())
        .map(|i| format!(" local.get {i}"))
        .collect();
    let signature = format!(
        "(param {}) (result {})",
        params.join(" "),
        results.join(" ")
    );
    format!(
        r#"(module
  (import "m" "f" (func $f {signature}))
  (import "m" "memory" (memory 0))
  (export "memory" (memory 0))
  (func (export "call") {signature}{locals} call $f))"#
    )
}

/// The memory a WASI program exports for its imports to read, which a trampoline imports.
pub const PROGRAM_MEMORY: &str = "memory";

/// The engine-API side of a hooked import, written once for every engine: the
/// wrapper host function, the trampoline wrapper and the call it offers the hook.
/// It expands in an engine's hook file, where `Caller`, `Func`, `FuncType`, `Val`,
/// `Extern`, `Module`, `AsContextMut`, `Mutex` and `MutexGuard` name that engine's
/// types, and `names` and `trampoline` are its own helpers. `$error`
/// is the engine's error type, `$message` makes one from a `String`,
/// `$memory_error` turns a failed memory write into one, and `$nested(func, caller,
/// params, results)` calls Wasm from inside the wrapper, as the engine meters such calls.
macro_rules! hooked_call {
    ($error:ty, $message:expr, $memory_error:expr, $nested:expr) => {
        /// `real`, a WASI function that reads the calling instance's memory, wrapped like
        /// `wrapper` but called through a [`hook::trampoline`] instance made on the first
        /// call, when the program's memory is known.
        #[cfg(feature = "native")]
        pub(crate) fn through_trampoline<T: 'static>(
            mut store: impl AsContextMut<Data = T>,
            real: Func,
            hook: Arc<dyn ImportHook>,
            tag: u64,
        ) -> Result<Func, $error> {
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
            target: impl Fn(&mut Caller<'_, T>) -> Result<Func, $error> + Send + Sync + 'static,
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
                        ($message)(
                            "an import hook failed the call with no engine error".to_string(),
                        )
                    })),
                    Err(HookFailure::Hook(why)) => Err(($message)(why)),
                }
            })
        }

        /// One call of a wrapped import, offered to the hook.
        struct Call<'a, 'c, T: 'static> {
            caller: &'a mut Caller<'c, T>,
            real: Func,
            params: &'a [Val],
            results: &'a mut [Val],
            saved: &'a Mutex<Option<Vec<Val>>>,
            /// The engine's error behind a [`HookFailure::Engine`].
            error: Option<$error>,
        }

        impl<T> Call<'_, '_, T> {
            fn engine<R>(&mut self, result: Result<R, $error>) -> Result<R, HookFailure> {
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
                let called = ($nested)(self.real, &mut *self.caller, self.params, self.results);
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

            fn call_export(
                &mut self,
                name: &str,
                args: &[i32],
            ) -> Result<Option<Vec<i32>>, HookFailure> {
                let Some(Extern::Func(func)) = self.caller.get_export(name) else {
                    return Ok(None);
                };
                let params: Vec<Val> = args.iter().copied().map(Val::I32).collect();
                let mut results = vec![Val::I32(0); func.ty(&*self.caller).results().len()];
                let called = ($nested)(func, &mut *self.caller, &params, &mut results);
                self.engine(called)?;
                Ok(Some(results.iter().filter_map(Val::i32).collect()))
            }

            fn write_memory(
                &mut self,
                name: &str,
                offset: u64,
                bytes: &[u8],
            ) -> Result<bool, HookFailure> {
                let Some(Extern::Memory(memory)) = self.caller.get_export(name) else {
                    return Ok(false);
                };
                let written = memory.write(&mut *self.caller, offset as usize, bytes);
                self.engine(written.map_err($memory_error))?;
                Ok(true)
            }
        }
    };
}
pub(crate) use hooked_call;
