//! wasmi's calls under lockstep's budgets: a fuel budget the user gives is burned as one tank; without
//! one, the call runs on slices of fuel and stops when `Limits::call_time` has passed on the clock.
//!
//! Rationale: wasmi has no epoch interruption, and fuel is no clock: CPython's start-up burns four
//! billion units a second in bulk memory instructions (charged per byte), a tight loop a few hundred
//! million. Any fixed rate turns "ten seconds" into one second for some programs and minutes for
//! others; resuming after each slice and reading the clock makes the call time mean what it says.

use std::cell::Cell;
use std::time::{Duration, Instant};
use wasmi::{AsContextMut, Error, Func, ResumableCall, Val};

/// Fuel between two looks at the clock: a few milliseconds of wasmi, so that a call overruns its
/// time by no more than that, and resuming (microseconds) costs nothing measurable.
const SLICE: u64 = 10_000_000;

/// How one call's work is bounded.
#[derive(Clone, Copy, Debug)]
pub enum Meter {
    /// The user's fuel budget, all of it at once: deterministic, the same on every run.
    Fuel(u64),
    /// Wall time, measured between slices of fuel.
    Time(Duration),
}

/// Why a call stopped before it finished: its time was up. A host error, so that it passes
/// through the host functions of any nested call unchanged.
#[derive(Debug)]
pub struct OutOfTime;

impl std::fmt::Display for OutOfTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's time is up")
    }
}

impl wasmi::errors::HostError for OutOfTime {}

thread_local! {
    /// When the outermost call running on this thread must stop; `None` between calls.
    ///
    /// Rationale: a host function that calls back into Wasm (an import hook, a trampoline) only
    /// has its caller, not the session; the nested call shares the outer call's deadline.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Calls `func` from the host, with a full budget.
pub fn call<T>(
    func: Func,
    mut ctx: impl AsContextMut<Data = T>,
    params: &[Val],
    results: &mut [Val],
    meter: Meter,
) -> Result<(), Error> {
    match meter {
        Meter::Fuel(fuel) => {
            ctx.as_context_mut().set_fuel(fuel)?;
            func.call(ctx, params, results)
        }
        Meter::Time(call_time) => {
            let outer = DEADLINE.replace(Some(Instant::now() + call_time));
            ctx.as_context_mut().set_fuel(SLICE)?;
            let called = sliced(func, ctx, params, results);
            DEADLINE.set(outer);
            called
        }
    }
}

/// Calls `func` from a host function that Wasm called: on what is left of the outer call's budget.
pub fn nested<T>(
    func: Func,
    ctx: impl AsContextMut<Data = T>,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    match DEADLINE.get() {
        Some(_) => sliced(func, ctx, params, results),
        None => func.call(ctx, params, results),
    }
}

/// Runs `func`, refuelling after each slice until it finishes or the deadline passes.
fn sliced<T>(
    func: Func,
    mut ctx: impl AsContextMut<Data = T>,
    params: &[Val],
    results: &mut [Val],
) -> Result<(), Error> {
    let mut call = func.call_resumable(&mut ctx, params, results)?;
    loop {
        match call {
            ResumableCall::Finished => return Ok(()),
            ResumableCall::HostTrap(trap) => return Err(trap.into_host_error()),
            ResumableCall::OutOfFuel(paused) => {
                if DEADLINE
                    .get()
                    .is_some_and(|deadline| Instant::now() >= deadline)
                {
                    return Err(Error::host(OutOfTime));
                }
                ctx.as_context_mut()
                    .set_fuel(SLICE.max(paused.required_fuel()))?;
                call = paused.resume(&mut ctx, results)?;
            }
        }
    }
}
