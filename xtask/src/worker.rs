//! Worker processes: engines run in a child process, so that an abort, a segfault or a hang inside an engine
//! becomes an outcome for that engine and that test, and the run goes on with a fresh worker.

use crate::Conclusion;
use oracles::child::{Child, Silence};
use oracles::compare::Observation;
use oracles::differential::{self, EngineRun, Invocation, Timing};
use oracles::external::{Externals, Spec};
use oracles::wasi::sandbox::Sandbox;
use oracles::wasi::{Ending, Entry, ProgramEngine, ProgramRun};
use oracles::{Engine, Engines, Limits, Outcome, Resource, Watchdog};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use suites::catalog::SuiteFile;
use suites::driver::ScriptRun;
use suites::runner::{self, Executor, Options};
use suites::script::Script;

/// The hidden subcommand a worker process runs.
pub const SUBCOMMAND: &str = "worker";

/// Requests a worker serves before it is replaced by a fresh process: engines
/// keep some memory per module they have seen (type registries, code), and a
/// fresh process bounds it however long a campaign runs.
const REQUESTS_PER_WORKER: u32 = 10_000;

/// Slack a worker gets beyond the engine's own time limits before it counts as hung.
const GRACE: Duration = Duration::from_secs(10);

/// The longest reply line a worker may write: a recorded script run or a
/// program's output (bounded by `Limits`) fits many times over; a worker gone
/// wrong cannot make the parent hold more.
const LINE_LIMIT: usize = 1 << 30;

/// Engines are named by id (or variant name, `TIER@SETTING`) and, for the configurations fuzzing varies, a variant index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EngineRef {
    pub id: String,
    pub variant: usize,
}

#[derive(Serialize, Deserialize)]
enum Request {
    Module {
        engine: EngineRef,
        #[serde(with = "oracles::hex::text")]
        wasm: Vec<u8>,
        invocations: Vec<Invocation>,
        limits: Limits,
    },
    Script {
        engine: EngineRef,
        key: String,
        /// The script as text, or already parsed by the parent (which saves parsing it twice).
        script: ScriptSource,
        limits: Limits,
        file_seconds: u64,
        /// Keep every action's outcome, for comparing engines.
        record: bool,
    },
    Program {
        engine: String,
        #[serde(with = "oracles::hex::text")]
        wasm: Vec<u8>,
        sandbox: Sandbox,
        entry: Entry,
        limits: Limits,
    },
}

