//! The spec matrix as `cargo test` trials: one per engine × file, named `<engine>/<suite>/<file>`, judged against the expectations.

use libtest_mimic::{Arguments, Failed, Trial};
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
    for engine in oracles::tiers::default_ids() {
        let expectations = Arc::new(Expectations::load(engine).expect("expectations parse"));
        for shared in &files {
            let (shared, expectations) = (shared.clone(), expectations.clone());
            let name = format!("{engine}/{}", shared.file.key());
            trials.push(Trial::test(name, move || {
                run(engine, &shared, &expectations)
            }));
        }
    }
    libtest_mimic::run(&arguments, trials).exit();
}

fn run(engine: &str, shared: &Shared, expectations: &Expectations) -> Result<(), Failed> {
    let tier = oracles::tiers::Tier::named(engine).expect("a default tier");
    if let Some(why) = tier.unavailable() {
        return Err(format!("{engine} is unavailable: {why}").into());
    }
    let script = shared
        .script
        .get_or_init(|| runner::prepare(&shared.file))
        .as_ref()
        .map_err(|e| Failed::from(e.to_string()))?;
    let engine = oracles::engine(engine).expect("a built-in engine");
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
