//! The nested tiers (`wasmi-on-*`): the wasmi guest, lockstep's protocol server compiled to Wasm
//! (`engines/wasmi-guest`), run as a WASI command with live standard streams on a host tier
//! ([`crate::wasi::live`]) and spoken to as an external engine. The host tier runs the guest as any
//! program and never knows; a bug in it shows as the guest's wasmi disagreeing with plain wasmi.

use crate::external;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The command that builds the guest.
pub const BUILD: &str = "cargo xtask guest";

/// The tier that runs the guest's runtime natively.
pub const GUEST_TIER: &str = "wasmi";

/// The subcommand of lockstep's executable that runs a WASI command live on a tier,
/// `EXE run-live --engine HOST GUEST`: the process a nested tier talks to.
pub const RUN_LIVE: &str = "run-live";

/// How many times an external engine's deadlines (start-up, call time) a nested tier's guest gets
/// before it is killed: its host compiles the whole guest first (a minute on Cranelift with the
/// machine loaded), its wasmi stops runaway calls by fuel as plain wasmi does, and its slowest host
/// (wasmi) runs it tens of times slower than plain wasmi.
pub const PATIENCE: u32 = 30;

/// The longest any engine may take to start: a nested tier's guest.
pub const STARTUP: Duration = Duration::from_secs(external::STARTUP.as_secs() * PATIENCE as u64);

/// Where [`BUILD`] puts the guest.
pub fn guest_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../engines/wasmi-guest/wasmi-guest.wasm"
    ))
}

/// A digest of the sources the guest is built from (its crate, `oracles`, `protocol-server`,
/// `Cargo.lock`) as this build of lockstep saw them (`build.rs`).
pub const SOURCES: &str = env!("LOCKSTEP_GUEST_SOURCES");

/// Where [`BUILD`] records the [`SOURCES`] of the guest it built.
pub fn stamp_path() -> PathBuf {
    guest_path().with_extension("sources")
}

/// Why the nested tiers cannot run here (the guest is not built, or built from other sources), or
/// `None`.
pub fn unavailable() -> Option<String> {
    unusable(&guest_path(), &stamp_path())
}

/// Why the guest at `guest`, stamped at `stamp`, cannot serve this build of lockstep, or `None`.
///
/// Rationale: a guest built from older sources speaks an older protocol or runs an older wasmi,
/// and its tiers would disagree with plain wasmi over lockstep's change, not an engine's bug
/// (`nested_cli` once blamed `guest:wasmi` so); refused, it is never compared.
fn unusable(guest: &Path, stamp: &Path) -> Option<String> {
    if !guest.exists() {
        return Some(format!("the wasmi guest is not built: run `{BUILD}`"));
    }
    let built_from = std::fs::read_to_string(stamp).unwrap_or_default();
    (built_from.trim() != SOURCES).then(|| {
        format!("the wasmi guest was built from other sources than this lockstep: run `{BUILD}`")
    })
}

/// The command that starts the guest on the tier `host`: this process's executable, which must be
/// lockstep's (`xtask`), running [`RUN_LIVE`].
pub fn command(host: &str) -> Result<Vec<String>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding lockstep's executable: {e}"))?;
    let guest = guest_path().display().to_string();
    let words = [RUN_LIVE, "--engine", host, guest.as_str()];
    let exe = exe.display().to_string();
    Ok(std::iter::once(exe.as_str())
        .chain(words)
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guest_is_refused_unless_stamped_with_these_sources() {
        let dir = tempfile::tempdir().unwrap();
        let (guest, stamp) = (
            dir.path().join("guest.wasm"),
            dir.path().join("guest.sources"),
        );
        let missing = unusable(&guest, &stamp).unwrap();
        assert!(
            missing.contains("not built: run `cargo xtask guest`"),
            "{missing}"
        );
        std::fs::write(&guest, b"\0asm\x01\0\0\0").unwrap();
        let unstamped = unusable(&guest, &stamp).unwrap();
        assert!(unstamped.contains("other sources than this lockstep: run `cargo xtask guest`"));
        std::fs::write(&stamp, "0123456789abcdef0123456789abcdef\n").unwrap();
        let stale = unusable(&guest, &stamp).unwrap();
        assert!(stale.contains("other sources than this lockstep: run `cargo xtask guest`"));
        std::fs::write(&stamp, format!("{SOURCES}\n")).unwrap();
        assert_eq!(unusable(&guest, &stamp), None);
    }
}
