//! Runs one script on one engine and judges every directive: pass, fail with a reason, or skip with a reason.

use crate::patterns::Expected;
use crate::script::{Action, Command, CommandKind, ModuleBytes, Script};
use oracles::features::{self, Requirement};
use oracles::{
    Engine, InstanceId, Limits, ModuleId, Outcome, Resource, Session, SharedInstance, TrapCode,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::Instant;
use wasmparser::WasmFeatures;

/// How one directive went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason")]
pub enum Status {
    #[serde(rename = "passed")]
    Pass,
    #[serde(rename = "failed")]
    Fail(String),
    #[serde(rename = "skipped")]
    Skip(String),
}

/// One directive as one engine ran it, kept when a run records (`cargo xtask diff`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DirectiveRun {
    pub line: u32,
    pub column: u32,
    /// The directive's keyword (`assert_return`, `module`, ...).
    pub keyword: String,
    pub status: Status,
    /// What the directive's compilation, instantiation or action did, when it got that far.
    pub outcome: Option<Outcome>,
}

/// A directive that did not pass.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Failure {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Skipped directives, grouped by reason.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Skips {
    pub count: u32,
    pub first_line: u32,
}

/// Everything one engine did with one script.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScriptRun {
    pub passed: u32,
    pub failures: Vec<Failure>,
    pub skipped: BTreeMap<String, Skips>,
    /// Why the script stopped before its end (time limit).
    pub aborted: Option<String>,
    /// Every directive in order, when the run was asked to record them (`cargo xtask diff`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directives: Vec<DirectiveRun>,
}

impl ScriptRun {
    pub fn skipped_count(&self) -> u32 {
        self.skipped.values().map(|s| s.count).sum()
    }

    /// Adds what a `thread` block did, each directive at its own line.
    fn absorb(&mut self, thread: ScriptRun) {
        self.passed += thread.passed;
        self.failures.extend(thread.failures);
        for (reason, skips) in thread.skipped {
            let group = self.skipped.entry(reason).or_insert(Skips {
                count: 0,
                first_line: skips.first_line,
            });
            group.count += skips.count;
            group.first_line = group.first_line.min(skips.first_line);
        }
        self.aborted = self.aborted.take().or(thread.aborted);
        self.directives.extend(thread.directives);
    }

    fn record(&mut self, command: &Command, status: Status) {
        match status {
            Status::Pass => self.passed += 1,
            Status::Fail(message) => self.failures.push(Failure {
                line: command.line,
                column: command.column,
                message,
            }),
            Status::Skip(reason) => {
                let group = self.skipped.entry(reason).or_insert(Skips {
                    count: 0,
                    first_line: command.line,
                });
                group.count += 1;
            }
        }
    }
}

/// Runs `script` on `engine` in a fresh session, stopping at `deadline`;
/// `record` keeps every action's outcome for comparing engines. Its `thread`
/// blocks run on OS threads of their own, each in a fresh session.
pub fn run(
    script: &Script,
    engine: &dyn Engine,
    limits: &Limits,
    deadline: Instant,
    record: bool,
) -> ScriptRun {
    std::thread::scope(|scope| {
        let mut driver = Driver::new(Context {
            engine,
            limits,
            deadline,
            record,
            scope,
        });
        driver.commands(&script.commands);
        driver.finish()
    })
}

/// An instance or module the script can name, or why it is not there.
type Slot<T> = Result<T, String>;

/// What the script's main thread and its `thread` blocks share.
#[derive(Clone, Copy)]
struct Context<'scope, 'env> {
    engine: &'env dyn Engine,
    limits: &'env Limits,
    deadline: Instant,
    record: bool,
    /// Where `thread` blocks run; every one is joined before the script's run ends.
    scope: &'scope Scope<'scope, 'env>,
}

/// A `thread` block: running, or skipped for a reason its `wait` repeats.
enum Thread<'scope> {
    Running(ScopedJoinHandle<'scope, ScriptRun>),
    Skipped(String),
}

