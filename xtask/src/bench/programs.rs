//! `cargo xtask bench programs`: each corpus program and fetched language runtime on each tier, with
//! compile, start-up, first and steady run time, each tier's ratio to the fastest, and tiers far slower
//! than their class flagged.

use crate::Conclusion;
use crate::corpus::runtimes::{RUNTIMES, Runtime};
use crate::corpus::{PROGRAMS, wasm_path};
use anyhow::Context;
use oracles::tiers::{Class, Start, Tier};
use oracles::wasi::compare::ending_text;
use oracles::wasi::sandbox::Sandbox;
use oracles::wasi::{Ending, Entry, ProgramEngine, Timing};
use oracles::{Limits, Outcome};
use std::sync::Arc;
use std::time::Duration;

/// How much slower than the fastest tier of its class a tier may run before
/// it is flagged. Winch trades code quality for compile speed and Pulley and
/// wasmi interpret differently, so factors of two or three are expected
/// within a class; four and above means a tier is not doing what its class does.
pub const SLOWER_THAN_CLASS: f64 = 4.0;

/// Runs of a language runtime per tier, whatever `--runs` says: a first and a steady one.
///
/// Rationale: compiling a 16 or 26 MB interpreter takes Cranelift tens of seconds on a busy
/// 2-core machine; the first run shows the cold start, the second what caches (an Asyncify
/// tier's instrumentation) leave.
pub const RUNTIME_RUNS: usize = 2;

/// One program as the bench runs it.
struct Workload {
    name: String,
    wasm: Vec<u8>,
    sandbox: Sandbox,
    entry: Entry,
    runs: usize,
}

struct Row {
    engine: String,
    /// Tiers are judged against others that execute the same way: an
    /// instrumented tier with its base's class.
    class: Class,
    start: Start,
    /// The first run's time in the program (the cold call).
    first_run: Duration,
    /// Medians, the run time of the runs after the first (all of them when there is one).
    median: Timing,
    /// Set when a run did not exit with status 0.
    failure: Option<String>,
}

impl Row {
    /// What a process pays before the program runs: compiling and
    /// instantiating, or for AOT only loading the artifact and instantiating.
    fn start_up(&self) -> Duration {
        match self.start {
            Start::LoadArtifact => self.median.instantiate,
            Start::Compile => self.median.compile + self.median.instantiate,
        }
    }
}

pub fn run(args: &super::Args) -> anyhow::Result<Conclusion> {
    let (runs, slower_than_class) = (args.runs, args.slower_than_class);
    let engines = crate::program::select(&args.engines)?;
    // Generous: wasmi and Pulley interpret the larger workloads for seconds.
    let limits = args.budgets.apply(Limits {
        call_time: Duration::from_secs(120),
        ..Limits::default()
    })?;
    let mut workloads = corpus_workloads(runs)?;
    workloads.extend(runtime_workloads(runs)?);
    workloads.retain(|w| args.programs.is_empty() || args.programs.contains(&w.name));
    println!(
        "{runs} runs of each corpus program, {} of each runtime; start-up = compile + instantiate \
         (AOT: load + instantiate); run = median after the first; ratio = run / fastest tier's",
        runs.min(RUNTIME_RUNS)
    );
    println!(
        "{:<16} {:<20} {:>11} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "program", "tier", "compile", "instantiate", "start-up", "first run", "run", "ratio"
    );
    let mut flags = Vec::new();
    for workload in &workloads {
        let rows: Vec<Row> = engines
            .iter()
            .map(|engine| measure(engine, workload, &limits))
            .collect();
        flags.extend(print_program(&workload.name, &rows, slower_than_class));
    }
    if flags.is_empty() {
        println!("no tier is more than {slower_than_class}x slower than the fastest of its class");
        return Ok(Conclusion::Agree);
    }
    for flag in &flags {
        println!("PERFORMANCE DIVERGENCE {flag}");
    }
    Ok(Conclusion::Diverge)
}

/// The corpus's programs that are workloads, with their bench arguments.
fn corpus_workloads(runs: usize) -> anyhow::Result<Vec<Workload>> {
    let mut workloads = Vec::new();
    for program in PROGRAMS {
        let Some(bench_args) = program.bench_args else {
            continue;
        };
        let path = wasm_path(program.name);
        let wasm = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let args: Vec<String> = bench_args.iter().map(|a| a.to_string()).collect();
        workloads.push(Workload {
            name: program.name.to_string(),
            wasm,
            sandbox: Sandbox::new(program.name, &args),
            entry: Entry::Command,
            runs,
        });
    }
    Ok(workloads)
}

