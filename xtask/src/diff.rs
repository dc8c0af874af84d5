//! `cargo xtask diff FILE`: what each engine does with one module (or script), side by side, and whether they agree.

pub mod script;

pub use script::compare_script;

use crate::budgets::BudgetArgs;
use crate::terminal::printable;
use crate::worker::{self, Worker};
use crate::{Conclusion, input, program};
use anyhow::{Context, bail};
use generators::{args, exports, seed::Rng};
use oracles::EngineChoice;
use oracles::compare::Verdict;
use oracles::differential::{Invocation, Run};
use oracles::{Engine, Limits, Outcome, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// A `.wasm`, `.wat` or `.wast` file.
    file: PathBuf,
    /// Engine id to run (repeatable; default: every built-in engine).
    #[arg(long = "engine", value_name = "ID")]
    engines: Vec<EngineChoice>,
    /// Call only this export, with these arguments (typed by the export's parameters; `-inf`,
    /// `-nan`, `-0x10` are arguments too, see [`attach_invoke_words`]).
    #[arg(long, num_args = 1.., value_name = "EXPORT [ARG]...", allow_negative_numbers = true)]
    invoke: Option<Vec<String>>,
    /// Seed for the arguments of every export when `--invoke` is not given.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON instead of a table (`docs/json.md`).
    #[arg(long)]
    json: bool,
    /// Give a `.wast` script's unknown function imports lockstep's deterministic host
    /// functions, as a finding's `repro.wast` needs; modules and programs always get them.
    #[arg(long)]
    host_functions: bool,
    /// Run engines inside this process: faster, but an engine crash ends the run.
    #[arg(long)]
    in_process: bool,
    /// Seconds for the whole module diff; engines still running then stop, later ones do not
    /// start, and their steps are `exhausted Time`.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    time: u64,
    #[command(flatten)]
    budgets: BudgetArgs,
    #[command(flatten)]
    sandbox: program::SandboxArgs,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let path = args.file.display().to_string();
    if path.ends_with(".wast") {
        let choices = script_engines(&args)?;
        let engines = crate::select_engines(&choices)?;
        let mut worker = (!args.in_process).then(|| Worker::new(crate::external_specs(&choices)));
        let limits = args.budgets.apply(Limits {
            host_functions: args.host_functions,
            ..Limits::default()
        })?;
        return script::run(&args.file, &engines, limits, worker.as_mut(), args.json);
    }
    let wasm = input::module(&args.file)?;
    if program::is_program(&wasm) {
        return diff_program(&args, &wasm);
    }
    let engines = crate::select_engines(&args.engines)?;
    let invocations = invocations(&wasm, &args)?;
    let limits = args.budgets.apply(Limits {
        host_functions: true,
        ..Limits::default()
    })?;
    let mut worker = (!args.in_process).then(|| Worker::new(crate::external_specs(&args.engines)));
    let started = Instant::now();
    let mut finished = 0;
    let run = worker::run_all(
        worker.as_mut(),
        &worker::references(&engines),
        &wasm,
        &invocations,
        &limits,
        Some(started + Duration::from_secs(args.time)),
        &mut |engine| {
            finished += 1;
            if started.elapsed() > PROGRESS_AFTER {
                let seconds = started.elapsed().as_secs_f64();
                let total = engines.len();
                eprintln!("diff: {engine} done ({finished}/{total} engines, {seconds:.0} s)");
            }
        },
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{}", printable(&table(&engines, &run)));
    }
    let known = run.divergence().and_then(|(_, step)| match &step.verdict {
        Verdict::Diverge(divergence) => crate::known::recognise(&wasm, step, divergence),
        _ => None,
    });
    let Some(known) = known else {
        return Ok(conclusion(&run));
    };
    // On standard error, so that `--json` stays one document.
    eprintln!(
        "known divergence {}: {} (reproducer {}{})",
        known.id,
        known.reason,
        known.reproducer,
        known
            .upstream
            .as_ref()
            .map(|url| format!(", upstream {url}"))
            .unwrap_or_default()
    );
    Ok(Conclusion::Agree)
}

/// The engines `--engine` names, else those the script's opening comments name (a finding's variants).
fn script_engines(args: &Args) -> anyhow::Result<Vec<EngineChoice>> {
    if !args.engines.is_empty() {
        return Ok(args.engines.clone());
    }
    let key = args.file.display().to_string();
    let text =
        std::fs::read_to_string(&args.file).map_err(|e| anyhow::anyhow!("reading {key}: {e}"))?;
    script::engines_asked(&key, &text)
}

