//! `cargo xtask bench conformance`: lockstep's wasmtime-cranelift against the wasmtime-wast harness on the
//! same files, in alternating rounds (medians and spread), lockstep's own time per directive, and the full matrix.

use crate::Conclusion;
use anyhow::bail;
use oracles::timed::Timed;
use oracles::{Engine, EngineChoice, Watchdog};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use suites::catalog::{self, SuiteFile};
use suites::runner::{self, Options};
use suites::script::{Command, CommandKind, ModuleBytes, Script};

/// What one round measured, in seconds over the files the reference completes.
#[derive(Clone, Copy, Default)]
struct Round {
    /// The wasmtime-wast harness.
    reference: f64,
    /// lockstep as `cargo xtask conformance` runs it: parsed here, run in a worker process.
    lockstep: f64,
    /// lockstep's driver in this process, and the part of it spent inside the engine's calls.
    in_process: f64,
    engine: f64,
    /// Parsing the script, part of `in_process`.
    parse: f64,
}

pub fn run(rounds: usize) -> anyhow::Result<Conclusion> {
    let mut selection = vec!["wasm-v3".to_string()];
    selection.extend(
        catalog::builtin_suites()
            .into_iter()
            .filter(|s| s.starts_with("proposals/")),
    );
    let files = catalog::load(&selection).map_err(anyhow::Error::msg)?;
    let rounds = rounds.max(1);
    println!(
        "{} files (wasm-v3 and proposals), one thread each side, {rounds} rounds; \
         each file alternates which side runs first",
        files.len()
    );
    let mut bench = Bench::new(&files)?;
    let measured: Vec<Round> = (0..rounds)
        .map(|round| bench.round(round))
        .collect::<anyhow::Result<_>>()?;
    let completed = bench.completed.iter().filter(|c| **c).count();
    println!(
        "compared on the {completed} files wasmtime-wast completes ({} stop early at an error, so they are left out)",
        files.len() - completed
    );
    println!("                             median s     min s     max s");
    let row = |name: &str, of: fn(&Round) -> f64| {
        let spread = Spread::of(measured.iter().map(of));
        println!(
            "{name:<28} {:>8.2}  {:>8.2}  {:>8.2}",
            spread.median, spread.min, spread.max
        );
        spread
    };
    row("reference wasmtime-wast 48", |r| r.reference);
    row("lockstep wasmtime-cranelift", |r| r.lockstep);
    let ratio = row("ratio lockstep/reference", |r| r.lockstep / r.reference);
    println!("(ratio target <= 1.0: median {:.2})", ratio.median);
    print_overhead(&measured, bench.directives);
    println!(
        "modules: {} declared, {} different (the reference compiles every declaration; lockstep \
         reuses the code of a module it compiled in the files just before)",
        bench.modules.declared,
        bench.modules.different.len()
    );

    let matrix = time_full_matrix()?;
    println!(
        "full default matrix        : {:>8.2} s wall, {} jobs (target < 20 s)",
        matrix.as_secs_f64(),
        super::jobs()
    );
    let peak = crate::resident_mib("VmHWM");
    println!("peak memory                : {peak:>8.0} MiB (target < 2048 MiB)");
    Ok(Conclusion::Agree)
}

/// lockstep's time per directive outside the engine's own calls: in its
/// driver, and in handing scripts to a worker process and back.
fn print_overhead(measured: &[Round], directives: usize) {
    let per_directive = |seconds: f64| seconds * 1e6 / directives.max(1) as f64;
    let median = |of: fn(&Round) -> f64| per_directive(Spread::of(measured.iter().map(of)).median);
    println!("lockstep per directive ({directives} directives), medians:");
    println!(
        "  inside the engine          : {:>8.1} µs",
        median(|r| r.engine)
    );
    println!(
        "  outside the engine         : {:>8.1} µs (parsing {:.1} µs + driver {:.1} µs + worker process {:.1} µs)",
        median(|r| r.lockstep - r.engine),
        median(|r| r.parse),
        median(|r| r.in_process - r.engine - r.parse),
        median(|r| r.lockstep - r.in_process)
    );
}

/// Median, smallest and largest of some samples.
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(samples: impl Iterator<Item = f64>) -> Spread {
        let mut sorted: Vec<f64> = samples.collect();
        sorted.sort_by(f64::total_cmp);
        Spread {
            median: sorted[sorted.len() / 2],
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        }
    }
}

/// Both harnesses, and what the first round learned about the files.
struct Bench<'a> {
    /// The files in the order `cargo xtask conformance` runs them.
    files: Vec<&'a SuiteFile>,
    reference_engine: wasmtime::Engine,
    /// lockstep's engine and worker for the current round.
    lockstep: Lockstep,
    /// Whether the reference runs each file to its end (the same every round).
    completed: Vec<bool>,
    /// Directives in the files the reference completes.
    directives: usize,
    /// The modules those files declare.
    modules: Modules,
}

/// Modules declared, and how many of them are different: the reference compiles
/// every declaration, lockstep a different module once while it keeps its code.
#[derive(Default)]
struct Modules {
    declared: usize,
    different: HashSet<Vec<u8>>,
}

impl Modules {
    fn count(&mut self, commands: &[Command]) {
        for command in commands {
            match &command.kind {
                CommandKind::Module {
                    bytes: ModuleBytes::Binary(wasm),
                    ..
                } => {
                    self.declared += 1;
                    self.different.insert(wasm.clone());
                }
                CommandKind::Thread { commands, .. } => self.count(commands),
                _ => {}
            }
        }
    }
}

/// lockstep's side as a conformance run starts it: an engine for this process
/// and a worker process, neither of which has compiled anything yet.
struct Lockstep {
    engine: Arc<dyn Engine>,
    timed: Timed,
    worker: crate::worker::Worker,
}