#[derive(Serialize, Deserialize)]
pub enum ScriptSource {
    Text(String),
    /// Parsed, in postcard's binary encoding.
    ///
    /// Rationale: as JSON, a parsed script took longer to write and read than
    /// the engine took to run a tenth of its directives (`bench conformance`).
    Parsed(#[serde(with = "oracles::hex::text")] Vec<u8>),
}

impl ScriptSource {
    pub fn parsed(script: &Script) -> ScriptSource {
        ScriptSource::Parsed(postcard::to_allocvec(script).expect("scripts serialize"))
    }
}

#[derive(Serialize, Deserialize)]
enum Reply {
    Observed(Observation),
    ModuleDone(Timing),
    ScriptDone(ScriptRun),
    ProgramDone(Box<ProgramRun>),
}

/// The worker's side: answer requests from standard input until it closes, on
/// one thread with room for the deepest spec script, which runs every script
/// itself (see [`runner::run_script_on_this_thread`]).
pub fn serve(watchdog_only: bool, externals: Vec<Spec>) -> anyhow::Result<Conclusion> {
    let serving = std::thread::Builder::new()
        .name("worker".into())
        .stack_size(runner::TRIAL_STACK)
        .spawn(move || serve_requests(watchdog_only, externals))?;
    serving
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the worker thread panicked")))
}

fn serve_requests(watchdog_only: bool, externals: Vec<Spec>) -> anyhow::Result<Conclusion> {
    let watchdog = match watchdog_only {
        true => Watchdog::Outside,
        false => Watchdog::InEngine,
    };
    let built = Engines::new(watchdog, Externals::new(externals));
    let mut engines: HashMap<EngineRef, Arc<dyn Engine>> = HashMap::new();
    let mut program_engines: HashMap<String, Arc<dyn ProgramEngine>> = HashMap::new();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let request: Request = serde_json::from_str(&line?)?;
        match request {
            Request::Module {
                engine,
                wasm,
                invocations,
                limits,
            } => {
                let engine = resolve(&built, &mut engines, &engine)?;
                let mut send = |o: &Observation| reply(&mut out, &Reply::Observed(o.clone()));
                let run = differential::run_engine(
                    engine.as_ref(),
                    &wasm,
                    &invocations,
                    &limits,
                    &mut send,
                );
                reply(&mut out, &Reply::ModuleDone(run.timing));
            }
            Request::Script {
                engine,
                key,
                script,
                limits,
                file_seconds,
                record,
            } => {
                let engine = resolve(&built, &mut engines, &engine)?;
                let options = Options {
                    limits,
                    file_time: Duration::from_secs(file_seconds),
                };
                let parsed = match script {
                    ScriptSource::Text(text) => {
                        suites::script::parse(&key, &text).map_err(|e| e.to_string())
                    }
                    ScriptSource::Parsed(bytes) => postcard::from_bytes(&bytes)
                        .map_err(|e| format!("the parsed script does not read back: {e}")),
                };
                let run = match parsed {
                    Ok(script) => runner::run_script_on_this_thread(
                        engine.as_ref(),
                        &script,
                        &options,
                        record,
                    ),
                    Err(why) => ScriptRun {
                        aborted: Some(why),
                        ..ScriptRun::default()
                    },
                };
                reply(&mut out, &Reply::ScriptDone(run));
            }
            Request::Program {
                engine,
                wasm,
                sandbox,
                entry,
                limits,
            } => {
                let engine = match program_engines.get(&engine) {
                    Some(found) => found.clone(),
                    None => {
                        let choice = built.choice(&engine);
                        let found = choice.and_then(|choice| built.program_engine(&choice));
                        let found =
                            found.ok_or_else(|| anyhow::anyhow!("no program engine {engine}"))?;
                        program_engines.insert(engine, found.clone());
                        found
                    }
                };
                let run = oracles::wasi::run(engine.as_ref(), &wasm, &sandbox, &entry, &limits);
                reply(&mut out, &Reply::ProgramDone(Box::new(run)));
            }
        }
    }
    Ok(Conclusion::Agree)
}

/// The engine `engine` names, built by `built` the first time.
fn resolve(
    built: &Engines,
    engines: &mut HashMap<EngineRef, Arc<dyn Engine>>,
    engine: &EngineRef,
) -> anyhow::Result<Arc<dyn Engine>> {
    if let Some(found) = engines.get(engine) {
        return Ok(found.clone());
    }
    let choice = built
        .choice(&engine.id)
        .ok_or_else(|| anyhow::anyhow!("no engine {}", engine.id))?;
    let found = match engine.variant {
        0 => built.engine(&choice),
        variant => built.variants(&choice).and_then(|variants| {
            let found = variants.into_iter().nth(variant);
            found.ok_or_else(|| "it has fewer variants".to_string())
        }),
    };
    let found = found.map_err(|why| {
        anyhow::anyhow!("no engine {} variant {}: {why}", engine.id, engine.variant)
    })?;
    engines.insert(engine.clone(), found.clone());
    Ok(found)
}

