//! Tools lockstep fetches from the npm registry on first use (binaryen.js, a current Node.js): where they live and how they are installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where lockstep installs the tools it fetches itself, and their caches:
/// `$LOCKSTEP_TOOLS`, or `target/lockstep/tools` in the workspace.
pub fn tools_dir() -> PathBuf {
    match std::env::var_os("LOCKSTEP_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/lockstep/tools"),
    }
}

/// Installs `name@version` into `package` with npm, staging it so that
/// concurrent first uses never see a half-installed package.
pub fn install(package: &Path, name: &str, version: &str) -> Result<(), String> {
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        return Err(format!(
            "installing {name} needs npm and Node.js: `node --version` did not run"
        ));
    }
    let staging = package.with_extension(format!("staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)
        .map_err(|e| format!("creating {}: {e}", staging.display()))?;
    let installed = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&staging)
        .arg(format!("{name}@{version}"))
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("installing {name} needs npm: {e}"))?;
    if !installed.status.success() {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(format!(
            "`npm install {name}@{version}` into {} failed: {}",
            package.display(),
            reason(&String::from_utf8_lossy(&installed.stderr))
        ));
    }
    if std::fs::rename(&staging, package).is_err() {
        // Another process installed it first.
        let _ = std::fs::remove_dir_all(&staging);
    }
    Ok(())
}

/// npm's reason for a failed install, without its stack trace and advice:
/// "code ECONNREFUSED; FetchError: request to … failed, reason: connect ECONNREFUSED …".
fn reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|line| line.trim_start_matches("npm error").trim())
        .take_while(|line| !line.is_empty() && !line.starts_with("at "))
        .filter(|line| !line.starts_with("syscall") && !line.starts_with("errno"))
        .take(4)
        .collect();
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offline_npm_install_fails_with_npms_reason_and_no_stack_trace() {
        let stderr = "npm error code ECONNREFUSED\n\
            npm error syscall connect\n\
            npm error errno ECONNREFUSED\n\
            npm error FetchError: request to http://127.0.0.1:9/binaryen failed, reason: connect ECONNREFUSED 127.0.0.1:9\n\
            npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)\n\
            npm error     at ClientRequest.emit (node:events:524:28)\n\
            npm error\n\
            npm error If you are behind a proxy, please make sure that the 'proxy' config is set properly.\n";
        assert_eq!(
            reason(stderr),
            "code ECONNREFUSED; FetchError: request to http://127.0.0.1:9/binaryen failed, \
             reason: connect ECONNREFUSED 127.0.0.1:9"
        );
    }
}