struct Driver<'scope, 'env> {
    context: Context<'scope, 'env>,
    session: Box<dyn Session>,
    features: WasmFeatures,
    modules: HashMap<String, Slot<ModuleId>>,
    /// Every module this session compiled, by its bytes.
    compiled: HashMap<Vec<u8>, ModuleId>,
    last_module: Option<Slot<ModuleId>>,
    instances: HashMap<String, Slot<InstanceId>>,
    current: Option<Slot<InstanceId>>,
    /// Registered names that stand for an instance this engine could not create.
    registered: HashMap<String, String>,
    /// In a `thread` block: its shared module, by name, as the spawning session shared it.
    shared: HashMap<String, SharedInstance>,
    threads: HashMap<String, Thread<'scope>>,
    run: ScriptRun,
    /// The outcome of the action the current command performed.
    last_outcome: Option<Outcome>,
}

impl<'scope, 'env> Driver<'scope, 'env> {
    fn new(context: Context<'scope, 'env>) -> Self {
        Driver {
            context,
            session: context.engine.session(context.limits),
            features: context.engine.features(),
            modules: HashMap::new(),
            compiled: HashMap::new(),
            last_module: None,
            instances: HashMap::new(),
            current: None,
            registered: HashMap::new(),
            shared: HashMap::new(),
            threads: HashMap::new(),
            run: ScriptRun::default(),
            last_outcome: None,
        }
    }

    fn commands(&mut self, commands: &'env [Command]) {
        for command in commands {
            if Instant::now() > self.context.deadline {
                self.run.aborted = Some(format!("time limit reached before line {}", command.line));
                return;
            }
            let status = self.command(command);
            self.note(command, status);
        }
    }

    /// Counts a directive's status and, when recording, keeps it with its outcome.
    fn note(&mut self, command: &Command, status: Status) {
        let outcome = self.last_outcome.take();
        if self.context.record {
            self.run.directives.push(DirectiveRun {
                line: command.line,
                column: command.column,
                keyword: command.kind.keyword().to_string(),
                status: status.clone(),
                outcome,
            });
        }
        self.run.record(command, status);
    }

    /// The run, once every thread the script did not wait for has been joined.
    fn finish(mut self) -> ScriptRun {
        let mut names: Vec<String> = self.threads.keys().cloned().collect();
        names.sort();
        for name in names {
            if let Status::Fail(why) = self.wait(&name) {
                self.run.aborted.get_or_insert(why);
            }
        }
        self.run
    }

    fn command(&mut self, command: &'env Command) -> Status {
        match &command.kind {
            CommandKind::Module {
                name,
                bytes,
                instantiate,
            } => self.module(command.line, name, bytes, *instantiate),
            CommandKind::Instance { instance, module } => {
                self.instance(command.line, instance, module)
            }
            CommandKind::Register { name, instance } => self.register(name, instance),
            CommandKind::Action(action) => match self.perform(action) {
                Ok(Outcome::HarnessFailed(why)) => Status::Fail(format!("harness failed: {why}")),
                Ok(_) => Status::Pass,
                Err(status) => status,
            },
            CommandKind::AssertReturn { action, expected } => {
                self.judge(action, |outcome| returned(outcome, expected))
            }
            CommandKind::AssertTrap { action, message } => {
                self.judge(action, |outcome| trapped(outcome, message))
            }
            CommandKind::AssertExhaustion { action, message } => self.judge(action, |outcome| {
                matches!(outcome, Outcome::Exhausted(Resource::Stack))
                    .then_some(())
                    .ok_or_else(|| format!("expected exhaustion ({message}), got {outcome}"))
            }),
            CommandKind::AssertException { action } => self.judge(action, |outcome| {
                matches!(outcome, Outcome::Exception(_))
                    .then_some(())
                    .ok_or_else(|| format!("expected an uncaught exception, got {outcome}"))
            }),
            CommandKind::AssertRejected {
                bytes,
                message,
                malformed,
            } => self.rejected(bytes, message, *malformed),
            CommandKind::AssertUnlinkable { bytes, message } => self.unlinkable(bytes, message),
            CommandKind::Thread {
                name,
                shared_module,
                commands,
            } => self.thread(name, shared_module, commands),
            CommandKind::Wait { thread } => self.wait(thread),
            CommandKind::NotRun(why) => Status::Skip(why.clone()),
        }
    }

