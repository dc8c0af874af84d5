//! `cargo xtask`: lockstep's command line. Exit codes: 0 agree, 1 divergence or regression, 2 bad usage or input.

mod aot_compat;
mod bench;
mod blame;
mod bucket;
mod budgets;
mod conformance;
mod corpus;
mod dashboard;
mod diff;
mod engines;
mod example_engine;
mod finding;
mod fuzz;
mod guest;
mod history;
mod input;
mod known;
mod merge;
mod passes;
mod program;
mod progress;
mod reduce;
mod report;
mod terminal;
mod worker;

use clap::{Parser, Subcommand};
use oracles::external::{Externals, Spec};
use oracles::{EngineChoice, Engines, Watchdog};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Run WebAssembly engines side by side and find where they disagree"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the spec suites on every engine against the checked-in expectations.
    Conformance(conformance::Args),
    /// What each engine does with one module or script, and whether they agree.
    Diff(diff::Args),
    /// Random modules on every engine; divergences saved and deduplicated.
    Fuzz(fuzz::Args),
    /// Join the reports of `conformance --shard K/N` runs into one matrix, dashboard and JUnit file.
    Merge(merge::Args),
    /// Shrink a module while its divergence holds; save the small finding.
    Reduce(reduce::Args),
    /// Name the component a finding's divergence belongs to (engine, binaryen level, unwind driver, setting).
    Blame(blame::Args),
    /// List the engines with their versions and proposals.
    Engines {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure speed and memory against a reference in the same run.
    Bench(bench::Args),
    /// Load `wasmtime-aot` artifacts into engines that differ in one setting: refused, agreed or misbehaved.
    AotCompat(aot_compat::Args),
    /// Build the corpus of real programs (`corpus/`) to wasm32-wasip1, beside their sources, and
    /// fetch the language runtimes it names into `target/corpus/runtimes/`.
    Corpus {
        /// Only fetch the runtimes.
        #[arg(long)]
        runtimes_only: bool,
    },
    /// Build the wasmi guest of the nested tiers (`wasmi-on-*`) to wasm32-wasip1.
    Guest,
    /// (internal) Run a WASI command on one tier with this process's standard streams: the host
    /// side of a nested tier.
    #[command(name = oracles::nested::RUN_LIVE, hide = true)]
    RunLive {
        /// The tier (or `mutant:*`) that runs the program.
        #[arg(long)]
        engine: EngineChoice,
        program: std::path::PathBuf,
    },
    /// (internal) Serve engine requests on standard input, for crash isolation.
    #[command(name = "worker", hide = true)]
    Worker {
        /// Engines skip their own time limits: the parent's watchdog is the only one.
        #[arg(long)]
        watchdog_only: bool,
        /// External engines configured in the parent, as `NAME=COMMAND`.
        #[arg(long = "external", value_name = "NAME=COMMAND")]
        externals: Vec<Spec>,
    },
    /// (internal) Load the AOT compatibility probe under one setting and report what it did.
    #[command(name = "aot-load", hide = true)]
    AotLoad {
        /// The setting, as the table names it; none loads faithfully.
        setting: Option<String>,
    },
    /// (example) A built-in engine served over the external-engine protocol, optionally broken.
    #[command(name = "example-engine", hide = true)]
    ExampleEngine {
        /// The built-in engine to serve.
        #[arg(long, default_value = "wasmi")]
        engine: EngineChoice,
        /// Misbehave on every call.
        #[arg(long)]
        broken: Option<example_engine::Broken>,
        /// The file `--broken fork` appends the ids of the processes it starts to.
        #[arg(long, value_name = "PATH")]
        pid_file: Option<std::path::PathBuf>,
        /// A limit of `reset` to leave unapplied, and say so in `hello` (`memory_bytes`, ...; repeatable).
        #[arg(long, value_name = "LIMIT", value_parser = example_engine::limit)]
        unapplied: Vec<oracles::Limit>,
    },
}

/// What a command concluded, as an exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conclusion {
    /// Everything agrees with what is expected.
    Agree,
    /// A divergence or regression was found.
    Diverge,
    /// Bad usage or bad input; results gathered so far were still reported.
    BadInput,
}

