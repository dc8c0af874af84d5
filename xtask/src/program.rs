//! `cargo xtask diff PROGRAM.wasm -- ARGS…`: a WASI program on every tier in the same sandbox; exit
//! status, stdout, stderr and the scratch directory's final tree compared, the first difference shown as a unified diff.

mod json;

use crate::Conclusion;
use crate::worker::Worker;
use anyhow::{Context, bail};
use oracles::wasi::compare::{Aspect, ProgramVerdict, compare, ending_text};
use oracles::wasi::sandbox::{Sandbox, read_tree};
use oracles::wasi::{Entry, ProgramEngine, ProgramRun};
use oracles::{EngineChoice, Limits, Value, Watchdog};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How the sandbox differs from lockstep's default one.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SandboxArgs {
    /// WASI programs: arguments after `--` (the program name comes first, from the file name).
    #[arg(last = true, value_name = "ARGS")]
    pub program_args: Vec<String>,
    /// WASI programs: standard input comes from this file (default: empty).
    #[arg(long, value_name = "FILE")]
    pub stdin: Option<PathBuf>,
    /// WASI programs: the scratch directory starts as a copy of this directory (default: lockstep's seed tree).
    #[arg(long, value_name = "DIR")]
    pub scratch: Option<PathBuf>,
    /// WASI programs: the environment, replacing the default (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// WASI programs: seed of the bytes `random_get` returns.
    #[arg(long, default_value_t = 0)]
    pub random_seed: u64,
}

/// Whether a module is a WASI program rather than a library of exports:
/// it imports WASI preview 1 or is a command.
pub fn is_program(wasm: &[u8]) -> bool {
    let facts = oracles::facts::read(wasm);
    let wasi = |import: &oracles::facts::Import| import.module == "wasi_snapshot_preview1";
    facts.imports.iter().any(wasi) || facts.exports.iter().any(|e| e.name == "_start")
}

/// The sandbox the user asked for: the file name as `argv[0]`, then their arguments.
pub fn sandbox(program: &Path, args: &SandboxArgs) -> anyhow::Result<Sandbox> {
    let name = program
        .file_name()
        .map_or("program".into(), |n| n.to_string_lossy());
    let mut sandbox = Sandbox::new(&name, &args.program_args);
    sandbox.random_seed = args.random_seed;
    if let Some(stdin) = &args.stdin {
        sandbox.stdin =
            std::fs::read(stdin).with_context(|| format!("reading {}", stdin.display()))?;
    }
    if let Some(dir) = &args.scratch {
        sandbox.tree = read_tree(dir).with_context(|| format!("reading {}", dir.display()))?;
    }
    if !args.env.is_empty() {
        sandbox.env = args
            .env
            .iter()
            .map(|pair| match pair.split_once('=') {
                Some((key, value)) => Ok((key.to_string(), value.to_string())),
                None => bail!("--env {pair}: expected KEY=VALUE"),
            })
            .collect::<anyhow::Result<_>>()?;
    }
    Ok(sandbox)
}

/// The tiers named on the command line (every WASI tier when none are).
pub fn select(choices: &[EngineChoice]) -> anyhow::Result<Vec<Arc<dyn ProgramEngine>>> {
    let engines = crate::engines_for(choices, Watchdog::InEngine);
    let chosen = match choices.is_empty() {
        true => EngineChoice::default_tiers(),
        false => choices.to_vec(),
    };
    chosen
        .iter()
        .map(|choice| {
            engines.program_engine(choice).with_context(|| {
                format!(
                    "engine `{}` does not run WASI programs; engines for WASI programs: {}",
                    choice.id(),
                    oracles::tiers::program_ids().join(", ")
                )
            })
        })
        .collect()
}

/// A command runs `_start`; `--invoke` makes it a reactor call after `_initialize`.
pub fn entry(wasm: &[u8], invoke: Option<(String, Vec<Value>)>) -> anyhow::Result<Entry> {
    match invoke {
        Some((export, args)) => Ok(Entry::Reactor { export, args }),
        None if generators::exports::functions(wasm)
            .iter()
            .any(|f| f.name == "_start") =>
        {
            Ok(Entry::Command)
        }
        None => bail!("a reactor module (no `_start`) needs --invoke EXPORT [ARG]..."),
    }
}

