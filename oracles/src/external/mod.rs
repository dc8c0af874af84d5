//! External engines: any program that speaks lockstep's line protocol on stdin/stdout
//! (`docs/external-engines.md`), with V8 (through Node.js) and wasm3 (through Python) bundled.
//!
//! Each engine process runs in its own process group, serves one session at a
//! time and is kept for the next session when it is done. A process that dies,
//! misses its deadline or prints something that is not the protocol is killed
//! with its group; the call it was on gets that as its outcome, so does every
//! later action of that session, and the next session starts a fresh process.
//! The idle processes are killed with their groups at the end of the run.

pub mod node;
mod process;
pub mod protocol;
mod shape;
#[cfg(test)]
mod v8_probes;

use crate::engine::{Engine, InstanceId, Limit, Limits, ModuleId, Session};
use crate::features;
use crate::host::{self, ValType};
use crate::outcome::{Outcome, State, Unread, Value};
use process::Process;
use protocol::{HostImport, Reply, Request, WireLimits, WireValue};
use shape::{Shape, shape};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmparser::WasmFeatures;

/// The external engines lockstep bundles, by id.
pub const BUNDLED: &[&str] = &["v8", "wasm3"];

/// How long a starting engine may take to answer `hello`, times its patience.
pub const STARTUP: Duration = Duration::from_secs(10);

/// Slack an engine gets beyond `Limits::call_time` for the round trip and its own bookkeeping.
const GRACE: Duration = Duration::from_secs(1);

/// How a bundled engine is started: its interpreter, then its script in `engines/`.
fn bundled_command(id: &str) -> Option<Vec<String>> {
    let (interpreter, script) = match id {
        "v8" => (
            node::node().program.display().to_string(),
            "v8/lockstep-v8.mjs",
        ),
        "wasm3" => ("python3".to_string(), "wasm3/lockstep_wasm3.py"),
        _ => return None,
    };
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../engines/");
    Some(vec![interpreter, format!("{root}{script}")])
}

/// What a bundled engine runs on and why, for `cargo xtask engines`: the Node.js of `v8`.
pub fn runtime(id: &str) -> Option<String> {
    (id == "v8").then(|| node::node().describe())
}

/// An external engine given as `NAME=COMMAND`: its name and the command that starts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    pub command: Vec<String>,
}

impl Spec {
    /// Reads `NAME=COMMAND`; the command is split at whitespace.
    pub fn parse(text: &str) -> Result<Spec, String> {
        let (name, command) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not NAME=COMMAND"))?;
        let command: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        if name.is_empty() || name.contains(char::is_whitespace) || command.is_empty() {
            return Err(format!(
                "`{text}` is not NAME=COMMAND with a name and a command"
            ));
        }
        let name = name.to_string();
        Ok(Spec { name, command })
    }
}

impl std::str::FromStr for Spec {
    type Err = String;

    fn from_str(text: &str) -> Result<Spec, String> {
        Spec::parse(text)
    }
}

/// `NAME=COMMAND`, as [`Spec::parse`] reads it.
impl std::fmt::Display for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.name, self.command.join(" "))
    }
}

/// The external engines of one run: those configured as `NAME=COMMAND`, and
/// each engine (bundled or configured) once started, or why it cannot run here.
#[derive(Default)]
pub struct Externals {
    configured: Vec<Spec>,
    started: Mutex<Started>,
}

/// An external engine once started, or why it cannot run here, by name.
type Started = HashMap<String, Result<Arc<dyn Engine>, String>>;

impl Externals {
    pub fn new(configured: Vec<Spec>) -> Externals {
        Externals {
            configured,
            started: Mutex::default(),
        }
    }

    /// The engines configured as `NAME=COMMAND`, to hand to worker processes.
    pub fn specs(&self) -> &[Spec] {
        &self.configured
    }

    /// The bundled engine `id` (one of [`BUNDLED`]).
    pub fn bundled(&self, id: &str) -> Result<Arc<dyn Engine>, String> {
        let command = bundled_command(id).ok_or_else(|| format!("`{id}` is not bundled"))?;
        self.start(id, command, 1)
    }

