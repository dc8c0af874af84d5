//! `cargo xtask bench`: speed and memory measured against a reference in the same run, as ratios.

use crate::Conclusion;
use anyhow::{Context, bail};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use suites::catalog::{self, SuiteFile};
use suites::runner::{self, Options};

#[derive(clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum)]
    target: Target,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Target {
    /// lockstep's wasmtime-cranelift against the wasmtime-wast harness, and the full default matrix.
    Conformance,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    if cfg!(debug_assertions) {
        return rerun_in_release();
    }
    match args.target {
        Target::Conformance => conformance(),
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

    let (reference, reference_errors) = time_reference(&files)?;
    let lockstep = time_lockstep(&files)?;
    let ratio = lockstep.as_secs_f64() / reference.as_secs_f64();
    println!(
        "reference wasmtime-wast 48 : {:>8.2} s ({reference_errors} files ended in an error)",
        reference.as_secs_f64()
    );
    println!(
        "lockstep wasmtime-cranelift: {:>8.2} s",
        lockstep.as_secs_f64()
    );
    println!("ratio lockstep/reference   : {ratio:>8.2} (target <= 1.2)");

    let matrix = time_full_matrix()?;
    println!(
        "full default matrix        : {:>8.2} s wall, {} jobs (target < 30 s)",
        matrix.as_secs_f64(),
        jobs()
    );
    let peak = peak_memory_mib();
    println!("peak memory                : {peak:>8.0} MiB (target < 2048 MiB)");
    Ok(Conclusion::Agree)
}

fn time_reference(files: &[SuiteFile]) -> anyhow::Result<(Duration, usize)> {
    use wasmtime_wast::{Async, SpectestConfig, WastContext};
    let mut config = wasmtime::Config::new();
    config
        .wasm_custom_page_sizes(true)
        .wasm_wide_arithmetic(true)
        .shared_memory(true);
    let engine = wasmtime::Engine::new(&config)?;
    let spectest = SpectestConfig {
        use_shared_memory: true,
        suppress_prints: true,
    };
    let started = Instant::now();
    let mut errors = 0;
    for file in files {
        let mut context = WastContext::new(&engine, Async::No, |_| {});
        context.generate_dwarf(false);
        context.register_spectest(&spectest)?;
        errors += usize::from(context.run_wast(&file.key(), file.text.as_bytes()).is_err());
    }
    Ok((started.elapsed(), errors))
}

fn time_lockstep(files: &[SuiteFile]) -> anyhow::Result<Duration> {
    let engine = crate::select_engines(&["wasmtime-cranelift".to_string()])?.remove(0);
    let options = Options::default();
    let started = Instant::now();
    for file in files {
        let script = runner::prepare(file).map_err(|e| anyhow::anyhow!("{e}"))?;
        runner::run_script(engine.as_ref(), &script, &options);
    }
    Ok(started.elapsed())
}

fn time_full_matrix() -> anyhow::Result<Duration> {
    let engines = crate::select_engines(&[])?;
    let files = catalog::load(&catalog::builtin_suites()).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let run = runner::run_matrix(
        &files,
        &engines,
        &HashMap::new(),
        &Options::default(),
        jobs(),
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

/// The process's peak resident set (VmHWM), in MiB.
fn peak_memory_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
