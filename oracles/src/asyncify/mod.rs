//! Asyncify tiers: modules instrumented by binaryen's Asyncify pass, run on a base engine that unwinds and rewinds at import calls.
//!
//! An instrumented module must mean what the plain one means: the same values,
//! traps, exceptions and state, however often it is paused at an import.

mod binaryen;
pub mod planted;
pub mod programs;
pub mod unwind;

pub use binaryen::{VERSION as BINARYEN_VERSION, cache_dir};

use binaryen::Caching;

use crate::engine::{Engine, InstanceId, Limits, ModuleId, Session, SharedInstance};
use crate::outcome::{Outcome, Resource, State, TrapCode, Unread, Value};
use planted::Plant;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use unwind::Control;
use wasmparser::WasmFeatures;

/// One Asyncify tier: a base engine, and binaryen's optimize level after instrumenting.
pub struct Asyncify {
    id: &'static str,
    base: Arc<dyn Engine>,
    optimize: u8,
    /// A bug planted for lockstep's self-tests, if any.
    plant: Option<Plant>,
}

/// Binaryen's optimize levels fuzzing varies: instrumentation only, then `-O1`
/// and `-O3`, as real users ship Asyncify output.
pub const OPTIMIZE_LEVELS: [u8; 3] = [0, 1, 3];

impl Asyncify {
    /// The tier `id`: modules instrumented at `optimize`, run on `base`, which
    /// must offer [`Engine::session_with_import_hook`].
    pub fn new(id: &'static str, base: Arc<dyn Engine>, optimize: u8) -> Asyncify {
        Asyncify {
            id,
            base,
            optimize,
            plant: None,
        }
    }

    /// The tier with the bug `plant` planted in it.
    pub fn planted(self, plant: Plant) -> Asyncify {
        Asyncify {
            plant: Some(plant),
            ..self
        }
    }

    /// The same tier, instrumenting at `optimize` instead.
    pub fn at_level(&self, optimize: u8) -> Asyncify {
        Asyncify {
            base: self.base.clone(),
            optimize,
            ..*self
        }
    }

    /// Binaryen's optimize level.
    pub fn optimize(&self) -> u8 {
        self.optimize
    }

    /// `wasm` as this tier instruments it, before any engine runs it.
    pub fn instrument(&self, wasm: &[u8]) -> Result<Vec<u8>, Outcome> {
        let (time, caching) = (binaryen::INSTRUMENT_TIME, Caching::Cached);
        self.instrumented(wasm, time, caching, || None)
    }

    /// `wasm` instrumented at this tier's level, with any planted bug; see [`instrument_for`].
    fn instrumented(
        &self,
        wasm: &[u8],
        time: Duration,
        caching: Caching,
        base_rejection: impl FnOnce() -> Option<Outcome>,
    ) -> Result<Vec<u8>, Outcome> {
        let request = binaryen::Request {
            features: self.features(),
            optimize: self.optimize,
            pages: unwind::MODULE_PAGES,
        };
        let instrumented = instrument_for(wasm, request, time, caching, base_rejection)?;
        Ok(match self.plant {
            Some(plant) => plant.rewrite(self.optimize, instrumented),
            None => instrumented,
        })
    }

    /// The tier under every optimize level of [`OPTIMIZE_LEVELS`].
    pub fn swarm(id: &'static str, base: Arc<dyn Engine>) -> Vec<Arc<dyn Engine>> {
        let variant =
            |level: &u8| Arc::new(Asyncify::new(id, base.clone(), *level)) as Arc<dyn Engine>;
        OPTIMIZE_LEVELS.iter().map(variant).collect()
    }
}

