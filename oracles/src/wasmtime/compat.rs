//! AOT compatibility: artifacts of `wasmtime-aot` loaded by engines that differ from the compiler in one
//! setting, or changed on the way, as a deployment may. Each load must be refused or behave identically.

use super::{CpuLevel, Wasmtime, aot};
use crate::features;
use std::fmt;
use wasmparser::WasmFeatures;
use wasmtime::{Config, OptLevel, Strategy};

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
    /// Winch instead of Cranelift.
    Winch,
    /// The Pulley interpreter's target instead of x86-64.
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

/// The wasmtime release lockstep runs, as artifacts record it.
const VERSION: &[u8] = b"48.0.8";

/// The same release string with another patch number, as an artifact of another build would carry.
const OTHER_VERSION: &[u8] = b"48.0.9";

impl Setting {
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

    /// The setting called `name`, as [`Setting`]'s `Display` writes it.
    pub fn named(name: &str) -> Option<Setting> {
        Setting::all()
            .into_iter()
            .find(|setting| setting.to_string() == name)
    }

    /// `wasmtime-aot` with this difference between compiler and loader; an
    /// error when wasmtime refuses to build the loader at all.
    pub fn engine(self) -> wasmtime::Result<Wasmtime> {
        let at_level = |cpu| super::Tier { cpu, ..aot::TIER };
        let (compiler, loader) = match self {
            Setting::ArtifactCpu(level) => (at_level(level), aot::TIER),
            Setting::LoaderCpu(level) => (aot::TIER, at_level(level)),
            _ => (aot::TIER, aot::TIER),
        };
        let transit: fn(&mut Vec<u8>) = match self {
            Setting::Tampered(Tampering::Version) => {
                |artifact| replace(artifact, VERSION, OTHER_VERSION)
            }
            Setting::Tampered(Tampering::HeaderByte) => |artifact| artifact[4] ^= 0xff,
            Setting::Tampered(Tampering::Truncated) => {
                |artifact| artifact.truncate(artifact.len() / 2)
            }
            _ => |_| {},
        };
        let differ = |config: &mut Config| match self {
            Setting::WithoutProposal(_, flag) => {
                config.wasm_features(super::to_wasmtime(flag), false);
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
            LoaderOption::Winch => config.strategy(Strategy::Winch),
            LoaderOption::Pulley => config
                .target("pulley64")
                .expect("pulley64 is a target wasmtime always knows"),
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

/// Replaces every occurrence of `from` in `bytes` by `to`, of the same length.
fn replace(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let found: Vec<usize> = (0..bytes.len().saturating_sub(from.len()))
        .filter(|at| bytes[*at..].starts_with(from))
        .collect();
    for at in found {
        bytes[at..at + to.len()].copy_from_slice(to);
    }
}

/// As the table and `aot-compat`'s child processes name the setting.
impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Setting::WithoutProposal(name, _) => write!(f, "loader without {name}"),
            Setting::Loader(option) => write!(f, "loader {}", option.name()),
            Setting::LoaderCpu(level) => write!(f, "loader cpu={}", level.name()),
            Setting::ArtifactCpu(level) => write!(f, "artifact cpu={}", level.name()),
            Setting::Tampered(Tampering::Version) => write!(f, "version string 48.0.8 → 48.0.9"),
            Setting::Tampered(Tampering::HeaderByte) => write!(f, "ELF header byte 4 flipped"),
            Setting::Tampered(Tampering::Truncated) => write!(f, "file truncated to half"),
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
        for setting in all {
            assert_eq!(Setting::named(&setting.to_string()), Some(setting));
        }
    }

    #[test]
    fn another_release_is_refused() {
        let why = refusal(Setting::Tampered(Tampering::Version));
        assert!(why.contains("incompatible version '48.0.9'"), "{why}");
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

    #[test]
    fn a_changed_code_byte_is_accepted_and_misbehaves() {
        let flip: fn(&mut Vec<u8>) = |artifact| {
            replace(
                artifact,
                &0x1234_5678u32.to_le_bytes(),
                &0x1234_5679u32.to_le_bytes(),
            )
        };
        let engine = Wasmtime::deployed(aot::TIER, aot::TIER, |_| {}, flip).unwrap();
        assert_eq!(
            run(&engine),
            Ok(Outcome::Values(vec![Value::I32(0x1234_5679)]))
        );
    }
}
