//! WASI preview 1 programs on every tier: the small trait a tier implements to run one, the sandbox
//! run that wraps it, and the tiers by id.
//!
//! A tier compiles a program once ([`ProgramEngine::compile`]), instantiates it
//! against a [`Sandbox`] ([`CompiledProgram::instantiate`]) and calls exports on
//! the instance ([`ProgramInstance::call`]); [`run`] times the three phases,
//! starts `_start` (a command) or `_initialize` and an export (a reactor), and
//! collects what the program left: exit status, standard output and error, and
//! the scratch directory's final tree.

pub mod compare;
pub mod limits;
pub mod live;
mod mutant;
pub mod sandbox;

use crate::engine::Limits;
use crate::hook::ImportHook;
use crate::outcome::{Outcome, Resource, Value};
use limits::OUTPUT_LIMITS;
use sandbox::{Sandbox, Scratch, Tree};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The Wasm stack, in bytes, a WASI program may use on every tier: 8 times
/// wasmtime's default for modules. An interpreter's stack is deep, and its
/// frames grow wider when a tool rewrites its code: CPython 3.12 and CRuby 3.3
/// start up in wasmtime's default, and their rewritten builds overflow it on
/// every tier. The main thread's 8 MiB must still hold it (`xtask run-live`).
pub const PROGRAM_STACK: usize = 4 << 20;

/// The module programs import WASI preview 1 from.
pub const WASI_MODULE: &str = "wasi_snapshot_preview1";

/// Whether an import comes from WASI preview 1.
pub fn is_wasi(module: &str) -> bool {
    module == WASI_MODULE
}

/// The imports every tier answers with lockstep's deterministic host functions
/// (see [`crate::host`]): each function import not from WASI, as `module.name`.
pub fn host_imports(wasm: &[u8]) -> Vec<String> {
    let facts = crate::facts::read(wasm);
    let answered = facts
        .imports
        .iter()
        .filter(|import| matches!(import.item, crate::facts::Item::Func(_)))
        .filter(|import| !is_wasi(&import.module));
    answered
        .map(|import| format!("{}.{}", import.module, import.name))
        .collect()
}

/// A tier that runs WASI preview 1 programs.
pub trait ProgramEngine: Send + Sync {
    /// The tier's id, the same as its [`crate::Engine`] id.
    fn id(&self) -> &'static str;
    /// Compiles a program; an AOT tier produces its artifact here. A rejection
    /// comes back as `Invalid`, `Malformed` or `Unsupported`.
    fn compile(&self, wasm: &[u8], limits: &Limits) -> Result<Box<dyn CompiledProgram>, Outcome>;
}

/// A program compiled by one tier, ready to be instantiated any number of times.
pub trait CompiledProgram {
    /// A fresh instance whose WASI imports see `sandbox`, with its scratch
    /// directory at the host path `scratch`, and nothing else of the host.
    /// Loading an AOT artifact and running the start section happen here.
    /// With a `hook`, every WASI import hands its calls to it (see [`crate::hook`]):
    /// how a layer wraps this tier.
    fn instantiate(
        &self,
        sandbox: &Sandbox,
        scratch: &Path,
        hook: Option<Arc<dyn ImportHook>>,
    ) -> Result<Box<dyn ProgramInstance>, Outcome>;
}

/// One instance of a program in its sandbox.
pub trait ProgramInstance {
    /// Whether the program exports a function of this name.
    fn exports_function(&mut self, name: &str) -> bool;
    /// Calls an exported function. `proc_exit` ends it with [`Ending::Exit`].
    fn call(&mut self, export: &str, args: &[Value]) -> Ending;
    /// Everything written to standard output and standard error so far.
    fn output(&self) -> Output;
}

/// The bytes a program wrote to its standard streams.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Ending {
    /// The program exited with this status: `_start` returned (0) or it called `proc_exit`.
    Exit(i32),
    /// Anything else: an invoked reactor export's results, a trap, a rejected
    /// or unlinkable module, a resource running out, a harness failure.
    Outcome(Outcome),
}