impl Engine for Asyncify {
    fn id(&self) -> &'static str {
        self.id
    }

    fn version(&self) -> String {
        let base = &self.base;
        let tool = binaryen::describe().unwrap_or_else(|why| format!("unavailable: {why}"));
        let level = match self.optimize {
            0 => String::new(),
            level => format!(" -O{level}"),
        };
        format!("{tool}{level} on {} {}", base.id(), base.version())
    }

    /// `TIER@O1` for an optimize level above 0; a planted tier has its level built in.
    fn variant(&self) -> String {
        match (self.plant, self.optimize) {
            (None, level) if level > 0 => format!("{}@O{level}", self.id),
            _ => self.id.to_string(),
        }
    }

    fn features(&self) -> WasmFeatures {
        self.base.features()
    }

    fn session(&self, limits: &Limits) -> Box<dyn Session> {
        self.session_with_control(limits).0
    }
}

impl Asyncify {
    /// A session, and the control that counts its unwinds.
    pub fn session_with_control(&self, limits: &Limits) -> (Box<dyn Session>, Arc<Control>) {
        let abandons = self.plant.is_some_and(Plant::abandons_unwinds);
        let control = Arc::new(Control::new(unwind::MODULE_PAGES).abandoning(abandons));
        let base = self.base.session_with_import_hook(limits, control.clone());
        let base = base.unwrap_or_else(|| panic!("{} cannot wrap imports", self.base.id()));
        let session = AsyncifySession {
            base,
            undriven_modules: HashSet::new(),
            undriven_instances: HashSet::new(),
            layer: self.at_level(self.optimize),
            control: control.clone(),
            compile_time: limits.compile_time,
            call_time: limits.call_time,
            caching: match limits.one_off_modules {
                true => Caching::OneOff,
                false => Caching::Cached,
            },
        };
        (Box::new(session), control)
    }
}

/// Widens a trap an instruction raised to every such code.
///
/// Binaryen's optimizer counts all traps as one effect, and its effect analysis
/// lets it swap two trapping instructions: a `-O1` binary may trap out of bounds
/// where the plain module divides by zero first. Which trap comes first is thus
/// not the program's above `-O0`; that a trap happens, and the state it leaves,
/// still are (binaryen never moves a trap across a write to global state).
fn any_instruction_trap(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Trap { code, message, .. } if TrapCode::RAISED_BY_INSTRUCTIONS.contains(&code) => {
            Outcome::Trap {
                code,
                message,
                alternatives: TrapCode::RAISED_BY_INSTRUCTIONS
                    .into_iter()
                    .filter(|other| *other != code)
                    .collect(),
            }
        }
        outcome => outcome,
    }
}

/// A base engine's session that compiles instrumented modules and drives their unwinds.
struct AsyncifySession {
    base: Box<dyn Session>,
    /// Modules binaryen left without the driver's functions (they import no
    /// function, so nothing in them unwinds), and their instances.
    undriven_modules: HashSet<ModuleId>,
    undriven_instances: HashSet<InstanceId>,
    /// The tier this session instruments for.
    layer: Asyncify,
    control: Arc<Control>,
    /// What binaryen may take: instrumenting is part of compiling.
    compile_time: Duration,
    call_time: Duration,
    /// Whether the session's modules come again, so that their instrumented forms are cached.
    caching: Caching,
}

impl Session for AsyncifySession {
    fn compile(&mut self, wasm: &[u8]) -> Result<ModuleId, Outcome> {
        let base = &mut self.base;
        let (time, caching) = (self.compile_time, self.caching);
        let instrumented = self
            .layer
            .instrumented(wasm, time, caching, || base.compile(wasm).err())?;
        let module = self.base.compile(&instrumented)?;
        if !unwind::has_driver(&instrumented) {
            self.undriven_modules.insert(module);
        }
        Ok(module)
    }

    fn instantiate(&mut self, module: ModuleId) -> Result<InstanceId, Outcome> {
        let instance = self.base.instantiate(module)?;
        if self.undriven_modules.contains(&module) {
            self.undriven_instances.insert(instance);
        }
        Ok(instance)
    }

    fn share(&mut self, instance: InstanceId) -> Result<SharedInstance, Outcome> {
        self.base.share(instance)
    }

    fn register_shared(&mut self, name: &str, shared: &SharedInstance) -> Result<(), Outcome> {
        self.base.register_shared(name, shared)
    }