fn reply(out: &mut impl Write, reply: &Reply) {
    let line = serde_json::to_string(reply).expect("replies serialize");
    // The parent reads line by line; a failed write means it is gone.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// The parent's side: one child process, restarted whenever it dies or hangs.
pub struct Worker {
    child: Option<Child>,
    /// Requests the current child has been sent.
    served: u32,
    /// The child's engines have no time limits of their own: only this side's watchdog.
    watchdog_only: bool,
    /// External engines the child configures, as the parent did.
    externals: Vec<Spec>,
    /// The engines the current child has started, each on its first request.
    started: HashSet<EngineRef>,
}

/// What waiting for a reply gave.
enum Received {
    Reply(Reply),
    /// The worker died; why, as the operating system tells.
    Died(String),
    TimedOut,
}

impl Worker {
    /// A worker whose engines keep their own per-call time limits (diff, fuzz,
    /// reduce), with the external engines `externals` configure.
    pub fn new(externals: Vec<Spec>) -> Worker {
        Worker {
            child: None,
            served: 0,
            watchdog_only: false,
            externals,
            started: HashSet::new(),
        }
    }

    /// A worker whose only time limit is the watchdog's per script: a
    /// conformance run saves the cost of in-engine interruption checks.
    pub fn for_scripts(externals: Vec<Spec>) -> Worker {
        let mut worker = Worker::new(externals);
        worker.watchdog_only = true;
        worker
    }

    /// Ends the current child: the next request starts a new one, with none of its history.
    pub fn restart(&mut self) {
        self.child = None;
    }

    /// Replaces the child once it has served its share of requests; called
    /// between requests, never while a reply is outstanding.
    fn retire_if_due(&mut self) {
        if self.served >= REQUESTS_PER_WORKER {
            self.child = None;
        }
    }

    fn send(&mut self, request: &Request) -> Result<(), String> {
        let line = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        self.send_line(&line)
    }

    /// Sends a serialized request, starting a child first if there is none.
    fn send_line(&mut self, line: &[u8]) -> Result<(), String> {
        if self.child.is_none() {
            self.served = 0;
            self.started.clear();
            self.child = Some(
                spawn(self.watchdog_only, &self.externals)
                    .map_err(|e| format!("starting a worker: {e}"))?,
            );
        }
        self.served += 1;
        let child = self.child.as_mut().expect("spawned above");
        child.send(line).map_err(|e| format!("worker input: {e}"))
    }

    fn receive(&mut self, wait: Duration) -> Received {
        let Some(child) = self.child.as_mut() else {
            return Received::Died("no worker".into());
        };
        let received = child.receive(Instant::now() + wait);
        let reply = received.map(|line| serde_json::from_slice::<Reply>(&line));
        if !matches!(reply, Ok(Ok(_))) {
            // Whatever it says next cannot be trusted to line up either.
            self.child = None;
        }
        match reply {
            Ok(Ok(reply)) => Received::Reply(reply),
            Ok(Err(e)) => Received::Died(format!("worker said something unreadable ({e})")),
            Err(Silence::TimedOut) => Received::TimedOut,
            Err(Silence::Ended(ending)) => Received::Died(ending.to_string()),
            Err(too_long @ Silence::TooLong(_)) => Received::Died(format!("the worker {too_long}")),
        }
    }

    /// Runs a module on every engine in turn in the worker. The requests go
    /// ahead of the engine the worker is on, as many as its input pipe holds:
    /// each engine starts as soon as the one before it ends, rather than after
    /// a round trip through this process, each a wait for a time slice on a
    /// busy machine. If the worker dies or hangs, the step it was on and every
    /// later step of that engine get that as their outcome, and the engines
    /// after it go to a fresh worker. Past `deadline`, the engine stops at the
    /// step it is on, and engines not yet reached do not start: their steps are
    /// `exhausted Time`. `progress` hears each engine finish.
    fn run_module_everywhere(
        &mut self,
        engines: &[(EngineRef, Arc<dyn Engine>)],
        module: &ModuleRun,
        deadline: Option<Instant>,
        progress: &mut dyn FnMut(&str),
    ) -> Vec<EngineRun> {
        let requests: Vec<Result<Vec<u8>, String>> = engines
            .iter()
            .map(|(reference, _)| module.request(reference))
            .collect();
        self.retire_if_due();
        let mut runs = Vec::with_capacity(engines.len());
        // Requests before `sent` are written to the current child.
        let mut sent = 0;
        for (index, (reference, engine)) in engines.iter().enumerate() {
            let name = engine.variant();
            let steps = module.steps();
            let late = deadline.is_some_and(|d| Instant::now() >= d);
            if late && sent > index {
                // The child is on an engine this run no longer waits for.
                self.restart();
            }
            if self.child.is_none() {
                // Whatever went ahead went with the child that is gone.
                sent = index;
            }
            let run = match late {
                true => out_of_time(&name, steps),
                false => match self.send_ahead(&requests, index, &mut sent) {
                    Err(why) => stopped(&name, steps, &Outcome::HarnessFailed(why)),
                    Ok(()) => self.receive_module(reference, &name, module, deadline),
                },
            };
            runs.push(run);
            progress(&reference.id);
        }
        runs
    }

    /// Sends the request of engine `index` if it is not sent yet, and those
    /// after it while the child's input pipe holds every one not answered:
    /// more could leave this process waiting on a full pipe while the child
    /// hangs, beyond the reach of any time limit.
    fn send_ahead(
        &mut self,
        requests: &[Result<Vec<u8>, String>],
        index: usize,
        sent: &mut usize,
    ) -> Result<(), String> {
        let size = |request: &Result<Vec<u8>, String>| request.as_ref().map_or(0, |r| r.len() + 1);
        while *sent < requests.len() {
            let unanswered: usize = requests[index..*sent].iter().map(size).sum();
            let capacity = self.child.as_ref().map_or(0, Child::input_capacity);
            let fits = unanswered + size(&requests[*sent]) <= capacity;
            if *sent > index && !fits {
                break;
            }
            let sending = self.send_line(requests[*sent].as_ref()?);
            if sending.is_err() && *sent > index {
                // The child is gone; receiving says how, and the rest go to a fresh one.
                break;
            }
            sending?;
            *sent += 1;
        }
        Ok(())
    }

    /// The replies of one engine to its module request, sent already. If the
    /// worker dies or hangs, or `deadline` passes, the step it was on and every
    /// later step get that as their outcome, observed as `name`.
    fn receive_module(
        &mut self,
        engine: &EngineRef,
        name: &str,
        module: &ModuleRun,
        deadline: Option<Instant>,
    ) -> EngineRun {
        let mut observations = Vec::with_capacity(module.steps());
        let mut timing = Timing::default();
        let stopped = loop {
            let left = deadline.map_or(Duration::MAX, |d| d - Instant::now().min(d));
            // An engine starts on its first request in a child: an external engine's process
            // first, and a nested tier's host compiles the whole guest runtime before that.
            let startup = match self.started.insert(engine.clone()) {
                true => oracles::nested::STARTUP,
                false => Duration::ZERO,
            };
            let step_time = module.limits.step_time();
            match self.receive((step_time + GRACE + startup).min(left)) {
                Received::Reply(Reply::Observed(observation)) => observations.push(observation),
                Received::Reply(Reply::ModuleDone(t)) => {
                    timing = t;
                    break None;
                }
                Received::Reply(Reply::ScriptDone(_) | Reply::ProgramDone(_)) => {
                    self.restart();
                    break Some(Outcome::HarnessFailed("unexpected reply".into()));
                }
                Received::Died(why) => break Some(Outcome::Crashed(why)),
                Received::TimedOut => break Some(Outcome::Exhausted(Resource::Time)),
            }
        };
        if let Some(outcome) = stopped {
            pad(&mut observations, name, &outcome, module.steps());
        }
        EngineRun {
            observations,
            timing,
            unapplied: Vec::new(),
        }
    }
}

/// A module and the calls to make on it, as every engine gets them.
struct ModuleRun<'a> {
    wasm: &'a [u8],
    invocations: &'a [Invocation],
    limits: &'a Limits,
}

