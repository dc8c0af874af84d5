//! Running scripts on engines: one trial per engine × file, in parallel, each bounded in time and isolated from panics.

use crate::catalog::SuiteFile;
use crate::driver::{self, ScriptRun};
use crate::expectations::{Expectations, Verdict};
use crate::script::{self, Script, ScriptError};
use oracles::{Engine, Limits};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Engines compile deeply nested spec functions; give their threads room.
pub const TRIAL_STACK: usize = 64 << 20;

/// How trials run.
#[derive(Clone, Debug)]
pub struct Options {
    pub limits: Limits,
    /// Wall time one engine may spend on one file.
    pub file_time: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            file_time: Duration::from_secs(120),
        }
    }
}

/// How a trial ended, as the matrix shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrialState {
    /// Every directive ran and passed.
    Pass,
    /// Every directive that ran passed, but some were skipped (a proposal the
    /// engine lacks, an instrumentation that does not apply): a partial run.
    Partial,
    /// Only failures the expectations list.
    ExpectedFailure,
    /// A new failure, or an expectation that no longer fails.
    Fail,
    /// Nothing ran: every directive was skipped.
    Skip,
}

/// One engine on one file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrialResult {
    pub engine: String,
    pub suite: String,
    pub file: String,
    pub seconds: f64,
    pub run: ScriptRun,
    pub verdict: Verdict,
}

impl TrialResult {
    /// `engine/suite/file`, the trial's name in `cargo test` and junit.
    pub fn name(&self) -> String {
        format!("{}/{}/{}", self.engine, self.suite, self.file)
    }

    pub fn state(&self) -> TrialState {
        if !self.verdict.is_ok() {
            TrialState::Fail
        } else if !self.verdict.expected_failures.is_empty() {
            TrialState::ExpectedFailure
        } else if self.run.passed == 0 && self.run.skipped_count() > 0 {
            TrialState::Skip
        } else if self.run.skipped_count() > 0 {
            TrialState::Partial
        } else {
            TrialState::Pass
        }
    }
}

/// Parses a suite file.
pub fn prepare(file: &SuiteFile) -> Result<Script, ScriptError> {
    script::parse(&file.key(), &file.text)
}

/// Runs one script on one engine on a thread of its own: a panic in the engine
/// ends this trial as aborted, never the run.
pub fn run_script(engine: &dyn Engine, script: &Script, options: &Options) -> ScriptRun {
    run_script_recording(engine, script, options, false)
}

/// [`run_script`], keeping every action's outcome when `record` is set.
pub fn run_script_recording(
    engine: &dyn Engine,
    script: &Script,
    options: &Options,
    record: bool,
) -> ScriptRun {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name(format!("trial-{}", engine.id()))
            .stack_size(TRIAL_STACK)
            .spawn_scoped(scope, || {
                run_script_on_this_thread(engine, script, options, record)
            })
            .expect("spawning a trial thread");
        worker
            .join()
            .expect("a trial's panic is caught on its thread")
    })
}

/// [`run_script_recording`] on the calling thread, which must have a stack of
/// [`TRIAL_STACK`]: a worker process that runs script after script saves a
/// thread start and two hand-overs between threads per script, each a wait
/// for a time slice on a busy machine. A panic in the engine ends the run as aborted.
pub fn run_script_on_this_thread(
    engine: &dyn Engine,
    script: &Script,
    options: &Options,
    record: bool,
) -> ScriptRun {
    let deadline = Instant::now() + options.file_time;
    let run = || driver::run(script, engine, &options.limits, deadline, record);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|panic| ScriptRun {
        aborted: Some(format!(
            "{} panicked: {}",
            engine.id(),
            panic_message(&panic)
        )),
        ..ScriptRun::default()
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a non-string panic".to_string())
}

/// Runs one script on one engine: in this process, or somewhere a crash cannot reach the run.
pub trait Executor {
    fn run(
        &mut self,
        engine: &Arc<dyn Engine>,
        file: &SuiteFile,
        script: &Script,
        options: &Options,
    ) -> ScriptRun;
}

/// Runs scripts on a thread of this process: fastest, but an engine that aborts takes the run down.
pub struct InProcess;

impl Executor for InProcess {
    fn run(
        &mut self,
        engine: &Arc<dyn Engine>,
        _: &SuiteFile,
        script: &Script,
        options: &Options,
    ) -> ScriptRun {
        run_script(engine.as_ref(), script, options)
    }
}

/// Runs and judges one engine on one parsed file.
pub fn trial(
    executor: &mut dyn Executor,
    engine: &Arc<dyn Engine>,
    file: &SuiteFile,
    script: &Script,
    expectations: &Expectations,
    options: &Options,
) -> TrialResult {
    let started = Instant::now();
    let run = executor.run(engine, file, script, options);
    let verdict = expectations.judge(&file.key(), &run);
    TrialResult {
        engine: engine.id().to_string(),
        suite: file.suite.clone(),
        file: file.name.clone(),
        seconds: started.elapsed().as_secs_f64(),
        run,
        verdict,
    }
}

/// Everything a matrix run produced: trial results, and the files that did not parse.
#[derive(Debug, Default)]
pub struct MatrixRun {
    pub trials: Vec<TrialResult>,
    pub script_errors: Vec<ScriptError>,
}

/// How the matrix runs: its worker threads, and the executor each thread makes for itself.
pub struct Parallelism<'a> {
    pub jobs: usize,
    pub executor: &'a (dyn Fn() -> Box<dyn Executor> + Sync),
}

