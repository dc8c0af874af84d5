//! The unwind/rewind protocol shared by an Asyncify session and the import hook it installs in its base engine.
//!
//! Binaryen's Asyncify adds `asyncify_start_unwind`, `asyncify_stop_unwind`,
//! `asyncify_start_rewind`, `asyncify_stop_rewind` and `asyncify_get_state`;
//! lockstep's instrumenter exports them as `lockstep:asyncify_*`, so that a
//! module that was instrumented already keeps its own. At an import call the
//! wrapper first calls the real import, then starts an unwind: every
//! instrumented frame saves its locals into the buffer and returns. The session sees the export return while unwinding, stops the
//! unwind, starts a rewind and calls the export again; the frames restore
//! themselves, and on reaching the import again the wrapper stops the rewind
//! and hands back the real import's results.

use crate::hook::{HookFailure, HookedCall, ImportHook};
use crate::outcome::{Outcome, Resource, Value};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `asyncify_get_state` while frames are saving themselves.
pub const UNWINDING: i32 = 1;
/// `asyncify_get_state` while frames are restoring themselves.
pub const REWINDING: i32 = 2;

/// The secondary memory holding the unwind buffer, exported by lockstep's instrumenter.
pub const MEMORY: &str = "lockstep:asyncify_memory";
/// Where the buffer's header (current position, end) sits in [`MEMORY`].
pub const HEADER: i32 = 0;
/// The secondary memory's size for modules, in 64 KiB pages; the buffer fills it.
/// Spec and fuzzing modules' stacks are shallow, and every instance gets one:
/// wasmi zero-fills each memory it creates, and 16 pages took 0.7 ms per
/// instance (most of `asyncify-wasmi`'s time in the spec suites). A call whose
/// frames outgrow the buffer ends `exhausted Stack`, never a divergence.
pub const MODULE_PAGES: u32 = 4;
/// The secondary memory's size for WASI programs. An interpreter's stack under a
/// WASI call is deep and its frames wide once instrumented: CPython 3.12 starting
/// up overflows 16 pages.
pub const PROGRAM_PAGES: u32 = 256;

/// The header Asyncify expects before an unwind: save from just past the
/// header to the end of a [`MEMORY`] of `pages`.
fn header(pages: u32) -> [u8; 8] {
    let start = (HEADER + 8) as u32;
    let end = pages * 65536;
    let mut bytes = [0; 8];
    bytes[..4].copy_from_slice(&start.to_le_bytes());
    bytes[4..].copy_from_slice(&end.to_le_bytes());
    bytes
}

/// The driver's exports, as lockstep's instrumenter names them.
const START_UNWIND: &str = "lockstep:asyncify_start_unwind";
const STOP_UNWIND: &str = "lockstep:asyncify_stop_unwind";
const START_REWIND: &str = "lockstep:asyncify_start_rewind";
const STOP_REWIND: &str = "lockstep:asyncify_stop_rewind";
const GET_STATE: &str = "lockstep:asyncify_get_state";

/// Whether binaryen left the driver's functions in `instrumented`: it removes
/// them from a module that imports no function, where nothing unwinds.
pub fn has_driver(instrumented: &[u8]) -> bool {
    let facts = crate::facts::read(instrumented);
    facts.exports.iter().any(|export| export.name == GET_STATE)
}

/// Import calls of one invocation that all unwind; after them only every
/// [`THEN_EVERY`]th does. A cycle costs time in proportion to the stack depth,
/// and a hot loop around an import adds cost with no new coverage.
pub const UNWIND_FIRST: u64 = 100;
/// See [`UNWIND_FIRST`].
pub const THEN_EVERY: u64 = 10;

