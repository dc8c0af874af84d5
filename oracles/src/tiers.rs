//! The tier registry: every built-in tier on one line (class, start-up, module engine, WASI-program
//! engine, fuzzing variants, default set), the `--engine` choice parsed once, and every engine list.
//!
//! This module sits above every other in the crate: it builds the engines and
//! their layers, and nothing but tests uses it back (see `tests/layering.rs`).

use crate::asyncify::planted::{PLANTED, Planted};
use crate::asyncify::{Asyncify, OPTIMIZE_LEVELS, programs::AsyncifyPrograms};
use crate::engine::{Engine, Watchdog};
use crate::external::{self, Externals};
use crate::wasi::ProgramEngine;
use crate::{mutants, nested, wasi, wasmi, wasmtime};
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
    /// The wasmi guest run on `host`, any engine that runs WASI programs (see [`crate::nested`]).
    Nested { host: &'static str },
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

    /// wasmi compiled to Wasm, run on `host`; outside the default set, as it needs the guest built.
    const fn nested(id: &'static str, host: &'static str) -> Tier {
        Tier {
            id,
            class: Class::Nested,
            start: Start::Compile,
            default: false,
            build: Build::Nested { host },
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

    /// The engine a nested tier runs its guest on.
    pub fn host(&self) -> Option<&'static str> {
        match self.build {
            Build::Nested { host } => Some(host),
            _ => None,
        }
    }

    /// Why this tier cannot run on this machine (an Asyncify tier without binaryen.js, a nested
    /// tier without its guest), or `None`.
    pub fn unavailable(&self) -> Option<String> {
        match self.build {
            Build::Asyncify { .. } => crate::asyncify::unavailable(),
            Build::Nested { .. } => nested::unavailable(),
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
    Tier::nested("wasmi-on-cranelift", "wasmtime-cranelift"),
    Tier::nested("wasmi-on-pulley", "wasmtime-pulley"),
    Tier::nested("wasmi-on-wasmi", "wasmi"),
    // The self-test of the nested tiers: a host bug only the guest's own code meets.
    Tier::nested("mutant:wasmi-on-rem-s-as-rem-u", "mutant:rem-s-as-rem-u"),
];

/// The tier the `mutant:*` engines plant their bugs in.
const MUTANT_BASE: &str = "wasmtime-cranelift";

/// Mutants planted in one setting of [`MUTANT_BASE`] only: at its default the tier runs right.
const SETTING_MUTANTS: &[(&str, wasmtime::Knobs)] = &[
    (
        "mutant:unoptimized-clz-as-ctz",
        // `opt-level=none`
        wasmtime::Knobs::SWARM[1],
    ),
    (
        "mutant:baseline-clz-as-ctz",
        // `cpu=baseline`
        wasmtime::Knobs::SWARM[4],
    ),
];

/// The setting of [`MUTANT_BASE`] the mutant `id` is planted in, if it is one of [`SETTING_MUTANTS`].
fn mutant_setting(id: &str) -> Option<wasmtime::Knobs> {
    let planted = SETTING_MUTANTS.iter().find(|(mutant, _)| *mutant == id);
    planted.map(|(_, knobs)| *knobs)
}

/// The ids of every built-in tier, in report order.
pub fn ids() -> Vec<&'static str> {
    TIERS.iter().map(|tier| tier.id).collect()
}

/// The ids `--engine` takes for WASI programs: every tier but the nested ones, then the self-test tier.
pub fn program_ids() -> Vec<&'static str> {
    let tiers = TIERS.iter().filter(|tier| tier.host().is_none());
    let ids = tiers.map(|tier| tier.id);
    ids.chain([wasi::MUTANT_ID]).collect()
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
    /// A built-in tier in a configuration fuzzing varies other than its default: `TIER@SETTING`.
    Variant(&'static Tier, Setting),
    /// A deliberately broken engine (`mutant:*`), for lockstep's self-tests.
    Mutant(&'static str),
    /// An external engine lockstep bundles (`v8`, `wasm3`).
    Bundled(&'static str),
    /// An external engine given as `NAME=COMMAND`.
    External(external::Spec),
}

/// What a variant changes of its tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// A wasmtime tier's knobs, named by the tokens of their description (`opt-level=none`).
    Knobs(wasmtime::Knobs),
    /// An Asyncify tier's binaryen optimize level (`O1`).
    Optimize(u8),
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Setting::Knobs(knobs) => f.write_str(&knobs.setting()),
            Setting::Optimize(level) => write!(f, "O{level}"),
        }
    }
}

impl Setting {
    /// `text` as a setting of `tier`: `None` when the tier has no such variant.
    fn parse(tier: &Tier, text: &str) -> Option<Setting> {
        match tier.build {
            Build::Wasmtime(config) => wasmtime::Knobs::named(config, text).map(Setting::Knobs),
            Build::Asyncify { .. } => text
                .strip_prefix('O')
                .and_then(|level| level.parse().ok())
                .filter(|level| OPTIMIZE_LEVELS.contains(level))
                .map(Setting::Optimize),
            Build::Base { .. } | Build::Nested { .. } => None,
        }
    }

    /// Every setting of `tier` fuzzing varies, the default first.
    fn all(tier: &Tier) -> Vec<Setting> {
        match tier.build {
            Build::Wasmtime(config) => {
                let varied = wasmtime::Knobs::varied(config).into_iter();
                varied.map(Setting::Knobs).collect()
            }
            Build::Asyncify { .. } => OPTIMIZE_LEVELS.map(Setting::Optimize).to_vec(),
            Build::Base { .. } | Build::Nested { .. } => Vec::new(),
        }
    }

    fn is_default(self) -> bool {
        self == Setting::Knobs(wasmtime::Knobs::default()) || self == Setting::Optimize(0)
    }
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
        if let Some((id, setting)) = text.split_once('@')
            && let Some(tier) = Tier::named(id)
        {
            return EngineChoice::variant(tier, setting);
        }
        if let Some(id) = known(mutant_ids().iter(), text) {
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

    /// `tier` at `setting`, written `TIER@SETTING`; the default setting is the tier itself.
    fn variant(tier: &'static Tier, setting: &str) -> Result<EngineChoice, UnknownEngine> {
        match Setting::parse(tier, setting) {
            Some(setting) if setting.is_default() => Ok(EngineChoice::Tier(tier)),
            Some(setting) => Ok(EngineChoice::Variant(tier, setting)),
            None => {
                let valid: Vec<String> = Setting::all(tier)
                    .iter()
                    .filter(|setting| !setting.is_default())
                    .map(|setting| format!("{}@{setting}", tier.id))
                    .collect();
                Err(UnknownEngine(format!(
                    "`{}` has no setting `{setting}`; its variants: {}",
                    tier.id,
                    match valid.is_empty() {
                        true => "none".to_string(),
                        false => valid.join(", "),
                    }
                )))
            }
        }
    }

    /// Every variant of this engine fuzzing runs, the default first (an engine without variants: itself).
    pub fn every_variant(&self) -> Vec<EngineChoice> {
        let tier = match self {
            EngineChoice::Tier(tier) | EngineChoice::Variant(tier, _) => *tier,
            other => return vec![other.clone()],
        };
        let variants = Setting::all(tier).into_iter().skip(1);
        let variants = variants.map(|setting| EngineChoice::Variant(tier, setting));
        std::iter::once(EngineChoice::Tier(tier))
            .chain(variants)
            .collect()
    }

    /// The engine's id as reports show it.
    pub fn id(&self) -> &str {
        match self {
            EngineChoice::Tier(tier) | EngineChoice::Variant(tier, _) => tier.id,
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
            EngineChoice::Variant(tier, setting) => write!(f, "{}@{setting}", tier.id),
            other => f.write_str(other.id()),
        }
    }
}

fn known<'a>(mut ids: impl Iterator<Item = &'a &'static str>, text: &str) -> Option<&'static str> {
    ids.find(|id| **id == text).copied()
}

/// The ids of every deliberately broken engine: module mutants, planted Asyncify tiers, the WASI mutant.
fn mutant_ids() -> Vec<&'static str> {
    let planted = PLANTED.iter().map(|planted| planted.id);
    let mutants = mutants::MUTANT_IDS.iter().copied().chain(planted);
    mutants.chain([wasi::MUTANT_ID]).collect()
}

/// Every id `--engine` takes besides `NAME=COMMAND` and `TIER@SETTING`.
pub fn valid_ids() -> Vec<&'static str> {
    let mutants = mutant_ids().into_iter();
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
            EngineChoice::Tier(tier) => match (tier.unavailable(), tier.host()) {
                (Some(why), _) => Err(why),
                (None, Some(host)) => {
                    let command = nested::command(host)?;
                    self.externals.start(tier.id, command, nested::PATIENCE)
                }
                (None, None) => Ok(self.tier(tier)),
            },
            EngineChoice::Variant(tier, setting) => self.variant(tier, *setting),
            EngineChoice::Mutant(id) => self.mutant(id),
            EngineChoice::Bundled(id) => self.externals.bundled(id),
            EngineChoice::External(spec) => self.externals.configured(spec),
        }
    }

    /// The deliberately broken engine `id`: a planted Asyncify tier, or a mutant of
    /// [`MUTANT_BASE`] (at the setting it is planted in, if any).
    fn mutant(&self, id: &str) -> Result<Arc<dyn Engine>, String> {
        if let Some(planted) = planted(id) {
            return Ok(Arc::new(self.planted(planted)?));
        }
        let tier = Tier::named(MUTANT_BASE).expect("registered");
        let base = match mutant_setting(id) {
            Some(knobs) => self.variant(tier, Setting::Knobs(knobs))?,
            None => self.tier(tier),
        };
        mutants::create(id, base).ok_or_else(|| format!("`{id}` runs only WASI programs"))
    }

    /// The built-in `tier` at a `setting` other than its default.
    fn variant(&self, tier: &Tier, setting: Setting) -> Result<Arc<dyn Engine>, String> {
        if let Some(why) = tier.unavailable() {
            return Err(why);
        }
        match (&tier.build, setting) {
            (Build::Wasmtime(config), Setting::Knobs(knobs)) => {
                let engine = wasmtime::Wasmtime::with_knobs(*config, knobs, self.watchdog);
                let engine =
                    engine.map_err(|e| format!("{} rejects this setting: {e}", tier.id))?;
                Ok(Arc::new(engine))
            }
            (Build::Asyncify { .. }, Setting::Optimize(level)) => {
                let base = self.tier(tier.base().expect("a layer"));
                Ok(Arc::new(Asyncify::new(tier.id, base, level)))
            }
            _ => Err(format!("`{}` has no setting `{setting}`", tier.id)),
        }
    }

    /// The planted Asyncify tier `planted`.
    fn planted(&self, planted: &Planted) -> Result<Asyncify, String> {
        let base = Tier::named(planted.base).expect("a registered base");
        if let Some(why) = base.unavailable().or_else(crate::asyncify::unavailable) {
            return Err(why);
        }
        let asyncify = Asyncify::new(planted.id, self.tier(base), planted.optimize);
        Ok(asyncify.planted(planted.plant))
    }

    /// What `choice` is made of, for blaming one of its parts: an Asyncify tier's
    /// base and instrumenter, a wasmtime tier's configuration, or nothing to take apart.
    pub fn makeup(&self, choice: &EngineChoice) -> Makeup {
        let (tier, setting) = match choice {
            EngineChoice::Mutant(id) => return self.mutant_makeup(id),
            EngineChoice::Tier(tier) => (*tier, Setting::all(tier).first().copied()),
            EngineChoice::Variant(tier, setting) => (*tier, Some(*setting)),
            _ => return Makeup::Whole,
        };
        match (&tier.build, setting) {
            (Build::Wasmtime(_), Some(Setting::Knobs(knobs))) => Makeup::Configured {
                default: EngineChoice::Tier(tier),
                setting: knobs.setting(),
            },
            (Build::Nested { host }, _) => nested_makeup(tier, host),
            (Build::Asyncify { .. }, Some(Setting::Optimize(level)))
                if tier.unavailable().is_none() =>
            {
                let base = tier.base().expect("a layer");
                let layer = Asyncify::new(tier.id, self.tier(base), level);
                Makeup::Instrumented {
                    base,
                    layer: Arc::new(layer),
                }
            }
            _ => Makeup::Whole,
        }
    }

    /// What the mutant `id` is made of: a planted Asyncify tier's parts, the setting a
    /// mutant of [`MUTANT_BASE`] is planted in, or nothing to take apart.
    fn mutant_makeup(&self, id: &str) -> Makeup {
        if let Some(planted) = planted(id) {
            return match self.planted(planted) {
                Ok(layer) => Makeup::Instrumented {
                    base: Tier::named(planted.base).expect("a registered base"),
                    layer: Arc::new(layer),
                },
                Err(_) => Makeup::Whole,
            };
        }
        match mutant_setting(id) {
            Some(knobs) => Makeup::Configured {
                default: EngineChoice::Tier(Tier::named(MUTANT_BASE).expect("registered")),
                setting: knobs.setting(),
            },
            None => Makeup::Whole,
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
            Build::Nested { .. } => vec![self.engine(choice)?],
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
            Build::Nested { .. } => unreachable!("nested tiers start in `Engines::engine`"),
        })
        .clone()
    }

    /// The engine that runs WASI programs for `choice`, if it runs them: not a nested tier, whose
    /// guest serves modules only.
    pub fn program_engine(&self, choice: &EngineChoice) -> Option<Arc<dyn ProgramEngine>> {
        let mutant_base = || self.tier_programs(Tier::named(MUTANT_BASE).expect("registered"));
        match choice {
            // A variant is for module fuzzing findings; programs run each tier as configured.
            EngineChoice::Variant(..) => None,
            EngineChoice::Tier(tier) if tier.host().is_some() => None,
            EngineChoice::Tier(tier) => Some(self.tier_programs(tier)),
            EngineChoice::Mutant(id) if *id == wasi::MUTANT_ID => {
                Some(wasi::mutant_programs(mutant_base()))
            }
            EngineChoice::Mutant(id) => mutants::programs(id, mutant_base()),
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
            Build::Nested { .. } => unreachable!("nested tiers run no programs"),
        }
    }
}

