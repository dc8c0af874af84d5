//! AOT compatibility: artifacts of `wasmtime-aot` loaded by engines that differ from the compiler in one
//! setting, or changed on the way, as a deployment may. Each load must be refused or behave identically.

use super::{CpuLevel, Wasmtime, aot, pulley, winch};
use crate::features;
use std::fmt;
use std::ops::Range;
use wasmparser::WasmFeatures;
use wasmtime::{Config, OptLevel};

/// One way the loading side differs from lockstep's `wasmtime-aot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The loader lacks one proposal the compiler had (lockstep's name).
    WithoutProposal(&'static str, WasmFeatures),
    /// One option of the loader's configuration differs.
    Loader(LoaderOption),
    /// The loader is configured for another CPU level; the artifact is for the host's.
    LoaderCpu(CpuLevel),
    /// The artifact is compiled for another CPU level; the loader is configured for the host's.
    ArtifactCpu(CpuLevel),
    /// The artifact is changed between compiler and loader.
    Tampered(Tampering),
}

/// Loader options that differ from the compiler's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoaderOption {
    /// A 1 MiB memory reservation instead of wasmtime's 4 GiB.
    SmallReservation,
    /// No guard region after linear memories.
    NoGuard,
    /// Explicit bounds checks instead of signal handlers.
    NoSignals,
    /// No epoch interruption checks in the code.
    NoEpochs,
    /// Fuel metering checks in the code.
    Fuel,
    /// Cranelift without optimizations.
    Unoptimized,
    /// Winch instead of Cranelift, with the proposals lockstep's `wasmtime-winch` has.
    Winch,
    /// The Pulley interpreter's target instead of x86-64, configured as lockstep's `wasmtime-pulley`.
    Pulley,
}

/// Changes an artifact may suffer on its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tampering {
    /// wasmtime's version string in the artifact names another release.
    Version,
    /// One byte of the ELF header (its class) is flipped.
    HeaderByte,
    /// The file is cut in half.
    Truncated,
    /// Every byte of the memory images is inverted: wasmtime checks an
    /// artifact's configuration, not its contents, so this one loads and
    /// runs differently ([`Setting::SELF_TEST`]).
    DataImage,
}

const LOADER_OPTIONS: [LoaderOption; 8] = [
    LoaderOption::SmallReservation,
    LoaderOption::NoGuard,
    LoaderOption::NoSignals,
    LoaderOption::NoEpochs,
    LoaderOption::Fuel,
    LoaderOption::Unoptimized,
    LoaderOption::Winch,
    LoaderOption::Pulley,
];

const TAMPERINGS: [Tampering; 3] = [
    Tampering::Version,
    Tampering::HeaderByte,
    Tampering::Truncated,
];

/// The ELF section where wasmtime records the release that compiled an artifact and its configuration.
const ENGINE_SECTION: &str = ".wasmtime.engine";

/// The ELF section of an artifact that holds its linear memories' initial images.
const DATA_SECTION: &str = ".rodata.wasm";

/// The release a tampered artifact claims to be from; wasmtime records and
/// compares only the major version (`48`).
const OTHER_VERSION: &[u8] = b"47";

impl Setting {
    /// The load the check's self-test adds: an artifact whose memory images
    /// changed on the way, which loads and misbehaves.
    pub const SELF_TEST: Setting = Setting::Tampered(Tampering::DataImage);

    /// Every setting the check tries, in table order.
    pub fn all() -> Vec<Setting> {
        let proposals = features::PROPOSALS
            .iter()
            .filter(|(_, flag)| (aot::TIER.features)().contains(*flag))
            .map(|(name, flag)| Setting::WithoutProposal(name, *flag));
        let levels = CpuLevel::ALL.into_iter().skip(1);
        proposals
            .chain(LOADER_OPTIONS.map(Setting::Loader))
            .chain(levels.clone().map(Setting::LoaderCpu))
            .chain(levels.map(Setting::ArtifactCpu))
            .chain(TAMPERINGS.map(Setting::Tampered))
            .collect()
    }

    /// The setting called `name`, as [`Setting`]'s `Display` writes it, the self-test's among them.
    pub fn named(name: &str) -> Option<Setting> {
        let mut every = Setting::all().into_iter().chain([Setting::SELF_TEST]);
        every.find(|setting| setting.to_string() == name)
    }

