//! The nested tiers (`wasmi-on-*`): the wasmi guest, lockstep's protocol server compiled to Wasm
//! (`engines/wasmi-guest`), run as a WASI command with live standard streams on a host tier
//! ([`crate::wasi::live`]) and spoken to as an external engine. The host tier runs the guest as any
//! program and never knows; a bug in it shows as the guest's wasmi disagreeing with plain wasmi.

use crate::external;
use std::path::PathBuf;
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

/// Why the nested tiers cannot run here (the guest is not built), or `None`.
pub fn unavailable() -> Option<String> {
    let missing = !guest_path().exists();
    missing.then(|| format!("the wasmi guest is not built: run `{BUILD}`"))
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