    fn register(&mut self, name: &str, instance: InstanceId) {
        self.base.register(name, instance);
    }

    /// Calls the export, resumed after every unwind where the module can unwind.
    fn invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        let base = &mut self.base;
        let outcome = match self.undriven_instances.contains(&instance) {
            true => base.invoke(instance, export, args),
            false => self.driven_invoke(instance, export, args),
        };
        match self.layer.optimize {
            0 => outcome,
            _ => any_instruction_trap(outcome),
        }
    }

    fn global(&mut self, instance: InstanceId, export: &str) -> Outcome {
        self.base.global(instance, export)
    }

    fn state(&mut self, instance: InstanceId) -> Result<State, Unread> {
        let mut state = self.base.state(instance)?;
        // The unwind buffer is lockstep's, not the program's.
        state.memories.retain(|(name, ..)| name != unwind::MEMORY);
        Ok(state)
    }
}

impl AsyncifySession {
    /// Calls the export, then resumes it after every unwind until it returns for good.
    fn driven_invoke(&mut self, instance: InstanceId, export: &str, args: &[Value]) -> Outcome {
        let base = &mut self.base;
        unwind::call_resuming(
            &self.control,
            instance.0,
            self.call_time,
            |export, args| base.invoke(instance, export, args),
            |outcome| Some(outcome),
            Outcome::Exhausted,
            (export, args),
        )
    }
}

/// The proposals every Asyncify tier's base runs (wasmi's; wasmtime runs more).
///
/// Rationale: binaryen is given these for a module that needs no others, so
/// that every Asyncify tier asks binaryen for the same output of one module at
/// one level. It is made once (cached, or kept for the next tier), and two
/// Asyncify tiers that differ run one binary: the difference is their bases'.
pub const SHARED_PROPOSALS: WasmFeatures = WasmFeatures::WASM2
    .union(WasmFeatures::RELAXED_SIMD)
    .union(WasmFeatures::TAIL_CALL)
    .union(WasmFeatures::EXTENDED_CONST)
    .union(WasmFeatures::MULTI_MEMORY)
    .union(WasmFeatures::MEMORY64)
    .union(WasmFeatures::CUSTOM_PAGE_SIZES)
    .union(WasmFeatures::WIDE_ARITHMETIC);

/// `wasm` instrumented as `request` says, binaryen given `time` and
/// `caching`, and only [`SHARED_PROPOSALS`] when the module needs no more. A
/// module that does not validate for the base engine's features is the base
/// engine's to reject (`base_rejection`): binaryen only sees valid modules.
fn instrument_for(
    wasm: &[u8],
    mut request: binaryen::Request,
    time: Duration,
    caching: Caching,
    base_rejection: impl FnOnce() -> Option<Outcome>,
) -> Result<Vec<u8>, Outcome> {
    let shared = request.features & SHARED_PROPOSALS;
    if crate::features::validates(wasm, shared) {
        request.features = shared;
    } else if !crate::features::validates(wasm, request.features) {
        return Err(base_rejection().unwrap_or_else(|| {
            Outcome::Unsupported(
                "the base engine accepts a module wasmparser rejects; not instrumented".into(),
            )
        }));
    }
    // Binaryen refusing a module is a skip; binaryen missing is lockstep's failure, never a skip.
    let instrumented = binaryen::instrument(wasm, request, time, caching);
    instrumented.map_err(|refusal| match refusal {
        binaryen::Refusal::Unsupported(why) => Outcome::Unsupported(format!("asyncify: {why}")),
        // Rationale: instrumenting is compiling; past its budget it is inconclusive, as a
        // compilation past its budget is on any tier.
        binaryen::Refusal::OutOfTime(_) => Outcome::Exhausted(Resource::Time),
        binaryen::Refusal::Unavailable(why) => {
            Outcome::HarnessFailed(format!("asyncify: binaryen.js is unavailable: {why}"))
        }
    })
}