    /// `wasmtime-aot` with this difference between compiler and loader; an
    /// error when wasmtime refuses to build the loader at all.
    pub fn engine(self) -> wasmtime::Result<Wasmtime> {
        let at_level = |cpu| super::Tier {
            cpu: Some(cpu),
            ..aot::TIER
        };
        // Winch and Pulley refuse some proposals: the compiler goes without
        // them too, so that the compiler is all that differs.
        let like = |tier: super::Tier| super::Tier {
            features: tier.features,
            ..aot::TIER
        };
        let (compiler, loader) = match self {
            Setting::ArtifactCpu(level) => (at_level(level), aot::TIER),
            Setting::LoaderCpu(level) => (aot::TIER, at_level(level)),
            Setting::Loader(LoaderOption::Winch) => (like(winch::TIER), winch::TIER),
            Setting::Loader(LoaderOption::Pulley) => (like(pulley::TIER), pulley::TIER),
            _ => (aot::TIER, aot::TIER),
        };
        let transit: fn(&mut Vec<u8>) = match self {
            Setting::Tampered(Tampering::Version) => |artifact| {
                let version = recorded_version(artifact).expect("an engine section");
                artifact[version].copy_from_slice(OTHER_VERSION);
            },
            Setting::Tampered(Tampering::HeaderByte) => |artifact| artifact[4] ^= 0xff,
            Setting::Tampered(Tampering::Truncated) => {
                |artifact| artifact.truncate(artifact.len() / 2)
            }
            Setting::Tampered(Tampering::DataImage) => |artifact| {
                let images = section(artifact, DATA_SECTION).expect("memory images");
                artifact[images].iter_mut().for_each(|byte| *byte = !*byte);
            },
            _ => |_| {},
        };
        let differ = |config: &mut Config| match self {
            Setting::WithoutProposal(_, flag) => {
                config.wasm_features(super::to_wasmtime(with_dependents(flag)), false);
            }
            Setting::Loader(option) => option.apply(config),
            _ => {}
        };
        Wasmtime::deployed(compiler, loader, differ, transit)
    }
}

impl LoaderOption {
    fn apply(self, config: &mut Config) {
        match self {
            LoaderOption::SmallReservation => config.memory_reservation(1 << 20),
            LoaderOption::NoGuard => config.memory_guard_size(0),
            LoaderOption::NoSignals => config.signals_based_traps(false),
            LoaderOption::NoEpochs => config.epoch_interruption(false),
            LoaderOption::Fuel => config.consume_fuel(true),
            LoaderOption::Unoptimized => config.cranelift_opt_level(OptLevel::None),
            // The loader is built as that tier (see `Setting::engine`).
            LoaderOption::Winch | LoaderOption::Pulley => config,
        };
    }

    fn name(self) -> &'static str {
        match self {
            LoaderOption::SmallReservation => "memory-reservation=1MiB",
            LoaderOption::NoGuard => "memory-guard-size=0",
            LoaderOption::NoSignals => "signals-based-traps=off",
            LoaderOption::NoEpochs => "epoch-interruption=off",
            LoaderOption::Fuel => "consume-fuel=on",
            LoaderOption::Unoptimized => "opt-level=none",
            LoaderOption::Winch => "strategy=winch",
            LoaderOption::Pulley => "target=pulley64",
        }
    }
}

/// `flag` and the proposals wasmtime refuses to enable without it.
fn with_dependents(flag: WasmFeatures) -> WasmFeatures {
    match flag == WasmFeatures::SIMD {
        true => flag | WasmFeatures::RELAXED_SIMD,
        false => flag,
    }
}

/// Where `artifact` records the wasmtime release that compiled it: in its engine
/// section, after a format byte and the string's length.
fn recorded_version(artifact: &[u8]) -> Option<Range<usize>> {
    let start = section(artifact, ENGINE_SECTION)?.start + 2;
    let length = usize::from(*artifact.get(start - 1)?);
    Some(start..start + length)
}

/// Where the section `name` lies in `artifact`, if it is an ELF file that has one.
fn section(artifact: &[u8], name: &str) -> Option<Range<usize>> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(artifact).ok()?;
    let (start, size) = file.section_by_name(name)?.file_range()?;
    let start = usize::try_from(start).ok()?;
    Some(start..start + usize::try_from(size).ok()?)
}