/// The command line with every word of an `--invoke` list given as `--invoke=WORD`, so that
/// an argument starting with `-` that is no plain number (`-inf`, `-nan`, `-0x10`) is taken
/// as a value rather than an unknown flag. The list ends at the next word starting with `--`.
///
/// Rationale: clap's `allow_hyphen_values` would also take the flags after the list as
/// arguments (`--invoke f 1 --call-time 2`); no Wasm value starts with `--`, so that word
/// ends the list here.
pub fn attach_invoke_words(words: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut attached: Vec<OsString> = Vec::new();
    let mut in_list = false;
    for word in words {
        let text = word.to_string_lossy();
        in_list &= !text.starts_with("--");
        if in_list {
            let list_opened = attached.last().is_some_and(|last| last == "--invoke");
            attached.truncate(attached.len() - usize::from(list_opened));
            attached.push(format!("--invoke={text}").into());
        } else {
            in_list = text == "--invoke";
            attached.push(word);
        }
    }
    attached
}

/// Exit 1 on a divergence; agreement and inconclusive results exit 0.
pub fn conclusion(run: &Run) -> Conclusion {
    match run.divergence() {
        Some(_) => Conclusion::Diverge,
        None => Conclusion::Agree,
    }
}

/// A WASI program on every tier in the sandbox the arguments describe.
fn diff_program(args: &Args, wasm: &[u8]) -> anyhow::Result<Conclusion> {
    let engines = program::select(&args.engines)?;
    let sandbox = program::sandbox(&args.file, &args.sandbox)?;
    let invoked = invoked(wasm, args)?.map(|call| (call.export, call.args));
    let entry = program::entry(wasm, invoked)?;
    let limits = args.budgets.apply(Limits::default())?;
    let mut worker = (!args.in_process).then(|| Worker::new(crate::external_specs(&args.engines)));
    program::diff(
        &engines,
        wasm,
        &sandbox,
        &entry,
        &limits,
        worker.as_mut(),
        args.json,
    )
}

/// Runs longer than this report each engine as it finishes, on standard error.
const PROGRESS_AFTER: Duration = Duration::from_secs(2);

/// Most exports a module diff calls, in export order.
///
/// Rationale: every call is followed by a state digest on every engine, so a module of 100 000
/// trivial exports would run for hours; the cap is stated in the output when it applies.
pub const EXPORTS_CALLED: usize = 1_000;

fn invocations(wasm: &[u8], args: &Args) -> anyhow::Result<Vec<Invocation>> {
    if let Some(invocation) = invoked(wasm, args)? {
        return Ok(vec![invocation]);
    }
    let functions = exports::functions(wasm);
    if functions.len() > EXPORTS_CALLED {
        eprintln!(
            "note: calling the first {EXPORTS_CALLED} of {} exported functions (lockstep's cap per module)",
            functions.len()
        );
    }
    Ok(functions
        .iter()
        .take(EXPORTS_CALLED)
        .enumerate()
        .map(|(i, f)| Invocation {
            export: f.name.clone(),
            args: args::arguments(&mut Rng::for_item(args.seed, i as u64), &f.params),
            expected: None,
        })
        .collect())
}

/// The one call `--invoke EXPORT ARGS…` asks for, its arguments typed by the export's parameters.
fn invoked(wasm: &[u8], args: &Args) -> anyhow::Result<Option<Invocation>> {
    args.invoke
        .as_deref()
        .map(|words| invocation(wasm, &args.file, words))
        .transpose()
}

/// The call `EXPORT ARGS…` of the module `file`, its arguments typed by the export's parameters.
pub fn invocation(wasm: &[u8], file: &Path, words: &[String]) -> anyhow::Result<Invocation> {
    let functions = exports::functions(wasm);
    let (export, words) = words
        .split_first()
        .context("--invoke needs an export name")?;
    let Some(function) = find_export(&functions, export) else {
        let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
        bail!(
            "{}: no exported function `{export}` (exports: {})",
            file.display(),
            names.join(", ")
        );
    };
    if words.len() != function.params.len() {
        bail!(
            "`{export}` takes {} arguments, {} given",
            function.params.len(),
            words.len()
        );
    }
    let values = words
        .iter()
        .zip(&function.params)
        .map(|(word, ty)| input::argument(word, *ty))
        .collect::<anyhow::Result<Vec<Value>>>()?;
    Ok(Invocation {
        export: function.name.clone(),
        args: values,
        expected: None,
    })
}

