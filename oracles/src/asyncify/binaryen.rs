//! Binaryen's Asyncify pass: binaryen.js, installed from npm on first use, run by Node in a child process, results cached by content hash.
//!
//! binaryen.js (132) rather than the `wasm-opt` crate (binaryen 116): it needs
//! no 7-minute C++ build, it reads the proposals newer spec tests use, and a
//! binaryen abort takes down a Node process, never lockstep.

use crate::child::{Child, Silence};
use crate::hex::{hex, unhex};
use crate::outcome::digest;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use wasmparser::WasmFeatures;

/// The binaryen.js release lockstep installs.
pub const VERSION: &str = "132.0.0";

/// The instrumenter Node runs.
const SCRIPT: &str = include_str!("instrument.mjs");

/// How long one module may take to instrument when the caller has no compile budget of its own
/// (blame, `bench asyncify`): the slowest spec-suite module takes seconds at -O3.
pub const INSTRUMENT_TIME: Duration = Duration::from_secs(300);

/// The longest line the instrumenter may write: the hex of a 128 MB module.
const LINE_LIMIT: usize = 256 << 20;

/// Cached results stop being written past this many; the spec suites need
/// about a tenth of it. Fuzzing's modules are never cached ([`Caching::OneOff`]):
/// they would fill it within minutes, and the suites' modules would be left out.
const CACHE_ENTRIES: usize = 60_000;

/// Why a module has no instrumented form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Asyncify cannot handle the module; binaryen's reason.
    Unsupported(String),
    /// Binaryen could not be run at all.
    Unavailable(String),
    /// Binaryen did not finish within the time it was given, and was killed.
    OutOfTime(Duration),
}

impl Refusal {
    pub fn reason(self) -> String {
        match self {
            Refusal::Unsupported(why) | Refusal::Unavailable(why) => why,
            Refusal::OutOfTime(time) => {
                format!("binaryen.js did not finish in {:.0} s", time.as_secs_f64())
            }
        }
    }
}

/// Binaryen's names for the proposals it implements.
const BINARYEN_FEATURES: &[(WasmFeatures, &str)] = &[
    (WasmFeatures::MUTABLE_GLOBAL, "MutableGlobals"),
    (WasmFeatures::SATURATING_FLOAT_TO_INT, "NontrappingFPToInt"),
    (WasmFeatures::SIGN_EXTENSION, "SignExt"),
    (WasmFeatures::REFERENCE_TYPES, "ReferenceTypes"),
    (WasmFeatures::REFERENCE_TYPES, "CallIndirectOverlong"),
    (WasmFeatures::MULTI_VALUE, "Multivalue"),
    (WasmFeatures::BULK_MEMORY, "BulkMemory"),
    (WasmFeatures::BULK_MEMORY, "BulkMemoryOpt"),
    (WasmFeatures::SIMD, "SIMD128"),
    (WasmFeatures::RELAXED_SIMD, "RelaxedSIMD"),
    (WasmFeatures::THREADS, "Atomics"),
    (WasmFeatures::TAIL_CALL, "TailCall"),
    (WasmFeatures::MULTI_MEMORY, "MultiMemory"),
    (WasmFeatures::EXCEPTIONS, "ExceptionHandling"),
    (WasmFeatures::MEMORY64, "Memory64"),
    (WasmFeatures::EXTENDED_CONST, "ExtendedConst"),
    (WasmFeatures::GC, "GC"),
    (WasmFeatures::CUSTOM_PAGE_SIZES, "CustomPageSizes"),
    (WasmFeatures::WIDE_ARITHMETIC, "WideArithmetic"),
];

/// The binaryen feature names of the proposals in `features`.
fn binaryen_features(features: WasmFeatures) -> Vec<&'static str> {
    BINARYEN_FEATURES
        .iter()
        .filter(|(flag, _)| features.contains(*flag))
        .map(|(_, name)| *name)
        .collect()
}

/// What binaryen is asked to make of a module.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// The base engine's proposals.
    pub features: WasmFeatures,
    /// Binaryen's optimize level after instrumenting: 0, 1, 2 or 3.
    pub optimize: u8,
    /// The unwind buffer's size, in 64 KiB pages.
    pub pages: u32,
}

/// Whether an instrumented module is looked up in and written to the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caching {
    /// A module that comes again (spec suites, programs): looked up, and kept.
    Cached,
    /// A module met once (generated for a fuzzing campaign): never written, only
    /// kept in memory for the next few requests, the other Asyncify tiers'.
    OneOff,
    /// A module measured afresh: instrumented by binaryen every time.
    Uncached,
}