impl Lockstep {
    fn start() -> anyhow::Result<Lockstep> {
        let cranelift = EngineChoice::parse("wasmtime-cranelift")?;
        // Configured as the worker configures it (no epoch interruption, see
        // `Worker::for_scripts`), so that the two lockstep runs differ only in the worker.
        let engines = crate::engines_for(std::slice::from_ref(&cranelift), Watchdog::Outside);
        let engine = engines.engine(&cranelift).map_err(anyhow::Error::msg)?;
        Ok(Lockstep {
            timed: Timed::new(engine.clone()),
            engine,
            worker: crate::worker::Worker::for_scripts(Vec::new()),
        })
    }
}

impl Bench<'_> {
    fn new(files: &[SuiteFile]) -> anyhow::Result<Bench<'_>> {
        let mut config = wasmtime::Config::new();
        config
            .wasm_custom_page_sizes(true)
            .wasm_wide_arithmetic(true)
            .shared_memory(true);
        Ok(Bench {
            files: runner::namesakes(files).into_iter().flatten().collect(),
            reference_engine: wasmtime::Engine::new(&config)?,
            lockstep: Lockstep::start()?,
            completed: Vec::new(),
            directives: 0,
            modules: Modules::default(),
        })
    }

    /// Every file on every side; whether the reference or lockstep goes
    /// first alternates from file to file and from round to round. Each round
    /// starts lockstep afresh, so that no round reuses code an earlier one compiled.
    fn round(&mut self, round: usize) -> anyhow::Result<Round> {
        if round > 0 {
            self.lockstep = Lockstep::start()?;
        }
        let mut total = Round::default();
        for index in 0..self.files.len() {
            let file = self.files[index];
            let reference_first = (round + index).is_multiple_of(2);
            let early = reference_first.then(|| self.reference(file)).transpose()?;
            let (lockstep, script) = self.lockstep(file)?;
            let (reference, completed) = match early {
                Some(measured) => measured,
                None => self.reference(file)?,
            };
            if round == 0 {
                self.completed.push(completed);
                if completed {
                    self.directives += directives(&script.commands);
                    self.modules.count(&script.commands);
                }
            }
            if self.completed[index] {
                total.reference += reference;
                total.lockstep += lockstep.lockstep;
                total.in_process += lockstep.in_process;
                total.engine += lockstep.engine;
                total.parse += lockstep.parse;
            }
        }
        Ok(total)
    }

    /// lockstep on `file`, as conformance runs it and in this process: its
    /// times (the reference's left at zero) and the parsed script.
    fn lockstep(&mut self, file: &SuiteFile) -> anyhow::Result<(Round, Script)> {
        let options = Options::default();
        let parse = || runner::prepare(file).map_err(|e| anyhow::anyhow!("{e}"));
        let Lockstep {
            engine,
            timed,
            worker,
        } = &mut self.lockstep;
        let started = Instant::now();
        let script = parse()?;
        runner::Executor::run(worker, engine, file, &script, &options);
        let lockstep = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let script = parse()?;
        let parsing = started.elapsed().as_secs_f64();
        timed.take_spent();
        runner::run_script(timed, &script, &options);
        let in_process = started.elapsed().as_secs_f64();
        let round = Round {
            reference: 0.0,
            lockstep,
            in_process,
            engine: timed.take_spent().as_secs_f64(),
            parse: parsing,
        };
        Ok((round, script))
    }

    /// The reference harness on `file`: seconds, and whether it ran to the end.
    fn reference(&self, file: &SuiteFile) -> anyhow::Result<(f64, bool)> {
        use wasmtime_wast::{Async, SpectestConfig, WastContext};
        let started = Instant::now();
        let mut context = WastContext::new(&self.reference_engine, Async::No, |_| {});
        context.generate_dwarf(false);
        context.register_spectest(&SpectestConfig {
            use_shared_memory: true,
            suppress_prints: true,
        })?;
        let completed = context.run_wast(&file.key(), file.text.as_bytes()).is_ok();
        Ok((started.elapsed().as_secs_f64(), completed))
    }
}

/// Directives in `commands`, counting those inside `thread` blocks.
fn directives(commands: &[Command]) -> usize {
    commands
        .iter()
        .map(|command| match &command.kind {
            CommandKind::Thread { commands, .. } => 1 + directives(commands),
            _ => 1,
        })
        .sum()
}

fn time_full_matrix() -> anyhow::Result<Duration> {
    let engines = crate::select_engines(&[])?;
    let files = catalog::load(&catalog::builtin_suites()).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    // As `cargo xtask conformance` runs it by default: engines in worker processes.
    let workers =
        || Box::new(crate::worker::Worker::for_scripts(Vec::new())) as Box<dyn runner::Executor>;
    let parallelism = runner::Parallelism {
        jobs: super::jobs(),
        executor: &workers,
    };
    let run = runner::run_matrix(
        &files,
        &engines,
        &HashMap::new(),
        &Options::default(),
        &parallelism,
        &mut |_| {},
    );
    if run.trials.len() != files.len() * engines.len() {
        bail!(
            "the matrix ran {} of {} trials",
            run.trials.len(),
            files.len() * engines.len()
        );
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_the_middle_and_the_ends_of_the_samples() {
        let spread = Spread::of([3.0, 1.0, 2.0, 10.0, 2.5].into_iter());
        assert_eq!((spread.median, spread.min, spread.max), (2.5, 1.0, 10.0));
    }

    #[test]
    fn directives_inside_thread_blocks_count() {
        let text = r#"(module) (thread $t (module) (invoke "f")) (wait $t)"#;
        let script = suites::script::parse("threads.wast", text).unwrap();
        assert_eq!(directives(&script.commands), 5);
    }
}
