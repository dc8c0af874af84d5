//! `cargo xtask bench programs`: each corpus program on each tier, with compile, start-up and run time
//! as medians of repeated runs, each tier's ratio to the fastest, and tiers far slower than their class flagged.

use crate::Conclusion;
use crate::budgets::BudgetArgs;
use crate::corpus::{PROGRAMS, wasm_path};
use anyhow::Context;
use oracles::Limits;
use oracles::tiers::{Class, Start, Tier};
use oracles::wasi::compare::ending_text;
use oracles::wasi::sandbox::Sandbox;
use oracles::wasi::{Ending, Entry, ProgramEngine, Timing};
use std::sync::Arc;
use std::time::Duration;

/// How much slower than the fastest tier of its class a tier may run before
/// it is flagged. Winch trades code quality for compile speed and Pulley and
/// wasmi interpret differently, so factors of two or three are expected
/// within a class; four and above means a tier is not doing what its class does.
pub const SLOWER_THAN_CLASS: f64 = 4.0;

struct Row {
    engine: String,
    /// Tiers are judged against others that execute the same way: an
    /// instrumented tier with its base's class.
    class: Class,
    start: Start,
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

pub fn run(
    runs: usize,
    slower_than_class: f64,
    budgets: &BudgetArgs,
) -> anyhow::Result<Conclusion> {
    let engines = crate::program::select(&[])?;
    // Generous: wasmi and Pulley interpret the larger workloads for seconds.
    let limits = budgets.apply(Limits {
        call_time: Duration::from_secs(120),
        ..Limits::default()
    })?;
    println!(
        "medians of {runs} runs; start-up = compile + instantiate (AOT: load + instantiate); ratio = run time / fastest tier's"
    );
    println!(
        "{:<16} {:<20} {:>11} {:>11} {:>11} {:>11} {:>7}",
        "program", "tier", "compile", "instantiate", "start-up", "run", "ratio"
    );
    let mut flags = Vec::new();
    for program in PROGRAMS {
        let Some(bench_args) = program.bench_args else {
            continue;
        };
        let path = wasm_path(program.name);
        let wasm = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let args: Vec<String> = bench_args.iter().map(|a| a.to_string()).collect();
        let sandbox = Sandbox::new(program.name, &args);
        let rows: Vec<Row> = engines
            .iter()
            .map(|engine| measure(engine, &wasm, &sandbox, &limits, runs))
            .collect();
        flags.extend(print_program(program.name, &rows, slower_than_class));
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

fn measure(
    engine: &Arc<dyn ProgramEngine>,
    wasm: &[u8],
    sandbox: &Sandbox,
    limits: &Limits,
    runs: usize,
) -> Row {
    let mut timings = Vec::with_capacity(runs);
    let mut failure = None;
    for _ in 0..runs.max(1) {
        let run = oracles::wasi::run(engine.as_ref(), wasm, sandbox, &Entry::Command, limits);
        if run.ending != Ending::Exit(0) {
            failure = Some(ending_text(&run.ending));
        }
        timings.push(run.timing);
    }
    let median = |phase: fn(&Timing) -> Duration| {
        let mut samples: Vec<Duration> = timings.iter().map(phase).collect();
        samples.sort();
        samples[samples.len() / 2]
    };
    let tier = Tier::named(engine.id()).expect("program tiers are registered");
    Row {
        engine: engine.id().to_string(),
        class: tier.execution_class(),
        start: tier.start,
        median: Timing {
            compile: median(|t| t.compile),
            instantiate: median(|t| t.instantiate),
            run: median(|t| t.run),
        },
        failure,
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
            "{shown_name:<16} {:<20} {:>11} {:>11} {:>11} {:>11} {ratio:>7.2}{mark}",
            row.engine,
            millis(row.median.compile),
            millis(row.median.instantiate),
            millis(row.start_up()),
            millis(row.median.run),
        );
    }
    flags
}

pub(super) fn millis(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}