/// The results of one-off requests kept in memory; the newest replace the oldest.
///
/// Rationale: a fuzzing worker runs each module on every Asyncify tier in
/// turn, and tiers at the same level ask for the same output (see
/// `SHARED_PROPOSALS`): the tiers after the first are answered from here.
const RECENT: usize = 4;

/// `wasm` instrumented by Asyncify as `request` says.
/// Binaryen gets `time`; a module it does not finish in that time is not cached.
pub fn instrument(
    wasm: &[u8],
    request: Request,
    time: Duration,
    caching: Caching,
) -> Result<Vec<u8>, Refusal> {
    tools()?.instrument(wasm, request, time, caching)
}

/// The folder instrumented modules are cached in, installing binaryen.js first if need be.
pub fn cache_dir() -> Result<PathBuf, String> {
    tools().map(|t| t.cache.clone()).map_err(Refusal::reason)
}

/// "binaryen 132.0.0", or why binaryen cannot be used here.
pub fn describe() -> Result<String, String> {
    match tools() {
        Ok(_) => Ok(format!("binaryen {VERSION}")),
        Err(refusal) => Err(refusal.reason()),
    }
}

/// The installed binaryen.js, its instrumenter process and its cache.
struct Tools {
    script: PathBuf,
    cache: PathBuf,
    cached: AtomicUsize,
    process: Mutex<Option<Instrumenter>>,
    /// The newest [`Caching::OneOff`] results, by cache name, newest last.
    recent: Mutex<VecDeque<Kept>>,
}

/// A result kept in memory, under its cache name.
type Kept = (String, Result<Vec<u8>, Refusal>);

fn tools() -> Result<&'static Tools, Refusal> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(Tools::install)
        .as_ref()
        .map_err(|why| Refusal::Unavailable(why.clone()))
}

impl Tools {
    fn install() -> Result<Tools, String> {
        let root = crate::npm::tools_dir();
        let package = root.join(format!("binaryen-{VERSION}"));
        if !package.join("node_modules/binaryen/package.json").exists() {
            crate::npm::install(&package, "binaryen", VERSION)?;
        }
        let fingerprint = digest(SCRIPT.as_bytes());
        let script = package.join(format!("instrument-{fingerprint:016x}.mjs"));
        write_atomically(&script, SCRIPT.as_bytes())
            .map_err(|e| format!("writing {}: {e}", script.display()))?;
        let cache = root.join(format!("asyncify-cache/{VERSION}-{fingerprint:016x}"));
        std::fs::create_dir_all(&cache)
            .map_err(|e| format!("creating {}: {e}", cache.display()))?;
        let cached = std::fs::read_dir(&cache).map_or(0, |entries| entries.count());
        Ok(Tools {
            script,
            cache,
            cached: AtomicUsize::new(cached),
            process: Mutex::new(None),
            recent: Mutex::new(VecDeque::new()),
        })
    }

    /// See [`instrument`].
    fn instrument(
        &self,
        wasm: &[u8],
        request: Request,
        time: Duration,
        caching: Caching,
    ) -> Result<Vec<u8>, Refusal> {
        let name = cache_name(wasm, request);
        match caching {
            Caching::Uncached => self.run(wasm, request, time)?.into_result(),
            Caching::OneOff => self.one_off(wasm, request, time, name),
            Caching::Cached => {
                let cached = self.cache.join(name);
                if let Some(result) = read_cached(&cached) {
                    return result;
                }
                let answer = self.run(wasm, request, time)?;
                if let Answer::Done(result) = &answer {
                    self.store(&cached, result);
                }
                answer.into_result()
            }
        }
    }

