//! `cargo xtask reduce FILE`: shrink a module while its divergence signature holds, and save the small finding.

use crate::bucket::{self, Bucket};
use crate::worker::{self, EngineRef, Worker};
use crate::{Conclusion, finding, input, passes};
use anyhow::{Context, bail};
use generators::{args, exports, seed::Rng};
use oracles::compare::Verdict;
use oracles::differential::{Invocation, Run};
use oracles::outcome::digest;
use oracles::{Engine, Limits};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs of the reduced module allowed to show the divergence again.
const CONFIRMATIONS: usize = 5;

#[derive(clap::Args)]
pub struct Args {
    /// A `.wasm` or `.wat` module, a `.wast` script (cut down first to the module
    /// and calls of its first divergence), or a finding folder.
    file: PathBuf,
    /// Engine id to run (repeatable; default: every built-in engine).
    #[arg(long = "engine", value_name = "ID")]
    engines: Vec<oracles::EngineChoice>,
    /// Where to write the reduced finding (default: beside FILE, with `.reduced`).
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: Option<PathBuf>,
    /// Seconds to spend shrinking.
    #[arg(long, default_value_t = 60)]
    time: u64,
    /// Run engines inside this process: faster, but an engine crash ends the reduction.
    #[arg(long)]
    in_process: bool,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let choices = recorded_engines(&args)?;
    let engines = worker::references(&crate::select_engines(&choices)?);
    let path = if args.file.is_dir() {
        args.file.join("module.wasm")
    } else {
        args.file.clone()
    };
    let mut worker = (!args.in_process).then(|| Worker::new(crate::external_specs(&choices)));
    let (wasm, known) = if path.extension().is_some_and(|e| e == "wast") {
        cut_script(&path, &engines, worker.as_mut())?
    } else {
        (input::module(&path)?, known_invocations(&args.file))
    };
    // Every candidate the reducer tries is a module of its own, met once.
    let limits = Limits {
        host_functions: true,
        one_off_modules: true,
        ..Limits::default()
    };
    let mut reducer = Reducer::new(&engines, &known, worker.as_mut(), limits);
    let Some(signature) = reducer.signature_of(&wasm) else {
        if args.file.is_dir() {
            bail!(
                "{}: {}",
                args.file.display(),
                crate::diff::script::NO_LONGER_REPRODUCES
            );
        }
        bail!(
            "{}: the engines agree on this module; there is nothing to reduce",
            path.display()
        );
    };
    eprintln!(
        "reducing {} ({} bytes) while `{signature}` holds",
        path.display(),
        wasm.len()
    );
    let started = Instant::now();
    let reduced = reducer
        .reduce(&wasm, &signature, started + Duration::from_secs(args.time))
        .map_err(anyhow::Error::msg)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| path.with_extension("reduced"));
    let origin = finding::Origin {
        source: format!("reduced from {}", path.display()),
        seed: None,
        iteration: None,
        engines: engines
            .iter()
            .map(|(_, e)| (e.id().to_string(), e.version()))
            .collect(),
        variants: engines.iter().map(|(_, e)| e.variant()).collect(),
        features: Vec::new(),
    };
    let bucket = reducer.bucket(&reduced.evidence());
    let filing = finding::Filing {
        bucket: &bucket,
        known: None,
        blame: None,
    };
    let dir = finding::save_to(&out, &reduced.evidence(), &origin, &filing)?;
    println!("signature : {signature}");
    println!("bucket    : {}", bucket.name);
    println!("before    : {}", Size::of(&wasm));
    println!("after     : {}", Size::of(&reduced.wasm));
    println!("time      : {:.1} s", started.elapsed().as_secs_f64());
    println!("finding   : {}", dir.display());
    Ok(Conclusion::Diverge)
}

/// The engines `--engine` names, else those the finding was found on: its
/// `report.json`'s variants for a folder, the opening comments of a `.wast`.
fn recorded_engines(args: &Args) -> anyhow::Result<Vec<oracles::EngineChoice>> {
    if !args.engines.is_empty() {
        return Ok(args.engines.clone());
    }
    if args.file.is_dir() {
        return finding::recorded_variants(&args.file);
    }
    if args.file.extension().is_some_and(|e| e == "wast") {
        let key = args.file.display().to_string();
        let text =
            std::fs::read_to_string(&args.file).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
        return crate::diff::script::engines_asked(&key, &text);
    }
    Ok(Vec::new())
}

