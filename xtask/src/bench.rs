//! `cargo xtask bench`: speed and memory measured against a reference in the same run, as ratios.

mod asyncify;
mod conformance;
mod mutants;
mod nested;
mod programs;

use crate::Conclusion;
use anyhow::Context;
use oracles::EngineChoice;
use oracles::tiers::{Class, Tier};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum)]
    target: Target,
    /// How long `bench fuzz` runs (memory is compared at 5 minutes and at the end when it runs
    /// longer); for `bench mutants`, the time budget of each planted bug.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// How often `bench programs` runs each program on each tier, and `bench conformance` each side (medians are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// `bench programs` flags a tier whose run time is more than this many times its class's fastest.
    #[arg(long, default_value_t = programs::SLOWER_THAN_CLASS)]
    slower_than_class: f64,
    /// `bench programs`: only this program or runtime (repeatable; default: all of them).
    #[arg(long = "program", value_name = "NAME")]
    programs: Vec<String>,
    /// `bench programs`: only this tier (repeatable; default: every WASI tier).
    #[arg(long = "engine", value_name = "ID")]
    engines: Vec<EngineChoice>,
    /// `bench programs`: budgets (default: generous, for interpreters running the larger workloads).
    #[command(flatten)]
    budgets: crate::budgets::BudgetArgs,
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
    /// The corpus of WASI programs on every tier: compile, start-up and run time, ratios, slow tiers
    /// flagged; then the nested table.
    Programs,
    /// The nested table alone: binary-trees directly on each host tier and through the wasmi guest on it.
    Nested,
    /// Bug-finding power: 12 planted bugs, each fuzzed until found or the time budget.
    Mutants,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    match args.target {
        Target::Conformance => conformance::run(args.runs),
        Target::Fuzz => fuzz(args.seconds),
        Target::Reduce => reduce(),
        Target::Asyncify => asyncify::run(),
        Target::Programs => {
            let programs = programs::run(&args)?;
            // The nested table runs binary-trees on every host tier, which `--program` or
            // `--engine` may have left out.
            let nested = match args.programs.is_empty() && args.engines.is_empty() {
                true => nested::run()?,
                false => Conclusion::Agree,
            };
            Ok(match programs {
                Conclusion::Agree => nested,
                flagged => flagged,
            })
        }
        Target::Nested => nested::run(),
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

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn fuzz(seconds: u64) -> anyhow::Result<Conclusion> {
    use crate::fuzz::{Args, Campaign};
    use std::sync::atomic::Ordering;
    let out = oracles::tempfiles::folder("bench-fuzz-")?;
    let args = Args {
        time: Some(seconds),
        ..Args::new(Vec::new(), out.path())
    };
    let campaign = Campaign::new(&args)?;
    let started = Instant::now();
    campaign.run(None);
    let elapsed = started.elapsed().as_secs_f64();
    let modules = campaign.stats.modules.load(Ordering::Relaxed) as f64;
    let calls = campaign.stats.calls.load(Ordering::Relaxed) as f64;
    println!("default engines, {} jobs, {elapsed:.0} s", jobs());
    println!("modules/s : {:>8.1} (target >= 80)", modules / elapsed);
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
    let spent = |t: &oracles::differential::Timing| t.compile + t.run;
    let instrumented: f64 = (campaign.engines.iter().zip(&times.engines))
        .filter(|(engine, _)| {
            Tier::named(engine.id()).is_some_and(|t| t.class == Class::Instrumented)
        })
        .map(|(_, t)| spent(t))
        .sum();
    let all: f64 = times.engines.iter().map(spent).sum();
    println!(
        "Asyncify tiers: {:.1}% of the engines' time (target <= 40%)",
        100.0 * instrumented / all.max(1e-9)
    );
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
        let limits = oracles::Limits {
            host_functions: true,
            ..oracles::Limits::default()
        };
        let mut reducer = Reducer::new(&engines, &[], Some(&mut worker), limits);
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
