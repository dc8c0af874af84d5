//! Differential execution: one module and a sequence of calls on several engines, compared step by step.

use crate::compare::{Observation, Verdict, compare};
use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session};
use crate::features::{self, Requirement};
use crate::outcome::{Outcome, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wasmparser::WasmFeatures;

/// One call of an export, with the outcome a generator knows it must have.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invocation {
    pub export: String,
    pub args: Vec<Value>,
    pub expected: Option<Outcome>,
}

/// One step (compile, instantiate, or a call) as every engine saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `compile`, `instantiate`, or `export(args)`.
    pub label: String,
    pub observations: Vec<Observation>,
    pub verdict: Verdict,
}

/// Everything a differential run saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub steps: Vec<Step>,
    /// Where each engine's time went, in engine order.
    pub timings: Vec<Timing>,
}

/// Seconds one engine spent compiling and instantiating, and running calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub compile: f64,
    pub run: f64,
}

impl Run {
    /// The first divergent step, if any.
    pub fn divergence(&self) -> Option<(usize, &Step)> {
        self.steps
            .iter()
            .enumerate()
            .find(|(_, step)| matches!(step.verdict, Verdict::Diverge(_)))
    }

    pub fn is_inconclusive(&self) -> bool {
        self.steps
            .iter()
            .all(|s| !matches!(s.verdict, Verdict::Agree))
    }
}

/// The engine id under which a generator's known outcome takes part in comparisons.
pub const EXPECTED: &str = "expected";

/// Where one engine stands while the steps go by.
enum Progress {
    Compiled(Box<dyn Session>, ModuleId),
    Instantiated(Box<dyn Session>, InstanceId),
    /// The module stopped here (rejected, unlinkable, unsupported); later steps repeat this outcome.
    Stopped(Outcome),
}

/// Runs `wasm` on every engine: compile, instantiate, then each invocation,
/// comparing outcomes and the state each call leaves behind.
pub fn run(
    engines: &[Arc<dyn Engine>],
    wasm: &[u8],
    invocations: &[Invocation],
    limits: &Limits,
) -> Run {
    let tail_calls = uses_tail_calls(wasm);
    let mut timings = vec![Timing::default(); engines.len()];
    let mut clocks = Clocks(&mut timings);
    let mut progress: Vec<Progress> = engines
        .iter()
        .enumerate()
        .map(|(i, engine)| clocks.compile(i, || start(engine.as_ref(), wasm, limits)))
        .collect();
    let mut steps = vec![step(
        "compile".into(),
        observe_all(engines, &progress),
        false,
    )];
    for (i, state) in progress.iter_mut().enumerate() {
        clocks.compile(i, || instantiate(state));
    }
    steps.push(step(
        "instantiate".into(),
        observe_all(engines, &progress),
        false,
    ));
    for invocation in invocations {
        let mut observations = Vec::with_capacity(engines.len() + 1);
        for (i, (engine, state)) in engines.iter().zip(progress.iter_mut()).enumerate() {
            observations.push(clocks.run(i, || call(engine.id(), state, invocation)));
        }
        if let Some(expected) = &invocation.expected {
            observations.push(Observation {
                engine: EXPECTED.into(),
                outcome: expected.clone(),
                state: None,
            });
        }
        steps.push(step(label(invocation), observations, tail_calls));
    }
    Run { steps, timings }
}

/// Adds the time each engine spends to its totals.
struct Clocks<'a>(&'a mut [Timing]);

impl Clocks<'_> {
    fn compile<T>(&mut self, engine: usize, work: impl FnOnce() -> T) -> T {
        let (result, seconds) = timed(work);
        self.0[engine].compile += seconds;
        result
    }

    fn run<T>(&mut self, engine: usize, work: impl FnOnce() -> T) -> T {
        let (result, seconds) = timed(work);
        self.0[engine].run += seconds;
        result
    }
}

fn timed<T>(work: impl FnOnce() -> T) -> (T, f64) {
    let started = std::time::Instant::now();
    let result = work();
    (result, started.elapsed().as_secs_f64())
}

/// `export(arg, …)`, for tables and reports.
pub fn label(invocation: &Invocation) -> String {
    let args: Vec<String> = invocation.args.iter().map(Value::to_string).collect();
    format!("{}({})", invocation.export, args.join(", "))
}

fn step(label: String, observations: Vec<Observation>, tail_calls: bool) -> Step {
    let verdict = compare(&observations, tail_calls);
    Step {
        label,
        observations,
        verdict,
    }
}

/// Whether the module uses `return_call*`: it does if it needs the tail-call proposal.
fn uses_tail_calls(wasm: &[u8]) -> bool {
    let all = features::all();
    features::validates(wasm, all) && !features::validates(wasm, all - WasmFeatures::TAIL_CALL)
}

fn start(engine: &dyn Engine, wasm: &[u8], limits: &Limits) -> Progress {
    if let Requirement::Missing(needed) = features::requirement(wasm, engine.features()) {
        let needed = features::names(needed).join(", ");
        return Progress::Stopped(Outcome::Unsupported(format!("needs {needed}")));
    }
    let mut session = engine.session(limits);
    match session.compile(wasm) {
        Ok(module) => Progress::Compiled(session, module),
        Err(outcome) => Progress::Stopped(outcome),
    }
}

fn instantiate(state: &mut Progress) {
    let current = std::mem::replace(state, Progress::Stopped(Outcome::Values(Vec::new())));
    *state = match current {
        Progress::Compiled(mut session, module) => match session.instantiate(module) {
            Ok(instance) => Progress::Instantiated(session, instance),
            Err(outcome) => Progress::Stopped(outcome),
        },
        other => other,
    };
}

/// What each engine's module-level step did: completed (no values), or the outcome it stopped with.
fn observe_all(engines: &[Arc<dyn Engine>], progress: &[Progress]) -> Vec<Observation> {
    engines
        .iter()
        .zip(progress)
        .map(|(engine, state)| Observation {
            engine: engine.id().to_string(),
            outcome: match state {
                Progress::Compiled(..) | Progress::Instantiated(..) => Outcome::Values(Vec::new()),
                Progress::Stopped(outcome) => outcome.clone(),
            },
            state: None,
        })
        .collect()
}

fn call(engine: &str, state: &mut Progress, invocation: &Invocation) -> Observation {
    let (outcome, after) = match state {
        Progress::Instantiated(session, instance) => {
            let outcome = session.invoke(*instance, &invocation.export, &invocation.args);
            let after = session.state(*instance);
            (outcome, Some(after))
        }
        Progress::Compiled(..) => (Outcome::HarnessFailed("not instantiated".into()), None),
        Progress::Stopped(outcome) => (outcome.clone(), None),
    };
    Observation {
        engine: engine.to_string(),
        outcome,
        state: after,
    }
}
