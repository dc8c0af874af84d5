//! `cargo xtask merge`: the reports of `conformance --shard K/N` runs joined into one matrix, dashboard and JUnit file.

use crate::Conclusion;
use crate::conformance::{self, Published};
use crate::history::History;
use crate::report::{EngineInfo, Report};
use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use suites::catalog::{self, SuiteFile};
use suites::runner::{self, TrialResult};

#[derive(clap::Args)]
pub struct Args {
    /// The `--out` folders of the shards' conformance runs.
    #[arg(required = true, value_name = "DIR")]
    shards: Vec<PathBuf>,
    /// Where to write the merged conformance.json, conformance.md, junit.xml and index.html.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The history file the merged run is appended to (default: history.jsonl in --out).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Print the JSON report instead of the matrix.
    #[arg(long)]
    json: bool,
}

/// What a shard's `conformance.json` holds that a merge needs.
#[derive(Deserialize)]
struct Shard {
    engines: Vec<EngineInfo>,
    trials: Vec<TrialResult>,
}

impl Shard {
    fn read(dir: &Path) -> anyhow::Result<Shard> {
        let path = dir.join("conformance.json");
        let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not the conformance.json of a conformance run",
                path.display()
            )
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let mut history = History::load(
        &args
            .history
            .clone()
            .unwrap_or_else(|| args.out.join("history.jsonl")),
    )?;
    let (engines, mut trials) = join(&args.shards)?;
    let files = files_of(&trials)?;
    runner::sort_for_report(&mut trials, |id| engines.iter().position(|e| e.id == id));
    let expectations = conformance::expectations(engines.iter().map(|e| e.id.as_str()))?;
    let report = Report::of(engines, &trials);
    let published = Published {
        report: &report,
        files: &files,
        expectations: &expectations,
        out: &args.out,
        json: args.json,
    };
    published.write(&mut history)?;
    Ok(conformance::failures(&trials))
}

/// The shards' engines (the same in every shard) and all their trials. Shards that ran
/// different engines, or the same file twice, are not parts of one run.
fn join(dirs: &[PathBuf]) -> anyhow::Result<(Vec<EngineInfo>, Vec<TrialResult>)> {
    let mut engines: Option<(Vec<EngineInfo>, &Path)> = None;
    let mut trials = Vec::new();
    let mut seen: HashMap<String, &Path> = HashMap::new();
    for dir in dirs.iter().map(PathBuf::as_path) {
        let shard = Shard::read(dir)?;
        let (first, first_dir) = engines.get_or_insert_with(|| (shard.engines.clone(), dir));
        if *first != shard.engines {
            bail!(
                "{} and {} ran different engines ({} against {}): they are not shards of one run",
                first_dir.display(),
                dir.display(),
                names(first),
                names(&shard.engines)
            );
        }
        for trial in shard.trials {
            if let Some(other) = seen.insert(trial.name(), dir) {
                bail!(
                    "{} ran `{}` and so did {}: shards must not overlap",
                    dir.display(),
                    trial.name(),
                    other.display()
                );
            }
            trials.push(trial);
        }
    }
    let (engines, _) = engines.expect("clap requires at least one shard");
    Ok((engines, trials))
}

fn names(engines: &[EngineInfo]) -> String {
    let shown: Vec<String> = engines
        .iter()
        .map(|e| format!("{} {}", e.id, e.version))
        .collect();
    shown.join(", ")
}

/// The suite files the trials ran, read again for the dashboard's assertion text: bundled
/// suites by name, a user's suite by the path its shards were given.
fn files_of(trials: &[TrialResult]) -> anyhow::Result<Vec<SuiteFile>> {
    let mut suites: Vec<String> = catalog::builtin_suites()
        .into_iter()
        .filter(|suite| trials.iter().any(|t| t.suite == *suite))
        .collect();
    for trial in trials {
        if !suites.contains(&trial.suite) {
            suites.push(trial.suite.clone());
        }
    }
    let ran: std::collections::HashSet<String> = trials
        .iter()
        .map(|t| format!("{}/{}", t.suite, t.file))
        .collect();
    let files = catalog::load(&suites).map_err(anyhow::Error::msg)?;
    Ok(files
        .into_iter()
        .filter(|f| ran.contains(&f.key()))
        .collect())
}
