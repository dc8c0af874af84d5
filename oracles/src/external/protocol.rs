//! The external-engine protocol's messages: one JSON object per line, as `docs/external-engines.md` describes them.

use crate::engine::{Limit, Limits};
use crate::host::ValType;
use crate::outcome::{
    Exception, Heap, Outcome, Ref, Resource, State, TrapCode, UNEXPORTED_TAG, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

/// The protocol version a client speaks in its `hello`: 2 numbers requests and replies.
pub const VERSION: u32 = 2;

/// A request or reply on the wire: `{"id":7,"op":"invoke",…}`, `{"id":7,"values":[…]}`.
/// Every reply, and every host call an engine makes while serving a request,
/// carries the id of that request; lockstep answers a host call under the same id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Numbered<T> {
    pub id: u64,
    #[serde(flatten)]
    pub message: T,
}

/// What lockstep asks an engine; every request is answered by one [`Reply`] line
/// (an `invoke` or `instantiate` may first be interrupted by [`Reply::Host`] calls).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The first request: the engine introduces itself.
    Hello {
        protocol: u32,
    },
    /// Forget every module, instance and registration; apply these limits from now on.
    Reset {
        limits: WireLimits,
    },
    /// Compile a binary module (hex) and keep it under the number `module`.
    /// Its imports and exports come along with their types, read by lockstep,
    /// for engines whose API cannot tell them (an `f32` and an `f64` are both
    /// a number in JavaScript); a module lockstep cannot parse has none listed.
    Load {
        module: usize,
        wasm: String,
        imports: Vec<ExternType>,
        exports: Vec<ExternType>,
    },
    /// Instantiate module `module` as instance `instance`.
    Instantiate {
        module: usize,
        instance: usize,
        /// Imports nothing else provides, to be answered by lockstep's host functions.
        host_functions: Vec<HostImport>,
    },
    /// Make the exports of `instance` importable under `name`.
    Register {
        instance: usize,
        name: String,
    },
    Invoke {
        instance: usize,
        export: String,
        args: Vec<WireValue>,
    },
    Global {
        instance: usize,
        export: String,
    },
    State {
        instance: usize,
    },
}

/// The limits an engine should apply, as far as it can.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireLimits {
    pub memory_bytes: u64,
    pub table_elements: u64,
    pub instances: u64,
    pub call_time_ms: u64,
    /// Whether lockstep answers function imports nothing else provides
    /// (they are listed in each `instantiate`); if not, such imports are unlinkable.
    pub host_functions: bool,
}

impl From<&Limits> for WireLimits {
    fn from(limits: &Limits) -> Self {
        WireLimits {
            memory_bytes: limits.memory_bytes as u64,
            table_elements: limits.table_elements as u64,
            instances: limits.instances as u64,
            call_time_ms: u64::try_from(limits.call_time.as_millis()).unwrap_or(u64::MAX),
            host_functions: limits.host_functions,
        }
    }
}

impl From<&WireLimits> for Limits {
    fn from(limits: &WireLimits) -> Self {
        // An engine compiled to a 32-bit target (the wasmi guest) cannot hold more than its
        // address space: a larger limit is no limit there.
        let clamped = |limit: u64| usize::try_from(limit).unwrap_or(usize::MAX);
        Limits {
            memory_bytes: clamped(limits.memory_bytes),
            table_elements: clamped(limits.table_elements),
            instances: clamped(limits.instances),
            call_time: std::time::Duration::from_millis(limits.call_time_ms),
            host_functions: limits.host_functions,
            ..Limits::default()
        }
    }
}

/// An import or export with its type: `func` (params, results), `global` (type),
/// `tag` (params), `memory` or `table`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternType {
    /// The module an import comes from; empty for exports.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub module: String,
    pub name: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<String>,
    /// A global's value type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
}

/// A function import the engine links to lockstep: calling it sends [`Reply::Host`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HostImport {
    /// The number the engine names this function by in [`Reply::Host`], unique in the session.
    pub id: usize,
    pub module: String,
    pub name: String,
    pub params: Vec<String>,
    pub results: Vec<String>,
}