/// The export `--invoke` names: by its whole name, or a component-style export
/// (`ruby-init: func(args: list<string>) -> ()`, as wit-bindgen names core exports)
/// by the part before its `: func` signature.
fn find_export<'a>(
    functions: &'a [exports::ExportedFunc],
    name: &str,
) -> Option<&'a exports::ExportedFunc> {
    let exact = functions.iter().find(|f| f.name == name);
    let component_style = || {
        functions.iter().find(|f| {
            f.name
                .split_once(": func")
                .is_some_and(|(short, _)| short == name)
        })
    };
    exact.or_else(component_style)
}

/// The engine × step table, with each step's verdict.
pub fn table(engines: &[Arc<dyn Engine>], run: &Run) -> String {
    let header: Vec<String> = engines.iter().map(|e| e.variant()).collect();
    let rows: Vec<(String, Vec<String>, String)> = run
        .steps
        .iter()
        .map(|step| {
            let cells = header
                .iter()
                .map(|id| {
                    let seen = step.observations.iter().find(|o| &o.engine == id);
                    seen.map_or_else(String::new, |o| short(&o.outcome))
                })
                .collect();
            (step.label.clone(), cells, verdict_text(&step.verdict))
        })
        .collect();
    render("step", &header, &rows) + &unsupported_reasons(run)
}

/// Each engine's full reason for not running the module, which cells cut short.
fn unsupported_reasons(run: &Run) -> String {
    let mut reasons: BTreeMap<&str, &str> = BTreeMap::new();
    for observation in run.steps.iter().flat_map(|step| &step.observations) {
        if let Outcome::Unsupported(why) = &observation.outcome {
            reasons.entry(&observation.engine).or_insert(why);
        }
    }
    reasons
        .iter()
        .map(|(engine, why)| format!("{engine}: unsupported: {why}\n"))
        .collect()
}

/// A table of `rows` under `header`, its first column titled `first_title`.
fn render(first_title: &str, header: &[String], rows: &[(String, Vec<String>, String)]) -> String {
    let first = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .clamp(first_title.len(), 40);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1[i].len())
                .max()
                .unwrap_or(0)
                .max(header[i].len())
        })
        .collect();
    let mut out = format!("{first_title:first$}");
    for (h, w) in header.iter().zip(&widths) {
        let _ = write!(out, "  {h:w$}");
    }
    out.push_str("  verdict\n");
    for (label, cells, verdict) in rows {
        let label: String = label.chars().take(first).collect();
        let _ = write!(out, "{label:first$}");
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "  {cell:w$}");
        }
        let _ = writeln!(out, "  {verdict}");
    }
    out
}

/// An outcome in a table cell: at most 40 characters.
fn short(outcome: &Outcome) -> String {
    let text = match outcome {
        Outcome::Values(v) if v.is_empty() => "ok".to_string(),
        Outcome::Trap { code, .. } => format!("trap {code:?}"),
        Outcome::Unsupported(why) => format!("unsupported ({why})"),
        other => other.to_string(),
    };
    if text.chars().count() > 40 {
        text.chars().take(39).collect::<String>() + "…"
    } else {
        text
    }
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Agree => "agree".into(),
        Verdict::Inconclusive(why) => format!("inconclusive: {why}"),
        Verdict::Diverge(d) => format!(
            "DIVERGE {} ({} vs {})",
            d.kind.name(),
            d.minority.join(", "),
            d.majority.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attached(line: &str) -> Vec<String> {
        let words = line.split(' ').map(OsString::from);
        attach_invoke_words(words)
            .into_iter()
            .map(|word| word.into_string().unwrap())
            .collect()
    }

    #[test]
    fn every_word_of_an_invoke_list_is_attached_and_the_list_ends_at_a_long_flag() {
        assert_eq!(
            attached("xtask diff m.wat --invoke f -inf -0 --json --engine wasmi"),
            [
                "xtask",
                "diff",
                "m.wat",
                "--invoke=f",
                "--invoke=-inf",
                "--invoke=-0",
                "--json",
                "--engine",
                "wasmi"
            ]
        );
        assert_eq!(
            attached("xtask diff m.wat --invoke"),
            ["xtask", "diff", "m.wat", "--invoke"]
        );
    }
}
