//! The shared outcome model: what one execution on one engine did, in one type for every engine.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A Wasm value as lockstep compares it. Floats are kept as bits so that NaN
/// payloads survive until the comparison decides whether they matter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    Ref(Ref),
}

/// The reference hierarchies a null can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Heap {
    Func,
    Extern,
    Any,
    Exn,
}

/// A reference value, reduced to what every engine's embedding API exposes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ref {
    Null(Heap),
    Func,
    /// An `externref`; `Some(n)` when it carries a host integer created by the harness.
    Extern(Option<u32>),
    /// An `anyref` that is a host `externref` with payload `n`, converted by `any.convert_extern`.
    Host(u32),
    I31(i32),
    Struct,
    Array,
    Exn,
    /// A non-null reference whose kind the engine does not expose.
    Opaque,
}

/// Trap reasons, normalized across engines. The engine's raw message travels beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TrapCode {
    Unreachable,
    IntegerDivideByZero,
    IntegerOverflow,
    InvalidConversionToInteger,
    MemoryOutOfBounds,
    TableOutOfBounds,
    IndirectCallToNull,
    IndirectCallTypeMismatch,
    NullReference,
    ArrayOutOfBounds,
    CastFailure,
    UnalignedAtomic,
    AllocationTooLarge,
    AtomicWaitOnNonSharedMemory,
    /// A trap raised by a host function the harness supplied.
    Host,
    /// A trap the engine reports that lockstep does not know how to name.
    Other,
}

impl TrapCode {
    /// Every code a Wasm instruction raises: all but the host's and the unnamed.
    pub const RAISED_BY_INSTRUCTIONS: [TrapCode; 14] = [
        TrapCode::Unreachable,
        TrapCode::IntegerDivideByZero,
        TrapCode::IntegerOverflow,
        TrapCode::InvalidConversionToInteger,
        TrapCode::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds,
        TrapCode::IndirectCallToNull,
        TrapCode::IndirectCallTypeMismatch,
        TrapCode::NullReference,
        TrapCode::ArrayOutOfBounds,
        TrapCode::CastFailure,
        TrapCode::UnalignedAtomic,
        TrapCode::AllocationTooLarge,
        TrapCode::AtomicWaitOnNonSharedMemory,
    ];

    /// The message spec tests use for this trap, for writing `assert_trap`.
    pub fn spec_message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::IntegerDivideByZero => "integer divide by zero",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::InvalidConversionToInteger => "invalid conversion to integer",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "uninitialized element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::NullReference => "null reference",
            TrapCode::ArrayOutOfBounds => "out of bounds array access",
            TrapCode::CastFailure => "cast failure",
            TrapCode::UnalignedAtomic => "unaligned atomic",
            TrapCode::AtomicWaitOnNonSharedMemory => "expected shared memory",
            TrapCode::AllocationTooLarge | TrapCode::Host | TrapCode::Other => "trap",
        }
    }

    /// Maps a spec-test assertion message (`assert_trap ... "message"`) to a trap code.
    pub fn from_spec_message(message: &str) -> TrapCode {
        const TABLE: &[(&str, TrapCode)] = &[
            ("unreachable", TrapCode::Unreachable),
            ("integer divide by zero", TrapCode::IntegerDivideByZero),
            ("integer overflow", TrapCode::IntegerOverflow),
            (
                "invalid conversion to integer",
                TrapCode::InvalidConversionToInteger,
            ),
            ("out of bounds memory access", TrapCode::MemoryOutOfBounds),
            ("out of bounds table access", TrapCode::TableOutOfBounds),
            ("undefined element", TrapCode::TableOutOfBounds),
            ("uninitialized element", TrapCode::IndirectCallToNull),
            (
                "indirect call type mismatch",
                TrapCode::IndirectCallTypeMismatch,
            ),
            ("null", TrapCode::NullReference),
            ("out of bounds array access", TrapCode::ArrayOutOfBounds),
            ("cast failure", TrapCode::CastFailure),
            ("unaligned atomic", TrapCode::UnalignedAtomic),
            (
                "expected shared memory",
                TrapCode::AtomicWaitOnNonSharedMemory,
            ),
        ];
        TABLE
            .iter()
            .find(|(prefix, _)| message.starts_with(prefix))
            .map_or(TrapCode::Other, |(_, code)| *code)
    }
}

