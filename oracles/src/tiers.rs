//! The tier registry: every built-in tier on one line (class, start-up, module engine, WASI-program
//! engine, fuzzing variants, default set), the `--engine` choice parsed once, and every engine list.
//!
//! This module sits above every other in the crate: it builds the engines and
//! their layers, and nothing but tests uses it back (see `tests/layering.rs`).

use crate::asyncify::{Asyncify, OPTIMIZE_LEVELS, programs::AsyncifyPrograms};
use crate::engine::{Engine, Watchdog};
use crate::external::{self, Externals};
use crate::wasi::ProgramEngine;
use crate::{mutants, wasi, wasmi, wasmtime};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// How a tier executes code; `bench programs` compares tiers within their class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Compiles to machine code.
    Compiler,
    /// Interprets, or compiles to bytecode it interprets.
    Interpreter,
    /// A runtime itself compiled to Wasm, run by another tier.
    Nested,
    /// Modules rewritten by a tool, then run by a base tier.
    Instrumented,
}

impl Class {
    /// The class as reports name it, in the plural.
    pub fn name(self) -> &'static str {
        match self {
            Class::Compiler => "compilers",
            Class::Interpreter => "interpreters",
            Class::Nested => "nested runtimes",
            Class::Instrumented => "instrumented tiers",
        }
    }
}

/// What a process pays before a module's code runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// Compiling (or translating) the module, then instantiating.
    Compile,
    /// Loading an artifact compiled ahead of time, then instantiating.
    LoadArtifact,
}

/// One built-in tier.
#[derive(Debug)]
pub struct Tier {
    /// The id used on the command line, in expectations and in reports.
    pub id: &'static str,
    pub class: Class,
    pub start: Start,
    /// Whether the tier runs when no `--engine` is given.
    pub default: bool,
    build: Build,
}

/// How a tier's engines are built.
#[derive(Debug)]
enum Build {
    /// A wasmtime tier: modules, programs and knob variants all follow from its configuration.
    Wasmtime(wasmtime::Tier),
    /// Any other engine: how its module engine and its WASI-program engine are built.
    Base {
        engine: fn(Watchdog) -> Arc<dyn Engine>,
        programs: fn(Watchdog) -> Arc<dyn ProgramEngine>,
    },
    /// Asyncify-instrumented modules on the tier `base`; fuzzing varies binaryen's optimize level.
    Asyncify { base: &'static str },
}

impl Tier {
    const fn wasmtime(tier: wasmtime::Tier, class: Class) -> Tier {
        let start = match tier.ahead_of_time {
            true => Start::LoadArtifact,
            false => Start::Compile,
        };
        Tier {
            id: tier.id,
            class,
            start,
            default: true,
            build: Build::Wasmtime(tier),
        }
    }

    /// AOT code for one x86-64 level: outside the default set, as each would
    /// run the spec matrix once more (`conformance --engine` names them).
    const fn cpu_level(tier: wasmtime::Tier) -> Tier {
        Tier {
            default: false,
            ..Tier::wasmtime(tier, Class::Compiler)
        }
    }

    /// An engine that compiles (or translates) each module, built by `engine`
    /// and, for WASI programs, `programs`.
    const fn standalone(
        id: &'static str,
        class: Class,
        engine: fn(Watchdog) -> Arc<dyn Engine>,
        programs: fn(Watchdog) -> Arc<dyn ProgramEngine>,
    ) -> Tier {
        Tier {
            id,
            class,
            start: Start::Compile,
            default: true,
            build: Build::Base { engine, programs },
        }
    }

    const fn asyncify(id: &'static str, base: &'static str) -> Tier {
        Tier {
            id,
            class: Class::Instrumented,
            start: Start::Compile,
            default: true,
            build: Build::Asyncify { base },
        }
    }

    /// The tier `id`, if it is built in.
    pub fn named(id: &str) -> Option<&'static Tier> {
        TIERS.iter().find(|tier| tier.id == id)
    }

    /// The tier this one is a layer over.
    pub fn base(&self) -> Option<&'static Tier> {
        match self.build {
            Build::Asyncify { base } => Some(Tier::named(base).expect("a registered base")),
            _ => None,
        }
    }

    /// Why this tier cannot run on this machine (an Asyncify tier without binaryen.js), or `None`.
    pub fn unavailable(&self) -> Option<String> {
        match self.build {
            Build::Asyncify { .. } => crate::asyncify::unavailable(),
            _ => None,
        }
    }

    /// How the code finally runs: a layer's base's class, for comparing speeds.
    pub fn execution_class(&self) -> Class {
        self.base().map_or(self.class, Tier::execution_class)
    }
}