impl ModuleRun<'_> {
    /// Steps of a run: compile, instantiate, then one per invocation.
    fn steps(&self) -> usize {
        self.invocations.len() + 2
    }

    /// The serialized request that runs the module on `engine`.
    fn request(&self, engine: &EngineRef) -> Result<Vec<u8>, String> {
        let request = Request::Module {
            engine: engine.clone(),
            wasm: self.wasm.to_vec(),
            invocations: self.invocations.to_vec(),
            limits: self.limits.clone(),
        };
        serde_json::to_vec(&request).map_err(|e| e.to_string())
    }
}

impl Executor for Worker {
    fn run(
        &mut self,
        engine: &Arc<dyn Engine>,
        file: &SuiteFile,
        script: &Script,
        options: &Options,
    ) -> ScriptRun {
        let source = ScriptSource::parsed(script);
        self.run_script(&engine.variant(), &file.key(), source, options, false)
    }
}

impl Worker {
    /// Runs a script on one engine in the worker; `record` keeps every action's outcome.
    pub fn run_script(
        &mut self,
        engine: &str,
        key: &str,
        script: ScriptSource,
        options: &Options,
        record: bool,
    ) -> ScriptRun {
        let request = Request::Script {
            engine: EngineRef {
                id: engine.to_string(),
                variant: 0,
            },
            key: key.to_string(),
            script,
            limits: options.limits.clone(),
            file_seconds: options.file_time.as_secs(),
            record,
        };
        let aborted = |why: String| ScriptRun {
            aborted: Some(why),
            ..ScriptRun::default()
        };
        self.retire_if_due();
        if let Err(why) = self.send(&request) {
            return aborted(why);
        }
        match self.receive(options.file_time + options.limits.step_time() + GRACE) {
            Received::Reply(Reply::ScriptDone(run)) => run,
            Received::Reply(_) => aborted("unexpected reply from the worker".into()),
            Received::Died(why) => aborted(format!("{engine} crashed: {why}")),
            Received::TimedOut => aborted(format!(
                "{engine} hung past the time limit; its worker was killed"
            )),
        }
    }
}