/// Which export a run starts with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Entry {
    /// A command module: `_start`.
    Command,
    /// A reactor module: `_initialize` when it is exported, then this export with these arguments.
    Reactor { export: String, args: Vec<Value> },
}

/// Where a run spent its time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub compile: Duration,
    /// Instantiation, including loading an AOT artifact: start-up after compilation.
    pub instantiate: Duration,
    pub run: Duration,
}

/// Everything one tier's run of a program showed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramRun {
    pub engine: String,
    pub ending: Ending,
    #[serde(flatten)]
    pub output: Output,
    /// The scratch directory after the run.
    pub files: Tree,
    pub timing: Timing,
}

/// Runs a program once on `engine` in a fresh copy of `sandbox`. Output past [`OUTPUT_LIMITS`]
/// ends the run as `exhausted Output`, whatever the program did next.
pub fn run(
    engine: &dyn ProgramEngine,
    wasm: &[u8],
    sandbox: &Sandbox,
    entry: &Entry,
    limits: &Limits,
) -> ProgramRun {
    let mut timing = Timing::default();
    let scratch = Scratch::create(&sandbox.tree);
    let (ending, mut output) = match &scratch {
        Ok(scratch) => execute(
            engine,
            wasm,
            sandbox,
            scratch.path(),
            entry,
            limits,
            &mut timing,
        ),
        Err(e) => (
            harness_failure(format!("creating the scratch directory: {e}")),
            Output::default(),
        ),
    };
    let files = scratch.and_then(|scratch| scratch.snapshot(&OUTPUT_LIMITS));
    let streams_reached = OUTPUT_LIMITS.streams_reached(&output.stdout, &output.stderr);
    let (ending, files) = match files {
        Ok(Some(files)) if !streams_reached => (ending, files),
        Ok(_) => {
            // Left out of the comparison: only the start of the output is kept, to show.
            output.stdout.truncate(OUTPUT_LIMITS.kept_when_reached);
            output.stderr.truncate(OUTPUT_LIMITS.kept_when_reached);
            let exhausted = Ending::Outcome(Outcome::Exhausted(Resource::Output));
            (exhausted, Tree::new())
        }
        Err(e) => (
            harness_failure(format!("reading the scratch directory: {e}")),
            Tree::new(),
        ),
    };
    ProgramRun {
        engine: engine.id().to_string(),
        ending,
        output,
        files,
        timing,
    }
}

fn execute(
    engine: &dyn ProgramEngine,
    wasm: &[u8],
    sandbox: &Sandbox,
    scratch: &Path,
    entry: &Entry,
    limits: &Limits,
    timing: &mut Timing,
) -> (Ending, Output) {
    let started = Instant::now();
    let compiled = within(engine.compile(wasm, limits), started, limits.compile_time);
    timing.compile = started.elapsed();
    let compiled = match compiled {
        Ok(compiled) => compiled,
        Err(outcome) => return (Ending::Outcome(outcome), Output::default()),
    };
    let started = Instant::now();
    let instance = compiled.instantiate(sandbox, scratch, None);
    let instance = within(instance, started, limits.instantiate_time);
    timing.instantiate = started.elapsed();
    let mut instance = match instance {
        Ok(instance) => instance,
        Err(outcome) => return (Ending::Outcome(outcome), Output::default()),
    };
    let started = Instant::now();
    let ending = start(instance.as_mut(), entry);
    timing.run = started.elapsed();
    (ending, instance.output())
}

/// A compilation or instantiation that finished past its budget ends the run as
/// `exhausted Time`, as a worker's watchdog would have ended it.
///
/// Rationale: Cranelift cannot be interrupted while it compiles, so in-process
/// runs check the budget afterwards; a run under a watchdog ends the same way.
fn within<T>(done: Result<T, Outcome>, started: Instant, budget: Duration) -> Result<T, Outcome> {
    match started.elapsed() > budget {
        true => Err(Outcome::Exhausted(Resource::Time)),
        false => done,
    }
}