impl PartialEq for Tier {
    fn eq(&self, other: &Tier) -> bool {
        self.id == other.id
    }
}

impl Eq for Tier {}

/// Every built-in tier, in report order. A new tier is one line here; one
/// outside the default set is written `Tier { default: false, ..Tier::standalone(…) }`.
pub static TIERS: &[Tier] = &[
    Tier::wasmtime(wasmtime::cranelift::TIER, Class::Compiler),
    Tier::wasmtime(wasmtime::aot::TIER, Class::Compiler),
    Tier::cpu_level(wasmtime::aot::BASELINE),
    Tier::cpu_level(wasmtime::aot::X86_64_V2),
    Tier::cpu_level(wasmtime::aot::X86_64_V3),
    Tier::wasmtime(wasmtime::winch::TIER, Class::Compiler),
    Tier::wasmtime(wasmtime::pulley::TIER, Class::Interpreter),
    Tier::standalone(
        "wasmi",
        Class::Interpreter,
        |_| Arc::new(wasmi::Wasmi::new()),
        |_| Arc::new(wasmi::wasi::WasmiPrograms::new()),
    ),
    Tier::asyncify("asyncify", "wasmtime-cranelift"),
    Tier::asyncify("asyncify-wasmi", "wasmi"),
];

/// The tier the `mutant:*` engines plant their bugs in.
const MUTANT_BASE: &str = "wasmtime-cranelift";

/// The ids of every built-in tier, in report order.
pub fn ids() -> Vec<&'static str> {
    TIERS.iter().map(|tier| tier.id).collect()
}

/// The ids `--engine` takes for WASI programs: every tier, then the self-test tier.
pub fn program_ids() -> Vec<&'static str> {
    ids().into_iter().chain([wasi::MUTANT_ID]).collect()
}

/// The ids of the tiers that run when no `--engine` is given.
pub fn default_ids() -> Vec<&'static str> {
    TIERS
        .iter()
        .filter(|tier| tier.default)
        .map(|tier| tier.id)
        .collect()
}

/// The tiers Asyncify layers are built on, by id.
pub fn asyncify_bases() -> Vec<&'static str> {
    TIERS.iter().filter_map(Tier::base).map(|t| t.id).collect()
}

/// One `--engine` value, parsed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// A built-in tier.
    Tier(&'static Tier),
    /// A deliberately broken engine (`mutant:*`), for lockstep's self-tests.
    Mutant(&'static str),
    /// An external engine lockstep bundles (`v8`, `wasm3`).
    Bundled(&'static str),
    /// An external engine given as `NAME=COMMAND`.
    External(external::Spec),
}

/// An `--engine` value that names no engine.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownEngine(String);

impl fmt::Display for UnknownEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UnknownEngine {}

impl EngineChoice {
    /// `text` as a tier id, `mutant:*`, a bundled engine or `NAME=COMMAND`;
    /// anything else, and a `NAME` that is taken, is refused with the valid ids.
    pub fn parse(text: &str) -> Result<EngineChoice, UnknownEngine> {
        if let Some(tier) = Tier::named(text) {
            return Ok(EngineChoice::Tier(tier));
        }
        if let Some(id) = known(mutants::MUTANT_IDS.iter().chain([&wasi::MUTANT_ID]), text) {
            return Ok(EngineChoice::Mutant(id));
        }
        if let Some(id) = known(external::BUNDLED.iter(), text) {
            return Ok(EngineChoice::Bundled(id));
        }
        if !text.contains('=') {
            return Err(UnknownEngine(format!(
                "unknown engine `{text}`; valid engines: {}, or NAME=COMMAND for an external engine",
                valid_ids().join(", ")
            )));
        }
        let spec = external::Spec::parse(text).map_err(UnknownEngine)?;
        if valid_ids().contains(&spec.name.as_str()) || spec.name.starts_with("mutant:") {
            return Err(UnknownEngine(format!(
                "`{}` is a built-in engine; choose another name",
                spec.name
            )));
        }
        Ok(EngineChoice::External(spec))
    }

    /// The engine's id as reports show it.
    pub fn id(&self) -> &str {
        match self {
            EngineChoice::Tier(tier) => tier.id,
            EngineChoice::Mutant(id) | EngineChoice::Bundled(id) => id,
            EngineChoice::External(spec) => &spec.name,
        }
    }

    /// Every default tier: the choice when no `--engine` is given.
    pub fn defaults() -> Vec<EngineChoice> {
        let tiers = TIERS.iter().filter(|tier| tier.default);
        tiers.map(EngineChoice::Tier).collect()
    }
}

impl std::str::FromStr for EngineChoice {
    type Err = UnknownEngine;

    fn from_str(text: &str) -> Result<EngineChoice, UnknownEngine> {
        EngineChoice::parse(text)
    }
}

/// As written on the command line: the id, or `NAME=COMMAND`; [`EngineChoice::parse`] reads it back.
impl fmt::Display for EngineChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineChoice::External(spec) => write!(f, "{spec}"),
            other => f.write_str(other.id()),
        }
    }
}