/// Everything an engine may write, one per line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The answer to `hello`.
    Hello {
        name: String,
        version: String,
        proposals: Vec<String>,
        /// False for an engine that does not validate modules before running
        /// them: lockstep then sends only modules wasmparser finds valid.
        #[serde(default = "validates_by_default")]
        validates: bool,
        /// The limits of `reset` the engine cannot apply: a difference from the other engines
        /// that only such a limit explains is labelled inconclusive, not reported as a bug.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unapplied: Vec<Limit>,
    },
    /// The answer to `hello` of an engine that cannot run here, and why.
    Unavailable(String),
    Values(Vec<WireValue>),
    /// A trap, named by `code`, or by `codes` when the engine cannot tell which of them it was.
    Trap {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        code: Option<TrapCode>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        codes: Vec<TrapCode>,
        message: String,
    },
    /// An uncaught exception: `tag` absent when no instance exports it, `payload` absent when
    /// the engine cannot read it.
    Exception {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload: Option<Vec<WireValue>>,
    },
    Exhausted(Resource),
    Unsupported(String),
    Invalid(String),
    Malformed(String),
    Unlinkable(String),
    /// The engine's side of the harness failed (an op it does not know, a value it cannot convert).
    Error(String),
    State(WireState),
    /// A call of the host function whose [`HostImport::id`] is `function`;
    /// lockstep answers with a `values` line.
    Host {
        function: usize,
        args: Vec<WireValue>,
    },
}

impl Reply {
    /// The outcome this reply reports, or `None` for the replies that are not outcomes.
    pub fn into_outcome(self) -> Option<Outcome> {
        Some(match self {
            Reply::Values(values) => Outcome::Values(values.into_iter().map(|v| v.0).collect()),
            Reply::Trap {
                code,
                codes,
                message,
            } => match code.or(codes.first().copied()) {
                Some(code) => Outcome::Trap {
                    code,
                    message,
                    alternatives: codes.into_iter().filter(|c| *c != code).collect(),
                },
                None => Outcome::HarnessFailed(format!(
                    "engine side: a trap with neither `code` nor `codes` ({message})"
                )),
            },
            Reply::Exception { tag, payload } => Outcome::Exception(Exception {
                tag: tag.unwrap_or_else(|| UNEXPORTED_TAG.to_string()),
                payload: payload.map(|values| values.into_iter().map(|v| v.0).collect()),
            }),
            Reply::Exhausted(resource) => Outcome::Exhausted(resource),
            Reply::Unsupported(why) => Outcome::Unsupported(why),
            Reply::Invalid(why) => Outcome::Invalid(why),
            Reply::Malformed(why) => Outcome::Malformed(why),
            Reply::Unlinkable(why) => Outcome::Unlinkable(why),
            Reply::Error(why) => Outcome::HarnessFailed(format!("engine side: {why}")),
            Reply::Hello { .. } | Reply::Unavailable(_) | Reply::State(_) | Reply::Host { .. } => {
                return None;
            }
        })
    }

    /// The reply that reports `outcome` (what an engine written in Rust sends).
    pub fn from_outcome(outcome: Outcome) -> Reply {
        let wire = |values: Vec<Value>| values.into_iter().map(WireValue).collect();
        match outcome {
            Outcome::Values(values) => Reply::Values(wire(values)),
            Outcome::Trap {
                code,
                message,
                alternatives: mut codes,
            } => {
                // `codes` on the wire is the whole set, when there is one.
                if !codes.is_empty() {
                    codes.push(code);
                }
                Reply::Trap {
                    code: Some(code),
                    codes,
                    message,
                }
            }
            Outcome::Exception(e) => Reply::Exception {
                tag: Some(e.tag).filter(|tag| tag != UNEXPORTED_TAG),
                payload: e.payload.map(wire),
            },
            Outcome::Exhausted(resource) => Reply::Exhausted(resource),
            Outcome::Unsupported(why) => Reply::Unsupported(why),
            Outcome::Invalid(why) => Reply::Invalid(why),
            Outcome::Malformed(why) => Reply::Malformed(why),
            Outcome::Unlinkable(why) => Reply::Unlinkable(why),
            Outcome::Crashed(why) | Outcome::HarnessFailed(why) => Reply::Error(why),
        }
    }
}

fn validates_by_default() -> bool {
    true
}

/// What `state` reports: exported globals, memories and tables with their digests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WireState {
    pub globals: Vec<WireGlobal>,
    pub memories: Vec<WireDigest>,
    pub tables: Vec<WireDigest>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireGlobal {
    pub name: String,
    pub value: WireValue,
}

/// A memory (size in bytes) or table (size in elements), and the FNV-1a digest of its
/// bytes (memories) or of one byte per element, 1 for null and 0 otherwise (tables).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireDigest {
    pub name: String,
    pub size: u64,
    /// The 64-bit digest as a decimal string: JSON numbers cannot carry 64 bits everywhere.
    pub digest: String,
}

