//! `cargo xtask blame DIR`: whose bug a finding is, told by re-running its module in controlled variants of the odd engine.
//!
//! An Asyncify tier is taken apart into its base engine, binaryen at its optimize level and lockstep's
//! unwind driver: the plain module on the base engine, then the instrumented binary on every base engine
//! with no unwinding, then at `-O0`; the first part whose change makes the divergence appear is blamed.
//! A wasmtime tier in a non-default configuration is run at its default: if that agrees, the setting is;
//! one at its default is run with code for each lower CPU level: if one agrees, the lowest that does not is.
//! A nested tier's module runs on the guest's runtime natively, then through the guest on another
//! host: the runtime, the guest as built for Wasm, or the host is blamed. Any other engine answers
//! for itself.

use crate::worker::{self, EngineRef, Worker};
use crate::{Conclusion, finding};
use anyhow::Context;
use oracles::asyncify::unwind;
use oracles::compare::{Divergence, Observation, Verdict, compare};
use oracles::differential::{Invocation, Run};
use oracles::tiers::{self, Makeup};
use oracles::wasmtime::CpuLevel;
use oracles::{Engine, EngineChoice, Engines, Limits, Watchdog};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// A finding folder (`report.json` and `module.wasm`), as `fuzz` or `reduce` saves it.
    dir: PathBuf,
    /// Engine to run instead of the variants the finding records (repeatable).
    #[arg(long = "engine", value_name = "ID")]
    engines: Vec<EngineChoice>,
    /// Run engines inside this process: faster, but an engine crash ends the run.
    #[arg(long)]
    in_process: bool,
}

/// Whose bug a divergence is, and the runs that told.
#[derive(Clone, Debug, Serialize)]
pub struct Blame {
    /// The component at fault: `engine:wasmi`, `binaryen:-O1`, `driver:unwind`, `cranelift:opt-level=none`.
    pub verdict: String,
    pub experiments: Vec<Experiment>,
}

/// One controlled run: what ran, and whether it did what the majority did with the plain module.
#[derive(Clone, Debug, Serialize)]
pub struct Experiment {
    pub run: String,
    pub agrees: bool,
}

/// Runs modules on single engines for blame, in a worker when there is one.
pub struct Lab<'a> {
    pub worker: Option<&'a mut Worker>,
    pub limits: Limits,
    /// The calls the divergence was found with.
    pub invocations: &'a [Invocation],
    /// Builds the controlled variants.
    pub built: Engines,
    /// What the majority did with the plain module.
    reference: Option<Run>,
    experiments: Vec<Experiment>,
}

impl<'a> Lab<'a> {
    pub fn new(
        worker: Option<&'a mut Worker>,
        limits: Limits,
        invocations: &'a [Invocation],
    ) -> Lab<'a> {
        Lab {
            worker,
            limits,
            invocations,
            built: crate::engines_for(&[], Watchdog::InEngine),
            reference: None,
            experiments: Vec::new(),
        }
    }

    fn run(&mut self, engine: &(EngineRef, Arc<dyn Engine>), wasm: &[u8]) -> Run {
        worker::run_all(
            self.worker.as_deref_mut(),
            std::slice::from_ref(engine),
            wasm,
            self.invocations,
            &self.limits,
            None,
            &mut |_| {},
        )
    }

    /// Whether `choice` does with `wasm` what the majority did with the plain module, noted as
    /// an experiment described by `what`; an engine that cannot be built counts as agreeing.
    fn agrees(&mut self, choice: &EngineChoice, wasm: &[u8], what: &str) -> bool {
        let Ok(engine) = self.built.engine(choice) else {
            return true;
        };
        let run = self.run(&worker::references(&[engine])[0], wasm);
        let reference = self.reference.as_ref().expect("the reference runs first");
        let agrees = same_behaviour(reference, &run);
        self.experiments.push(Experiment {
            run: format!("{what} on {choice}"),
            agrees,
        });
        agrees
    }
}