/// Runs the program on every tier (each in `worker`, if given) and prints the comparison.
pub fn diff(
    engines: &[Arc<dyn ProgramEngine>],
    wasm: &[u8],
    sandbox: &Sandbox,
    entry: &Entry,
    limits: &Limits,
    mut worker: Option<&mut Worker>,
    json: bool,
) -> anyhow::Result<Conclusion> {
    let runs: Vec<ProgramRun> = engines
        .iter()
        .map(|engine| match worker.as_deref_mut() {
            Some(worker) => worker.run_program(engine.id(), wasm, sandbox, entry, limits),
            None => oracles::wasi::run(engine.as_ref(), wasm, sandbox, entry, limits),
        })
        .collect();
    let verdict = compare(&runs);
    let host_imports = oracles::wasi::host_imports(wasm);
    if json {
        let report = json::Report::new(&verdict, limits, &host_imports, &runs);
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!(
            "{}",
            crate::terminal::printable(&preamble(limits, &host_imports))
        );
        print!("{}", crate::terminal::printable(&report(&runs, &verdict)));
    }
    Ok(match verdict {
        ProgramVerdict::Diverge(_) => Conclusion::Diverge,
        _ if runs.iter().any(harness_failed) => Conclusion::BadInput,
        _ => Conclusion::Agree,
    })
}

/// The budgets of every run, and the imports lockstep answered, above the table.
fn preamble(limits: &Limits, host_imports: &[String]) -> String {
    let mut out = crate::budgets::line(limits);
    if !host_imports.is_empty() {
        let _ = writeln!(
            out,
            "host functions answered {} imports: {}",
            host_imports.len(),
            host_imports.join(", ")
        );
    }
    out
}

/// A run where lockstep itself failed (say, the scratch directory could not be made): bad input or setup, exit 2.
fn harness_failed(run: &ProgramRun) -> bool {
    matches!(
        run.ending,
        oracles::wasi::Ending::Outcome(oracles::Outcome::HarnessFailed(_))
    )
}

/// The tier × aspect table, the verdict, and on a divergence the first difference as a unified diff.
pub fn report(runs: &[ProgramRun], verdict: &ProgramVerdict) -> String {
    let width = runs
        .iter()
        .map(|run| run.engine.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut out = format!(
        "{:width$}  {:<28}  {:<22}  {:<22}  files\n",
        "engine", "ending", "stdout", "stderr"
    );
    for run in runs {
        let ending: String = ending_text(&run.ending).chars().take(28).collect();
        let _ = writeln!(
            out,
            "{:width$}  {ending:<28}  {:<22}  {:<22}  {} entries, {:016x}",
            run.engine,
            stream(&run.output.stdout),
            stream(&run.output.stderr),
            run.files.len(),
            oracles::outcome::digest(Aspect::Files.text(run).as_bytes()),
        );
    }
    // An ending the column cuts (an unsupported tier's reason, a trap's message) in full.
    for run in runs {
        let ending = ending_text(&run.ending);
        if ending.chars().count() > 28 {
            let _ = writeln!(out, "{}: {ending}", run.engine);
        }
    }
    match verdict {
        ProgramVerdict::Agree => out.push_str("verdict: agree\n"),
        ProgramVerdict::Inconclusive(why) => {
            let _ = writeln!(out, "verdict: inconclusive: {why}");
        }
        ProgramVerdict::Diverge(divergence) => {
            let _ = writeln!(
                out,
                "verdict: DIVERGE {} ({} vs {})",
                divergence.aspect.name(),
                divergence.minority.join(", "),
                divergence.majority.join(", ")
            );
            let by_name = |name: &String| runs.iter().find(|run| &run.engine == name);
            if let (Some(expected), Some(odd)) = (
                divergence.majority.first().and_then(by_name),
                divergence.minority.first().and_then(by_name),
            ) {
                out.push_str(&first_difference(divergence.aspect, expected, odd));
            }
        }
    }
    out
}

/// A stream in a table cell: lines, bytes and a digest.
fn stream(bytes: &[u8]) -> String {
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    format!(
        "{lines} lines {:08x}",
        oracles::outcome::digest(bytes) as u32
    )
}

/// The first hunk of a unified diff of one aspect between two runs.
fn first_difference(aspect: Aspect, expected: &ProgramRun, odd: &ProgramRun) -> String {
    let (old, new) = (aspect.text(expected), aspect.text(odd));
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut unified = diff.unified_diff();
    unified.context_radius(2);
    let hunks: Vec<String> = unified.iter_hunks().map(|hunk| hunk.to_string()).collect();
    let mut out = format!(
        "--- {} ({})\n+++ {} ({})\n",
        expected.engine,
        aspect.name(),
        odd.engine,
        aspect.name()
    );
    match hunks.first() {
        Some(hunk) => out.push_str(hunk),
        None => {
            out.push_str("(the texts are equal: the difference is in bytes that are not UTF-8)\n")
        }
    }
    if hunks.len() > 1 {
        let _ = writeln!(out, "({} more hunks)", hunks.len() - 1);
    }
    out
}