impl Worker {
    /// Runs a WASI program on one tier in the worker. If the worker dies or
    /// hangs, that is how the run ended, with nothing written or left behind.
    pub fn run_program(
        &mut self,
        engine: &str,
        wasm: &[u8],
        sandbox: &Sandbox,
        entry: &Entry,
        limits: &Limits,
    ) -> ProgramRun {
        let request = Request::Program {
            engine: engine.to_string(),
            wasm: wasm.to_vec(),
            sandbox: sandbox.clone(),
            entry: entry.clone(),
            limits: limits.clone(),
        };
        self.retire_if_due();
        let ending = match self.send(&request) {
            Err(why) => Outcome::HarnessFailed(why),
            // A reactor makes two calls, `_initialize` and the export.
            Ok(()) => match self.receive(
                limits.compile_time + limits.instantiate_time + limits.call_time * 2 + GRACE,
            ) {
                Received::Reply(Reply::ProgramDone(run)) => return *run,
                Received::Reply(_) => Outcome::HarnessFailed("unexpected reply".into()),
                Received::Died(why) => Outcome::Crashed(why),
                Received::TimedOut => Outcome::Exhausted(Resource::Time),
            },
        };
        ProgramRun {
            engine: engine.to_string(),
            ending: Ending::Outcome(ending),
            output: Default::default(),
            files: Default::default(),
            timing: Default::default(),
        }
    }
}