impl WireState {
    pub fn into_state(self) -> Result<State, String> {
        let digests = |entries: Vec<WireDigest>| {
            entries
                .into_iter()
                .map(|d| {
                    let digest = d.digest.parse::<u64>().map_err(|e| {
                        format!("digest `{}` of `{}` is not a u64: {e}", d.digest, d.name)
                    })?;
                    Ok((d.name, d.size, digest))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(State {
            globals: self
                .globals
                .into_iter()
                .map(|g| (g.name, g.value.0))
                .collect(),
            memories: digests(self.memories)?,
            tables: digests(self.tables)?,
        }
        .sorted())
    }

    pub fn from_state(state: State) -> WireState {
        let digests = |entries: Vec<(String, u64, u64)>| {
            entries
                .into_iter()
                .map(|(name, size, digest)| WireDigest {
                    name,
                    size,
                    digest: digest.to_string(),
                })
                .collect()
        };
        WireState {
            globals: state
                .globals
                .into_iter()
                .map(|(name, value)| WireGlobal {
                    name,
                    value: WireValue(value),
                })
                .collect(),
            memories: digests(state.memories),
            tables: digests(state.tables),
        }
    }
}

/// A value on the wire. Numbers travel as the unsigned decimal of their bits
/// (`{"type":"f32","value":"1065353216"}`, v128 as one 128-bit integer with lane 0
/// in the low bits): exact in every language, NaN payloads included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(into = "Json", try_from = "Json")]
pub struct WireValue(pub Value);

impl From<WireValue> for Json {
    fn from(value: WireValue) -> Json {
        let bits = |ty: &str, bits: String| json!({ "type": ty, "value": bits });
        match value.0 {
            Value::I32(v) => bits("i32", (v as u32).to_string()),
            Value::I64(v) => bits("i64", (v as u64).to_string()),
            Value::F32(v) => bits("f32", v.to_string()),
            Value::F64(v) => bits("f64", v.to_string()),
            Value::V128(v) => bits("v128", v.to_string()),
            Value::Ref(Ref::Null(heap)) => json!({ "type": "ref.null", "heap": heap_name(heap) }),
            Value::Ref(Ref::Extern(Some(n))) => json!({ "type": "ref.extern", "value": n }),
            Value::Ref(Ref::Extern(None)) => json!({ "type": "ref.extern" }),
            Value::Ref(Ref::Host(n)) => json!({ "type": "ref.host", "value": n }),
            Value::Ref(Ref::I31(n)) => json!({ "type": "ref.i31", "value": n }),
            Value::Ref(other) => json!({ "type": opaque_ref_name(&other) }),
        }
    }
}

impl TryFrom<Json> for WireValue {
    type Error = String;

    fn try_from(json: Json) -> Result<WireValue, String> {
        let ty = json["type"]
            .as_str()
            .ok_or("a value needs a string `type`")?;
        let bits = || {
            json["value"]
                .as_str()
                .ok_or(format!("a {ty} value needs its bits as a decimal string"))
        };
        let number = || {
            json["value"]
                .as_i64()
                .ok_or(format!("a {ty} value needs an integer `value`"))
        };
        let parse_error = |e: std::num::ParseIntError| format!("{ty} bits: {e}");
        let value = match ty {
            "i32" => Value::I32(bits()?.parse::<u32>().map_err(parse_error)? as i32),
            "i64" => Value::I64(bits()?.parse::<u64>().map_err(parse_error)? as i64),
            "f32" => Value::F32(bits()?.parse().map_err(parse_error)?),
            "f64" => Value::F64(bits()?.parse().map_err(parse_error)?),
            "v128" => Value::V128(bits()?.parse().map_err(parse_error)?),
            "ref.null" => {
                let heap = json["heap"].as_str().unwrap_or_default();
                Value::Ref(Ref::Null(
                    heap_named(heap).ok_or(format!("unknown heap `{heap}`"))?,
                ))
            }
            "ref.extern" if json["value"].is_null() => Value::Ref(Ref::Extern(None)),
            "ref.extern" => Value::Ref(Ref::Extern(Some(payload(number()?)?))),
            "ref.host" => Value::Ref(Ref::Host(payload(number()?)?)),
            "ref.i31" => Value::Ref(Ref::I31(number()? as i32)),
            other => Value::Ref(opaque_ref_named(other).ok_or(format!("unknown type `{other}`"))?),
        };
        Ok(WireValue(value))
    }
}

fn payload(n: i64) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("host payload {n} is not a u32"))
}

const HEAPS: &[(Heap, &str)] = &[
    (Heap::Func, "func"),
    (Heap::Extern, "extern"),
    (Heap::Any, "any"),
    (Heap::Exn, "exn"),
];

fn heap_name(heap: Heap) -> &'static str {
    HEAPS
        .iter()
        .find(|(h, _)| *h == heap)
        .map(|(_, n)| *n)
        .unwrap_or("func")
}

