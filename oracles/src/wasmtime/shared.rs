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

#[cfg(test)]
mod tests {
    use super::super::{Wasmtime, cranelift};
    use crate::testing::wat;
    use crate::{Engine, Limits, Session, Value, Watchdog};

    const OWNER: &str = r#"(module (memory (export "shared") 1 1 shared)
        (func (export "put") (i32.atomic.store (i32.const 8) (i32.const 42))))"#;
    const READER: &str = r#"(module (memory (import "mem" "shared") 1 1 shared)
        (func (export "get") (result i32) (i32.atomic.load (i32.const 8))))"#;

    fn instantiate(session: &mut dyn Session, text: &str) -> crate::InstanceId {
        let module = session.compile(&wat(text)).unwrap();
        session.instantiate(module).unwrap()
    }

    #[test]
    fn a_shared_memory_written_in_one_session_is_read_in_another_on_another_thread() {
        let engine = Wasmtime::new(cranelift::TIER, Watchdog::InEngine);
        let mut owner = engine.session(&Limits::default());
        let instance = instantiate(owner.as_mut(), OWNER);
        let put = owner.invoke(instance, "put", &[]);
        assert_eq!(put, crate::Outcome::Values(Vec::new()));
        let shared = owner.share(instance).unwrap();
        let read = std::thread::scope(|scope| {
            let reader = scope.spawn(|| {
                let mut reader = engine.session(&Limits::default());
                reader.register_shared("mem", &shared).unwrap();
                let instance = instantiate(reader.as_mut(), READER);
                reader.invoke(instance, "get", &[])
            });
            reader.join().unwrap()
        });
        assert_eq!(read, crate::Outcome::Values(vec![Value::I32(42)]));
    }

    #[test]
    fn shared_memories_do_not_cross_to_another_engine() {
        let mut owner =
            Wasmtime::new(cranelift::TIER, Watchdog::InEngine).session(&Limits::default());
        let instance = instantiate(owner.as_mut(), OWNER);
        let shared = owner.share(instance).unwrap();
        let mut other =
            Wasmtime::new(cranelift::TIER, Watchdog::InEngine).session(&Limits::default());
        let refused = other.register_shared("mem", &shared).unwrap_err();
        assert!(
            matches!(refused, crate::Outcome::Unsupported(_)),
            "{refused}"
        );
    }
}