    /// A [`Caching::OneOff`] request: answered from the recent results, or by
    /// binaryen and kept there (unless binaryen ran out of time).
    fn one_off(
        &self,
        wasm: &[u8],
        request: Request,
        time: Duration,
        name: String,
    ) -> Result<Vec<u8>, Refusal> {
        let recent = || self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, result)) = recent().iter().find(|(kept, _)| *kept == name) {
            return result.clone();
        }
        let answer = self.run(wasm, request, time)?;
        if let Answer::Done(result) = &answer {
            let mut recent = recent();
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back((name, result.clone()));
        }
        answer.into_result()
    }

    fn store(&self, path: &Path, result: &Result<Vec<u8>, Refusal>) {
        if self.cached.fetch_add(1, Ordering::Relaxed) >= CACHE_ENTRIES {
            return;
        }
        // A cache that cannot be written only costs time.
        let _ = match result {
            Ok(wasm) => write_atomically(&path.with_extension("wasm"), wasm),
            Err(refusal) => {
                let why = refusal.clone().reason();
                write_atomically(&path.with_extension("why"), why.as_bytes())
            }
        };
    }

    /// Instruments with the running process, starting one when there is none,
    /// unless binaryen's answer is known ([`TAIL_CALLS`]).
    /// A process that dies gets one more try in a fresh one: a death on one
    /// module is binaryen's verdict only if it repeats. One out of time gets none.
    fn run(&self, wasm: &[u8], request: Request, time: Duration) -> Result<Answer, Refusal> {
        if crate::facts::contains_operator(wasm, is_tail_call) {
            return Ok(Answer::Done(Err(Refusal::Unsupported(TAIL_CALLS.into()))));
        }
        let mut process = self.process.lock().unwrap_or_else(|p| p.into_inner());
        let mut answer = Answer::Died(String::new());
        for _ in 0..2 {
            if process.is_none() {
                *process = Some(Instrumenter::start(&self.script).map_err(Refusal::Unavailable)?);
            }
            let instrumenter = process.as_mut().expect("just started");
            answer = instrumenter.request(wasm, request, time);
            if let Answer::Done(_) = answer {
                break;
            }
            *process = None;
            if let Answer::OutOfTime(_) = answer {
                break;
            }
        }
        Ok(answer)
    }
}

/// The name of `wasm` instrumented as `request` says, in the cache and among the recent results.
fn cache_name(wasm: &[u8], request: Request) -> String {
    let features = binaryen_features(request.features).join(",");
    let features = digest(features.as_bytes()) as u16;
    format!(
        "{:016x}-{}-{features:04x}-O{}-p{}",
        digest(wasm),
        wasm.len(),
        request.optimize,
        request.pages
    )
}

/// Binaryen's words for refusing a module with a tail call.
///
/// Rationale: binaryen 132's Asyncify refuses every module with a
/// `return_call` or `return_call_indirect` in any function, whether an import
/// can reach it or not, so lockstep refuses it in binaryen's words without
/// asking binaryen: about a fifth of fuzzing's modules have one. Binaryen
/// instruments `return_call_ref`, which is left to it. Asked only where no
/// cached answer is, so the known answer is cached like binaryen's.
pub(super) const TAIL_CALLS: &str = "tail calls not yet supported in asyncify";

fn is_tail_call(operator: &wasmparser::Operator) -> bool {
    use wasmparser::Operator::{ReturnCall, ReturnCallIndirect};
    matches!(operator, ReturnCall { .. } | ReturnCallIndirect { .. })
}

fn read_cached(path: &Path) -> Option<Result<Vec<u8>, Refusal>> {
    if let Ok(wasm) = std::fs::read(path.with_extension("wasm")) {
        return Some(Ok(wasm));
    }
    let why = std::fs::read_to_string(path.with_extension("why")).ok()?;
    Some(Err(Refusal::Unsupported(why)))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let staging = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&staging, bytes)?;
    std::fs::rename(&staging, path)
}

/// A Node process running the instrumenter script.
struct Instrumenter {
    child: Child,
}

enum Answer {
    Done(Result<Vec<u8>, Refusal>),
    /// The process died or answered nonsense; the reason is all that is left.
    Died(String),
    /// The process did not answer in this time and was killed.
    OutOfTime(Duration),
}

