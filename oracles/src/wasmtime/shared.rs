//! Shared memories handed from one wasmtime session to another on another thread, for `.wast` `thread` blocks.

use crate::engine::SharedInstance;
use crate::outcome::Outcome;
use wasmtime::{Extern, Instance, Linker, SharedMemory, Store};

/// What crosses to another store: an instance's shared memories by export
/// name, with the engine they belong to (a `SharedMemory` only links into
/// stores of that engine).
struct SharedMemories {
    engine: wasmtime::Engine,
    memories: Vec<(String, SharedMemory)>,
}

/// The shared memories `instance` exports; its functions, globals, tables and
/// unshared memories belong to `store` and stay there.
pub(super) fn share<T>(store: &mut Store<T>, instance: Instance) -> SharedInstance {
    let memories = instance
        .exports(&mut *store)
        .filter_map(|export| {
            let name = export.name().to_string();
            match export.into_extern() {
                Extern::SharedMemory(memory) => Some((name, memory)),
                _ => None,
            }
        })
        .collect();
    SharedInstance::new(SharedMemories {
        engine: store.engine().clone(),
        memories,
    })
}

/// Defines the shared memories of `shared` in `linker` under module name `name`.
pub(super) fn register<T>(
    linker: &mut Linker<T>,
    store: &mut Store<T>,
    name: &str,
    shared: &SharedInstance,
) -> Result<(), Outcome> {
    let Some(exports) = shared
        .get::<SharedMemories>()
        .filter(|exports| wasmtime::Engine::same(&exports.engine, store.engine()))
    else {
        return Err(Outcome::Unsupported(
            "the shared instance comes from another engine".into(),
        ));
    };
    for (export, memory) in &exports.memories {
        linker
            .define(&mut *store, name, export, memory.clone())
            .map_err(|e| Outcome::HarnessFailed(format!("defining {name}.{export}: {e:?}")))?;
    }
    Ok(())
}