    /// Starts a `thread` block on its own OS thread, in a fresh session of the
    /// same engine that sees the shared module's shareable state. Threads of a
    /// script may wait for each other, so running them one after the other
    /// could block forever.
    fn thread(
        &mut self,
        name: &str,
        shared_module: &Option<String>,
        commands: &'env [Command],
    ) -> Status {
        let shared = match shared_module {
            Some(module) => match self.share(module) {
                Ok(shared) => Some((module.clone(), shared)),
                Err(status) => {
                    let why = match &status {
                        Status::Skip(why) => why.clone(),
                        _ => format!("thread ${name} did not start"),
                    };
                    self.skip_all(commands, &why);
                    self.threads.insert(name.to_string(), Thread::Skipped(why));
                    return status;
                }
            },
            None => None,
        };
        let context = self.context;
        let handle = context.scope.spawn(move || {
            let mut thread = Driver::new(context);
            if let Some((module, shared)) = shared {
                thread.adopt(module, shared);
            }
            thread.commands(commands);
            thread.finish()
        });
        self.threads
            .insert(name.to_string(), Thread::Running(handle));
        Status::Pass
    }

    /// The shareable state of the instance named `module`, or why there is none.
    fn share(&mut self, module: &str) -> Result<SharedInstance, Status> {
        let id = self.lookup(&Some(module.to_string()))?;
        self.session.share(id).map_err(|outcome| match outcome {
            Outcome::Unsupported(why) => Status::Skip(why),
            outcome => Status::Fail(format!("sharing ${module}: {outcome}")),
        })
    }

    /// Makes a shared module registrable in this thread's session; its
    /// functions stay in the session that instantiated it.
    fn adopt(&mut self, module: String, shared: SharedInstance) {
        let why = format!("only the shared memories of ${module} reach another thread");
        self.instances.insert(module.clone(), Err(why));
        self.shared.insert(module, shared);
    }

    /// Skips a thread's directives (and those of threads inside it) for `why`.
    fn skip_all(&mut self, commands: &[Command], why: &str) {
        for command in commands {
            if let CommandKind::Thread { commands, .. } = &command.kind {
                self.skip_all(commands, why);
            }
            self.note(command, Status::Skip(why.to_string()));
        }
    }

    /// Joins a thread and adds what its directives did, each at its own line.
    fn wait(&mut self, name: &str) -> Status {
        match self.threads.remove(name) {
            None => Status::Fail(format!("no thread ${name} was started")),
            Some(Thread::Skipped(why)) => Status::Skip(why),
            Some(Thread::Running(handle)) => match handle.join() {
                Ok(thread) => {
                    self.run.absorb(thread);
                    Status::Pass
                }
                Err(_) => Status::Fail(format!("the driver of thread ${name} panicked")),
            },
        }
    }

    fn judge(
        &mut self,
        action: &Action,
        check: impl FnOnce(&Outcome) -> Result<(), String>,
    ) -> Status {
        match self.perform(action) {
            Ok(outcome) => match check(&outcome) {
                Ok(()) => Status::Pass,
                Err(why) => Status::Fail(why),
            },
            Err(status) => status,
        }
    }

