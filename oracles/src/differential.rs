//! Differential execution: one module and a sequence of calls on several engines, compared step by step.

use crate::compare::{Observation, Verdict, compare};
use crate::engine::{Engine, InstanceId, Limit, Limits, ModuleId, Session};
use crate::facts::contains_operator;
use crate::features;
use crate::outcome::{Outcome, Value};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wasmparser::{Operator, WasmFeatures};

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

/// What one engine did at every step: compile, instantiate, then each invocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineRun {
    pub observations: Vec<Observation>,
    pub timing: Timing,
    /// The limits the engine cannot apply ([`Engine::unapplied_limits`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unapplied: Vec<Limit>,
}

/// Runs `wasm` on every engine, one engine after the other, and compares
/// them step by step, including the state each call leaves behind.
pub fn run(
    engines: &[Arc<dyn Engine>],
    wasm: &[u8],
    invocations: &[Invocation],
    limits: &Limits,
) -> Run {
    let runs = engines
        .iter()
        .map(|engine| run_engine(engine.as_ref(), wasm, invocations, limits, &mut |_| {}))
        .collect();
    compare_runs(wasm, invocations, runs)
}

/// Runs `wasm` on one engine; `each` sees every observation as soon as it is
/// made, so that a worker process can stream them before it might crash.
pub fn run_engine(
    engine: &dyn Engine,
    wasm: &[u8],
    invocations: &[Invocation],
    limits: &Limits,
    each: &mut dyn FnMut(&Observation),
) -> EngineRun {
    let mut timing = Timing::default();
    let mut observations = Vec::with_capacity(invocations.len() + 2);
    let mut observe = |observation: Observation| {
        each(&observation);
        observations.push(observation);
    };
    // Two variants of one tier (`asyncify`, `asyncify@O1`) run side by side: each is named as itself.
    let name = engine.variant();
    let (mut progress, seconds) = timed(|| start(engine, wasm, limits));
    timing.compile += seconds;
    observe(module_step(&name, &progress));
    let ((), seconds) = timed(|| instantiate(&mut progress));
    timing.compile += seconds;
    observe(module_step(&name, &progress));
    for invocation in invocations {
        let (observation, seconds) = timed(|| call(&name, &mut progress, invocation));
        timing.run += seconds;
        observe(observation);
    }
    EngineRun {
        observations,
        timing,
        unapplied: engine.unapplied_limits(),
    }
}