    /// The engine `spec` configures.
    pub fn configured(&self, spec: &Spec) -> Result<Arc<dyn Engine>, String> {
        self.start(&spec.name, spec.command.clone(), 1)
    }

    /// The engine `name`, started by `command` once per run, with `patience` (see [`Pool`]).
    pub fn start(
        &self,
        name: &str,
        command: Vec<String>,
        patience: u32,
    ) -> Result<Arc<dyn Engine>, String> {
        let mut started = self.started.lock().expect("engines lock");
        let entry = started.entry(name.to_string()).or_insert_with(|| {
            // Ids are `&'static str` everywhere; one leaked name per engine and run.
            let id: &'static str = Box::leak(name.to_string().into_boxed_str());
            let engine = ExternalEngine::start(id, command, patience);
            engine.map(|e| Arc::new(e) as Arc<dyn Engine>)
        });
        entry.clone()
    }
}

/// An engine behind the protocol, with the processes idle between sessions.
pub struct ExternalEngine {
    id: &'static str,
    version: String,
    features: WasmFeatures,
    validates: bool,
    unapplied: Vec<Limit>,
    pool: Arc<Pool>,
}

struct Pool {
    command: Vec<String>,
    idle: Mutex<Vec<Process>>,
    /// How many times [`STARTUP`] a process may take to start, and `Limits::call_time` a call may
    /// take, before the process is killed: 1 for an engine that keeps time itself, or none. A
    /// nested tier's host compiles the whole guest runtime before it starts, and the guest meters
    /// fuel exactly as plain wasmi does, so its outcomes need no wall clock: its deadlines only
    /// catch a hung guest, and are stretched by how much slower a runtime runs inside another.
    patience: u32,
}

/// What an engine says of itself in its `hello`.
struct Hello {
    version: String,
    features: WasmFeatures,
    validates: bool,
    unapplied: Vec<Limit>,
}

impl ExternalEngine {
    /// Starts the engine once to learn its version and proposals.
    pub fn start(
        id: &'static str,
        command: Vec<String>,
        patience: u32,
    ) -> Result<ExternalEngine, String> {
        let (process, hello) = greet(&command, patience)?;
        Ok(ExternalEngine {
            id,
            version: hello.version,
            features: hello.features,
            validates: hello.validates,
            unapplied: hello.unapplied,
            pool: Arc::new(Pool {
                command,
                idle: Mutex::new(vec![process]),
                patience,
            }),
        })
    }
}

/// Starts a process of `command` and reads its `hello`, waiting `patience` times [`STARTUP`].
fn greet(command: &[String], patience: u32) -> Result<(Process, Hello), String> {
    let mut process = Process::spawn(command)?;
    let hello = Request::Hello {
        protocol: protocol::VERSION,
    };
    let reply = process
        .request(&hello)
        .and_then(|id| process.receive(id, Instant::now() + STARTUP * patience))
        .map_err(|outcome| format!("`{}` did not start: {outcome}", command.join(" ")))?;
    match reply {
        Reply::Hello {
            version,
            proposals,
            validates,
            unapplied,
            ..
        } => Ok((
            process,
            Hello {
                version,
                features: proposal_features(&proposals)?,
                validates,
                unapplied,
            },
        )),
        Reply::Unavailable(why) => Err(why),
        other => Err(format!(
            "`{}` answered hello with {other:?}",
            command.join(" ")
        )),
    }
}

fn proposal_features(names: &[String]) -> Result<WasmFeatures, String> {
    names.iter().try_fold(WasmFeatures::MVP, |acc, name| {
        let flag = features::PROPOSALS.iter().find(|(known, _)| known == name);
        flag.map(|(_, flag)| acc | *flag)
            .ok_or_else(|| format!("the engine declares an unknown proposal `{name}`"))
    })
}

impl Engine for ExternalEngine {
    fn id(&self) -> &'static str {
        self.id
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn features(&self) -> WasmFeatures {
        self.features
    }

    fn unapplied_limits(&self) -> Vec<Limit> {
        self.unapplied.clone()
    }