/// Which import calls may unwind, shared between a session and its wrappers.
///
/// Only a call made directly by the instance the harness invoked, with no other
/// import call in progress, unwinds: Asyncify keeps one stack of saved frames,
/// and frames of another instance (or of code running inside an import) would
/// not know that an unwind is under way. A wrapper is known by the instance
/// that imported it, not by its caller: an import placed in a table and called
/// from another instrumented instance would unwind the wrong stack. No spec
/// test does that; fuzzing runs one module at a time.
#[derive(Debug)]
pub struct Control {
    inner: Mutex<Inner>,
    /// The size of the instrumented module's [`MEMORY`], in pages.
    pages: u32,
    /// A planted driver bug (see [`super::planted`]): calls are given up at their first unwind.
    abandons_unwinds: bool,
}

#[derive(Debug, Default)]
struct Inner {
    /// The tag of each instance, by instance id.
    tags: Vec<u64>,
    next_tag: u64,
    /// The tag of the instance whose export the harness is calling.
    invoked: Option<u64>,
    /// Import calls in progress.
    depth: usize,
    /// Import calls the invoked instance made directly in this invocation.
    direct_calls: u64,
    /// Unwind/rewind cycles so far.
    unwinds: u64,
}

impl Control {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A tag for the instance about to be created: its wrappers carry it.
    pub fn reserve_tag(&self) -> u64 {
        let mut inner = self.inner();
        inner.next_tag += 1;
        inner.next_tag
    }

    /// Records that the instance with `tag` was created, as the next instance id.
    pub fn bind(&self, tag: u64) {
        self.inner().tags.push(tag);
    }

    /// The harness is about to call an export of instance `instance`.
    pub fn begin_invoke(&self, instance: usize) {
        let mut inner = self.inner();
        inner.invoked = inner.tags.get(instance).copied();
        inner.depth = 0;
        inner.direct_calls = 0;
    }

    /// The harness's call has returned for good.
    pub fn end_invoke(&self) {
        self.inner().invoked = None;
    }

    /// An import of the instance with `tag` is being called: whether it may unwind once it returns.
    pub fn enter_import(&self, tag: u64) -> bool {
        let mut inner = self.inner();
        let direct = inner.invoked == Some(tag) && inner.depth == 0;
        inner.depth += 1;
        if !direct {
            return false;
        }
        inner.direct_calls += 1;
        let n = inner.direct_calls;
        n <= UNWIND_FIRST || n.is_multiple_of(THEN_EVERY)
    }

    /// The import call entered last has returned (or failed).
    pub fn leave_import(&self) {
        let mut inner = self.inner();
        inner.depth = inner.depth.saturating_sub(1);
    }

    /// Counts one unwind the wrapper started.
    pub fn count_unwind(&self) {
        self.inner().unwinds += 1;
    }

    /// A control for modules instrumented with a buffer of `pages`.
    pub fn new(pages: u32) -> Control {
        Control {
            inner: Mutex::default(),
            pages,
            abandons_unwinds: false,
        }
    }

    /// This control, giving calls up at their first unwind when `abandons` (a planted bug).
    pub fn abandoning(self, abandons: bool) -> Control {
        Control {
            abandons_unwinds: abandons,
            ..self
        }
    }

    /// Unwind/rewind cycles since the session started.
    pub fn unwinds(&self) -> u64 {
        self.inner().unwinds
    }
}

/// One harness call of an instrumented export: `call` runs an export of the
/// instance (`outcome_of` reads what it did), and after every unwind the
/// export is resumed with a rewind until it returns for good. Used by module
/// sessions (`E` = [`Outcome`]) and WASI programs alike.
pub fn call_resuming<E>(
    control: &Control,
    instance: usize,
    call_time: Duration,
    mut call: impl FnMut(&str, &[Value]) -> E,
    outcome_of: fn(&E) -> Option<&Outcome>,
    exhausted: impl Fn(Resource) -> E,
    (export, args): (&str, &[Value]),
) -> E {
    let deadline = Instant::now() + call_time;
    let state = |call: &mut dyn FnMut(&str, &[Value]) -> E| match outcome_of(&call(GET_STATE, &[]))
    {
        Some(Outcome::Values(values)) => matches!(values[..], [Value::I32(UNWINDING)]),
        _ => false,
    };
    control.begin_invoke(instance);
    let mut ending = call(export, args);
    while state(&mut call) {
        let trapped = matches!(outcome_of(&ending), Some(Outcome::Trap { .. }));
        if trapped || Instant::now() > deadline {
            // Ends the unwind so the instance can be called again.
            call(STOP_UNWIND, &[]);
            // While unwinding only the buffer is written: a trap means it is full.
            ending = exhausted(if trapped {
                Resource::Stack
            } else {
                Resource::Time
            });
            break;
        }
        call(STOP_UNWIND, &[]);
        if control.abandons_unwinds {
            break;
        }
        call(START_REWIND, &[Value::I32(HEADER)]);
        ending = call(export, args);
    }
    control.end_invoke();
    ending
}

