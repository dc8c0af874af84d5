//! The example external engine: a built-in engine (wasmi by default) served over lockstep's line
//! protocol, with broken modes that show what lockstep does with an engine that misbehaves.
//!
//! `cargo xtask example-engine [--engine ID] [--broken MODE] [--pid-file PATH] [--unapplied LIMIT]...`;
//! see `docs/external-engines.md`.

use crate::Conclusion;
use oracles::Limit;
use oracles::external::protocol::Reply;
use protocol_server::Server;
use std::io::{StdoutLock, Write};
use std::path::Path;

/// How the example engine misbehaves on every `invoke` (or, `no-state`, every `state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Broken {
    /// Print a line that is not JSON.
    Garbage,
    /// Print a line with a byte that is not UTF-8, then go on serving.
    InvalidUtf8,
    /// Write a byte that is not UTF-8 to standard error, then answer correctly.
    StderrBytes,
    /// Answer with a 100 MB line.
    Flood,
    /// Answer correctly, but under the id of another request.
    WrongId,
    /// Start a process that sleeps for ten minutes (its pid appended to
    /// `--pid-file`), then answer correctly.
    Fork,
    /// Exit with status 3 in the middle of the call.
    Exit,
    /// Never answer.
    Hang,
    /// Answer every call, but never the `state` request after it (as V8 whose request ran
    /// out of time).
    NoState,
}

/// Bytes in the reply of `--broken flood`.
const FLOOD_BYTES: usize = 100 << 20;

/// A limit as the protocol names it (`memory_bytes`), for `--unapplied`.
pub fn limit(name: &str) -> Result<Limit, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|e| e.to_string())
}

pub fn serve(
    engine: &oracles::EngineChoice,
    broken: Option<Broken>,
    pid_file: Option<&Path>,
    unapplied: Vec<Limit>,
) -> anyhow::Result<Conclusion> {
    let engine = crate::select_engines(std::slice::from_ref(engine))?.remove(0);
    let name = format!("example ({})", engine.id());
    let mut server = Server::new(name, engine.as_ref()).leaving_unapplied(unapplied);
    let mut deliver = |invoked: bool, id: u64, reply: Reply, out: &mut StdoutLock| match broken {
        Some(Broken::NoState) if matches!(reply, Reply::State(_)) => sleep_forever(),
        Some(Broken::NoState) => Ok((id, reply)),
        Some(broken) if invoked => misbehave(broken, id, reply, pid_file, out),
        _ => Ok((id, reply)),
    };
    let mut out = std::io::stdout().lock();
    server.serve(std::io::stdin().lock(), &mut out, &mut deliver)?;
    Ok(Conclusion::Agree)
}

/// What a broken engine does instead of (or before) sending `reply` to request `id`:
/// the id and reply it sends after all, if it goes on.
fn misbehave(
    broken: Broken,
    id: u64,
    reply: Reply,
    pid_file: Option<&Path>,
    out: &mut impl Write,
) -> std::io::Result<(u64, Reply)> {
    match broken {
        Broken::Garbage => {
            writeln!(out, "Segmentation fault (core dumped)")?;
            out.flush()?;
            // Still alive, but out of step: lockstep must stop listening to it.
            sleep_forever()
        }
        Broken::InvalidUtf8 => {
            // A reply in every other way: one byte away from `{"id":…,"error":"?"}`.
            write!(out, "{{\"id\":{id},\"error\":\"")?;
            out.write_all(b"\xff\"}\n")?;
            out.flush()?;
            // Goes on reading requests, as a healthy engine would: lockstep must not wait for it to exit.
            Ok((id, reply))
        }
        Broken::StderrBytes => {
            let mut stderr = std::io::stderr().lock();
            stderr.write_all(b"warning: \xff\xfe\n")?;
            stderr.flush()?;
            Ok((id, reply))
        }
        Broken::Flood => {
            let chunk = [b' '; 1 << 16];
            for _ in 0..FLOOD_BYTES / chunk.len() {
                out.write_all(&chunk)?;
            }
            Ok((id, reply))
        }
        Broken::WrongId => Ok((id + 1, reply)),
        Broken::Fork => {
            let sleeper = std::process::Command::new("sleep").arg("600").spawn()?;
            let path =
                pid_file.ok_or_else(|| std::io::Error::other("--broken fork needs --pid-file"))?;
            let mut pids = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(pids, "{}", sleeper.id())?;
            Ok((id, reply))
        }
        Broken::Exit => std::process::exit(3),
        Broken::Hang | Broken::NoState => sleep_forever(),
    }
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
