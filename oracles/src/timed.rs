//! A layer that adds up the time its base engine spends inside session calls, and counts the modules
//! it compiles: `bench conformance` subtracts the time from a run's wall time to find lockstep's own
//! time per directive, and tests count compilations.

use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session, SharedInstance};
use crate::outcome::{Outcome, State, Unread, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wasmparser::WasmFeatures;

/// The base engine, and what every session of it has done: nanoseconds spent in its calls, modules compiled.
pub struct Timed {
    base: Arc<dyn Engine>,
    tally: Arc<Tally>,
}

/// What the sessions of a [`Timed`] engine add to.
#[derive(Default)]
struct Tally {
    nanos: AtomicU64,
    compiled: AtomicU64,
}

impl Timed {
    pub fn new(base: Arc<dyn Engine>) -> Timed {
        Timed {
            base,
            tally: Arc::default(),
        }
    }

    /// Time inside the base engine since the last call of this method.
    pub fn take_spent(&self) -> Duration {
        Duration::from_nanos(self.tally.nanos.swap(0, Ordering::Relaxed))
    }

    /// Modules the base engine was asked to compile, in every session so far.
    pub fn compiled(&self) -> u64 {
        self.tally.compiled.load(Ordering::Relaxed)
    }
}

impl Engine for Timed {
    fn id(&self) -> &'static str {
        self.base.id()
    }

    fn version(&self) -> String {
        self.base.version()
    }

    fn features(&self) -> WasmFeatures {
        self.base.features()
    }

    fn session(&self, limits: &Limits) -> Box<dyn Session> {
        Box::new(TimedSession {
            base: self.base.session(limits),
            tally: self.tally.clone(),
        })
    }
}

struct TimedSession {
    base: Box<dyn Session>,
    tally: Arc<Tally>,
}

impl TimedSession {
    fn timed<T>(&mut self, call: impl FnOnce(&mut dyn Session) -> T) -> T {
        let started = Instant::now();
        let result = call(self.base.as_mut());
        let nanos = started.elapsed().as_nanos() as u64;
        self.tally.nanos.fetch_add(nanos, Ordering::Relaxed);
        result
    }
}

impl Session for TimedSession {
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome> {
        self.tally.compiled.fetch_add(1, Ordering::Relaxed);
        self.timed(|base| base.compile(wasm))
    }

    fn instantiate(&mut self, module: ModuleId) -> Result<InstanceId, Outcome> {
        self.timed(|base| base.instantiate(module))
    }

    fn register(&mut self, name: &str, instance: InstanceId) {
        self.timed(|base| base.register(name, instance));
    }

    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        self.timed(|base| base.invoke(instance, export, args))
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        self.timed(|base| base.global(instance, export))
    }

    fn state(&mut self, instance: InstanceId) -> Result<State, Unread> {
        self.timed(|base| base.state(instance))
    }

    fn share(&mut self, instance: InstanceId) -> Result<SharedInstance, Outcome> {
        self.timed(|base| base.share(instance))
    }

    fn register_shared(&mut self, name: &str, shared: &SharedInstance) -> Result<(), Outcome> {
        self.timed(|base| base.register_shared(name, shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::wat;

    #[test]
    fn counts_time_inside_the_base_engines_calls_only() {
        let timed = Timed::new(crate::engine("wasmi").expect("built in"));
        let mut session = timed.session(&Limits::default());
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            timed.take_spent() < Duration::from_millis(20),
            "time between calls"
        );
        let module = session
            .compile(&wat(r#"(module (func (export "f")))"#))
            .unwrap();
        let instance = session.instantiate(module).unwrap();
        assert_eq!(session.invoke(instance, "f", &[]), Outcome::Values(vec![]));
        assert!(timed.take_spent() > Duration::ZERO);
        assert_eq!(timed.take_spent(), Duration::ZERO, "taken once");
        assert_eq!(timed.compiled(), 1);
    }
}
