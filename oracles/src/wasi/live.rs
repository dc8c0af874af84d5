//! A WASI command run with this process's own standard streams, live: how a nested tier runs its
//! guest on a host tier. The guest reads requests and answers them as they come; the host tier runs
//! it as any other program and never knows.

use super::sandbox::{Sandbox, Streams};
use super::{Ending, Entry, ProgramEngine};
use crate::engine::Limits;
use std::time::Duration;

/// The time limit of the one `_start` call a guest spends serving a whole run: about 136 years.
/// The client that talks to the guest gives each request a deadline and kills the process when
/// one passes, so the host tier's own limit must stay out of the way.
const SERVING: Duration = Duration::from_secs(u32::MAX as u64);

/// Runs the command `wasm`, named `program` in its `argv`, on `engine` with this process's standard
/// streams, until it exits; how it ended.
pub fn run(engine: &dyn ProgramEngine, wasm: &[u8], program: &str) -> Ending {
    let sandbox = Sandbox {
        streams: Streams::Live,
        ..Sandbox::new(program, &[])
    };
    let limits = Limits {
        call_time: SERVING,
        ..Limits::default()
    };
    super::run(engine, wasm, &sandbox, &Entry::Command, &limits).ending
}