/// Blames the odd engines of `divergence`, found when `engines` ran `wasm`.
pub fn blame(
    lab: &mut Lab,
    engines: &[(EngineRef, Arc<dyn Engine>)],
    wasm: &[u8],
    divergence: &Divergence,
) -> Blame {
    let named = |name: &String| engines.iter().find(|(_, e)| &e.variant() == name);
    let reference = divergence.majority.iter().find_map(named);
    let odd: Vec<&(EngineRef, Arc<dyn Engine>)> =
        divergence.minority.iter().filter_map(named).collect();
    let Some(reference) = reference else {
        return Blame {
            verdict: "unblamed: no engine of the majority ran".into(),
            experiments: Vec::new(),
        };
    };
    lab.reference = Some(lab.run(reference, wasm));
    let mut verdicts: Vec<String> = Vec::new();
    for (_, engine) in odd {
        let verdict = blame_engine(lab, engine.as_ref(), wasm);
        if !verdicts.contains(&verdict) {
            verdicts.push(verdict);
        }
    }
    Blame {
        verdict: verdicts.join(" + "),
        experiments: std::mem::take(&mut lab.experiments),
    }
}

/// The component of `engine` at fault.
fn blame_engine(lab: &mut Lab, engine: &dyn Engine, wasm: &[u8]) -> String {
    let Some(choice) = lab.built.choice(&engine.variant()) else {
        return format!("engine:{}", engine.id());
    };
    match lab.built.makeup(&choice) {
        Makeup::Instrumented { base, layer } => blame_layer(lab, base, &layer, wasm),
        Makeup::Configured { default, setting } => {
            if !setting.is_empty() && lab.agrees(&default, wasm, "the module") {
                let component = match setting.starts_with("opt-level") {
                    true => "cranelift",
                    false => "wasmtime",
                };
                return format!("{component}:{setting}");
            }
            let level = setting
                .is_empty()
                .then(|| diverging_level(lab, &default, wasm));
            match level.flatten() {
                Some(level) => format!("wasmtime:cpu={level}"),
                None => format!("engine:{}", default.id()),
            }
        }
        Makeup::Nested {
            guest,
            host,
            elsewhere,
        } => blame_nesting(lab, &guest, &host, elsewhere.as_ref(), wasm),
        Makeup::Whole => format!("engine:{choice}"),
    }
}

/// The part of a nested tier at fault: the guest runtime (natively too), the guest as built for
/// Wasm (on every host), or the host that runs it.
fn blame_nesting(
    lab: &mut Lab,
    guest: &EngineChoice,
    host: &EngineChoice,
    elsewhere: Option<&EngineChoice>,
    wasm: &[u8],
) -> String {
    if !lab.agrees(guest, wasm, "the module natively") {
        return format!("engine:{guest}");
    }
    match elsewhere {
        Some(other) if !lab.agrees(other, wasm, "the module through the guest") => {
            format!("guest:{guest}")
        }
        _ => format!("host:{host}"),
    }
}

/// The lowest CPU level whose code for `tier` (a wasmtime tier at its default, the host's
/// level, where it diverged) diverges, when code for some lower level runs right: `native`
/// when every level below the host's does. `None` when the tier has no levels, or none runs right.
fn diverging_level(lab: &mut Lab, tier: &EngineChoice, wasm: &[u8]) -> Option<&'static str> {
    let mut agreeing = Vec::new();
    for level in CpuLevel::ALL.into_iter().skip(1) {
        let choice = lab.built.choice(&format!("{tier}@cpu={}", level.name()))?;
        agreeing.push((level, lab.agrees(&choice, wasm, "the module")));
    }
    if !agreeing.iter().any(|(_, agrees)| *agrees) {
        return None;
    }
    let diverging = agreeing.into_iter().find(|(_, agrees)| !agrees);
    Some(
        diverging
            .map_or(CpuLevel::Native, |(level, _)| level)
            .name(),
    )
}