    fn module(
        &mut self,
        line: u32,
        name: &Option<String>,
        bytes: &ModuleBytes,
        instantiate: bool,
    ) -> Status {
        let compiled = self.compile(bytes);
        let module = slot(&compiled, line);
        if let Some(name) = name {
            self.modules.insert(name.clone(), module.clone());
        }
        self.last_module = Some(module);
        match compiled {
            Ok(module) if instantiate => self.instantiate_into(line, name, module),
            Ok(_) => Status::Pass,
            Err(status) => {
                if instantiate {
                    self.set_current(name, slot::<InstanceId>(&Err(status.clone()), line));
                }
                status
            }
        }
    }

    fn instance(
        &mut self,
        line: u32,
        instance: &Option<String>,
        module: &Option<String>,
    ) -> Status {
        let defined = match module {
            Some(name) => self.modules.get(name).cloned(),
            None => self.last_module.clone(),
        };
        match defined {
            Some(Ok(module)) => self.instantiate_into(line, instance, module),
            Some(Err(why)) => {
                self.set_current(instance, Err(why.clone()));
                Status::Skip(why)
            }
            None => Status::Fail(format!("no module {module:?} is defined")),
        }
    }

    fn instantiate_into(&mut self, line: u32, name: &Option<String>, module: ModuleId) -> Status {
        let instantiated = self.session.instantiate(module);
        self.observe(&instantiated);
        let result = instantiated.map_err(|outcome| match outcome {
            Outcome::Unsupported(why) => Status::Skip(why),
            outcome => Status::Fail(format!("instantiation: {outcome}")),
        });
        let status = match &result {
            Ok(_) => Status::Pass,
            Err(status) => status.clone(),
        };
        self.set_current(name, slot(&result, line));
        status
    }

    fn set_current(&mut self, name: &Option<String>, instance: Slot<InstanceId>) {
        if let Some(name) = name {
            self.instances.insert(name.clone(), instance.clone());
        }
        self.current = Some(instance);
    }

    fn register(&mut self, name: &str, instance: &Option<String>) -> Status {
        if let Some(shared) = instance.as_ref().and_then(|i| self.shared.get(i)) {
            return match self.session.register_shared(name, shared) {
                Ok(()) => Status::Pass,
                Err(Outcome::Unsupported(why)) => {
                    self.registered.insert(name.to_string(), why.clone());
                    Status::Skip(why)
                }
                Err(outcome) => Status::Fail(format!("registering a shared instance: {outcome}")),
            };
        }
        match self.lookup(instance) {
            Ok(id) => {
                self.session.register(name, id);
                self.registered.remove(name);
                Status::Pass
            }
            Err(Status::Skip(why)) => {
                self.registered.insert(name.to_string(), why.clone());
                Status::Skip(why)
            }
            Err(status) => status,
        }
    }

    fn lookup(&self, instance: &Option<String>) -> Result<InstanceId, Status> {
        let slot = match instance {
            Some(name) => self.instances.get(name),
            None => self.current.as_ref(),
        };
        match slot {
            Some(Ok(id)) => Ok(*id),
            Some(Err(why)) => Err(Status::Skip(why.clone())),
            None => Err(Status::Fail(format!("no instance {instance:?}"))),
        }
    }

    /// Compiles a module, or says why this engine does not run it.
    fn compile(&mut self, bytes: &ModuleBytes) -> Result<ModuleId, Status> {
        let wasm = match bytes {
            ModuleBytes::Binary(wasm) => wasm,
            ModuleBytes::MalformedText(e) => return Err(Status::Fail(format!("module text: {e}"))),
            ModuleBytes::NotCore(why) => return Err(Status::Skip(why.clone())),
        };
        if let Some(reason) = self.unavailable_import(wasm) {
            return Err(Status::Skip(reason));
        }
        // Rationale: a script declares the same module again and again (more than a fifth
        // of the modules of wasm-v3 and the proposals repeat one before them in
        // their file). Compiled code is immutable and every instance of it is
        // fresh, so the module compiled the first time is instantiated again.
        if let Some(module) = self.compiled.get(wasm.as_slice()) {
            self.last_outcome = Some(Outcome::Values(Vec::new()));
            return Ok(*module);
        }
        // Compile first: most modules are fine, and the engine validates them
        // anyway. Only a rejection needs explaining.
        match self.session.compile(wasm) {
            Ok(module) => {
                self.compiled.insert(wasm.clone(), module);
                self.last_outcome = Some(Outcome::Values(Vec::new()));
                Ok(module)
            }
            Err(Outcome::Unsupported(why)) => Err(Status::Skip(why)),
            Err(outcome) => match self.skip_reason(wasm) {
                Some(reason) => Err(Status::Skip(reason)),
                None => {
                    self.last_outcome = Some(outcome.clone());
                    Err(Status::Fail(format!("compilation: {outcome}")))
                }
            },
        }
    }