/// Cuts a script down to what its first divergence needs: the module
/// instantiated last before that line, and the calls made on it up to there.
pub(crate) fn cut_script(
    path: &std::path::Path,
    engines: &[(EngineRef, Arc<dyn Engine>)],
    worker: Option<&mut Worker>,
) -> anyhow::Result<(Vec<u8>, Vec<Invocation>)> {
    use suites::script::{Action, CommandKind, ModuleBytes};
    let key = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    let script = suites::script::parse(&key, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let plain: Vec<Arc<dyn Engine>> = engines.iter().map(|(_, e)| e.clone()).collect();
    // Findings call lockstep's host functions, which a script cannot define.
    let limits = oracles::Limits {
        host_functions: true,
        ..oracles::Limits::default()
    };
    let diff = crate::diff::compare_script(&plain, &key, &text, &limits, worker);
    let Some(line) = diff.first_divergence() else {
        bail!("{key}: the engines agree on every directive; there is nothing to reduce");
    };
    let mut module = None;
    let mut calls = Vec::new();
    for command in script.commands.iter().take_while(|c| c.line <= line) {
        match &command.kind {
            CommandKind::Module {
                bytes: ModuleBytes::Binary(wasm),
                instantiate: true,
                ..
            } => {
                module = Some(wasm.clone());
                calls.clear();
            }
            kind => {
                if let Some(Action::Invoke {
                    instance: None,
                    export,
                    args,
                }) = action_of(kind)
                {
                    calls.push(Invocation {
                        export: export.clone(),
                        args: args.clone(),
                        expected: None,
                    });
                }
            }
        }
    }
    let module = module.with_context(|| {
        format!("{key}:{line}: no module is instantiated before the divergence")
    })?;
    eprintln!(
        "{key}:{line}: the first divergence; reducing the module before it with {} calls",
        calls.len()
    );
    Ok((module, calls))
}

fn action_of(kind: &suites::script::CommandKind) -> Option<&suites::script::Action> {
    use suites::script::CommandKind as K;
    match kind {
        K::Action(action)
        | K::AssertReturn { action, .. }
        | K::AssertTrap { action, .. }
        | K::AssertExhaustion { action, .. }
        | K::AssertException { action } => Some(action),
        _ => None,
    }
}

/// The calls recorded in a finding folder's report, if FILE is one.
pub(crate) fn known_invocations(file: &std::path::Path) -> Vec<Invocation> {
    /// The part of `report.json` read here, straight from the text: through a
    /// `serde_json::Value` a `v128` argument (up to 2^128) would lose its digits as a float.
    #[derive(serde::Deserialize)]
    struct Recorded {
        invocations: Vec<Invocation>,
    }
    let report = std::fs::read_to_string(file.join("report.json")).unwrap_or_default();
    serde_json::from_str::<Recorded>(&report)
        .map(|recorded| recorded.invocations)
        .unwrap_or_default()
}

/// A reduced module whose divergence was seen again.
pub struct Reduced {
    pub wasm: Vec<u8>,
    pub run: Run,
    pub invocations: Vec<Invocation>,
    pub step: usize,
}

impl Reduced {
    pub fn evidence(&self) -> finding::Evidence<'_> {
        finding::Evidence {
            wasm: &self.wasm,
            invocations: &self.invocations,
            run: &self.run,
            step: self.step,
        }
    }
}

/// Runs candidates on every engine.
pub struct Reducer<'a> {
    pub engines: &'a [(EngineRef, Arc<dyn Engine>)],
    /// The calls the divergence was found with; exports still present are called this way.
    pub known: &'a [Invocation],
    pub worker: Option<&'a mut Worker>,
    pub limits: Limits,
    /// Every run in a new worker process: for a divergence that depends on what the process ran before.
    fresh_workers: bool,
}