    fn session(&self, limits: &Limits) -> Box<dyn Session> {
        let idle = self.pool.idle.lock().expect("pool lock").pop();
        let process = match idle {
            Some(process) => Ok(process),
            None => greet(&self.pool.command, self.pool.patience)
                .map(|(process, _)| process)
                .map_err(|why| Outcome::Crashed(format!("restarting the engine: {why}"))),
        };
        let mut session = ExternalSession {
            pool: self.pool.clone(),
            features: self.features,
            validates: self.validates,
            process,
            call_time: limits.call_time * self.pool.patience,
            host_functions: limits.host_functions,
            modules: Vec::new(),
            instances: Vec::new(),
            registered: HashMap::new(),
            host_imports: Vec::new(),
        };
        // A failed reset is remembered as the session's lost process.
        let _ = session.exchange(&Request::Reset {
            limits: WireLimits::from(limits),
        });
        Box::new(session)
    }
}

/// A session on one engine process.
struct ExternalSession {
    pool: Arc<Pool>,
    features: WasmFeatures,
    validates: bool,
    /// The process, or the outcome it was lost with (repeated by every later action).
    process: Result<Process, Outcome>,
    call_time: Duration,
    host_functions: bool,
    modules: Vec<Shape>,
    /// The module of each instance.
    instances: Vec<usize>,
    registered: HashMap<String, usize>,
    /// Every host function handed out in this session, by id: module, name, result types.
    host_imports: Vec<(String, String, Vec<ValType>)>,
}

impl ExternalSession {
    /// Sends `request` and returns the engine's reply, answering its host calls on the way.
    fn exchange(&mut self, request: &Request) -> Result<Reply, Outcome> {
        let process = self.process.as_mut().map_err(|lost| lost.clone())?;
        let deadline = Instant::now() + self.call_time + GRACE;
        let result = converse(process, request, deadline, &self.host_imports);
        if let Err(lost) = &result {
            self.process = Err(lost.clone());
        }
        result
    }

    /// The outcome `request` has, however the engine replied.
    fn outcome(&mut self, request: &Request) -> Outcome {
        match self.exchange(request) {
            Ok(reply) => reply
                .into_outcome()
                .unwrap_or_else(|| self.violation("an outcome")),
            Err(outcome) => outcome,
        }
    }

    /// Kills the process for a reply of the wrong kind.
    fn violation(&mut self, expected: &str) -> Outcome {
        let lost = Outcome::Crashed(format!(
            "the engine broke the protocol: expected {expected}"
        ));
        self.process = Err(lost.clone());
        lost
    }

    /// Whether `module.name` is left to the engine (spectest, a registered export).
    fn provided(&self, module: &str, name: &str) -> bool {
        module == "spectest"
            || self.registered.get(module).is_some_and(|instance| {
                let exports = &self.modules[self.instances[*instance]].exports;
                exports.iter().any(|export| export.name == name)
            })
    }

    /// The function imports of `module` that lockstep answers, numbered for this session.
    fn host_imports_of(&mut self, module: usize) -> Vec<HostImport> {
        if !self.host_functions {
            return Vec::new();
        }
        let missing: Vec<_> = self.modules[module]
            .imports
            .iter()
            .filter(|import| import.kind == "func" && !self.provided(&import.module, &import.name))
            .cloned()
            .collect();
        missing
            .into_iter()
            .map(|import| {
                let id = self.host_imports.len();
                let results = import
                    .results
                    .iter()
                    .filter_map(|t| protocol::type_named(t));
                self.host_imports.push((
                    import.module.clone(),
                    import.name.clone(),
                    results.collect(),
                ));
                HostImport {
                    id,
                    module: import.module,
                    name: import.name,
                    params: import.params,
                    results: import.results,
                }
            })
            .collect()
    }

    fn known_instance(&self, instance: InstanceId) -> Result<usize, Outcome> {
        (instance.0 < self.instances.len())
            .then_some(instance.0)
            .ok_or_else(|| Outcome::HarnessFailed(format!("unknown instance {instance:?}")))
    }
}