impl Answer {
    /// What the caller gets: a death that repeated is binaryen's refusal too.
    fn into_result(self) -> Result<Vec<u8>, Refusal> {
        match self {
            Answer::Done(result) => result,
            Answer::Died(why) => Err(Refusal::Unsupported(why)),
            Answer::OutOfTime(time) => Err(Refusal::OutOfTime(time)),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Reply {
    Wasm(String),
    Error(String),
}

impl Instrumenter {
    fn start(script: &Path) -> Result<Instrumenter, String> {
        let mut command = Command::new("node");
        // V8 runs binaryen's 10 MB of Wasm with its baseline compiler only: by
        // default it also recompiles the hot functions with its optimizing
        // compiler on background threads, which took most of a fuzzing
        // campaign's CPU (every worker starts its own instrumenter) and ran
        // each module 3-4 times slower than the baseline code alone did on a
        // busy 2-core machine (9.0 against 2.4 ms per module, `bench fuzz`).
        command.arg("--liftoff-only");
        command.arg(script);
        let child = Child::spawn(&mut command, LINE_LIMIT)
            .map_err(|e| format!("starting `node {}`: {e}", script.display()))?;
        Ok(Instrumenter { child })
    }

    fn request(&mut self, wasm: &[u8], request: Request, time: Duration) -> Answer {
        let features = binaryen_features(request.features);
        let features = serde_json::to_string(&features).expect("names serialize");
        let Request {
            optimize, pages, ..
        } = request;
        let line = format!(
            "{{\"wasm\":\"{}\",\"optimize\":{optimize},\"pages\":{pages},\"features\":{features}}}",
            hex(wasm)
        );
        if self.child.send(line.as_bytes()).is_err() {
            return Answer::Died(format!("binaryen.js {}", self.child.ending()));
        }
        match self.reply(Instant::now() + time) {
            Ok(Reply::Wasm(text)) => match unhex(&text) {
                Ok(wasm) => Answer::Done(Ok(wasm)),
                Err(why) => Answer::Died(format!("binaryen.js answered with broken hex: {why}")),
            },
            Ok(Reply::Error(why)) => Answer::Done(Err(Refusal::Unsupported(why))),
            Err(Silence::TimedOut) => Answer::OutOfTime(time),
            Err(silence) => Answer::Died(format!("binaryen.js {silence}")),
        }
    }

    /// The next reply by `deadline`, past any line binaryen itself printed to
    /// stdout (its validator reports there), or why none came.
    fn reply(&mut self, deadline: Instant) -> Result<Reply, Silence> {
        loop {
            let line = self.child.receive(deadline)?;
            if let Ok(reply) = serde_json::from_slice::<Reply>(&line) {
                return Ok(reply);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module (func (export "f") (result i32) i32.const 7))"#;

    fn request() -> Request {
        Request {
            features: WasmFeatures::default(),
            optimize: 0,
            pages: crate::asyncify::unwind::MODULE_PAGES,
        }
    }

    /// Tools with binaryen.js as installed, caching in `cache`.
    fn tools_caching_in(cache: &Path) -> Tools {
        let installed = tools().expect("binaryen.js is installed");
        Tools {
            script: installed.script.clone(),
            cache: cache.to_path_buf(),
            cached: AtomicUsize::new(0),
            process: Mutex::new(None),
            recent: Mutex::new(VecDeque::new()),
        }
    }

    #[test]
    fn only_modules_that_come_again_are_written_to_the_cache() {
        let cache = tempfile::tempdir().unwrap();
        let tools = tools_caching_in(cache.path());
        let wasm = crate::testing::wat(WAT);
        let instrument = |caching| tools.instrument(&wasm, request(), INSTRUMENT_TIME, caching);
        let entries = || std::fs::read_dir(cache.path()).unwrap().count();
        let once = instrument(Caching::OneOff).expect("instrumented");
        assert_eq!(instrument(Caching::Uncached), Ok(once.clone()));
        assert_eq!(entries(), 0, "a module met once is not kept");
        assert_eq!(instrument(Caching::Cached), Ok(once.clone()));
        assert_eq!(entries(), 1, "a module that comes again is kept");
        assert_eq!(instrument(Caching::Cached), Ok(once), "and read back");
    }

    /// What lockstep refuses without asking, binaryen refuses too: a direct or
    /// indirect tail call anywhere, even in a module with no import and no export.
    #[test]
    fn binaryen_itself_refuses_those_tail_calls_in_those_words() {
        let installed = tools().expect("binaryen.js is installed");
        let mut instrumenter = Instrumenter::start(&installed.script).unwrap();
        let request = Request {
            features: super::super::SHARED_PROPOSALS,
            ..request()
        };
        for text in [
            r#"(module (import "host" "f" (func)) (func $g (call 0)) (func (return_call $g)))"#,
            "(module (type $t (func)) (table 1 funcref) (func (return_call_indirect (type $t) (i32.const 0))))",
        ] {
            let wasm = crate::testing::wat(text);
            let Answer::Done(refusal) = instrumenter.request(&wasm, request, INSTRUMENT_TIME)
            else {
                panic!("binaryen gave no answer to {text}");
            };
            assert_eq!(refusal, Err(Refusal::Unsupported(TAIL_CALLS.into())));
        }
    }

    #[test]
    fn a_one_off_module_asked_again_is_answered_without_binaryen() {
        let cache = tempfile::tempdir().unwrap();
        let mut tools = tools_caching_in(cache.path());
        let wasm = crate::testing::wat(WAT);
        let once = tools.instrument(&wasm, request(), INSTRUMENT_TIME, Caching::OneOff);
        // From here on, asking binaryen fails.
        *tools.process.lock().unwrap() = None;
        tools.script = cache.path().join("missing.mjs");
        let instrument = |caching| tools.instrument(&wasm, request(), INSTRUMENT_TIME, caching);
        assert_eq!(instrument(Caching::OneOff), once);
        assert!(instrument(Caching::Uncached).is_err(), "measured afresh");
    }
}