/// What an engine is made of, as blame takes it apart (see [`Engines::makeup`]).
pub enum Makeup {
    /// Modules instrumented by `layer` (binaryen at its level, any planted bug), then run on `base`.
    Instrumented {
        base: &'static Tier,
        layer: Arc<Asyncify>,
    },
    /// A wasmtime tier (or a mutant planted in one) at `setting` (empty: the default), and
    /// the engine at its default setting.
    Configured {
        default: EngineChoice,
        setting: String,
    },
    /// A runtime compiled to Wasm (`guest`, which also runs natively as a tier of its own), run on
    /// `host`; `elsewhere` is the same guest on another host.
    Nested {
        guest: EngineChoice,
        host: EngineChoice,
        elsewhere: Option<EngineChoice>,
    },
    /// Nothing blame can vary: the engine answers for itself.
    Whole,
}

/// What the nested `tier` is made of: the guest runtime natively, the `host` that runs it, and
/// the same guest on another host (no self-test one).
fn nested_makeup(tier: &'static Tier, host: &'static str) -> Makeup {
    let (Ok(host_choice), Some(guest)) =
        (EngineChoice::parse(host), Tier::named(nested::GUEST_TIER))
    else {
        return Makeup::Whole;
    };
    let elsewhere = TIERS.iter().find(|other| {
        other.class == Class::Nested
            && other != &tier
            && other.host() != Some(host)
            && !other.id.starts_with("mutant:")
    });
    Makeup::Nested {
        guest: EngineChoice::Tier(guest),
        host: host_choice,
        elsewhere: elsewhere.map(EngineChoice::Tier),
    }
}