/// A loop calling `host.next` `$n` times with an i32, i64, f32 and f64 local
/// live across each call: every call unwinds and rewinds all four.
pub const UNWIND_LOOP: &str = r#"(module
  (import "host" "next" (func $next (param i32) (result i32)))
  (func (export "run") (param $n i32) (result i32 i64 f32 f64)
    (local $a i32) (local $b i64) (local $c f32) (local $d f64)
    (local.set $c (f32.const 0.5)) (local.set $d (f64.const -1.25))
    (loop $again
      (local.set $a (i32.add (local.get $a) (call $next (local.get $n))))
      (local.set $b (i64.add (local.get $b) (i64.extend_i32_u (local.get $a))))
      (local.set $c (f32.mul (local.get $c) (f32.const 1.5)))
      (local.set $d (f64.sub (local.get $d) (f64.convert_i32_s (local.get $n))))
      (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $a) (local.get $b) (local.get $c) (local.get $d)))"#;

/// `wasm` instrumented afresh, bypassing the cache: for measuring binaryen.
pub fn instrument_uncached(
    wasm: &[u8],
    features: WasmFeatures,
    optimize: u8,
) -> Result<Vec<u8>, String> {
    let request = binaryen::Request {
        features,
        optimize,
        pages: unwind::MODULE_PAGES,
    };
    let time = binaryen::INSTRUMENT_TIME;
    binaryen::instrument(wasm, request, time, Caching::Uncached).map_err(binaryen::Refusal::reason)
}

