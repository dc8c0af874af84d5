//! The spec matrix as `cargo test` trials: one per default engine × file, named `<engine>/<suite>/<file>`,
//! judged against the expectations.

use libtest_mimic::{Arguments, Failed, Trial};
use oracles::external::Externals;
use oracles::tiers::Engines;
use oracles::{EngineChoice, Watchdog};
use std::sync::{Arc, OnceLock};
use suites::catalog::{self, SuiteFile};
use suites::expectations::Expectations;
use suites::runner::{self, Options, TrialResult};
use suites::script::{Script, ScriptError};

/// A suite file, parsed at most once however many engines run it.
struct Shared {
    file: SuiteFile,
    script: OnceLock<Result<Script, ScriptError>>,
}

fn main() {
    let arguments = Arguments::from_args();
    let files: Vec<Arc<Shared>> = catalog::load(&catalog::builtin_suites())
        .expect("the bundled suites load")
        .into_iter()
        .map(|file| {
            Arc::new(Shared {
                file,
                script: OnceLock::new(),
            })
        })
        .collect();
    let mut trials = Vec::new();
    for choice in EngineChoice::defaults() {
        let id = choice.id().to_string();
        let expectations = Arc::new(Expectations::load(&id).expect("expectations parse"));
        for shared in &files {
            let (shared, expectations) = (shared.clone(), expectations.clone());
            let choice = choice.clone();
            let name = format!("{id}/{}", shared.file.key());
            trials.push(Trial::test(name, move || {
                run(&choice, &shared, &expectations)
            }));
        }
    }
    libtest_mimic::run(&arguments, trials).exit();
}

/// The engines of every trial, each built (or started, for `v8`) once.
fn engines() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| Engines::new(Watchdog::InEngine, Externals::default()))
}

fn run(choice: &EngineChoice, shared: &Shared, expectations: &Expectations) -> Result<(), Failed> {
    let engine = engines()
        .engine(choice)
        .map_err(|why| format!("{} is unavailable: {why}", choice.id()))?;
    let script = shared
        .script
        .get_or_init(|| runner::prepare(&shared.file))
        .as_ref()
        .map_err(|e| Failed::from(e.to_string()))?;
    let result = runner::trial(
        &mut runner::InProcess,
        &engine,
        &shared.file,
        script,
        expectations,
        &Options::default(),
    );
    if result.verdict.is_ok() {
        Ok(())
    } else {
        Err(explain(&result).into())
    }
}

fn explain(result: &TrialResult) -> String {
    let mut lines = Vec::new();
    for failure in &result.verdict.unexpected_failures {
        lines.push(format!(
            "{}:{}:{}: {}",
            result.file, failure.line, failure.column, failure.message
        ));
    }
    for entry in &result.verdict.unexpected_passes {
        lines.push(format!(
            "{}:{}: listed as failing ({}) but passes now: remove it from suites/expectations/{}.toml",
            result.file,
            entry.line.unwrap_or(0),
            entry.explanation(),
            result.engine
        ));
    }
    lines.join("\n")
}
