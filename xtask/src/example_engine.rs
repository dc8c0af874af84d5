//! The example external engine: a built-in engine (wasmi by default) served over lockstep's line
//! protocol, with broken modes that show what lockstep does with an engine that misbehaves.
//!
//! `cargo xtask example-engine [--engine ID] [--broken MODE] [--pid-file PATH]`; see `docs/external-engines.md`.

use crate::Conclusion;
use oracles::external::protocol::{self, Numbered, Reply, Request, WireState};
use oracles::{Engine, InstanceId, Limits, ModuleId, Outcome, Session, features};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// How the example engine misbehaves on every `invoke`.
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
}

/// Bytes in the reply of `--broken flood`.
const FLOOD_BYTES: usize = 100 << 20;

/// One session's modules and instances, under the numbers lockstep gave them.
struct Served {
    session: Box<dyn Session>,
    modules: HashMap<usize, ModuleId>,
    instances: HashMap<usize, InstanceId>,
}

pub fn serve(
    engine: &oracles::EngineChoice,
    broken: Option<Broken>,
    pid_file: Option<&Path>,
) -> anyhow::Result<Conclusion> {
    let engine = crate::select_engines(std::slice::from_ref(engine))?.remove(0);
    let mut served: Option<Served> = None;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let (id, reply) = match serde_json::from_str::<Numbered<Request>>(&line?) {
            Ok(Numbered { id, message }) => {
                let invoked = matches!(message, Request::Invoke { .. });
                let reply = answer(engine.as_ref(), &mut served, message);
                match broken {
                    Some(broken) if invoked => misbehave(broken, id, reply, pid_file, &mut out)?,
                    _ => (id, reply),
                }
            }
            Err(e) => (0, Reply::Error(format!("unreadable request: {e}"))),
        };
        let numbered = Numbered { id, message: reply };
        writeln!(out, "{}", serde_json::to_string(&numbered)?)?;
        out.flush()?;
    }
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
) -> anyhow::Result<(u64, Reply)> {
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
            let path = pid_file.ok_or_else(|| anyhow::anyhow!("--broken fork needs --pid-file"))?;
            let mut pids = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(pids, "{}", sleeper.id())?;
            Ok((id, reply))
        }
        Broken::Exit => std::process::exit(3),
        Broken::Hang => sleep_forever(),
    }
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// The reply to one request, from the built-in engine.
fn answer(engine: &dyn Engine, served: &mut Option<Served>, request: Request) -> Reply {
    let done = || Reply::Values(Vec::new());
    if let Request::Hello { .. } = request {
        return Reply::Hello {
            name: format!("example ({})", engine.id()),
            version: engine.version(),
            proposals: features::names(engine.features())
                .into_iter()
                .map(str::to_string)
                .collect(),
            validates: true,
        };
    }
    if let Request::Reset { limits } = &request {
        *served = Some(Served {
            session: engine.session(&Limits::from(limits)),
            modules: HashMap::new(),
            instances: HashMap::new(),
        });
        return done();
    }
    let Some(served) = served else {
        return Reply::Error("no session: send `reset` first".into());
    };
    match served.request(request) {
        Ok(reply) => reply,
        Err(outcome) => Reply::from_outcome(outcome),
    }
}

impl Served {
    fn request(&mut self, request: Request) -> Result<Reply, Outcome> {
        let done = Reply::Values(Vec::new());
        Ok(match request {
            Request::Hello { .. } | Request::Reset { .. } => done,
            Request::Load { module, wasm, .. } => {
                let wasm = protocol::unhex(&wasm).map_err(Outcome::HarnessFailed)?;
                let id = self.session.compile(&wasm)?;
                self.modules.insert(module, id);
                done
            }
            Request::Instantiate {
                module, instance, ..
            } => {
                let id = self.session.instantiate(*lookup(&self.modules, module)?)?;
                self.instances.insert(instance, id);
                done
            }
            Request::Register { instance, name } => {
                self.session
                    .register(&name, *lookup(&self.instances, instance)?);
                done
            }
            Request::Invoke {
                instance,
                export,
                args,
            } => {
                let args: Vec<_> = args.into_iter().map(|v| v.0).collect();
                let instance = *lookup(&self.instances, instance)?;
                Reply::from_outcome(self.session.invoke(instance, &export, &args))
            }
            Request::Global { instance, export } => {
                let instance = *lookup(&self.instances, instance)?;
                Reply::from_outcome(self.session.global(instance, &export))
            }
            Request::State { instance } => {
                let instance = *lookup(&self.instances, instance)?;
                Reply::State(WireState::from_state(self.session.state(instance)))
            }
        })
    }
}

fn lookup<T>(numbered: &HashMap<usize, T>, number: usize) -> Result<&T, Outcome> {
    numbered
        .get(&number)
        .ok_or_else(|| Outcome::HarnessFailed(format!("nothing numbered {number}")))
}