    /// Why a module this engine rejected is not its fault, if it is not.
    fn skip_reason(&self, wasm: &[u8]) -> Option<String> {
        match features::requirement(wasm, self.features) {
            // The suites move faster than validators: a module the suite runs
            // but no feature set of lockstep's wasmparser accepts cannot be
            // judged, so no engine is blamed for rejecting it.
            Requirement::InvalidEverywhere => Some(format!(
                "wasmparser {} rejects this module under every feature set",
                features::WASMPARSER_VERSION
            )),
            other => other.missing(),
        }
    }

    /// Why a module cannot link here: it imports from a registration this engine skipped.
    fn unavailable_import(&self, wasm: &[u8]) -> Option<String> {
        if self.registered.is_empty() {
            return None;
        }
        import_modules(wasm)
            .into_iter()
            .find_map(|module| self.registered.get(&module).cloned())
    }

    /// Remembers what a module-level step did, for comparing engines: completed, or its outcome.
    fn observe<T>(&mut self, result: &Result<T, Outcome>) {
        let outcome = result
            .as_ref()
            .err()
            .cloned()
            .unwrap_or(Outcome::Values(Vec::new()));
        self.last_outcome = Some(outcome);
    }

    fn perform(&mut self, action: &Action) -> Result<Outcome, Status> {
        let outcome = self.perform_action(action);
        if let Ok(outcome) = &outcome {
            self.last_outcome = Some(outcome.clone());
        }
        match outcome {
            // An engine that cannot run an action (a value its API cannot pass) skips it.
            Ok(Outcome::Unsupported(why)) => Err(Status::Skip(why)),
            other => other,
        }
    }

    fn perform_action(&mut self, action: &Action) -> Result<Outcome, Status> {
        match action {
            Action::Invoke {
                instance,
                export,
                args,
            } => {
                let id = self.lookup(instance)?;
                Ok(self.session.invoke(id, export, args))
            }
            Action::Get { instance, global } => {
                let id = self.lookup(instance)?;
                Ok(self.session.global(id, global))
            }
            Action::Instantiate(bytes) => {
                let module = self.compile(bytes)?;
                Ok(match self.session.instantiate(module) {
                    Ok(_) => Outcome::Values(Vec::new()),
                    Err(outcome) => outcome,
                })
            }
        }
    }

    fn rejected(&mut self, bytes: &ModuleBytes, message: &str, malformed: bool) -> Status {
        let wasm = match bytes {
            ModuleBytes::MalformedText(_) => return Status::Pass,
            ModuleBytes::NotCore(why) => return Status::Skip(why.clone()),
            ModuleBytes::Binary(wasm) => wasm,
        };
        let compiled = self.session.compile(wasm);
        self.observe(&compiled);
        match compiled {
            Err(outcome) if outcome.is_rejection() => Status::Pass,
            // The engine did not judge the module: a skip, never a pass.
            Err(Outcome::Unsupported(why)) => Status::Skip(why),
            Err(outcome) => Status::Fail(format!("expected a rejection ({message}), got {outcome}")),
            // The suites assert the rules of their own spec version; a later
            // proposal this engine runs can make the same module valid.
            Ok(_) if features::validates(wasm, self.features) => Status::Skip(
                "valid with this engine's proposals; the assertion holds for an older spec version or for the text format"
                    .into(),
            ),
            Ok(_) => {
                let kind = if malformed { "malformed" } else { "invalid" };
                Status::Fail(format!("accepted a {kind} module ({message})"))
            }
        }
    }