/// Runs every engine on every file with `jobs` workers. Each file is parsed
/// once and run on all engines; `report` sees each trial as it completes.
/// Files of one name run one after another in one worker (see [`namesakes`]).
pub fn run_matrix(
    files: &[SuiteFile],
    engines: &[Arc<dyn Engine>],
    expectations: &HashMap<String, Expectations>,
    options: &Options,
    parallelism: &Parallelism,
    report: &mut dyn FnMut(&TrialResult),
) -> MatrixRun {
    let groups = namesakes(files);
    let next = AtomicUsize::new(0);
    let (sender, receiver) = mpsc::channel();
    let none = Expectations::default();
    let mut matrix = MatrixRun::default();
    std::thread::scope(|scope| {
        for _ in 0..parallelism.jobs.max(1) {
            let sender = sender.clone();
            let (next, none, groups) = (&next, &none, &groups);
            scope.spawn(move || {
                let mut executor = (parallelism.executor)();
                let taken = std::iter::from_fn(|| groups.get(next.fetch_add(1, Ordering::Relaxed)));
                for file in taken.flatten() {
                    let script = match prepare(file) {
                        Ok(script) => script,
                        Err(error) => {
                            let _ = sender.send(Err(error));
                            continue;
                        }
                    };
                    for engine in engines {
                        let expected = expectations.get(engine.id()).unwrap_or(none);
                        let result =
                            trial(executor.as_mut(), engine, file, &script, expected, options);
                        let _ = sender.send(Ok(result));
                    }
                }
            });
        }
        drop(sender);
        for message in receiver {
            match message {
                Ok(result) => {
                    report(&result);
                    matrix.trials.push(result);
                }
                Err(error) => matrix.script_errors.push(error),
            }
        }
    });
    sort_for_report(&mut matrix.trials, |id| {
        engines.iter().position(|e| e.id() == id)
    });
    matrix
}

/// `files` grouped by file name, in the order each name first appears.
///
/// Rationale: each spec version and many proposals carry the same test file
/// (`binary.wast` ten times over), with mostly the same modules. Run one after
/// another by the same worker, their modules are compiled once: engines keep
/// the code of the modules they compiled last (`Limits::one_off_modules`).
pub fn namesakes(files: &[SuiteFile]) -> Vec<Vec<&SuiteFile>> {
    let mut groups: Vec<Vec<&SuiteFile>> = Vec::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for file in files {
        let group = *by_name.entry(&file.name).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(file);
    }
    groups
}

/// Sorts trials the way reports list them: by engine (`rank` gives its column), then suite and file.
pub fn sort_for_report(trials: &mut [TrialResult], rank: impl Fn(&str) -> Option<usize>) {
    trials.sort_by(|a, b| {
        (rank(&a.engine), &a.suite, &a.file).cmp(&(rank(&b.engine), &b.suite, &b.file))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that panics as soon as a script needs a store.
    struct Panicking;

    impl Engine for Panicking {
        fn id(&self) -> &'static str {
            "panicking"
        }

        fn version(&self) -> String {
            "0".into()
        }

        fn features(&self) -> wasmparser::WasmFeatures {
            wasmparser::WasmFeatures::default()
        }

        fn session(&self, _: &Limits) -> Box<dyn oracles::Session> {
            panic!("no stores here")
        }
    }

    #[test]
    fn an_engine_panic_aborts_the_script_on_a_trial_thread_and_on_the_callers_thread() {
        let script = script::parse("panic.wast", "(module)").unwrap();
        let options = Options::default();
        let runs = [
            run_script(&Panicking, &script, &options),
            run_script_on_this_thread(&Panicking, &script, &options, false),
        ];
        for run in runs {
            let aborted = run.aborted.as_deref();
            assert_eq!(aborted, Some("panicking panicked: no stores here"));
        }
    }

    /// Notes which executor (by the order they were made in) ran which file.
    struct Noting {
        number: usize,
        ran: Arc<std::sync::Mutex<Vec<(usize, String)>>>,
    }

    impl Executor for Noting {
        fn run(
            &mut self,
            _: &Arc<dyn Engine>,
            file: &SuiteFile,
            _: &Script,
            _: &Options,
        ) -> ScriptRun {
            self.ran.lock().unwrap().push((self.number, file.key()));
            ScriptRun::default()
        }
    }

    #[test]
    fn files_of_one_name_run_in_one_worker_one_after_another() {
        let file = |suite: &str, name: &str| SuiteFile {
            suite: suite.into(),
            name: name.into(),
            text: "(module)".into(),
        };
        let suites = ["wasm-v1", "wasm-v2", "proposals/simd"];
        let names = ["a.wast", "b.wast", "c.wast", "d.wast"];
        let files: Vec<SuiteFile> = suites
            .iter()
            .flat_map(|suite| names.map(|name| file(suite, name)))
            .collect();
        let ran = Arc::new(std::sync::Mutex::new(Vec::new()));
        let made = AtomicUsize::new(0);
        let executor = || {
            let number = made.fetch_add(1, Ordering::Relaxed);
            Box::new(Noting {
                number,
                ran: ran.clone(),
            }) as Box<dyn Executor>
        };
        let parallelism = Parallelism {
            jobs: 2,
            executor: &executor,
        };
        let engines = [oracles::engine("wasmi").expect("built in")];
        let none = HashMap::new();
        run_matrix(
            &files,
            &engines,
            &none,
            &Options::default(),
            &parallelism,
            &mut |_| {},
        );
        let ran = ran.lock().unwrap();
        assert_eq!(ran.len(), files.len());
        for number in 0..2 {
            let names: Vec<&str> = ran
                .iter()
                .filter(|(by, _)| *by == number)
                .map(|(_, key)| key.rsplit('/').next().unwrap())
                .collect();
            let mut runs = names.clone();
            runs.dedup();
            assert_eq!(runs.len() * suites.len(), names.len(), "{names:?}");
        }
    }
}