fn heap_named(name: &str) -> Option<Heap> {
    HEAPS.iter().find(|(_, n)| *n == name).map(|(h, _)| *h)
}

/// References that carry nothing lockstep compares beyond their kind.
const OPAQUE_REFS: &[(Ref, &str)] = &[
    (Ref::Func, "ref.func"),
    (Ref::Struct, "ref.struct"),
    (Ref::Array, "ref.array"),
    (Ref::Exn, "ref.exn"),
    (Ref::Opaque, "ref"),
];

fn opaque_ref_name(r: &Ref) -> &'static str {
    OPAQUE_REFS
        .iter()
        .find(|(o, _)| o == r)
        .map_or("ref", |(_, n)| *n)
}

fn opaque_ref_named(name: &str) -> Option<Ref> {
    OPAQUE_REFS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(r, _)| r.clone())
}

/// A value type's name on the wire: `i32` … `v128`, or `funcref`, `externref`, `anyref`, `exnref`.
pub fn type_name(ty: ValType) -> String {
    match ty {
        ValType::I32 => "i32".into(),
        ValType::I64 => "i64".into(),
        ValType::F32 => "f32".into(),
        ValType::F64 => "f64".into(),
        ValType::V128 => "v128".into(),
        ValType::Ref(heap) => format!("{}ref", heap_name(heap)),
    }
}

/// The value type named `name` on the wire.
pub fn type_named(name: &str) -> Option<ValType> {
    Some(match name {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        "v128" => ValType::V128,
        other => ValType::Ref(heap_named(other.strip_suffix("ref")?)?),
    })
}

/// Hex, the encoding of module bytes on the wire.
pub use crate::hex::{hex, unhex};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_the_wire_bit_for_bit() {
        let values = [
            Value::I32(-1),
            Value::I64(i64::MIN),
            Value::F32(0x7fa0_0001),
            Value::F64(0xfff8_0000_0000_0001),
            Value::V128(u128::MAX - 5),
            Value::Ref(Ref::Null(Heap::Extern)),
            Value::Ref(Ref::Extern(Some(7))),
            Value::Ref(Ref::Extern(None)),
            Value::Ref(Ref::Func),
            Value::Ref(Ref::I31(-3)),
        ];
        for value in values {
            let line = serde_json::to_string(&WireValue(value.clone())).unwrap();
            let back: WireValue = serde_json::from_str(&line).unwrap();
            assert_eq!(back.0, value, "{line}");
        }
        let i32_line = serde_json::to_string(&WireValue(Value::I32(-1))).unwrap();
        assert_eq!(i32_line, r#"{"type":"i32","value":"4294967295"}"#);
    }

    #[test]
    fn requests_and_replies_read_as_documented() {
        let request = Request::Invoke {
            instance: 0,
            export: "add".into(),
            args: vec![WireValue(Value::I32(2))],
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"op":"invoke","instance":0,"export":"add","args":[{"type":"i32","value":"2"}]}"#
        );
        let reply: Reply =
            serde_json::from_str(r#"{"trap":{"code":"IntegerDivideByZero","message":"x"}}"#)
                .unwrap();
        assert!(matches!(
            reply.into_outcome(),
            Some(Outcome::Trap {
                code: TrapCode::IntegerDivideByZero,
                ..
            })
        ));
        let either: Reply = serde_json::from_str(
            r#"{"trap":{"codes":["IndirectCallToNull","IndirectCallTypeMismatch"],"message":"x"}}"#,
        )
        .unwrap();
        assert_eq!(
            either.into_outcome().unwrap().trap_codes(),
            [
                TrapCode::IndirectCallToNull,
                TrapCode::IndirectCallTypeMismatch
            ]
        );
        let bad = serde_json::from_str::<Reply>(r#"{"values":[{"type":"i32","value":7}]}"#);
        assert!(bad.unwrap_err().to_string().contains("decimal string"));
    }
}