/// As the table and `aot-compat`'s child processes name the setting.
impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Setting::WithoutProposal(name, _) => write!(f, "loader without {name}"),
            Setting::Loader(option) => write!(f, "loader {}", option.name()),
            Setting::LoaderCpu(level) => write!(f, "loader cpu={}", level.name()),
            Setting::ArtifactCpu(level) => write!(f, "artifact cpu={}", level.name()),
            Setting::Tampered(Tampering::Version) => write!(f, "version string 48 → 47"),
            Setting::Tampered(Tampering::HeaderByte) => write!(f, "ELF header byte 4 flipped"),
            Setting::Tampered(Tampering::Truncated) => write!(f, "file truncated to half"),
            Setting::Tampered(Tampering::DataImage) => {
                write!(f, "memory image inverted (self-test)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Limits};
    use crate::outcome::{Outcome, Value};
    use crate::testing::wat;

    const MODULE: &str =
        r#"(module (memory 1) (func (export "f") (result i32) (i32.const 0x12345678)))"#;

    /// What calling `f` gives after a load under `setting`: the refusal is the `Err`.
    fn load(setting: Setting) -> Result<Outcome, String> {
        run(&setting.engine().unwrap())
    }

    fn run(engine: &Wasmtime) -> Result<Outcome, String> {
        let mut session = engine.session(&Limits::default());
        match session.compile(&wat(MODULE)) {
            Ok(module) => {
                let instance = session.instantiate(module).unwrap();
                Ok(session.invoke(instance, "f", &[]))
            }
            Err(Outcome::Invalid(why)) => Err(why),
            Err(other) => panic!("{other}"),
        }
    }

    fn refusal(setting: Setting) -> String {
        load(setting).expect_err("refused")
    }

    fn answered() -> Outcome {
        Outcome::Values(vec![Value::I32(0x1234_5678)])
    }

    #[test]
    fn every_setting_has_a_name_that_reads_back() {
        let all = Setting::all();
        assert!(all.len() > 30, "{all:?}");
        for setting in all.into_iter().chain([Setting::SELF_TEST]) {
            assert_eq!(Setting::named(&setting.to_string()), Some(setting));
        }
    }

    #[test]
    fn artifacts_record_the_major_release() {
        let engine = wasmtime::Engine::default();
        let artifact = engine.precompile_module(&wat(MODULE)).unwrap();
        let version = recorded_version(&artifact).expect("an engine section");
        assert_eq!(&artifact[version], b"48");
    }

    #[test]
    fn another_release_is_refused() {
        let why = refusal(Setting::Tampered(Tampering::Version));
        assert!(why.contains("incompatible version '47'"), "{why}");
    }

    #[test]
    fn a_damaged_file_is_refused() {
        let why = refusal(Setting::Tampered(Tampering::HeaderByte));
        assert!(
            why.contains("failed to parse precompiled artifact as an ELF"),
            "{why}"
        );
        assert!(load(Setting::Tampered(Tampering::Truncated)).is_err());
    }

    #[test]
    fn a_loader_without_a_proposal_is_refused() {
        let simd = Setting::named("loader without simd").unwrap();
        let why = refusal(simd);
        assert!(why.contains("WebAssembly feature `simd`"), "{why}");
    }

    #[test]
    fn other_memory_or_trap_settings_are_refused() {
        for option in [
            LoaderOption::SmallReservation,
            LoaderOption::NoGuard,
            LoaderOption::NoSignals,
        ] {
            let why = refusal(Setting::Loader(option));
            assert!(
                why.contains("Module was compiled with"),
                "{option:?}: {why}"
            );
        }
    }

    #[test]
    fn another_target_is_refused() {
        let why = refusal(Setting::Loader(LoaderOption::Pulley));
        assert!(why.contains("compiled for architecture 'x86_64'"), "{why}");
    }

    #[test]
    fn artifacts_for_any_level_run_on_a_loader_at_any_level() {
        for level in [CpuLevel::Baseline, CpuLevel::X86_64V3] {
            assert_eq!(load(Setting::ArtifactCpu(level)), Ok(answered()));
            assert_eq!(load(Setting::LoaderCpu(level)), Ok(answered()));
        }
    }

    /// wasmtime checks an artifact's configuration, not its code: a changed
    /// immediate loads and runs.
    #[test]
    fn a_changed_code_byte_is_accepted_and_misbehaves() {
        let flip: fn(&mut Vec<u8>) = |artifact| {
            let constant = 0x1234_5678u32.to_le_bytes();
            let at = artifact.windows(4).position(|w| w == constant);
            artifact[at.expect("the constant in the code")] ^= 1;
        };
        let engine = Wasmtime::deployed(aot::TIER, aot::TIER, |_| {}, flip).unwrap();
        assert_eq!(
            run(&engine),
            Ok(Outcome::Values(vec![Value::I32(0x1234_5679)]))
        );
    }
}