impl From<Conclusion> for ExitCode {
    fn from(conclusion: Conclusion) -> ExitCode {
        ExitCode::from(match conclusion {
            Conclusion::Agree => 0,
            Conclusion::Diverge => 1,
            Conclusion::BadInput => 2,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(diff::attach_invoke_words(std::env::args_os()));
    // Workers make their temporary files in the folder of the process that started them.
    let run_folder = match &cli.command {
        Command::Worker { .. }
        | Command::ExampleEngine { .. }
        | Command::RunLive { .. }
        | Command::AotLoad { .. } => None,
        _ => Some(oracles::tempfiles::RunFolder::create()),
    };
    if let Some(Err(error)) = &run_folder {
        eprintln!("error: creating a private temporary folder: {error}");
        return Conclusion::BadInput.into();
    }
    let result = match cli.command {
        Command::Conformance(args) => conformance::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Reduce(args) => reduce::run(args),
        Command::Blame(args) => blame::run(args),
        Command::Engines { json } => engines::run(json),
        Command::Bench(args) => bench::run(args),
        Command::Corpus { runtimes_only } => corpus::build(runtimes_only),
        Command::Guest => guest::build(),
        Command::RunLive { engine, program } => guest::run_live(&engine, &program),
        Command::AotCompat(args) => aot_compat::run(args),
        Command::AotLoad { setting } => aot_compat::serve(setting.as_deref()),
        Command::Worker {
            watchdog_only,
            externals,
        } => worker::serve(watchdog_only, externals),
        Command::ExampleEngine {
            engine,
            broken,
            pid_file,
            unapplied,
        } => example_engine::serve(&engine, broken, pid_file.as_deref(), unapplied),
    };
    match result {
        Ok(conclusion) => conclusion.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            Conclusion::BadInput.into()
        }
    }
}

/// The engines `choices` name (every default tier when there are none), built
/// in this process; an external engine that cannot run here is an error.
pub fn select_engines(choices: &[EngineChoice]) -> anyhow::Result<Vec<Arc<dyn oracles::Engine>>> {
    let engines = engines_for(choices, Watchdog::InEngine);
    chosen(choices)
        .iter()
        .map(|choice| {
            let id = choice.id();
            engines
                .engine(choice)
                .map_err(|why| anyhow::anyhow!("engine `{id}` is unavailable: {why}"))
        })
        .collect()
}

/// `choices`, or every default tier when there are none.
pub fn chosen(choices: &[EngineChoice]) -> Vec<EngineChoice> {
    match choices.is_empty() {
        true => EngineChoice::defaults(),
        false => choices.to_vec(),
    }
}

/// The external engines `choices` configure as `NAME=COMMAND`.
pub fn external_specs(choices: &[EngineChoice]) -> Vec<Spec> {
    let specs = choices.iter().filter_map(|choice| match choice {
        EngineChoice::External(spec) => Some(spec.clone()),
        _ => None,
    });
    specs.collect()
}

/// The engines of a run over `choices`, with calls stopped by `watchdog`.
pub fn engines_for(choices: &[EngineChoice], watchdog: Watchdog) -> Engines {
    Engines::new(watchdog, Externals::new(external_specs(choices)))
}

/// A memory figure of this process from `/proc/self/status` (`VmRSS`, `VmHWM`), in MiB.
pub fn resident_mib(field: &str) -> f64 {
    status_mib("self", field)
}

/// Resident memory of this process and its worker processes together, in MiB.
pub fn resident_with_workers_mib() -> f64 {
    let me = std::process::id().to_string();
    let children = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| parent_of(pid).as_deref() == Some(me.as_str()));
    children
        .map(|pid| status_mib(&pid, "VmRSS"))
        .filter(|mib| !mib.is_nan())
        .sum::<f64>()
        + resident_mib("VmRSS")
}

/// The parent process id, the fourth field of `/proc/PID/stat` (after the parenthesized name).
fn parent_of(pid: &str) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)
        .map(str::to_string)
}

fn status_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