/// Runs the entry point: a command's `_start`, or a reactor's `_initialize` and export.
fn start(instance: &mut dyn ProgramInstance, entry: &Entry) -> Ending {
    match entry {
        Entry::Command => match instance.call("_start", &[]) {
            Ending::Outcome(Outcome::Values(_)) => Ending::Exit(0),
            stopped => stopped,
        },
        Entry::Reactor { export, args } => {
            if instance.exports_function("_initialize") {
                let initialized = instance.call("_initialize", &[]);
                if initialized != Ending::Outcome(Outcome::Values(Vec::new())) {
                    return initialized;
                }
            }
            instance.call(export, args)
        }
    }
}

fn harness_failure(message: String) -> Ending {
    Ending::Outcome(Outcome::HarnessFailed(message))
}

/// The self-test tier with a planted WASI bug.
pub const MUTANT_ID: &str = mutant::ID;

/// `mutant:fd-write-byte` on `base`.
pub fn mutant_programs(base: Arc<dyn ProgramEngine>) -> Arc<dyn ProgramEngine> {
    mutant::create(base)
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small command and reactor written in WAT, for the tiers' own tests.
    use super::*;

    /// Writes "hi\n" to stdout and a file `out.txt`, then exits with the status given as its first argument's length.
    pub const HELLO: &str = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
      (import "wasi_snapshot_preview1" "path_open"
        (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "hi\n")
      (data (i32.const 32) "out.txt")
      (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        ;; fd 3 is the preopened scratch directory; O_CREAT, rights: fd_write.
        (drop (call $path_open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 7)
          (i32.const 1) (i64.const 64) (i64.const 64) (i32.const 0) (i32.const 12)))
        (drop (call $fd_write (i32.load (i32.const 12)) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.const 7)))
      (func (export "_initialize"))
      (func (export "double") (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
      (func (export "trap") unreachable))"#;

    /// Prints 64 bytes from `random_get`.
    pub const RANDOM: &str = r#"(module
      (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (call $random_get (i32.const 64) (i32.const 64)))
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 64))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

    /// Prints two monotonic clock readings and one wall-clock reading, as little-endian `u64`s.
    pub const CLOCKS: &str = r#"(module
      (import "wasi_snapshot_preview1" "clock_time_get" (func $time (param i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (call $time (i32.const 1) (i64.const 1) (i32.const 64)))
        (drop (call $time (i32.const 1) (i64.const 1) (i32.const 72)))
        (drop (call $time (i32.const 0) (i64.const 1) (i32.const 80)))
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 24))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

    /// Recurses 8000 calls deep, twelve values read from a global live across each call (about
    /// 1 MiB of wasmtime's stack, twice its default for modules), prints `deep` at the bottom and
    /// exits 1 unless the sum of what every frame kept is right.
    pub const DEEP: &str = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "deep\n")
      (global $g (mut i64) (i64.const 0))
      (func $down (param $n i32) (result i64)
        (local $a i64) (local $b i64) (local $c i64) (local $d i64) (local $e i64) (local $f i64)
        (local $h i64) (local $i i64) (local $j i64) (local $k i64) (local $l i64) (local $m i64)
        (if (i32.eqz (local.get $n)) (then
          (i32.store (i32.const 0) (i32.const 16))
          (i32.store (i32.const 4) (i32.const 5))
          (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
          (return (i64.const 0))))
        (local.set $a (i64.add (global.get $g) (i64.const 1)))
        (local.set $b (i64.add (global.get $g) (i64.const 2)))
        (local.set $c (i64.add (global.get $g) (i64.const 3)))
        (local.set $d (i64.add (global.get $g) (i64.const 4)))
        (local.set $e (i64.add (global.get $g) (i64.const 5)))
        (local.set $f (i64.add (global.get $g) (i64.const 6)))
        (local.set $h (i64.add (global.get $g) (i64.const 7)))
        (local.set $i (i64.add (global.get $g) (i64.const 8)))
        (local.set $j (i64.add (global.get $g) (i64.const 9)))
        (local.set $k (i64.add (global.get $g) (i64.const 10)))
        (local.set $l (i64.add (global.get $g) (i64.const 11)))
        (local.set $m (i64.add (global.get $g) (i64.const 12)))
        (global.set $g (i64.add (global.get $g) (i64.const 1)))
        (i64.add (call $down (i32.sub (local.get $n) (i32.const 1)))
          (i64.add (i64.add (i64.add (local.get $a) (local.get $b)) (i64.add (local.get $c) (local.get $d)))
            (i64.add (i64.add (i64.add (local.get $e) (local.get $f)) (i64.add (local.get $h) (local.get $i)))
              (i64.add (i64.add (local.get $j) (local.get $k)) (i64.add (local.get $l) (local.get $m)))))))
      (func (export "_start")
        (if (i64.ne (call $down (i32.const 8000)) (i64.const 384576000))
          (then (call $exit (i32.const 1))))))"#;

    /// Checks what every tier must do with [`HELLO`], [`RANDOM`], [`CLOCKS`] and [`DEEP`].
    pub fn check_tier(id: &str) {
        let engine = crate::tiers::program_engine(id).expect("a known tier");
        let wasm = crate::testing::wat(HELLO);
        let sandbox = Sandbox::new("hello", &[]);
        let limits = Limits::default();
        let command = run(engine.as_ref(), &wasm, &sandbox, &Entry::Command, &limits);
        assert_eq!(command.ending, Ending::Exit(7), "{id}");
        assert_eq!(command.output.stdout, b"hi\n", "{id}");
        let written = command.files.get("out.txt");
        assert_eq!(
            written,
            Some(&sandbox::Node::File(b"hi\n".to_vec())),
            "{id}"
        );
        let reactor = Entry::Reactor {
            export: "double".into(),
            args: vec![Value::I32(21)],
        };
        let doubled = run(engine.as_ref(), &wasm, &sandbox, &reactor, &limits);
        assert_eq!(
            doubled.ending,
            Ending::Outcome(Outcome::Values(vec![Value::I32(42)]))
        );
        let trap = Entry::Reactor {
            export: "trap".into(),
            args: Vec::new(),
        };
        let trapped = run(engine.as_ref(), &wasm, &sandbox, &trap, &limits);
        let random = crate::testing::wat(RANDOM);
        let drawn = run(engine.as_ref(), &random, &sandbox, &Entry::Command, &limits);
        assert_eq!(drawn.output.stdout, sandbox.random_bytes()[..64], "{id}");
        let clocks = crate::testing::wat(CLOCKS);
        let read = run(engine.as_ref(), &clocks, &sandbox, &Entry::Command, &limits);
        let wall =
            (sandbox::VirtualClock::WALL_START + sandbox::VirtualClock::TICK).as_nanos() as u64;
        let expected: Vec<u8> = [1_000u64, 2_000, wall]
            .iter()
            .flat_map(|n| n.to_le_bytes())
            .collect();
        assert_eq!(read.output.stdout, expected, "{id}");
        let deep = run(
            engine.as_ref(),
            &crate::testing::wat(DEEP),
            &sandbox,
            &Entry::Command,
            &limits,
        );
        assert_eq!(deep.ending, Ending::Exit(0), "{id}");
        assert_eq!(deep.output.stdout, b"deep\n", "{id}");
        assert!(
            matches!(&trapped.ending, Ending::Outcome(Outcome::Trap { code, .. }) if *code == crate::TrapCode::Unreachable),
            "{id}: {:?}",
            trapped.ending
        );
    }
}