/// Lines up engines' runs step by step (adding a generator's known outcome) and judges each step.
pub fn compare_runs(wasm: &[u8], invocations: &[Invocation], runs: Vec<EngineRun>) -> Run {
    let tail_calls = uses_tail_calls(wasm);
    let labels = ["compile".to_string(), "instantiate".to_string()]
        .into_iter()
        .chain(invocations.iter().map(label));
    let exhausted_at: Vec<Option<usize>> = runs.iter().map(first_call_left_behind).collect();
    let blind = blind_to_limits(wasm, &runs);
    let steps = labels
        .enumerate()
        .map(|(index, label)| {
            let mut observations = Vec::new();
            let mut compared = Vec::new();
            for (run, exhausted) in runs.iter().zip(&exhausted_at) {
                let Some(observation) = run.observations.get(index) else {
                    continue;
                };
                // An engine that ran out of resources mid-call, or could not make a call at all
                // (V8's JS API cannot pass a v128), left its instance where the others never
                // were: its later calls are shown, not compared.
                if exhausted.is_none_or(|at| index <= at) {
                    compared.push(observation.clone());
                }
                observations.push(observation.clone());
            }
            let expected = index
                .checked_sub(2)
                .and_then(|call| invocations[call].expected.clone());
            if let Some(outcome) = expected {
                let known = Observation {
                    engine: EXPECTED.into(),
                    outcome,
                    state: None,
                    state_unread: None,
                };
                observations.push(known.clone());
                compared.push(known);
            }
            let tail_calls = index >= 2 && tail_calls;
            let verdict = unless_only_blind(
                compare(&compared, tail_calls),
                &compared,
                &blind,
                tail_calls,
            );
            Step {
                label,
                observations,
                verdict,
            }
        })
        .collect();
    Run {
        steps,
        timings: runs.iter().map(|run| run.timing).collect(),
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

/// The engines that cannot apply a limit `wasm` can run into, each with such a limit.
fn blind_to_limits(wasm: &[u8], runs: &[EngineRun]) -> Vec<(String, Limit)> {
    let engine = |run: &EngineRun| run.observations.first().map(|o| o.engine.clone());
    runs.iter()
        .flat_map(|run| run.unapplied.iter().map(move |limit| (run, *limit)))
        .filter(|(_, limit)| reaches(wasm, *limit))
        .filter_map(|(run, limit)| Some((engine(run)?, limit)))
        .collect()
}

/// Whether a differential run of `wasm` can run into `limit`: by growing a memory or a table.
/// Rationale: one run makes one instance, far below the instance limit, and lockstep stops a
/// call at the time limit itself (the call is exhausted Time, left out like any other).
fn reaches(wasm: &[u8], limit: Limit) -> bool {
    match limit {
        Limit::MemoryBytes => {
            contains_operator(wasm, |op| matches!(op, Operator::MemoryGrow { .. }))
        }
        Limit::TableElements => {
            contains_operator(wasm, |op| matches!(op, Operator::TableGrow { .. }))
        }
        Limit::Instances | Limit::CallTimeMs => false,
    }
}

/// A divergence that goes away when the engines `blind` to a limit are left out came only from
/// that limit: inconclusive, naming it. Rationale: an engine that lets `memory.grow` past the
/// limit succeed where the others refuse differs in configuration, not in a bug.
fn unless_only_blind(
    verdict: Verdict,
    compared: &[Observation],
    blind: &[(String, Limit)],
    tail_calls: bool,
) -> Verdict {
    if blind.is_empty() || !matches!(verdict, Verdict::Diverge(_)) {
        return verdict;
    }
    let is_blind = |engine: &str| blind.iter().any(|(blind, _)| blind == engine);
    let seeing: Vec<Observation> = compared
        .iter()
        .filter(|o| !is_blind(&o.engine))
        .cloned()
        .collect();
    if let divergence @ Verdict::Diverge(_) = compare(&seeing, tail_calls) {
        return divergence;
    }
    let why: Vec<String> = blind
        .iter()
        .map(|(engine, limit)| format!("{engine} cannot apply lockstep's {} limit", limit.name()))
        .collect();
    let why = why.join("; ");
    Verdict::Inconclusive(format!(
        "{why} (its hello says so): the difference is only there"
    ))
}

/// The step index of the first call that ran out of resources on this engine or that it could not make.
fn first_call_left_behind(run: &EngineRun) -> Option<usize> {
    run.observations
        .iter()
        .enumerate()
        .skip(2)
        .find(|(_, o)| matches!(o.outcome, Outcome::Exhausted(_) | Outcome::Unsupported(_)))
        .map(|(index, _)| index)
}

/// Whether the module uses `return_call*`: it does if it needs the tail-call proposal.
fn uses_tail_calls(wasm: &[u8]) -> bool {
    let all = features::all();
    features::validates(wasm, all) && !features::validates(wasm, all - WasmFeatures::TAIL_CALL)
}

/// Compiles first, as most modules are fine; a rejection is explained after:
/// a module needing proposals the engine lacks is unsupported there, not invalid.
fn start(engine: &dyn Engine, wasm: &[u8], limits: &Limits) -> Progress {
    let mut session = engine.session(limits);
    match session.compile(wasm) {
        Ok(module) => Progress::Compiled(session, module),
        Err(outcome @ (Outcome::Invalid(_) | Outcome::Malformed(_))) => {
            let unsupported = features::missing(wasm, engine.features()).map(Outcome::Unsupported);
            Progress::Stopped(unsupported.unwrap_or(outcome))
        }
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

/// What a module-level step did: completed (no values), or the outcome the engine stopped with.
fn module_step(engine: &str, progress: &Progress) -> Observation {
    Observation {
        engine: engine.to_string(),
        outcome: match progress {
            Progress::Compiled(..) | Progress::Instantiated(..) => Outcome::Values(Vec::new()),
            Progress::Stopped(outcome) => outcome.clone(),
        },
        state: None,
        state_unread: None,
    }
}

fn call(engine: &str, state: &mut Progress, invocation: &Invocation) -> Observation {
    let (outcome, after) = match state {
        Progress::Instantiated(session, instance) => {
            let outcome = session.invoke(*instance, &invocation.export, &invocation.args);
            (outcome, Some(session.state(*instance)))
        }
        Progress::Compiled(..) => (Outcome::HarnessFailed("not instantiated".into()), None),
        Progress::Stopped(outcome) => (outcome.clone(), None),
    };
    let (state, state_unread) = match after {
        Some(Ok(state)) => (Some(state), None),
        Some(Err(unread)) => (None, Some(unread)),
        None => (None, None),
    };
    Observation {
        engine: engine.to_string(),
        outcome,
        state,
        state_unread,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Resource, TrapCode};

    fn engine_run(engine: &str, calls: [Outcome; 2]) -> EngineRun {
        let ok = Outcome::Values(Vec::new());
        let observations = [ok.clone(), ok]
            .into_iter()
            .chain(calls)
            .map(|outcome| Observation {
                engine: engine.into(),
                outcome,
                state: None,
                state_unread: None,
            })
            .collect();
        EngineRun {
            observations,
            timing: Timing::default(),
            unapplied: Vec::new(),
        }
    }

    #[test]
    fn calls_after_an_engine_ran_out_or_could_not_call_are_not_compared_for_it() {
        let invocations: Vec<Invocation> = ["deep", "after"]
            .into_iter()
            .map(|export| Invocation {
                export: export.into(),
                args: Vec::new(),
                expected: None,
            })
            .collect();
        let one = Outcome::Values(vec![Value::I32(1)]);
        let runs = vec![
            engine_run("a", [Outcome::trap(TrapCode::Unreachable, ""), one.clone()]),
            engine_run("b", [Outcome::trap(TrapCode::Unreachable, ""), one.clone()]),
            engine_run(
                "c",
                [
                    Outcome::Exhausted(Resource::Stack),
                    Outcome::Values(vec![Value::I32(2)]),
                ],
            ),
        ];
        let run = compare_runs(b"", &invocations, runs);
        assert_eq!(run.steps[2].verdict, Verdict::Agree);
        assert_eq!(run.steps[3].verdict, Verdict::Agree);
        assert_eq!(run.steps[3].observations.len(), 3, "still shown");

        // V8 cannot pass the first call's v128, so its instance never saw that call.
        let two = Outcome::Values(vec![Value::I32(2)]);
        let unsupported = Outcome::Unsupported("the JS API cannot pass v128 values".into());
        let runs = vec![
            engine_run("a", [one.clone(), two.clone()]),
            engine_run("b", [one.clone(), two]),
            engine_run("v8", [unsupported, one]),
        ];
        let run = compare_runs(b"", &invocations, runs);
        assert_eq!(run.steps[3].verdict, Verdict::Agree);
    }

    /// `memory.grow` past the limit: -1 on the engines that apply it, the old size on one that
    /// cannot. Only a declared, reachable unapplied limit makes the difference inconclusive.
    #[test]
    fn a_difference_only_an_unapplied_limit_explains_is_inconclusive() {
        let grows = crate::testing::wat(
            r#"(module (memory 1) (func (export "grow") (result i32) (memory.grow (i32.const 2000))))"#,
        );
        let reads = crate::testing::wat(
            r#"(module (memory 1) (func (export "grow") (result i32) (memory.size)))"#,
        );
        let invocations = [Invocation {
            export: "grow".into(),
            args: Vec::new(),
            expected: None,
        }];
        let verdict = |wasm: &[u8], unapplied: Vec<Limit>| {
            let refused = Outcome::Values(vec![Value::I32(-1)]);
            let grown = Outcome::Values(vec![Value::I32(1)]);
            let mut runs = vec![
                engine_run("a", [refused.clone(), refused.clone()]),
                engine_run("b", [refused.clone(), refused]),
                engine_run("ext", [grown.clone(), grown]),
            ];
            for run in &mut runs {
                run.observations.truncate(3);
            }
            runs[2].unapplied = unapplied;
            compare_runs(wasm, &invocations, runs).steps[2]
                .verdict
                .clone()
        };
        assert_eq!(
            verdict(&grows, vec![Limit::CallTimeMs, Limit::MemoryBytes]),
            Verdict::Inconclusive(
                "ext cannot apply lockstep's memory limit (its hello says so): the difference is only there"
                    .into()
            )
        );
        let diverges = |v: Verdict| matches!(v, Verdict::Diverge(d) if d.minority == ["ext"]);
        assert!(diverges(verdict(&grows, Vec::new())), "declared nothing");
        assert!(
            diverges(verdict(&grows, vec![Limit::TableElements])),
            "another limit"
        );
        assert!(
            diverges(verdict(&reads, vec![Limit::MemoryBytes])),
            "no memory.grow"
        );
    }
}
