//! The example external engine: a built-in engine (wasmi by default) served over lockstep's line
//! protocol, with broken modes that show what lockstep does with an engine that misbehaves.
//!
//! `cargo xtask example-engine [--engine ID] [--broken garbage|exit|hang]`; see `docs/external-engines.md`.

use crate::Conclusion;
use oracles::external::protocol::{self, Reply, Request, WireState};
use oracles::{Engine, InstanceId, Limits, ModuleId, Outcome, Session, features};
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// How the example engine misbehaves on every `invoke`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Broken {
    /// Print a line that is not JSON.
    Garbage,
    /// Exit with status 3 in the middle of the call.
    Exit,
    /// Never answer.
    Hang,
}

/// One session's modules and instances, under the numbers lockstep gave them.
struct Served {
    session: Box<dyn Session>,
    modules: HashMap<usize, ModuleId>,
    instances: HashMap<usize, InstanceId>,
}

pub fn serve(engine: &oracles::EngineChoice, broken: Option<Broken>) -> anyhow::Result<Conclusion> {
    let engine = crate::select_engines(std::slice::from_ref(engine))?.remove(0);
    let mut served: Option<Served> = None;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let reply = match (serde_json::from_str::<Request>(&line?), broken) {
            (Ok(Request::Invoke { .. }), Some(broken)) => misbehave(broken),
            (Ok(request), _) => answer(engine.as_ref(), &mut served, request),
            (Err(e), _) => Reply::Error(format!("unreadable request: {e}")),
        };
        writeln!(out, "{}", serde_json::to_string(&reply)?)?;
        out.flush()?;
    }
    Ok(Conclusion::Agree)
}

/// What a broken engine does instead of answering a call.
fn misbehave(broken: Broken) -> ! {
    match broken {
        Broken::Garbage => {
            println!("Segmentation fault (core dumped)");
            // Still alive, but out of step: lockstep must stop listening to it.
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Broken::Exit => std::process::exit(3),
        Broken::Hang => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
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