/// The language runtimes `cargo xtask corpus` fetched, each on its script; a missing one is named.
fn runtime_workloads(runs: usize) -> anyhow::Result<Vec<Workload>> {
    let mut workloads = Vec::new();
    for runtime in RUNTIMES {
        let Ok(wasm) = std::fs::read(runtime.wasm_path()) else {
            println!(
                "{}: skipped, not fetched (`cargo xtask corpus --runtimes-only` fetches it)",
                runtime.name
            );
            continue;
        };
        workloads.push(runtime_workload(runtime, wasm, runs)?);
    }
    Ok(workloads)
}

fn runtime_workload(runtime: &Runtime, wasm: Vec<u8>, runs: usize) -> anyhow::Result<Workload> {
    Ok(Workload {
        name: runtime.name.to_string(),
        sandbox: runtime.sandbox()?,
        entry: runtime.entry(&wasm)?,
        wasm,
        runs: runs.min(RUNTIME_RUNS),
    })
}

fn measure(engine: &Arc<dyn ProgramEngine>, workload: &Workload, limits: &Limits) -> Row {
    let mut timings = Vec::with_capacity(workload.runs);
    let mut failure = None;
    for _ in 0..workload.runs.max(1) {
        let run = oracles::wasi::run(
            engine.as_ref(),
            &workload.wasm,
            &workload.sandbox,
            &workload.entry,
            limits,
        );
        if !succeeded(&run.ending, &workload.entry) {
            failure = Some(ending_text(&run.ending));
        }
        timings.push(run.timing);
    }
    let first_run = timings[0].run;
    let steady = if timings.len() > 1 {
        &timings[1..]
    } else {
        &timings[..]
    };
    let median = |phase: fn(&Timing) -> Duration| {
        let mut samples: Vec<Duration> = steady.iter().map(phase).collect();
        samples.sort();
        samples[samples.len() / 2]
    };
    let tier = Tier::named(engine.id()).expect("program tiers are registered");
    Row {
        engine: engine.id().to_string(),
        class: tier.execution_class(),
        start: tier.start,
        first_run,
        median: Timing {
            compile: median(|t| t.compile),
            instantiate: median(|t| t.instantiate),
            run: median(|t| t.run),
        },
        failure,
    }
}

/// A command exits with status 0; a reactor's export returns.
fn succeeded(ending: &Ending, entry: &Entry) -> bool {
    match entry {
        Entry::Command => *ending == Ending::Exit(0),
        Entry::Reactor { .. } => matches!(ending, Ending::Outcome(Outcome::Values(_))),
    }
}

/// Prints one program's rows; returns the flags it raised.
fn print_program(name: &str, rows: &[Row], slower_than_class: f64) -> Vec<String> {
    let fastest = |class: Option<Class>| {
        rows.iter()
            .filter(|row| row.failure.is_none())
            .filter(|row| class.is_none_or(|c| row.class == c))
            .map(|row| row.median.run)
            .min()
            .unwrap_or(Duration::MAX)
    };
    let overall = fastest(None);
    let mut flags = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let shown_name = if i == 0 { name } else { "" };
        let ratio = row.median.run.as_secs_f64() / overall.as_secs_f64();
        let class_ratio = row.median.run.as_secs_f64() / fastest(Some(row.class)).as_secs_f64();
        let mark = match (&row.failure, class_ratio > slower_than_class) {
            (Some(ending), _) => {
                flags.push(format!("{name} on {}: ended with {ending}", row.engine));
                format!("  FAILED: {ending}")
            }
            (None, true) => {
                flags.push(format!(
                    "{name} on {}: {class_ratio:.1}x the fastest of the {}",
                    row.engine,
                    row.class.name()
                ));
                format!("  SLOW: {class_ratio:.1}x its class")
            }
            (None, false) => String::new(),
        };
        println!(
            "{shown_name:<16} {:<20} {:>11} {:>11} {:>11} {:>11} {:>11} {ratio:>7.2}{mark}",
            row.engine,
            millis(row.median.compile),
            millis(row.median.instantiate),
            millis(row.start_up()),
            millis(row.first_run),
            millis(row.median.run),
        );
    }
    flags
}

pub(super) fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
