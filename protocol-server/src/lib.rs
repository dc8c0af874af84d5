//! The server side of lockstep's line protocol (`docs/external-engines.md`) over any built-in engine:
//! the example engine (`cargo xtask example-engine`) and the wasmi guest (`engines/wasmi-guest`) serve
//! through it.

use oracles::external::protocol::{self, Numbered, Reply, Request, WireLimits, WireState};
use oracles::{Engine, InstanceId, Limit, Limits, ModuleId, Outcome, Session, features};
use std::collections::HashMap;
use std::io::{self, BufRead, Write};

/// A protocol server: the engine, and its current session once `reset` opened one.
pub struct Server<'a> {
    name: String,
    engine: &'a dyn Engine,
    /// Limits of `reset` the server leaves at the engine's defaults, and says so in `hello`.
    unapplied: Vec<Limit>,
    served: Option<Served>,
}

/// One session's modules and instances, under the numbers lockstep gave them.
struct Served {
    session: Box<dyn Session>,
    modules: HashMap<usize, ModuleId>,
    instances: HashMap<usize, InstanceId>,
}

/// What happens to each reply on its way out: the id and reply to write, given
/// whether the request was an `invoke`. The example engine misbehaves here.
pub type Deliver<'a, W> = dyn FnMut(bool, u64, Reply, &mut W) -> io::Result<(u64, Reply)> + 'a;

impl<'a> Server<'a> {
    /// A server over `engine` that introduces itself as `name`.
    pub fn new(name: String, engine: &'a dyn Engine) -> Server<'a> {
        Server {
            name,
            engine,
            unapplied: Vec::new(),
            served: None,
        }
    }

    /// The server, leaving `unapplied` at the engine's defaults whatever `reset` asks, as an
    /// engine that cannot apply them would (the example engine's `--unapplied`).
    pub fn leaving_unapplied(self, unapplied: Vec<Limit>) -> Server<'a> {
        Server { unapplied, ..self }
    }

    /// Answers every request line of `input` on `output` until `input` ends, passing each reply
    /// through `deliver`.
    pub fn serve<W: Write>(
        &mut self,
        input: impl BufRead,
        output: &mut W,
        deliver: &mut Deliver<'_, W>,
    ) -> io::Result<()> {
        for line in input.lines() {
            let (id, reply) = match read(&line?) {
                Ok(Numbered { id, message }) => {
                    let invoked = matches!(message, Request::Invoke { .. });
                    let reply = self.answer(message);
                    deliver(invoked, id, reply, output)?
                }
                Err((id, e)) => (id, Reply::Error(format!("unreadable request: {e}"))),
            };
            let line = serde_json::to_string(&Numbered { id, message: reply })?;
            writeln!(output, "{line}")?;
            output.flush()?;
        }
        Ok(())
    }

    /// The limits of a `reset` as the engine applies them: those it leaves unapplied at defaults.
    fn applied(&self, wire: &WireLimits) -> Limits {
        let (asked, default) = (Limits::from(wire), Limits::default());
        let from = |limit: Limit| match self.unapplied.contains(&limit) {
            true => &default,
            false => &asked,
        };
        Limits {
            memory_bytes: from(Limit::MemoryBytes).memory_bytes,
            table_elements: from(Limit::TableElements).table_elements,
            instances: from(Limit::Instances).instances,
            call_time: from(Limit::CallTimeMs).call_time,
            ..asked.clone()
        }
    }

    /// The reply to one request, from the engine.
    pub fn answer(&mut self, request: Request) -> Reply {
        let done = || Reply::Values(Vec::new());
        if let Request::Hello { .. } = request {
            return Reply::Hello {
                name: self.name.clone(),
                version: self.engine.version(),
                proposals: features::names(self.engine.features())
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                validates: true,
                unapplied: self.unapplied.clone(),
            };
        }
        if let Request::Reset { limits } = &request {
            self.served = Some(Served {
                session: self.engine.session(&self.applied(limits)),
                modules: HashMap::new(),
                instances: HashMap::new(),
            });
            return done();
        }
        let Some(served) = &mut self.served else {
            return Reply::Error("no session: send `reset` first".into());
        };
        match served.request(request) {
            Ok(reply) => reply,
            Err(outcome) => Reply::from_outcome(outcome),
        }
    }
}

/// One request line; if it is no request, the error under the line's id (0 when it has none), so
/// that the error answers the request lockstep sent.
fn read(line: &str) -> Result<Numbered<Request>, (u64, serde_json::Error)> {
    let numbered: Numbered<serde_json::Value> = serde_json::from_str(line).map_err(|e| (0, e))?;
    let id = numbered.id;
    let message = serde_json::from_value(numbered.message).map_err(|e| (id, e))?;
    Ok(Numbered { id, message })
}

/// Every reply as the engine gave it: a server that behaves.
pub fn as_given<W>(
    _invoked: bool,
    id: u64,
    reply: Reply,
    _output: &mut W,
) -> io::Result<(u64, Reply)> {
    Ok((id, reply))
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
                match self.session.state(instance) {
                    Ok(state) => Reply::State(WireState::from_state(state)),
                    Err(unread) => Reply::Error(unread.to_string()),
                }
            }
        })
    }
}

fn lookup<T>(numbered: &HashMap<usize, T>, number: usize) -> Result<&T, Outcome> {
    numbered
        .get(&number)
        .ok_or_else(|| Outcome::HarnessFailed(format!("nothing numbered {number}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value as Json, json};

    /// `(module (func (export "f") (result i32) (i32.const 42)))`.
    const ANSWER: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
        0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00, 0x0a, 0x06, 0x01, 0x04,
        0x00, 0x41, 0x2a, 0x0b,
    ];

    fn served(requests: &[Json]) -> Vec<Json> {
        let input: String = requests.iter().map(|r| format!("{r}\n")).collect();
        let wasmi = oracles::wasmi::Wasmi::new();
        let mut output = Vec::new();
        let mut server = Server::new("test".to_string(), &wasmi);
        server
            .serve(input.as_bytes(), &mut output, &mut as_given)
            .unwrap();
        let lines = String::from_utf8(output).unwrap();
        lines
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn answers_each_request_under_its_id() {
        let limits = json!({"memory_bytes": 1u64 << 32, "table_elements": 1000, "instances": 10,
            "call_time_ms": 1000, "host_functions": false});
        let replies = served(&[
            json!({"id": 0, "op": "hello", "protocol": protocol::VERSION}),
            json!({"id": 1, "op": "invoke", "instance": 0, "export": "f", "args": []}),
            json!({"id": 2, "op": "reset", "limits": limits}),
            json!({"id": 3, "op": "load", "module": 0, "wasm": protocol::hex(ANSWER),
                "imports": [], "exports": []}),
            json!({"id": 4, "op": "instantiate", "module": 0, "instance": 0, "host_functions": []}),
            json!({"id": 5, "op": "invoke", "instance": 0, "export": "f", "args": []}),
            json!({"id": 6, "op": "explode"}),
        ]);
        assert_eq!(replies[0]["hello"]["name"], "test");
        assert_eq!(replies[1]["error"], "no session: send `reset` first");
        assert_eq!(replies[2], json!({"id": 2, "values": []}));
        assert_eq!(
            replies[5]["values"],
            json!([{"type": "i32", "value": "42"}])
        );
        let ids: Vec<u64> = replies.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, [0, 1, 2, 3, 4, 5, 6]);
        let unreadable = replies[6]["error"].as_str().unwrap();
        assert!(unreadable.starts_with("unreadable request"), "{unreadable}");
    }
}