fn known<'a>(mut ids: impl Iterator<Item = &'a &'static str>, text: &str) -> Option<&'static str> {
    ids.find(|id| **id == text).copied()
}

/// Every id `--engine` takes besides `NAME=COMMAND`.
pub fn valid_ids() -> Vec<&'static str> {
    let mutants = mutants::MUTANT_IDS.iter().copied().chain([wasi::MUTANT_ID]);
    let bundled = external::BUNDLED.iter().copied();
    ids().into_iter().chain(bundled).chain(mutants).collect()
}

/// The engines of one run: each tier's engine built once on first use, under
/// one [`Watchdog`], and the external engines the run configured.
pub struct Engines {
    watchdog: Watchdog,
    externals: Externals,
    built: Vec<OnceLock<Arc<dyn Engine>>>,
}

impl Engines {
    pub fn new(watchdog: Watchdog, externals: Externals) -> Engines {
        Engines {
            watchdog,
            externals,
            built: TIERS.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// The external engines this run configured.
    pub fn externals(&self) -> &Externals {
        &self.externals
    }

    /// The engine called `id` in reports: a choice [`EngineChoice::parse`]
    /// reads, or an external engine this run configured under that name.
    pub fn choice(&self, id: &str) -> Option<EngineChoice> {
        let configured = self.externals.specs();
        let spec = configured.iter().find(|spec| spec.name == id).cloned();
        spec.map(EngineChoice::External)
            .or_else(|| EngineChoice::parse(id).ok())
    }

    /// The engine `choice` names, or why it cannot run here.
    pub fn engine(&self, choice: &EngineChoice) -> Result<Arc<dyn Engine>, String> {
        match choice {
            EngineChoice::Tier(tier) => tier.unavailable().map_or_else(|| Ok(self.tier(tier)), Err),
            EngineChoice::Mutant(id) => {
                let base = self.tier(Tier::named(MUTANT_BASE).expect("registered"));
                mutants::create(id, base).ok_or_else(|| format!("`{id}` runs only WASI programs"))
            }
            EngineChoice::Bundled(id) => self.externals.bundled(id),
            EngineChoice::External(spec) => self.externals.configured(spec),
        }
    }

    /// The engine in every configuration fuzzing varies, the default first.
    pub fn variants(&self, choice: &EngineChoice) -> Result<Vec<Arc<dyn Engine>>, String> {
        let EngineChoice::Tier(tier) = choice else {
            return Ok(vec![self.engine(choice)?]);
        };
        if let Some(why) = tier.unavailable() {
            return Err(why);
        }
        Ok(match tier.build {
            Build::Wasmtime(config) => wasmtime::swarm(config, self.watchdog),
            Build::Base { .. } => vec![self.tier(tier)],
            Build::Asyncify { .. } => {
                let base = self.tier(tier.base().expect("a layer"));
                Asyncify::swarm(tier.id, base)
            }
        })
    }

    /// The engine of the built-in `tier`, built on first use.
    pub fn tier(&self, tier: &Tier) -> Arc<dyn Engine> {
        let index = TIERS.iter().position(|known| known == tier);
        let slot = &self.built[index.expect("a registered tier")];
        slot.get_or_init(|| match tier.build {
            Build::Wasmtime(config) => Arc::new(wasmtime::Wasmtime::new(config, self.watchdog)),
            Build::Base { engine, .. } => engine(self.watchdog),
            Build::Asyncify { .. } => {
                let base = self.tier(tier.base().expect("a layer"));
                Arc::new(Asyncify::new(tier.id, base, OPTIMIZE_LEVELS[0]))
            }
        })
        .clone()
    }

    /// The engine that runs WASI programs for `choice`, if it runs them.
    pub fn program_engine(&self, choice: &EngineChoice) -> Option<Arc<dyn ProgramEngine>> {
        match choice {
            EngineChoice::Tier(tier) => Some(self.tier_programs(tier)),
            EngineChoice::Mutant(id) if *id == wasi::MUTANT_ID => {
                let base = Tier::named(MUTANT_BASE).expect("registered");
                Some(wasi::mutant_programs(self.tier_programs(base)))
            }
            _ => None,
        }
    }

    fn tier_programs(&self, tier: &Tier) -> Arc<dyn ProgramEngine> {
        match tier.build {
            Build::Wasmtime(config) => {
                Arc::new(wasmtime::wasi::WasmtimePrograms::new(config, self.watchdog))
            }
            Build::Base { programs, .. } => programs(self.watchdog),
            Build::Asyncify { .. } => {
                let base = tier.base().expect("a layer");
                let features = self.tier(base).features();
                let programs = self.tier_programs(base);
                Arc::new(AsyncifyPrograms::new(tier.id, programs, features))
            }
        }
    }
}

/// Built-in engines with in-engine time limits and no external engines,
/// each built once per process: for tests and tools that need one engine.
fn in_process() -> &'static Engines {
    static ENGINES: OnceLock<Engines> = OnceLock::new();
    ENGINES.get_or_init(|| Engines::new(Watchdog::InEngine, Externals::default()))
}

/// The built-in tier `id` (or `mutant:*` engine), built once per process.
pub fn engine(id: &str) -> Option<Arc<dyn Engine>> {
    match EngineChoice::parse(id).ok()? {
        choice @ (EngineChoice::Tier(_) | EngineChoice::Mutant(_)) => {
            in_process().engine(&choice).ok()
        }
        _ => None,
    }
}

/// The built-in tier `id` in every configuration fuzzing varies.
pub fn swarm(id: &str) -> Option<Vec<Arc<dyn Engine>>> {
    let choice = EngineChoice::Tier(Tier::named(id)?);
    in_process().variants(&choice).ok()
}

/// The tier `id` (or `mutant:fd-write-byte`) that runs WASI programs.
pub fn program_engine(id: &str) -> Option<Arc<dyn ProgramEngine>> {
    in_process().program_engine(&EngineChoice::parse(id).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tier_builds_engines_that_carry_its_id() {
        let engines = Engines::new(Watchdog::InEngine, Externals::default());
        for tier in TIERS {
            let choice = EngineChoice::Tier(tier);
            assert_eq!(engines.engine(&choice).unwrap().id(), tier.id);
            let variants = engines.variants(&choice).unwrap();
            assert!(variants.iter().all(|engine| engine.id() == tier.id));
            assert!(!variants.is_empty(), "{}", tier.id);
            let programs = engines.program_engine(&choice);
            assert_eq!(programs.map(|p| p.id()), Some(tier.id));
        }
    }

    #[test]
    fn ids_are_unique_and_layers_sit_on_registered_tiers() {
        let ids = ids();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{ids:?}");
        assert_eq!(asyncify_bases(), ["wasmtime-cranelift", "wasmi"]);
        let aot = Tier::named("wasmtime-aot").unwrap();
        assert_eq!(aot.start, Start::LoadArtifact);
        let asyncify_wasmi = Tier::named("asyncify-wasmi").unwrap();
        assert_eq!(asyncify_wasmi.class, Class::Instrumented);
        assert_eq!(asyncify_wasmi.execution_class(), Class::Interpreter);
    }

    #[test]
    fn choices_parse_once_and_print_back() {
        for text in ["wasmi", "mutant:rem-s-as-rem-u", "v8", "mine=node x.mjs"] {
            let choice = EngineChoice::parse(text).unwrap();
            assert_eq!(choice.to_string(), text);
            assert_eq!(EngineChoice::parse(&choice.to_string()), Ok(choice));
        }
        let unknown = EngineChoice::parse("wasmtime").unwrap_err().to_string();
        assert!(unknown.contains("unknown engine `wasmtime`"), "{unknown}");
        assert!(
            unknown.contains("wasmtime-cranelift, wasmtime-aot"),
            "{unknown}"
        );
        for taken in ["wasmi=true", "v8=node", "mutant:x=true"] {
            let refused = EngineChoice::parse(taken).unwrap_err().to_string();
            assert!(refused.contains("is a built-in engine"), "{refused}");
        }
    }
}