/// One request and its reply, with the engine's host calls answered in between.
fn converse(
    process: &mut Process,
    request: &Request,
    deadline: Instant,
    host_imports: &[(String, String, Vec<ValType>)],
) -> Result<Reply, Outcome> {
    let id = process.request(request)?;
    loop {
        let reply = process.receive(id, deadline)?;
        let Reply::Host { function, args } = reply else {
            return Ok(reply);
        };
        let Some((module, name, results)) = host_imports.get(function) else {
            let line = format!("a call of host function {function}");
            return Err(process.reject(line.as_bytes(), "no such host function"));
        };
        let args: Vec<Value> = args.into_iter().map(|v| v.0).collect();
        let answer = host::results(module, name, &args, results);
        process.answer(
            id,
            &Reply::Values(answer.into_iter().map(WireValue).collect()),
        )?;
    }
}

impl Session for ExternalSession {
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome> {
        // The proposals an engine declares are its contract: a module that
        // needs more is not sent (an engine may half-know an unshipped proposal).
        if let Some(needs) = features::missing(wasm, self.features) {
            return Err(Outcome::Unsupported(needs));
        }
        // An engine that runs whatever it is given would be judged on checks it never makes.
        if !self.validates && !features::validates(wasm, self.features) {
            return Err(Outcome::Unsupported(
                "not sent: the engine does not validate modules, and wasmparser rejects this one"
                    .into(),
            ));
        }
        let module = self.modules.len();
        let shape = shape(wasm);
        let request = Request::Load {
            module,
            wasm: protocol::hex(wasm),
            imports: shape.imports.clone(),
            exports: shape.exports.clone(),
        };
        match self.outcome(&request) {
            Outcome::Values(_) => {
                self.modules.push(shape);
                Ok(ModuleId(module))
            }
            rejected => Err(rejected),
        }
    }

    fn instantiate(&mut self, module: ModuleId) -> Result<InstanceId, Outcome> {
        if module.0 >= self.modules.len() {
            return Err(Outcome::HarnessFailed(format!("unknown module {module:?}")));
        }
        let instance = self.instances.len();
        let request = Request::Instantiate {
            module: module.0,
            instance,
            host_functions: self.host_imports_of(module.0),
        };
        match self.outcome(&request) {
            Outcome::Values(_) => {
                self.instances.push(module.0);
                Ok(InstanceId(instance))
            }
            failed => Err(failed),
        }
    }

    fn register(&mut self, name: &str, instance: InstanceId) {
        let request = Request::Register {
            instance: instance.0,
            name: name.to_string(),
        };
        if let Outcome::Values(_) = self.outcome(&request) {
            self.registered.insert(name.to_string(), instance.0);
        }
    }

    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        if let Err(unknown) = self.known_instance(instance) {
            return unknown;
        }
        self.outcome(&Request::Invoke {
            instance: instance.0,
            export: export.to_string(),
            args: args.iter().cloned().map(WireValue).collect(),
        })
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        if let Err(unknown) = self.known_instance(instance) {
            return unknown;
        }
        self.outcome(&Request::Global {
            instance: instance.0,
            export: export.to_string(),
        })
    }

    fn state(&mut self, instance: InstanceId) -> Result<State, Unread> {
        let request = Request::State {
            instance: instance.0,
        };
        match self.exchange(&request) {
            Ok(Reply::State(state)) => state.into_state().map_err(|why| {
                self.violation(&format!("a state ({why})"));
                Unread::BadReply(why)
            }),
            Ok(_) => {
                self.violation("a state");
                Err(Unread::BadReply("another kind of reply".into()))
            }
            Err(lost) => Err(Unread::NoReply(lost)),
        }
    }
}

impl Drop for ExternalSession {
    fn drop(&mut self) {
        // A process that is still in step goes back to the pool for the next session.
        let done = std::mem::replace(&mut self.process, Err(Outcome::Values(Vec::new())));
        if let Ok(process) = done {
            self.pool.idle.lock().expect("pool lock").push(process);
        }
    }
}