/// Runs a module on every engine — in `worker` if there is one, else in this
/// process — and compares them step by step. Past `deadline`, a worker's
/// engine stops at the step it is on, and engines not yet started do not
/// start: their steps are `exhausted Time`. `progress` hears each engine finish.
pub fn run_all(
    worker: Option<&mut Worker>,
    engines: &[(EngineRef, Arc<dyn Engine>)],
    wasm: &[u8],
    invocations: &[Invocation],
    limits: &Limits,
    deadline: Option<Instant>,
    progress: &mut dyn FnMut(&str),
) -> differential::Run {
    let module = ModuleRun {
        wasm,
        invocations,
        limits,
    };
    let mut runs = match worker {
        Some(worker) => worker.run_module_everywhere(engines, &module, deadline, progress),
        None => engines
            .iter()
            .map(|(reference, engine)| {
                let late = deadline.is_some_and(|d| Instant::now() >= d);
                let run = match late {
                    true => out_of_time(&engine.variant(), module.steps()),
                    false => differential::run_engine(
                        engine.as_ref(),
                        wasm,
                        invocations,
                        limits,
                        &mut |_| {},
                    ),
                };
                progress(&reference.id);
                run
            })
            .collect(),
    };
    for (run, (_, engine)) in runs.iter_mut().zip(engines) {
        // What the engine said of itself in this process, wherever it ran.
        run.unapplied = engine.unapplied_limits();
    }
    differential::compare_runs(wasm, invocations, runs)
}

/// The run of an engine the time budget did not reach.
fn out_of_time(engine: &str, steps: usize) -> EngineRun {
    stopped(engine, steps, &Outcome::Exhausted(Resource::Time))
}

/// The run of an engine that never started, for `outcome`.
fn stopped(engine: &str, steps: usize, outcome: &Outcome) -> EngineRun {
    let mut observations = Vec::with_capacity(steps);
    pad(&mut observations, engine, outcome, steps);
    EngineRun {
        observations,
        timing: Timing::default(),
        unapplied: Vec::new(),
    }
}

/// Gives every step an engine did not reach `outcome`, the reason it stopped.
fn pad(observations: &mut Vec<Observation>, engine: &str, outcome: &Outcome, steps: usize) {
    while observations.len() < steps {
        observations.push(Observation {
            engine: engine.to_string(),
            outcome: outcome.clone(),
            state: None,
            state_unread: None,
        });
    }
}

/// The engines as workers name them: the default configuration of each.
pub fn references(engines: &[Arc<dyn Engine>]) -> Vec<(EngineRef, Arc<dyn Engine>)> {
    engines
        .iter()
        .map(|e| {
            (
                EngineRef {
                    id: e.variant(),
                    variant: 0,
                },
                e.clone(),
            )
        })
        .collect()
}

fn spawn(watchdog_only: bool, externals: &[Spec]) -> std::io::Result<Child> {
    let mut command = Command::new(std::env::current_exe()?);
    command.arg(SUBCOMMAND).env(
        oracles::tempfiles::RUN_FOLDER_ENV,
        oracles::tempfiles::parent_folder(),
    );
    if watchdog_only {
        command.arg("--watchdog-only");
    }
    for spec in externals {
        command.arg(format!("--external={spec}"));
    }
    Child::spawn(&mut command, LINE_LIMIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_script_reads_back_whole_in_the_worker() {
        let text = r#"(module $m (func (export "f") (param v128 externref f32) (result f64) unreachable))
          (assert_return (invoke $m "f" (v128.const i64x2 -1 7) (ref.extern 3) (f32.const nan:0x200000))
            (either (f64.const nan:canonical) (f64.const -0x1p-1074)))
          (assert_malformed (module quote "(func") "unexpected end")
          (thread $t (shared (module $m)) (invoke "f"))"#;
        let script = suites::script::parse("every-kind.wast", text).unwrap();
        let ScriptSource::Parsed(bytes) = ScriptSource::parsed(&script) else {
            unreachable!("parsed")
        };
        let read: Script = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(format!("{read:?}"), format!("{script:?}"));
    }
}