/// Why Asyncify tiers cannot run here: binaryen.js is neither installed nor
/// installable (no Node.js, or npm cannot reach its registry).
pub fn unavailable() -> Option<String> {
    binaryen::describe().err().map(|why| {
        format!(
            "it instruments with binaryen.js, which is installed on first use and could not be: {why} \
             (install it once with network, or point LOCKSTEP_TOOLS to a folder that has it)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{check_common_behaviour, wat};

    /// The bases the registry builds Asyncify tiers on.
    const BASES: [&str; 2] = ["wasmtime-cranelift", "wasmi"];

    fn base(id: &str) -> Arc<dyn Engine> {
        crate::tiers::engine(id).expect("a built-in tier")
    }

    fn on(base_id: &str) -> Asyncify {
        Asyncify::new("asyncify-under-test", base(base_id), 0)
    }

    fn run(session: &mut Box<dyn Session>, text: &str, export: &str, args: &[Value]) -> Outcome {
        let module = match session.compile(&wat(text)) {
            Ok(module) => module,
            Err(rejected) => return rejected,
        };
        let instance = session.instantiate(module).expect("test module links");
        session.invoke(instance, export, args)
    }

    #[test]
    fn unwinding_at_every_import_call_keeps_every_live_local() {
        let limits = Limits::fuzzing();
        for base_id in BASES {
            let (asyncify, plain) = (on(base_id), base(base_id));
            let expected = run(
                &mut plain.session(&limits),
                UNWIND_LOOP,
                "run",
                &[Value::I32(100)],
            );
            assert!(matches!(expected, Outcome::Values(_)), "{expected}");
            let (mut session, control) = asyncify.session_with_control(&limits);
            let outcome = run(&mut session, UNWIND_LOOP, "run", &[Value::I32(100)]);
            assert_eq!(outcome, expected, "{}", asyncify.version());
            assert_eq!(control.unwinds(), 100, "{}", asyncify.version());
        }
    }

    /// A module exporting Asyncify's names itself, as a module that was
    /// instrumented before (CRuby on WASI) does: its own `asyncify_get_state`
    /// answers what `run` last gave its own `asyncify_start_unwind`.
    const OWN_ASYNCIFY: &str = r#"(module
      (import "host" "next" (func $next (param i32) (result i32)))
      (global $own (mut i32) (i32.const 0))
      (func $start_unwind (export "asyncify_start_unwind") (param i32) (global.set $own (local.get 0)))
      (func (export "asyncify_stop_unwind"))
      (func (export "asyncify_start_rewind") (param i32))
      (func (export "asyncify_stop_rewind"))
      (func (export "asyncify_get_state") (result i32) (global.get $own))
      (memory (export "asyncify_memory") 1)
      (func (export "run") (param $n i32) (result i32) (local $sum i32)
        (loop $again
          (local.set $sum (i32.add (local.get $sum) (call $next (local.get $n))))
          (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
        (call $start_unwind (local.get $sum))
        (local.get $sum)))"#;

    #[test]
    fn a_module_with_asyncify_exports_of_its_own_keeps_them_and_still_unwinds() {
        let limits = Limits::fuzzing();
        for base_id in BASES {
            let mut plain = base(base_id).session(&limits);
            let (mut session, control) = on(base_id).session_with_control(&limits);
            let [expected, outcome] = [&mut plain, &mut session].map(|session| {
                let module = session.compile(&wat(OWN_ASYNCIFY)).unwrap();
                let instance = session.instantiate(module).expect("test module links");
                let run = session.invoke(instance, "run", &[Value::I32(20)]);
                let own = session.invoke(instance, "asyncify_get_state", &[]);
                let state = session
                    .state(instance)
                    .expect("built-in engines read their state");
                (run, own, state)
            });
            assert_eq!(outcome, expected, "{base_id}");
            assert_eq!(control.unwinds(), 20, "{base_id}");
            let memories: Vec<&str> = outcome.2.memories.iter().map(|m| m.0.as_str()).collect();
            assert_eq!(memories, ["asyncify_memory"], "{base_id}");
        }
    }

    #[test]
    fn a_module_that_imports_no_function_gets_no_driver_and_runs_as_the_plain_one() {
        let text = r#"(module (memory (export "m") 1)
          (table 1 funcref) (elem (i32.const 0) $double)
          (type $t (func (param i32) (result i32)))
          (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
          (func (export "run") (param i32) (result i32)
            (i32.store (i32.const 8) (local.get 0))
            (call_indirect (type $t) (local.get 0) (i32.const 0))))"#;
        let limits = Limits::fuzzing();
        for base_id in BASES {
            let asyncify = on(base_id);
            let instrumented = asyncify.instrument(&wat(text)).expect("instrumented");
            assert!(!unwind::has_driver(&instrumented), "{base_id}");
            for with_import in [UNWIND_LOOP, r#"(module (import "" "" (func)))"#] {
                let instrumented = asyncify.instrument(&wat(with_import)).unwrap();
                assert!(
                    unwind::has_driver(&instrumented),
                    "{base_id}: {with_import}"
                );
            }
            let [expected, outcome] = [base(base_id).session(&limits), asyncify.session(&limits)]
                .map(|mut session| {
                    let run = run(&mut session, text, "run", &[Value::I32(21)]);
                    (run, session.state(InstanceId(0)).expect("state"))
                });
            assert_eq!(outcome, expected, "{base_id}");
        }
    }

    #[test]
    fn every_asyncify_base_runs_the_shared_proposals() {
        for tier in crate::tiers::TIERS.iter().filter_map(|tier| tier.base()) {
            let features = base(tier.id).features();
            let lacking = SHARED_PROPOSALS - features;
            assert!(lacking.is_empty(), "{} lacks {lacking:?}", tier.id);
        }
    }

    #[test]
    fn both_bases_get_one_instrumented_binary_unless_the_module_needs_more() {
        let [cranelift, wasmi] = BASES.map(on);
        let loop_ = wat(UNWIND_LOOP);
        assert_eq!(cranelift.instrument(&loop_), wasmi.instrument(&loop_));
        let throws = wat(r#"(module (tag $e) (func (export "f") (throw $e)))"#);
        let instrumented = cranelift
            .instrument(&throws)
            .expect("wasmtime runs exceptions");
        assert!(crate::features::validates(
            &instrumented,
            cranelift.features()
        ));
    }

    #[test]
    fn lockstep_s_own_output_is_unsupported_with_the_reason() {
        let asyncify = on("wasmi");
        let once = asyncify
            .instrument(&wat(UNWIND_LOOP))
            .expect("instrumented");
        let outcome = asyncify.session(&Limits::fuzzing()).compile(&once);
        let Err(Outcome::Unsupported(why)) = outcome else {
            panic!("{outcome:?}");
        };
        assert!(why.contains("lockstep's Asyncify output already"), "{why}");
        assert!(why.contains("lockstep:asyncify_start_unwind"), "{why}");
    }

    #[test]
    fn tail_calls_are_unsupported_with_binaryens_reason() {
        let text = r#"(module (import "host" "f" (func $f))
          (func $g (call $f))
          (func (export "run") (return_call $g)))"#;
        for asyncify in BASES.map(on) {
            let outcome = run(&mut asyncify.session(&Limits::fuzzing()), text, "run", &[]);
            let Outcome::Unsupported(why) = outcome else {
                panic!("{outcome}");
            };
            assert_eq!(why, format!("asyncify: {}", binaryen::TAIL_CALLS));
        }
    }

    /// Binaryen sinks the division into its only use, past the load: at `-O1` the load traps first.
    const TWO_TRAPS: &str = r#"(module (memory 1)
      (func (export "run") (param i32) (result i32) (local i32)
        (local.set 1 (i32.div_s (i32.const 1) (local.get 0)))
        (drop (i32.load (i32.const 100000)))
        (local.get 1)))"#;

    #[test]
    fn an_optimized_binary_agrees_with_any_trap_an_unoptimized_one_keeps_its_code() {
        let limits = Limits::fuzzing();
        let plain = run(
            &mut base("wasmtime-cranelift").session(&limits),
            TWO_TRAPS,
            "run",
            &[Value::I32(0)],
        );
        let [unoptimized, optimized] = [0, 1].map(|level| {
            let asyncify = Asyncify::new("asyncify-under-test", base("wasmtime-cranelift"), level);
            run(
                &mut asyncify.session(&limits),
                TWO_TRAPS,
                "run",
                &[Value::I32(0)],
            )
        });
        assert_eq!(unoptimized, plain);
        assert_eq!(plain.trap_codes(), [TrapCode::IntegerDivideByZero]);
        assert_eq!(optimized.trap_codes(), TrapCode::RAISED_BY_INSTRUCTIONS);
        assert!(crate::compare::equivalent(&optimized, &plain));
        assert!(
            optimized.to_string().contains("or any other trap"),
            "{optimized}"
        );
    }

    #[test]
    fn behaves_like_every_engine_on_wasmtime() {
        check_common_behaviour(&on("wasmtime-cranelift"));
    }

    #[test]
    fn behaves_like_every_engine_on_wasmi() {
        check_common_behaviour(&on("wasmi"));
    }

    #[test]
    fn optimized_variants_agree_and_hide_the_unwind_buffer() {
        let limits = Limits::fuzzing();
        let text = r#"(module (import "host" "f" (func $f (result i32)))
          (memory (export "mem") 1) (global (export "g") (mut i32) (i32.const 0))
          (func (export "run") (result i32)
            (global.set 0 (call $f)) (i32.store (i32.const 8) (call $f)) (i32.load (i32.const 8))))"#;
        let outcomes: Vec<(Outcome, State)> = crate::tiers::swarm("asyncify-wasmi")
            .unwrap()
            .iter()
            .map(|engine| {
                let mut session = engine.session(&limits);
                let module = session.compile(&wat(text)).unwrap();
                let instance = session.instantiate(module).unwrap();
                (
                    session.invoke(instance, "run", &[]),
                    session.state(instance).expect("wasmi reads its state"),
                )
            })
            .collect();
        assert_eq!(outcomes.len(), OPTIMIZE_LEVELS.len());
        assert!(
            outcomes.windows(2).all(|pair| pair[0] == pair[1]),
            "{outcomes:?}"
        );
        let memories: Vec<&str> = outcomes[0]
            .1
            .memories
            .iter()
            .map(|m| m.0.as_str())
            .collect();
        assert_eq!(memories, ["mem"]);
    }
}
