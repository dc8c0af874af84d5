//! `cargo xtask conformance`: the spec suites on every engine, judged against the expectations, with matrix and reports.

use crate::history::{History, Summary};
use crate::{Conclusion, dashboard, progress::Progress, report};
use anyhow::{Context, bail};
use oracles::Engine;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use suites::catalog::{self, SuiteFile};
use suites::expectations::Expectations;
use suites::runner::{self, Options, TrialState};

#[derive(clap::Args)]
pub struct Args {
    /// Engine id to run (repeatable; default: every built-in engine).
    #[arg(long = "engine", value_name = "ID")]
    engines: Vec<oracles::EngineChoice>,
    /// Suite name (`wasm-v3`, `proposals/simd`, …) or a path to a `.wast` file or folder (repeatable; default: every bundled suite).
    #[arg(long = "suite", value_name = "NAME|PATH")]
    suites: Vec<String>,
    /// Only files whose `suite/file` key contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Worker threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard K of N (1-based), splitting the files between CI machines.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Where to write conformance.json, conformance.md, junit.xml and the index.html dashboard.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The history file each run appends its summary to (default: history.jsonl in --out).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Rewrite the expectations files from this run's failures.
    #[arg(long)]
    bless: bool,
    /// Print the JSON report instead of the matrix.
    #[arg(long)]
    json: bool,
    /// Run engines inside this process: faster, but an engine crash ends the run.
    #[arg(long)]
    in_process: bool,
    /// Seconds one engine may spend on one file.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    file_time: u64,
    #[command(flatten)]
    budgets: crate::budgets::BudgetArgs,
}

/// `K/N`: the K-th of N shards.
#[derive(Clone, Copy, Debug)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let parsed = text
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
        match parsed {
            Some((index, count)) if (1..=count).contains(&index) => Ok(Shard { index, count }),
            _ => Err(format!("`{text}` is not K/N with 1 <= K <= N")),
        }
    }
}

pub fn default_out_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/lockstep/conformance"
    ))
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let engines = crate::select_engines(&args.engines)?;
    let files = select_files(&args)?;
    let mut expectations = expectations(engines.iter().map(|e| e.id()))?;
    let options = Options {
        file_time: Duration::from_secs(args.file_time),
        limits: args.budgets.apply(Options::default().limits)?,
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let out = args.out.clone().unwrap_or_else(default_out_dir);
    // Read before the run: a malformed history stops it before any work is done.
    let mut history = History::load(
        &args
            .history
            .clone()
            .unwrap_or_else(|| out.join("history.jsonl")),
    )?;
    let mut stream = report::Stream::create(&out.join("conformance.jsonl"))?;
    let warmed = announce_cold_cache(&engines, &files);
    let mut progress = Progress::new(files.len() * engines.len());
    let executor = |in_process: bool| -> Box<dyn runner::Executor> {
        if in_process {
            Box::new(runner::InProcess)
        } else {
            Box::new(crate::worker::Worker::for_scripts(crate::external_specs(
                &args.engines,
            )))
        }
    };
    let make = || executor(args.in_process);
    let parallelism = runner::Parallelism {
        jobs,
        executor: &make,
    };
    let matrix = runner::run_matrix(
        &files,
        &engines,
        &expectations,
        &options,
        &parallelism,
        &mut |t| {
            progress.trial(t);
            stream.write(t);
        },
    );

    let report = report::Report::new(&engines, &matrix.trials);
    let published = Published {
        report: &report,
        files: &files,
        expectations: &expectations,
        out: &out,
        json: args.json,
    };
    published.write(&mut history)?;
    if let Some(marker) = warmed {
        // Only costs the note again next time if it cannot be written.
        let _ = std::fs::write(marker, "");
    }
    if args.bless {
        bless(&engines, &mut expectations, &matrix.trials)?;
    }
    for error in &matrix.script_errors {
        eprintln!("error: {error}");
    }
    Ok(if !matrix.script_errors.is_empty() {
        Conclusion::BadInput
    } else if args.bless {
        Conclusion::Agree
    } else {
        failures(&matrix.trials)
    })
}