/// Resources whose exhaustion legitimately differs between engines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resource {
    Stack,
    Fuel,
    Memory,
    Time,
    /// A program's output reached a limit every tier shares (`oracles::wasi::limits`).
    Output,
}

/// An uncaught Wasm exception that left an export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// Which tag: the export name it is reachable under, or [`UNEXPORTED_TAG`].
    pub tag: String,
    /// `None` when the engine cannot read it: V8's JS API reads a payload only through the tag's
    /// export (`WebAssembly.Exception.getArg(tag, i)`), so an unexported tag's stays unseen.
    pub payload: Option<Vec<Value>>,
}

/// The [`Exception::tag`] of an exception whose tag no instance exports.
pub const UNEXPORTED_TAG: &str = "an unexported tag";

/// What one action (compile, instantiate, invoke, read a global) did on one engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Outcome {
    /// The action completed; an instantiation or compilation completes with no values.
    Values(Vec<Value>),
    Trap {
        code: TrapCode,
        message: String,
        /// Codes the engine cannot tell `code` apart from (V8 words a null and a
        /// mismatched indirect call alike): the trap agrees with any of them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        alternatives: Vec<TrapCode>,
    },
    Exception(Exception),
    Exhausted(Resource),
    /// The engine cannot run this: a proposal it lacks, an instrumentation that does not apply.
    Unsupported(String),
    Invalid(String),
    Malformed(String),
    Unlinkable(String),
    /// The engine took down its worker (panic, signal, abort).
    Crashed(String),
    /// lockstep itself failed (a value it cannot convert, an API it misused).
    /// Never attributed to the engine and never a divergence, always a failure of the run.
    HarnessFailed(String),
}

/// What an instance exposes after a call, in export order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub globals: Vec<(String, Value)>,
    /// Exported memories: name, size in bytes, and a digest of the contents.
    pub memories: Vec<(String, u64, u64)>,
    /// Exported tables: name, size, and a digest of which elements are null.
    pub tables: Vec<(String, u64, u64)>,
}

impl State {
    /// Orders entries by export name: engines list exports in different orders.
    pub fn sorted(mut self) -> State {
        self.globals.sort_by(|a, b| a.0.cmp(&b.0));
        self.memories.sort();
        self.tables.sort();
        self
    }
}

/// Why an engine could not tell what a call left behind. Its state after the call is then not
/// judged: neither agreeing with the others' nor diverging from them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unread {
    /// The engine gave no reply to the state request; the outcome says why (it ran out of
    /// time, its process was lost).
    NoReply(Outcome),
    /// The engine replied with something that is not a state (the protocol broken, and why).
    BadReply(String),
    /// The session has no such instance: lockstep asked for a state it never made.
    UnknownInstance,
}

impl fmt::Display for Unread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unread::NoReply(outcome) => write!(f, "no reply to the state request ({outcome})"),
            Unread::BadReply(why) => {
                write!(f, "a reply to the state request that is no state ({why})")
            }
            Unread::UnknownInstance => write!(f, "no such instance"),
        }
    }
}

/// A digest of bytes, the same on every engine and platform: FNV-1a, 64-bit, which external engines
/// compute too (`docs/external-engines.md`), so memories digest alike on every engine.
///
/// Rationale: a module can grow its memory to 4 GiB and touch a few pages of it, and the state after
/// every call digests every exported memory. A zero byte leaves FNV-1a's XOR step unchanged and only
/// multiplies by the prime, so each all-zero run of [`ZERO_RUN`] bytes costs one multiplication by
/// the prime's power: the same digest, at a cost that follows the bytes a module wrote.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(ZERO_RUN);
    let hash = chunks.by_ref().fold(FNV_OFFSET, |hash, chunk| {
        // Slice equality is `memcmp`, optimized even where lockstep's own code is not.
        match chunk == ZEROS {
            true => hash.wrapping_mul(ZERO_RUN_FACTOR),
            false => fnv1a(hash, chunk),
        }
    });
    fnv1a(hash, chunks.remainder())
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Bytes [`digest`] checks for zero at a time: one host page.
const ZERO_RUN: usize = 4096;
static ZEROS: &[u8] = &[0; ZERO_RUN];
/// What [`ZERO_RUN`] zero bytes do to an FNV-1a hash: multiply it by the prime that many times.
const ZERO_RUN_FACTOR: u64 = {
    let mut factor = 1u64;
    let mut n = 0;
    while n < ZERO_RUN {
        factor = factor.wrapping_mul(FNV_PRIME);
        n += 1;
    }
    factor
};

fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME)
    })
}

impl Outcome {
    pub fn trap(code: TrapCode, message: impl Into<String>) -> Outcome {
        Outcome::Trap {
            code,
            message: message.into(),
            alternatives: Vec::new(),
        }
    }

    /// The codes a trap may stand for, sorted: its code and the ones the engine
    /// cannot tell from it. Empty for every other outcome.
    pub fn trap_codes(&self) -> Vec<TrapCode> {
        let Outcome::Trap {
            code, alternatives, ..
        } = self
        else {
            return Vec::new();
        };
        let mut codes = alternatives.clone();
        codes.push(*code);
        codes.sort();
        codes.dedup();
        codes
    }

    /// True for the outcomes that say a module was rejected before it ran.
    pub fn is_rejection(&self) -> bool {
        matches!(self, Outcome::Invalid(_) | Outcome::Malformed(_))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "i32:{v}"),
            Value::I64(v) => write!(f, "i64:{v}"),
            Value::F32(bits) => write!(f, "f32:{}", f32::from_bits(*bits)),
            Value::F64(bits) => write!(f, "f64:{}", f64::from_bits(*bits)),
            Value::V128(v) => write!(f, "v128:{v:#034x}"),
            Value::Ref(r) => write!(f, "{r:?}"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Values(values) => {
                let shown: Vec<String> = values.iter().map(Value::to_string).collect();
                write!(f, "[{}]", shown.join(", "))
            }
            Outcome::Trap { code, message, .. }
                if self.trap_codes().len() == TrapCode::RAISED_BY_INSTRUCTIONS.len() =>
            {
                write!(f, "trap {code:?} or any other trap ({message})")
            }
            Outcome::Trap { message, .. } => {
                let codes: Vec<String> =
                    self.trap_codes().iter().map(|c| format!("{c:?}")).collect();
                write!(f, "trap {} ({message})", codes.join(" or "))
            }
            Outcome::Exception(e) => match &e.payload {
                Some(payload) => {
                    let shown: Vec<String> = payload.iter().map(Value::to_string).collect();
                    write!(f, "exception {} [{}]", e.tag, shown.join(", "))
                }
                None => write!(f, "exception {} [payload unread]", e.tag),
            },
            Outcome::Exhausted(r) => write!(f, "exhausted {r:?}"),
            Outcome::Unsupported(why) => write!(f, "unsupported: {why}"),
            Outcome::Invalid(why) => write!(f, "invalid: {why}"),
            Outcome::Malformed(why) => write!(f, "malformed: {why}"),
            Outcome::Unlinkable(why) => write!(f, "unlinkable: {why}"),
            Outcome::Crashed(why) => write!(f, "crashed: {why}"),
            Outcome::HarnessFailed(why) => write!(f, "harness failed: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_messages_map_to_codes() {
        assert_eq!(
            TrapCode::from_spec_message("uninitialized element 2"),
            TrapCode::IndirectCallToNull
        );
        assert_eq!(
            TrapCode::from_spec_message("undefined element"),
            TrapCode::TableOutOfBounds
        );
        assert_eq!(
            TrapCode::from_spec_message("null function reference"),
            TrapCode::NullReference
        );
        assert_eq!(
            TrapCode::from_spec_message("something new"),
            TrapCode::Other
        );
    }

    #[test]
    fn the_digest_skips_zero_runs_yet_equals_plain_fnv1a() {
        let mut bytes = vec![0u8; 5 * ZERO_RUN + 7];
        bytes[ZERO_RUN + 3] = 0xa5;
        bytes[5 * ZERO_RUN + 2] = 1;
        assert_eq!(digest(&bytes), fnv1a(FNV_OFFSET, &bytes));
        assert_eq!(digest(b"lockstep"), 0x314d_3b50_8dc2_4d60);
    }
}