/// The part of an Asyncify tier at fault: its base engine, binaryen, or the unwind driver.
fn blame_layer(
    lab: &mut Lab,
    base: &'static tiers::Tier,
    layer: &oracles::asyncify::Asyncify,
    wasm: &[u8],
) -> String {
    if !lab.agrees(&EngineChoice::Tier(base), wasm, "the plain module") {
        return format!("engine:{}", base.id);
    }
    let level = layer.optimize();
    let Ok(instrumented) = layer.instrument(wasm) else {
        return "unblamed: binaryen does not instrument the module".into();
    };
    let what = format!("the -O{level} binary, never unwound,");
    let off = engines_disagreeing(lab, &instrumented, &what);
    if off.is_empty() {
        return "driver:unwind".into();
    }
    if off.len() < tiers::asyncify_bases().len() {
        return off
            .iter()
            .map(|id| format!("engine:{id}"))
            .collect::<Vec<_>>()
            .join(" + ");
    }
    let unoptimized = layer.at_level(0).instrument(wasm);
    let optimizer = level > 0
        && unoptimized.is_ok_and(|binary| {
            engines_disagreeing(lab, &binary, "the -O0 binary, never unwound,").is_empty()
        });
    match optimizer {
        true => format!("binaryen:-O{level}"),
        false => "binaryen:asyncify".into(),
    }
}

/// The Asyncify base engines that run the instrumented `binary`, with no unwinding, unlike the majority.
fn engines_disagreeing(lab: &mut Lab, binary: &[u8], what: &str) -> Vec<&'static str> {
    let bases = tiers::asyncify_bases();
    bases
        .into_iter()
        .filter(|id| {
            let tier = EngineChoice::Tier(tiers::Tier::named(id).expect("a registered base"));
            !lab.agrees(&tier, binary, what)
        })
        .collect()
}

/// Whether two runs of one engine each agree step by step, the unwind buffer of an instrumented binary aside.
fn same_behaviour(reference: &Run, experiment: &Run) -> bool {
    reference.steps.len() == experiment.steps.len()
        && reference.steps.iter().zip(&experiment.steps).all(|(a, b)| {
            let pair = [
                relabelled(&a.observations, "reference"),
                relabelled(&b.observations, "experiment"),
            ];
            let pair: Vec<Observation> = pair.into_iter().flatten().collect();
            !matches!(compare(&pair, false), Verdict::Diverge(_))
        })
}

/// The first observation of a step, labelled `label`, without the unwind buffer.
fn relabelled(observations: &[Observation], label: &str) -> Option<Observation> {
    let mut observation = observations.first()?.clone();
    observation.engine = label.into();
    if let Some(state) = &mut observation.state {
        state.memories.retain(|(name, ..)| name != unwind::MEMORY);
    }
    Some(observation)
}

/// `cargo xtask blame DIR`: re-runs the finding on its variants, blames it, and records the verdict.
pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let choices = match args.engines.is_empty() {
        true => finding::recorded_variants(&args.dir)?,
        false => args.engines.clone(),
    };
    let engines = worker::references(&crate::select_engines(&choices)?);
    let wasm_path = args.dir.join("module.wasm");
    let wasm =
        std::fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    let invocations = crate::reduce::known_invocations(&args.dir);
    let mut worker = (!args.in_process).then(|| Worker::new(crate::external_specs(&choices)));
    let limits = Limits {
        host_functions: true,
        ..Limits::default()
    };
    let run = worker::run_all(
        worker.as_mut(),
        &engines,
        &wasm,
        &invocations,
        &limits,
        None,
        &mut |_| {},
    );
    let divergence = run.divergence().and_then(|(_, step)| match &step.verdict {
        Verdict::Diverge(divergence) => Some(divergence.clone()),
        _ => None,
    });
    let Some(divergence) = divergence else {
        println!(
            "{}: {}",
            args.dir.display(),
            crate::diff::script::NO_LONGER_REPRODUCES
        );
        return Ok(Conclusion::Agree);
    };
    let mut lab = Lab::new(worker.as_mut(), limits, &invocations);
    let blame = blame(&mut lab, &engines, &wasm, &divergence);
    for experiment in &blame.experiments {
        let seen = if experiment.agrees {
            "agrees"
        } else {
            "DIVERGES"
        };
        println!("{seen:8}  {}", experiment.run);
    }
    println!("signature : {}", divergence.signature);
    println!("blame     : {}", blame.verdict);
    finding::record_blame(&args.dir, &blame)?;
    Ok(Conclusion::Diverge)
}
