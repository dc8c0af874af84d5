//! One running external engine: a [`Child`] spoken to in protocol lines, each request numbered
//! and each reply checked to answer the request it should.

use super::protocol::{Numbered, Reply, Request};
use crate::child::{Child, Silence};
use crate::outcome::{Outcome, Resource};
use std::process::Command;
use std::time::Instant;

/// The longest line an engine may write: far beyond any honest reply (a
/// state of 100,000 exported globals is a few megabytes), and a bound on
/// what a broken engine costs lockstep's memory.
pub const LINE_LIMIT: usize = 16 << 20;

/// Characters of an unreadable line shown in the outcome.
const SHOWN: usize = 200;

/// A started engine process.
pub struct Process {
    child: Child,
    /// The id of the next request.
    next_id: u64,
}

impl Process {
    /// Starts `command` (program, then arguments) in its own process group.
    pub fn spawn(command: &[String]) -> Result<Process, String> {
        let (program, args) = command.split_first().ok_or("an empty engine command")?;
        let child = Child::spawn(Command::new(program).args(args), LINE_LIMIT)
            .map_err(|e| format!("cannot start `{}`: {e}", command.join(" ")))?;
        Ok(Process { child, next_id: 0 })
    }

    /// Sends `request` under a fresh id, and returns the id its reply must carry.
    pub fn request(&mut self, request: &Request) -> Result<u64, Outcome> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&Numbered {
            id,
            message: request,
        })?;
        Ok(id)
    }

    /// Answers a host call made while serving request `id`.
    pub fn answer(&mut self, id: u64, reply: &Reply) -> Result<(), Outcome> {
        self.send(&Numbered { id, message: reply })
    }

    fn send<T: serde::Serialize>(&mut self, message: &T) -> Result<(), Outcome> {
        let line = serde_json::to_vec(message).expect("messages serialize");
        self.child.send(&line).map_err(|_| self.died())
    }

    /// The engine's next line as a reply to request `id`, by `deadline`. An
    /// engine that misses it is killed (the outcome is exhaustion of time);
    /// one that exits, or writes anything but a reply to `id`, has crashed.
    pub fn receive(&mut self, id: u64, deadline: Instant) -> Result<Reply, Outcome> {
        let line = match self.child.receive(deadline) {
            Ok(line) => line,
            Err(Silence::TimedOut) => return Err(Outcome::Exhausted(Resource::Time)),
            Err(silence) => return Err(Outcome::Crashed(format!("the engine {silence}"))),
        };
        let numbered = serde_json::from_slice::<Numbered<Reply>>(&line)
            .map_err(|e| self.reject(&line, &e.to_string()))?;
        if numbered.id != id {
            let why = format!(
                "a reply to request {} while request {id} is open",
                numbered.id
            );
            return Err(self.reject(&line, &why));
        }
        Ok(numbered.message)
    }

    /// Kills the engine for printing `line`, which is not the protocol.
    pub fn reject(&mut self, line: &[u8], error: &str) -> Outcome {
        self.child.kill();
        let shown: String = String::from_utf8_lossy(line).chars().take(SHOWN).collect();
        Outcome::Crashed(format!(
            "the engine printed something that is not the protocol ({error}): `{shown}`"
        ))
    }

    fn died(&mut self) -> Outcome {
        Outcome::Crashed(format!("the engine {}", self.child.ending()))
    }
}