impl<'a> Reducer<'a> {
    pub fn new(
        engines: &'a [(EngineRef, Arc<dyn Engine>)],
        known: &'a [Invocation],
        worker: Option<&'a mut Worker>,
        limits: Limits,
    ) -> Reducer<'a> {
        Reducer {
            engines,
            known,
            worker,
            limits,
            fresh_workers: false,
        }
    }

    /// Shrinks `wasm` while `signature` holds (until `deadline`), then runs the
    /// result again: a divergence that comes and goes (an engine reading
    /// uninitialized memory) gets a few chances to show itself. One that never
    /// comes back may depend on what the worker ran before (memory an engine
    /// reads without writing it holds the last module's values): the reduction
    /// starts over, for as long again, with a new worker process for every run.
    pub fn reduce(
        &mut self,
        wasm: &[u8],
        signature: &str,
        deadline: Instant,
    ) -> Result<Reduced, String> {
        let budget = deadline.saturating_duration_since(Instant::now());
        if let Some(reduced) = self.shrink_and_confirm(wasm, signature, deadline) {
            return Ok(reduced);
        }
        if self.worker.is_some() && !self.fresh_workers {
            self.fresh_workers = true;
            let again = self.shrink_and_confirm(wasm, signature, Instant::now() + budget);
            if let Some(reduced) = again {
                return Ok(reduced);
            }
        }
        Err(format!(
            "the reduced module did not diverge in {CONFIRMATIONS} runs: the divergence is intermittent"
        ))
    }

    fn shrink_and_confirm(
        &mut self,
        wasm: &[u8],
        signature: &str,
        deadline: Instant,
    ) -> Option<Reduced> {
        let reduced = self.shrink(wasm, signature, deadline);
        (0..CONFIRMATIONS).find_map(|_| {
            let (run, invocations) = self.run(&reduced);
            let step = run.divergence().map(|(step, _)| step)?;
            Some(Reduced {
                wasm: reduced.clone(),
                run,
                invocations,
                step,
            })
        })
    }

    /// Calls every export of `wasm`: as the divergence was found when that call
    /// is known, else with arguments derived from the export's name, so that
    /// they stay the same while other exports are removed.
    fn run(&mut self, wasm: &[u8]) -> (Run, Vec<Invocation>) {
        let mut invocations = Vec::new();
        for function in exports::functions(wasm) {
            let known: Vec<Invocation> = self
                .known
                .iter()
                .filter(|i| i.export == function.name)
                .cloned()
                .collect();
            if known.is_empty() {
                invocations.push(Invocation {
                    args: args::arguments(
                        &mut Rng::new(digest(function.name.as_bytes())),
                        &function.params,
                    ),
                    export: function.name,
                    expected: None,
                });
            } else {
                invocations.extend(known);
            }
        }
        if let Some(worker) = self.worker.as_deref_mut().filter(|_| self.fresh_workers) {
            worker.restart();
        }
        let run = worker::run_all(
            self.worker.as_deref_mut(),
            self.engines,
            wasm,
            &invocations,
            &self.limits,
            None,
            &mut |_| {},
        );
        (run, invocations)
    }

    /// The bucket of a divergence found on these engines (see [`bucket`]).
    pub fn bucket(&mut self, evidence: &finding::Evidence) -> Bucket {
        bucket::of(evidence, &mut |wasm, invocations| {
            worker::run_all(
                self.worker.as_deref_mut(),
                self.engines,
                wasm,
                invocations,
                &self.limits,
                None,
                &mut |_| {},
            )
        })
    }

    /// The signature of the first divergence, if the engines disagree.
    pub fn signature_of(&mut self, wasm: &[u8]) -> Option<String> {
        let (run, _) = self.run(wasm);
        run.divergence().and_then(|(_, step)| match &step.verdict {
            Verdict::Diverge(divergence) => Some(divergence.signature.clone()),
            _ => None,
        })
    }

    /// Whether `candidate` shows the divergence twice in a row: one that comes and goes (an engine
    /// reading uninitialized memory) must stay likely, or the smallest module would never show it.
    fn holds(&mut self, candidate: &[u8], signature: &str) -> bool {
        (0..2).all(|_| self.signature_of(candidate).as_deref() == Some(signature))
    }

    /// lockstep's own passes, then wasm-shrink's for the time that is left, then
    /// lockstep's instruction cuts again on what wasm-shrink left.
    fn shrink(&mut self, wasm: &[u8], signature: &str, deadline: Instant) -> Vec<u8> {
        let focused = self.focus(wasm.to_vec(), signature);
        let cut = self.cut_instructions(focused, signature, deadline);
        let shrunk = self.shrink_randomly(&cut, signature, deadline);
        self.cut_instructions(shrunk, signature, deadline)
    }

    /// Makes the cuts of [`passes::cuts`] that keep the signature, longest first, until none
    /// does. After a cut the search goes on from about where it was (the earlier, longer cuts
    /// failed on a bigger module already), and starts over once it reaches the end.
    fn cut_instructions(
        &mut self,
        mut wasm: Vec<u8>,
        signature: &str,
        deadline: Instant,
    ) -> Vec<u8> {
        let all = oracles::features::all();
        let mut resume_at = 0;
        loop {
            let cuts = passes::cuts(&wasm);
            let kept = cuts
                .iter()
                .enumerate()
                .skip(resume_at)
                .take_while(|_| Instant::now() < deadline)
                .find_map(|(index, cut)| {
                    let candidate = cut.apply(&wasm);
                    let keeps = oracles::features::validates(&candidate, all)
                        && self.holds(&candidate, signature);
                    keeps.then_some((index, candidate))
                });
            match kept {
                Some((index, candidate)) => (resume_at, wasm) = (index, candidate),
                None if resume_at > 0 && Instant::now() < deadline => resume_at = 0,
                None => return wasm,
            }
        }
    }

    /// Keeps only the export whose call diverges, then stubs out every function
    /// body the divergence does not need: all at once if it still holds, else
    /// in ever smaller chunks.
    fn focus(&mut self, mut wasm: Vec<u8>, signature: &str) -> Vec<u8> {
        let (run, invocations) = self.run(&wasm);
        let Some(step) = run
            .divergence()
            .map(|(step, _)| step)
            .filter(|step| *step >= 2)
        else {
            return wasm;
        };
        let export = invocations[step - 2].export.clone();
        if let Some(candidate) = passes::only_export(&wasm, &export)
            && self.holds(&candidate, signature)
        {
            wasm = candidate;
        }
        let keep = passes::exported_function(&wasm, &export);
        let functions = passes::defined_functions(&wasm);
        let mut chunk = functions;
        while chunk > 0 {
            for start in (0..functions).step_by(chunk) {
                let chosen =
                    |index: usize| (start..start + chunk).contains(&index) && Some(index) != keep;
                let candidate = passes::stub_bodies(&wasm, chosen);
                if candidate != wasm && self.holds(&candidate, signature) {
                    wasm = candidate;
                }
            }
            chunk /= 2;
        }
        wasm
    }

    /// wasm-shrink's passes (removing functions, exports, globals, data; replacing
    /// code with constants) for as long as the signature holds and time allows.
    fn shrink_randomly(&mut self, wasm: &[u8], signature: &str, deadline: Instant) -> Vec<u8> {
        let smallest = Rc::new(RefCell::new(wasm.to_vec()));
        let keep = smallest.clone();
        // wasm-shrink stops after 1000 attempts in a row that make nothing smaller.
        let shrink = wasm_shrink::WasmShrink::default().on_new_smallest(Some(Box::new(
            move |candidate: &[u8]| {
                *keep.borrow_mut() = candidate.to_vec();
                Ok(())
            },
        )));
        // wasm-mutate panics on some modules (exported tags, for one): that ends
        // the search like running out of time does, keeping the smallest so far.
        let shrunk = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shrink.run(wasm.to_vec(), |candidate| {
                anyhow::ensure!(Instant::now() < deadline, "time is up");
                Ok(self.holds(candidate, signature))
            })
        }));
        match shrunk {
            Ok(Ok(info)) => info.output,
            _ => smallest.take(),
        }
    }
}

/// How big a module is, in the units a reader cares about.
pub struct Size {
    bytes: usize,
    functions: usize,
    instructions: usize,
}

impl Size {
    pub fn of(wasm: &[u8]) -> Size {
        let mut size = Size {
            bytes: wasm.len(),
            functions: 0,
            instructions: 0,
        };
        for payload in wasmparser::Parser::new(0).parse_all(wasm).flatten() {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload {
                size.functions += 1;
                if let Ok(reader) = body.get_operators_reader() {
                    size.instructions += reader.into_iter().map_while(Result::ok).count();
                }
            }
        }
        size
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} bytes, {} functions, {} instructions",
            self.bytes, self.functions, self.instructions
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracles::Value;

    #[test]
    fn a_recorded_v128_argument_keeps_every_digit() {
        let dir = tempfile::tempdir().unwrap();
        let lanes = u128::MAX - 1;
        let report = format!(
            r#"{{"signature": "s", "invocations": [{{"export": "f", "args": [{{"V128": {lanes}}}], "expected": null}}]}}"#
        );
        std::fs::write(dir.path().join("report.json"), report).unwrap();
        let calls = known_invocations(dir.path());
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].args, [Value::V128(lanes)]);
    }
}