/// Says so before a run whose Asyncify tiers meet these files for the first time: binaryen.js
/// then instruments each of their modules once, which its cache spares later runs.
/// Returns the marker that the run, once done, leaves in the cache.
fn announce_cold_cache(engines: &[Arc<dyn Engine>], files: &[SuiteFile]) -> Option<PathBuf> {
    let instrumented = |engine: &Arc<dyn Engine>| {
        oracles::tiers::Tier::named(engine.id())
            .is_some_and(|tier| tier.class == oracles::tiers::Class::Instrumented)
    };
    if !engines.iter().any(instrumented) {
        return None;
    }
    let cache = oracles::asyncify::cache_dir().ok()?;
    let keys: Vec<String> = files.iter().map(SuiteFile::key).collect();
    let marker = cache.join(format!(
        "conformance-{:016x}.done",
        oracles::outcome::digest(keys.join("\n").as_bytes())
    ));
    if !marker.exists() {
        let these = match files.len() {
            1 => "this file".to_string(),
            n => format!("these {n} files"),
        };
        eprintln!(
            "note: the Asyncify tiers meet {these} for the first time: binaryen.js instruments \
             each of their modules once (a few seconds more for the default suites on 2 cores) \
             and caches them in {}",
            cache.display()
        );
    }
    Some(marker)
}

/// A conformance run's results as they leave lockstep: from one run, or merged from its shards.
pub struct Published<'a> {
    pub report: &'a report::Report<'a>,
    pub files: &'a [SuiteFile],
    pub expectations: &'a HashMap<String, Expectations>,
    pub out: &'a Path,
    /// Print the JSON report instead of the matrix.
    pub json: bool,
}

impl Published<'_> {
    /// Writes the reports and the dashboard into `out`, adds the run to `history`, and
    /// prints the matrix with the unexpected results.
    pub fn write(&self, history: &mut History) -> anyhow::Result<()> {
        let out = self.out;
        self.report
            .write(out)
            .with_context(|| format!("writing reports to {}", out.display()))?;
        history.append(Summary::of(self.report, unix_time()))?;
        let page = dashboard::Conformance {
            report: self.report,
            files: self.files,
            expectations: self.expectations,
            history: &history.runs,
        };
        dashboard::write_conformance(out, &page)
            .with_context(|| format!("writing the dashboard to {}", out.display()))?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(self.report)?);
        } else {
            print!("{}", self.report.text_matrix());
            print!("{}", self.report.unexpected_results());
            println!("reports: {}", out.display());
        }
        Ok(())
    }
}

/// Diverge when a trial failed against its expectations, else Agree.
pub fn failures(trials: &[runner::TrialResult]) -> Conclusion {
    match trials.iter().any(|t| t.state() == TrialState::Fail) {
        true => Conclusion::Diverge,
        false => Conclusion::Agree,
    }
}

/// Each engine's expectations file, read.
pub fn expectations<'a>(
    ids: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<HashMap<String, Expectations>> {
    ids.into_iter()
        .map(|id| {
            Ok((
                id.to_string(),
                Expectations::load(id).map_err(anyhow::Error::msg)?,
            ))
        })
        .collect()
}

fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn select_files(args: &Args) -> anyhow::Result<Vec<SuiteFile>> {
    let suites = if args.suites.is_empty() {
        catalog::builtin_suites()
    } else {
        args.suites.clone()
    };
    let files = catalog::load(&suites).map_err(anyhow::Error::msg)?;
    let selected: Vec<SuiteFile> = files
        .into_iter()
        .filter(|f| {
            args.filter
                .as_ref()
                .is_none_or(|text| f.key().contains(text.as_str()))
        })
        .enumerate()
        .filter(|(i, _)| args.shard.is_none_or(|s| i % s.count == s.index - 1))
        .map(|(_, f)| f)
        .collect();
    if selected.is_empty() {
        bail!(
            "no suite file matches the selection (suites: {})",
            suites.join(", ")
        );
    }
    Ok(selected)
}

fn bless(
    engines: &[std::sync::Arc<dyn oracles::Engine>],
    expectations: &mut HashMap<String, Expectations>,
    trials: &[runner::TrialResult],
) -> anyhow::Result<()> {
    for engine in engines {
        let list = expectations.entry(engine.id().to_string()).or_default();
        let runs = trials
            .iter()
            .filter(|t| t.engine == engine.id())
            .map(|t| (format!("{}/{}", t.suite, t.file), &t.run));
        list.bless(runs);
        list.save(engine.id()).map_err(anyhow::Error::msg)?;
        eprintln!(
            "blessed {}: {} known failures",
            suites::expectations::path(engine.id()).display(),
            list.failures.len()
        );
    }
    Ok(())
}
