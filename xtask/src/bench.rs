//! `cargo xtask bench`: speed and memory measured against a reference in the same run, as ratios.

mod asyncify;
mod mutants;
mod programs;

use crate::Conclusion;
use anyhow::{Context, bail};
use oracles::EngineChoice;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use suites::catalog::{self, SuiteFile};
use suites::runner::{self, Options};

#[derive(clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum)]
    target: Target,
    /// How long `bench fuzz` runs (memory is compared at 5 minutes and at the end when it runs
    /// longer); for `bench mutants`, the time budget of each planted bug.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// How often `bench programs` runs each program on each tier (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// `bench programs` flags a tier whose run time is more than this many times its class's fastest.
    #[arg(long, default_value_t = programs::SLOWER_THAN_CLASS)]
    slower_than_class: f64,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    /// lockstep's wasmtime-cranelift against the wasmtime-wast harness, and the full default matrix.
    Conformance,
    /// Fuzzing throughput on the default engines, with time split by phase and engine, and memory over time.
    Fuzz,
    /// Reduction of planted divergences: size before and after, and time.
    Reduce,
    /// Asyncify: instrumentation time per module, code growth, and the cost of one unwind/rewind cycle.
    Asyncify,
    /// The corpus of WASI programs on every tier: compile, start-up and run time, ratios, slow tiers flagged.
    Programs,
    /// Bug-finding power: 12 planted bugs, each fuzzed until found or the time budget.
    Mutants,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    match args.target {
        Target::Conformance => conformance(),
        Target::Fuzz => fuzz(args.seconds),
        Target::Reduce => reduce(),
        Target::Asyncify => asyncify::run(),
        Target::Programs => programs::run(args.runs, args.slower_than_class),
        Target::Mutants => mutants::run(args.seconds),
    }
}

/// Benchmarks are only meaningful optimized: run the same command from a release build.
fn rerun_in_release() -> anyhow::Result<Conclusion> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!(
        "bench: building and running the release build (the first time takes several minutes)"
    );
    let status = std::process::Command::new(cargo)
        .args(["run", "--quiet", "--release", "--package", "xtask", "--"])
        .args(std::env::args().skip(1))
        .status()
        .context("running the release build")?;
    Ok(match status.code() {
        Some(0) => Conclusion::Agree,
        Some(1) => Conclusion::Diverge,
        _ => Conclusion::BadInput,
    })
}

fn conformance() -> anyhow::Result<Conclusion> {
    let mut selection = vec!["wasm-v3".to_string()];
    selection.extend(
        catalog::builtin_suites()
            .into_iter()
            .filter(|s| s.starts_with("proposals/")),
    );
    let files = catalog::load(&selection).map_err(anyhow::Error::msg)?;
    println!(
        "{} files (wasm-v3 and proposals), one thread each side",
        files.len()
    );

    let timings = time_both(&files)?;
    let completed: Vec<&FileTiming> = timings.iter().filter(|t| t.reference_completed).collect();
    let reference: f64 = completed.iter().map(|t| t.reference).sum();
    let lockstep: f64 = completed.iter().map(|t| t.lockstep).sum();
    println!(
        "compared on the {} files wasmtime-wast completes ({} stop early at an error, so they are left out)",
        completed.len(),
        timings.len() - completed.len()
    );
    println!("reference wasmtime-wast 48 : {reference:>8.2} s");
    println!("lockstep wasmtime-cranelift: {lockstep:>8.2} s");
    println!(
        "ratio lockstep/reference   : {:>8.2} (target <= 1.2)",
        lockstep / reference
    );

    let matrix = time_full_matrix()?;
    println!(
        "full default matrix        : {:>8.2} s wall, {} jobs (target < 30 s)",
        matrix.as_secs_f64(),
        jobs()
    );
    let peak = crate::resident_mib("VmHWM");
    println!("peak memory                : {peak:>8.0} MiB (target < 2048 MiB)");
    Ok(Conclusion::Agree)
}

/// One file through both harnesses, in seconds.
struct FileTiming {
    reference: f64,
    reference_completed: bool,
    lockstep: f64,
}

fn time_both(files: &[SuiteFile]) -> anyhow::Result<Vec<FileTiming>> {
    use wasmtime_wast::{Async, SpectestConfig, WastContext};
    let mut config = wasmtime::Config::new();
    config
        .wasm_custom_page_sizes(true)
        .wasm_wide_arithmetic(true)
        .shared_memory(true);
    let reference_engine = wasmtime::Engine::new(&config)?;
    let spectest = SpectestConfig {
        use_shared_memory: true,
        suppress_prints: true,
    };
    let cranelift = EngineChoice::parse("wasmtime-cranelift")?;
    let engine = crate::select_engines(&[cranelift])?.remove(0);
    let options = Options::default();
    let mut worker = crate::worker::Worker::for_scripts(Vec::new());
    let mut timings = Vec::with_capacity(files.len());
    for file in files {
        let started = Instant::now();
        let mut context = WastContext::new(&reference_engine, Async::No, |_| {});
        context.generate_dwarf(false);
        context.register_spectest(&spectest)?;
        let reference_completed = context.run_wast(&file.key(), file.text.as_bytes()).is_ok();
        let reference = started.elapsed().as_secs_f64();
        // As `cargo xtask conformance` runs it by default: parsed here, run in a worker process.
        let started = Instant::now();
        let script = runner::prepare(file).map_err(|e| anyhow::anyhow!("{e}"))?;
        runner::Executor::run(&mut worker, &engine, file, &script, &options);
        timings.push(FileTiming {
            reference,
            reference_completed,
            lockstep: started.elapsed().as_secs_f64(),
        });
    }
    Ok(timings)
}