/// The planted Asyncify tier `id`, if it is one.
fn planted(id: &str) -> Option<&'static Planted> {
    PLANTED.iter().find(|planted| planted.id == id)
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
        for tier in TIERS.iter().filter(|tier| tier.host().is_none()) {
            let choice = EngineChoice::Tier(tier);
            assert_eq!(engines.engine(&choice).unwrap().id(), tier.id);
            let variants = engines.variants(&choice).unwrap();
            assert!(variants.iter().all(|engine| engine.id() == tier.id));
            for variant in &variants {
                let named = EngineChoice::parse(&variant.variant()).unwrap();
                let built = engines.engine(&named).unwrap();
                assert_eq!(built.version(), variant.version(), "{}", variant.variant());
            }
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
    fn nested_tiers_sit_on_program_engines_outside_the_default_set() {
        let nested: Vec<&Tier> = TIERS.iter().filter(|t| t.class == Class::Nested).collect();
        let ids: Vec<&str> = nested.iter().map(|tier| tier.id).collect();
        let self_test = "mutant:wasmi-on-rem-s-as-rem-u";
        let expected = [
            "wasmi-on-cranelift",
            "wasmi-on-pulley",
            "wasmi-on-wasmi",
            self_test,
        ];
        assert_eq!(ids, expected);
        for tier in nested {
            assert!(!tier.default, "{}", tier.id);
            assert!(!program_ids().contains(&tier.id), "{}", tier.id);
            let host = tier.host().expect("a nested tier has a host");
            assert!(program_engine(host).is_some(), "{host}");
            assert!(program_engine(tier.id).is_none(), "{}", tier.id);
        }
    }

    #[test]
    fn cpu_levels_are_settings_of_the_x86_tiers_that_have_no_level_of_their_own() {
        for text in ["wasmtime-aot@cpu=x86-64-v2", "wasmtime-winch@cpu=baseline"] {
            let choice = EngineChoice::parse(text).unwrap();
            assert_eq!(choice.to_string(), text);
        }
        for refused in [
            "wasmtime-aot-baseline@cpu=x86-64-v3",
            "wasmtime-pulley@cpu=baseline",
        ] {
            let why = EngineChoice::parse(refused).unwrap_err().to_string();
            let (_, variants) = why.split_once("its variants: ").expect("the variants");
            assert!(variants.contains("@opt-level=none"), "{why}");
            assert!(!variants.contains("cpu="), "{why}");
        }
        let engines = Engines::new(Watchdog::InEngine, Externals::default());
        let v3 = EngineChoice::parse("wasmtime-aot-x86-64-v3@opt-level=none").unwrap();
        let version = engines.engine(&v3).unwrap().version();
        assert_eq!(version, "48.0.8 (opt-level=none, cpu=x86-64-v3)");
    }

    #[test]
    fn choices_parse_once_and_print_back() {
        for text in [
            "wasmi",
            "mutant:rem-s-as-rem-u",
            "v8",
            "mine=node x.mjs",
            "asyncify@O1",
            "wasmtime-cranelift@opt-level=none",
            "wasmtime-winch@memory-reservation=1MiB,guard=0",
            "mutant:unwind-abandoned",
        ] {
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
        assert_eq!(
            EngineChoice::parse("asyncify@O0").unwrap().to_string(),
            "asyncify"
        );
        let unknown = EngineChoice::parse("asyncify@O2").unwrap_err().to_string();
        assert!(
            unknown.contains("its variants: asyncify@O1, asyncify@O3"),
            "{unknown}"
        );
        let unknown = EngineChoice::parse("wasmi@O1").unwrap_err().to_string();
        assert!(unknown.contains("its variants: none"), "{unknown}");
        for taken in ["wasmi=true", "v8=node", "mutant:x=true"] {
            let refused = EngineChoice::parse(taken).unwrap_err().to_string();
            assert!(refused.contains("is a built-in engine"), "{refused}");
        }
    }
}