    fn unlinkable(&mut self, bytes: &ModuleBytes, message: &str) -> Status {
        let module = match self.compile(bytes) {
            Ok(module) => module,
            Err(status) => return status,
        };
        match self.session.instantiate(module) {
            Err(Outcome::Unlinkable(_)) => Status::Pass,
            Err(outcome) => Status::Fail(format!("expected unlinkable ({message}), got {outcome}")),
            Ok(_) => Status::Fail(format!("expected unlinkable ({message}), but it linked")),
        }
    }
}

/// What later directives see of a module or instance that did not come to be.
fn slot<T: Copy>(result: &Result<T, Status>, line: u32) -> Slot<T> {
    match result {
        Ok(value) => Ok(*value),
        Err(Status::Skip(why)) => Err(why.clone()),
        Err(_) => Err(format!("depends on the failed module at line {line}")),
    }
}

fn returned(outcome: &Outcome, expected: &[Expected]) -> Result<(), String> {
    if let Outcome::Values(values) = outcome
        && values.len() == expected.len()
        && expected.iter().zip(values).all(|(e, v)| e.matches(v))
    {
        return Ok(());
    }
    let shown: Vec<String> = expected.iter().map(Expected::to_string).collect();
    Err(format!("expected [{}], got {outcome}", shown.join(", ")))
}

fn trapped(outcome: &Outcome, message: &str) -> Result<(), String> {
    let expected = TrapCode::from_spec_message(message);
    match outcome {
        // Engines word running out of stack in their own ways; each oracle
        // classifies its engine's wording as stack exhaustion, so a script's
        // "call stack exhausted" or "stack overflow" is met by that, never by wording.
        Outcome::Exhausted(Resource::Stack) if names_stack_exhaustion(message) => Ok(()),
        // A message lockstep cannot name is satisfied by any trap.
        Outcome::Trap { .. }
            if expected == TrapCode::Other || outcome.trap_codes().contains(&expected) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "expected trap {expected:?} ({message}), got {outcome}"
        )),
    }
}

/// Whether an assertion's message asks for the call stack to run out.
fn names_stack_exhaustion(message: &str) -> bool {
    ["stack exhausted", "stack overflow"]
        .iter()
        .any(|words| message.contains(words))
}

/// The module names a binary imports from.
fn import_modules(wasm: &[u8]) -> Vec<String> {
    let imports = oracles::facts::read(wasm).imports.into_iter();
    imports.map(|import| import.module).collect()
}

#[cfg(test)]
mod tests {
    use oracles::timed::Timed;

    /// The same counter module twice: each declaration starts from zero.
    const TWICE: &str = r#"
      (module (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
          (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
      (assert_return (invoke "bump") (i32.const 1))
      (assert_return (invoke "bump") (i32.const 2))
      (module (global $n (mut i32) (i32.const 0))
        (func (export "bump") (result i32)
          (global.set $n (i32.add (global.get $n) (i32.const 1))) (global.get $n)))
      (assert_return (invoke "bump") (i32.const 1))"#;

    #[test]
    fn a_module_declared_again_is_compiled_once_and_instantiated_afresh() {
        let engine = Timed::new(oracles::engine("wasmi").expect("built in"));
        let script = crate::script::parse("twice.wast", TWICE).unwrap();
        let run = crate::runner::run_script(&engine, &script, &crate::runner::Options::default());
        assert_eq!((run.passed, run.failures.len()), (5, 0), "{run:?}");
        assert_eq!(engine.compiled(), 1);
    }
}