fn time_full_matrix() -> anyhow::Result<Duration> {
    let engines = crate::select_engines(&[])?;
    let files = catalog::load(&catalog::builtin_suites()).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    // As `cargo xtask conformance` runs it by default: engines in worker processes.
    let workers =
        || Box::new(crate::worker::Worker::for_scripts(Vec::new())) as Box<dyn runner::Executor>;
    let parallelism = runner::Parallelism {
        jobs: jobs(),
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

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn fuzz(seconds: u64) -> anyhow::Result<Conclusion> {
    use crate::fuzz::{Args, Campaign};
    use std::sync::atomic::Ordering;
    let out = oracles::tempfiles::folder("bench-fuzz-")?;
    let args = Args {
        engines: Vec::new(),
        time: Some(seconds),
        iterations: None,
        from: 0,
        in_process: false,
        resume: None,
        reduce_time: None,
        seed: 0,
        jobs: None,
        out: Some(out.path().to_path_buf()),
    };
    let campaign = Campaign::new(&args)?;
    let started = Instant::now();
    campaign.run(None);
    let elapsed = started.elapsed().as_secs_f64();
    let modules = campaign.stats.modules.load(Ordering::Relaxed) as f64;
    let calls = campaign.stats.calls.load(Ordering::Relaxed) as f64;
    println!("default engines, {} jobs, {elapsed:.0} s", jobs());
    println!("modules/s : {:>8.1} (target >= 50)", modules / elapsed);
    println!("calls/s   : {:>8.1}", calls / elapsed);
    let times = campaign.stats.times.lock().expect("stats lock").clone();
    println!("time (seconds summed over workers):");
    println!("  generate                      {:>8.2}", times.generate);
    for (engine, t) in campaign.engines.iter().zip(&times.engines) {
        println!(
            "  {:<20} compile {:>8.2}   run {:>8.2}",
            engine.id(),
            t.compile,
            t.run
        );
    }
    println!("  compare (and state digests)   {:>8.2}", times.compare);
    let samples = campaign.stats.resident.lock().expect("stats lock").clone();
    let at = |limit: f64| {
        samples
            .iter()
            .take_while(|(t, _)| *t <= limit)
            .last()
            .map(|(_, m)| *m)
    };
    let (first, last) = (samples.first().map(|s| s.1), samples.last().map(|s| s.1));
    match (at(300.0).filter(|_| elapsed > 600.0), last) {
        (Some(five), Some(end)) => println!(
            "resident  : {five:.0} MiB at 5 min, {end:.0} MiB at the end: ratio {:.2} (target <= 1.5)",
            end / five
        ),
        _ => println!(
            "resident  : {:.0} MiB first sample, {:.0} MiB at the end (run --seconds 3600 for the 1-hour target)",
            first.unwrap_or(f64::NAN),
            last.unwrap_or(f64::NAN)
        ),
    }
    Ok(Conclusion::Agree)
}

fn reduce() -> anyhow::Result<Conclusion> {
    use crate::reduce::{Reducer, Size};
    use generators::planted;
    println!(
        "planted divergences in generated modules of {}+ functions, reduced against wasmtime-cranelift:",
        planted::HAYSTACK
    );
    for plant in planted::PLANTS {
        let wasm = generators::wat_to_wasm(&planted::module(plant, 5).map_err(anyhow::Error::msg)?)
            .map_err(anyhow::Error::msg)?;
        let engines = crate::worker::references(&crate::select_engines(&[
            EngineChoice::parse("wasmtime-cranelift")?,
            EngineChoice::parse(plant.mutant)?,
        ])?);
        let mut worker = crate::worker::Worker::new(Vec::new());
        let mut reducer = Reducer {
            engines: &engines,
            known: &[],
            worker: Some(&mut worker),
            limits: oracles::Limits {
                host_functions: true,
                ..oracles::Limits::default()
            },
        };
        let signature = reducer
            .signature_of(&wasm)
            .ok_or_else(|| anyhow::anyhow!("{}: no divergence", plant.name))?;
        let started = Instant::now();
        let reduced = reducer
            .reduce(&wasm, &signature, started + Duration::from_secs(60))
            .map_err(anyhow::Error::msg)?;
        println!("{}:", plant.name);
        println!("  before {}", Size::of(&wasm));
        println!("  after  {}", Size::of(&reduced.wasm));
        println!("  time   {:.1} s", started.elapsed().as_secs_f64());
    }
    Ok(Conclusion::Agree)
}