impl ImportHook for Control {
    fn instance_starting(&self) -> u64 {
        self.reserve_tag()
    }

    fn instance_created(&self, tag: u64) {
        self.bind(tag);
    }

    /// One call of a wrapped import: on a rewind, hand back the results saved
    /// when it unwound; otherwise call the real import and, if this call may
    /// unwind, save its results and start the unwind.
    fn call(&self, tag: u64, call: &mut dyn HookedCall) -> Result<(), HookFailure> {
        if asyncify_state(call)? == Some(REWINDING) {
            asyncify_call(call, STOP_REWIND, &[])?;
            if !call.replay() {
                return Err(failure("rewound into an import that never unwound"));
            }
            return Ok(());
        }
        let may_unwind = self.enter_import(tag);
        let called = call.call_real();
        self.leave_import();
        called?;
        if may_unwind && asyncify_state(call)?.is_some() {
            call.save_results();
            if !call.write_memory(MEMORY, HEADER as u64, &header(self.pages))? {
                return Err(failure("the module exports no unwind buffer"));
            }
            asyncify_call(call, START_UNWIND, &[HEADER])?;
            self.count_unwind();
        }
        Ok(())
    }
}

/// The caller's [`GET_STATE`]; `None` when the caller is not instrumented.
fn asyncify_state(call: &mut dyn HookedCall) -> Result<Option<i32>, HookFailure> {
    let state = call.call_export(GET_STATE, &[])?;
    Ok(state.and_then(|results| results.first().copied()))
}

/// Calls one of the caller's driver exports.
fn asyncify_call(call: &mut dyn HookedCall, export: &str, args: &[i32]) -> Result<(), HookFailure> {
    match call.call_export(export, args)? {
        Some(_) => Ok(()),
        None => Err(failure(&format!("the module exports no `{export}`"))),
    }
}

fn failure(message: &str) -> HookFailure {
    HookFailure::Hook(format!("asyncify: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_direct_call_from_the_invoked_instance_unwinds() {
        let control = Control::new(MODULE_PAGES);
        let (a, b) = (control.reserve_tag(), control.reserve_tag());
        control.bind(a);
        control.bind(b);
        assert!(!control.enter_import(a), "no invocation in progress");
        control.leave_import();
        control.begin_invoke(0);
        assert!(!control.enter_import(b), "another instance's import");
        assert!(!control.enter_import(a), "nested inside an import call");
        control.leave_import();
        control.leave_import();
        assert!(control.enter_import(a));
        control.leave_import();
        control.end_invoke();
        assert!(!control.enter_import(a));
    }

    #[test]
    fn a_hot_loop_unwinds_at_its_first_calls_then_at_every_tenth() {
        let control = Control::new(MODULE_PAGES);
        let tag = control.reserve_tag();
        control.bind(tag);
        control.begin_invoke(0);
        let unwinding: Vec<u64> = (1..=200)
            .filter(|_| {
                let may = control.enter_import(tag);
                control.leave_import();
                may
            })
            .collect();
        assert_eq!(unwinding.len() as u64, UNWIND_FIRST + 10);
        control.begin_invoke(0);
        assert!(control.enter_import(tag), "a new invocation starts afresh");
    }
}
