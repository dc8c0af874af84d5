//! The comparison rules: the outcomes of one action on several engines, turned into agree, diverge or inconclusive.

use crate::classify::{self, Contender};
use crate::outcome::{Outcome, Ref, Resource, State, Unread, Value};
use serde::{Deserialize, Serialize};

/// What one engine did with one action, and what it left behind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub engine: String,
    pub outcome: Outcome,
    /// What the call left behind; `None` for a step that is no call, or a call not made.
    pub state: Option<State>,
    /// Why the engine could not read its state after the call: that state is not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_unread: Option<Unread>,
}

/// What kind of disagreement a divergence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Values,
    Trap,
    TrapVsValue,
    Exception,
    TailCall,
    Validation,
    Instantiation,
    State,
    Crash,
    Other,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Values => "values",
            Kind::Trap => "trap",
            Kind::TrapVsValue => "trap-vs-value",
            Kind::Exception => "exception",
            Kind::TailCall => "tail-call",
            Kind::Validation => "validation",
            Kind::Instantiation => "instantiation",
            Kind::State => "state",
            Kind::Crash => "crash",
            Kind::Other => "other",
        }
    }
}

/// Engines that disagree with the majority, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    pub kind: Kind,
    /// Stable across inputs that show the same bug: kind, odd engines out, and the outcome classes.
    pub signature: String,
    pub majority: Vec<String>,
    pub minority: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Verdict {
    Agree,
    Diverge(Divergence),
    /// Nothing can be concluded (too few engines ran it, resources ran out), and why.
    Inconclusive(String),
}

/// Compares what engines did with the same action. `tail_calls` says the
/// module uses `return_call*`, which every engine that ran it claims to support.
pub fn compare(observations: &[Observation], tail_calls: bool) -> Verdict {
    let ran = classify::ran(observations);
    if tail_calls && let Some(divergence) = tail_call_divergence(&ran) {
        return Verdict::Diverge(divergence);
    }
    let finished = match classify::finished(ran) {
        Ok(finished) => finished,
        Err(why) => return Verdict::Inconclusive(why),
    };
    let classes = classify::classes(&finished, |a, b| equivalent(&a.outcome, &b.outcome));
    if classes.len() > 1 {
        return Verdict::Diverge(divergence(
            &classes,
            kind(&classes[0][0].outcome, &classes[1][0].outcome),
        ));
    }
    let (unread, read): (Vec<&Observation>, Vec<&Observation>) =
        finished.iter().partition(|o| o.state_unread.is_some());
    let states = classes_by_state(&read);
    if states.len() > 1 {
        return Verdict::Diverge(divergence(&states, Kind::State));
    }
    match unread.is_empty() {
        true => Verdict::Agree,
        false => Verdict::Inconclusive(not_judged(&unread)),
    }
}

/// Why the state of the `unread` engines is not judged.
///
/// Rationale: an engine that could not tell what a call left behind (V8 past its time on the
/// state request) has no state to compare; an empty one in its place would diverge from every
/// engine whose call wrote memory, and leaving it out silently would claim an agreement never
/// checked.
fn not_judged(unread: &[&Observation]) -> String {
    let reasons: Vec<String> = unread
        .iter()
        .filter_map(|o| Some(format!("{}: {}", o.engine, o.state_unread.as_ref()?)))
        .collect();
    format!("state not judged ({})", reasons.join("; "))
}

impl Contender for Observation {
    fn engine(&self) -> &str {
        &self.engine
    }

    fn outcome(&self) -> Option<&Outcome> {
        Some(&self.outcome)
    }
}

/// An engine claiming tail calls must run a `return_call` chain of any depth
/// in constant stack: running out of stack where another engine returns is
/// a tail-call bug, not a difference in stack size.
fn tail_call_divergence(ran: &[&Observation]) -> Option<Divergence> {
    let overflowed: Vec<&Observation> = ran
        .iter()
        .copied()
        .filter(|o| o.outcome == Outcome::Exhausted(Resource::Stack))
        .collect();
    // Only engines that returned count: a trap (say, the module's own fuel
    // running out) says nothing about how deep the chain could have gone.
    let finished: Vec<&Observation> = ran
        .iter()
        .copied()
        .filter(|o| matches!(o.outcome, Outcome::Values(_) | Outcome::Exception(_)))
        .collect();
    if overflowed.is_empty() || finished.is_empty() {
        return None;
    }
    Some(divergence(&[finished, overflowed], Kind::TailCall))
}

fn classes_by_state<'a>(observations: &[&'a Observation]) -> Vec<Vec<&'a Observation>> {
    classify::classes(observations, |a, b| match (&a.state, &b.state) {
        (Some(x), Some(y)) => states_equal(x, y),
        _ => true,
    })
}

fn divergence(classes: &[Vec<&Observation>], kind: Kind) -> Divergence {
    let (majority, minority) = classify::split(classes);
    let shapes: Vec<String> = classes
        .iter()
        .map(|class| shape(&class[0].outcome))
        .collect();
    Divergence {
        kind,
        signature: format!(
            "{}:{}:{}",
            kind.name(),
            minority.join("+"),
            shapes.join("/")
        ),
        majority,
        minority,
    }
}

/// The class of an outcome without its values, for signatures.
pub fn shape(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Values(values) => {
            let types: Vec<&str> = values.iter().map(value_type).collect();
            format!("values({})", types.join(","))
        }
        Outcome::Trap { .. } => {
            let codes: Vec<String> = outcome
                .trap_codes()
                .iter()
                .map(|c| format!("{c:?}"))
                .collect();
            format!("trap({})", codes.join("|"))
        }
        Outcome::Exception(e) => format!("exception({})", e.tag),
        Outcome::Exhausted(r) => format!("exhausted({r:?})"),
        Outcome::Invalid(_) | Outcome::Malformed(_) => "rejected".into(),
        Outcome::Unlinkable(_) => "unlinkable".into(),
        Outcome::Crashed(_) => "crashed".into(),
        Outcome::Unsupported(_) => "unsupported".into(),
        Outcome::HarnessFailed(_) => "harness-failed".into(),
    }
}

fn value_type(value: &Value) -> &'static str {
    match value {
        Value::I32(_) => "i32",
        Value::I64(_) => "i64",
        Value::F32(_) => "f32",
        Value::F64(_) => "f64",
        Value::V128(_) => "v128",
        Value::Ref(_) => "ref",
    }
}

fn kind(reference: &Outcome, other: &Outcome) -> Kind {
    use Outcome as O;
    match (reference, other) {
        (O::Values(_), O::Values(_)) => Kind::Values,
        (O::Trap { .. }, O::Trap { .. }) => Kind::Trap,
        (O::Trap { .. }, O::Values(_)) | (O::Values(_), O::Trap { .. }) => Kind::TrapVsValue,
        (O::Exception(_), _) | (_, O::Exception(_)) => Kind::Exception,
        (O::Crashed(_), _) | (_, O::Crashed(_)) => Kind::Crash,
        (O::Invalid(_) | O::Malformed(_), _) | (_, O::Invalid(_) | O::Malformed(_)) => {
            Kind::Validation
        }
        (O::Unlinkable(_), _) | (_, O::Unlinkable(_)) => Kind::Instantiation,
        _ => Kind::Other,
    }
}

/// Outcome equality under the spec's freedoms.
pub fn equivalent(a: &Outcome, b: &Outcome) -> bool {
    use Outcome as O;
    match (a, b) {
        (O::Values(x), O::Values(y)) => values_equal(x, y),
        // Engines word trap messages differently; the normalized code is what counts.
        // An engine that cannot tell some codes apart agrees with any of them.
        (O::Trap { .. }, O::Trap { .. }) => {
            let theirs = b.trap_codes();
            a.trap_codes().iter().any(|code| theirs.contains(code))
        }
        // Uncaught exceptions are compared (peers discard them): same tag, and the same payload
        // where both engines read it. V8's JS API cannot read an unexported tag's payload, which
        // then says nothing either way.
        (O::Exception(x), O::Exception(y)) => {
            x.tag == y.tag
                && match (&x.payload, &y.payload) {
                    (Some(a), Some(b)) => values_equal(a, b),
                    _ => true,
                }
        }
        // Decoding and validation errors are both "rejected"; engines draw the line differently.
        (O::Invalid(_) | O::Malformed(_), O::Invalid(_) | O::Malformed(_)) => true,
        (O::Unlinkable(_), O::Unlinkable(_)) | (O::Crashed(_), O::Crashed(_)) => true,
        _ => false,
    }
}

fn values_equal(a: &[Value], b: &[Value]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| value_equal(x, y))
}

fn value_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // The spec lets any NaN stand for any NaN (sign and payload are
        // nondeterministic), so all NaNs are equal here.
        (Value::F32(x), Value::F32(y)) => {
            x == y || (f32::from_bits(*x).is_nan() && f32::from_bits(*y).is_nan())
        }
        (Value::F64(x), Value::F64(y)) => {
            x == y || (f64::from_bits(*x).is_nan() && f64::from_bits(*y).is_nan())
        }
        // A v128's lane shape is unknown: equal if equal as bits, or NaN-equal lane by lane as f32x4 or f64x2.
        (Value::V128(x), Value::V128(y)) => x == y || lanes_nan_equal(*x, *y),
        // A null's hierarchy is the static type's, the same module's on every engine; engines and
        // lockstep's own guesses for them (V8's JS API shows a bare `null`, a concrete GC type reads
        // as `func` before the module's types are known) name it differently. Null is what shows.
        (Value::Ref(Ref::Null(_)), Value::Ref(Ref::Null(_))) => true,
        // An engine that does not expose a reference's kind cannot contradict one that does.
        (Value::Ref(Ref::Opaque), Value::Ref(r)) | (Value::Ref(r), Value::Ref(Ref::Opaque)) => {
            !matches!(r, Ref::Null(_))
        }
        _ => a == b,
    }
}

fn lanes_nan_equal(x: u128, y: u128) -> bool {
    let f32x4 = (0..4).all(|i| {
        let (a, b) = ((x >> (32 * i)) as u32, (y >> (32 * i)) as u32);
        value_equal(&Value::F32(a), &Value::F32(b))
    });
    let f64x2 = (0..2).all(|i| {
        let (a, b) = ((x >> (64 * i)) as u64, (y >> (64 * i)) as u64);
        value_equal(&Value::F64(a), &Value::F64(b))
    });
    f32x4 || f64x2
}

/// States agree when memories match exactly and every table and global both engines read agrees
/// (globals NaN-aware). V8's JS API cannot read `v128` and `exnref` globals nor an `exnref` table's
/// elements, so V8's state leaves those out: what only one engine read cannot contradict the other.
fn states_equal(a: &State, b: &State) -> bool {
    let tables_agree = a.tables.iter().all(|x| {
        let theirs = b.tables.iter().find(|y| y.0 == x.0);
        theirs.is_none_or(|y| x == y)
    });
    a.memories == b.memories
        && tables_agree
        && a.globals.iter().all(|(name, x)| {
            let theirs = b.globals.iter().find(|(other, _)| other == name);
            theirs.is_none_or(|(_, y)| value_equal(x, y))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{Exception, Heap, TrapCode, UNEXPORTED_TAG};

    fn seen(engine: &str, outcome: Outcome) -> Observation {
        Observation {
            engine: engine.into(),
            outcome,
            state: None,
            state_unread: None,
        }
    }

    fn values(v: Vec<Value>) -> Outcome {
        Outcome::Values(v)
    }

    #[test]
    fn nans_agree_and_numbers_do_not() {
        let nan_a = values(vec![Value::F32(0x7fc0_0000)]);
        let nan_b = values(vec![Value::F32(0xffc0_0001)]);
        assert_eq!(
            compare(&[seen("a", nan_a), seen("b", nan_b)], false),
            Verdict::Agree
        );
        let verdict = compare(
            &[
                seen("a", values(vec![Value::I64(1)])),
                seen("b", values(vec![Value::I64(1)])),
                seen("c", values(vec![Value::I64(2)])),
            ],
            false,
        );
        let Verdict::Diverge(d) = verdict else {
            panic!("{verdict:?}")
        };
        assert_eq!(
            (d.kind, d.minority.as_slice()),
            (Kind::Values, ["c".to_string()].as_slice())
        );
        assert_eq!(d.signature, "values:c:values(i64)/values(i64)");
    }

    #[test]
    fn traps_compare_by_code_and_against_values() {
        let trap = |code| Outcome::trap(code, "whatever the engine says");
        let same = [
            seen("a", trap(TrapCode::Unreachable)),
            seen("b", trap(TrapCode::Unreachable)),
        ];
        assert_eq!(compare(&same, false), Verdict::Agree);
        let mixed = [
            seen("a", trap(TrapCode::Unreachable)),
            seen("b", values(vec![])),
        ];
        let Verdict::Diverge(d) = compare(&mixed, false) else {
            panic!()
        };
        assert_eq!(d.kind, Kind::TrapVsValue);
    }

    #[test]
    fn a_trap_an_engine_cannot_tell_apart_agrees_with_any_of_its_codes() {
        let either = Outcome::Trap {
            code: TrapCode::IndirectCallToNull,
            message: "null function or function signature mismatch".into(),
            alternatives: vec![TrapCode::IndirectCallTypeMismatch],
        };
        let trap = |code| Outcome::trap(code, "precise");
        for code in [
            TrapCode::IndirectCallToNull,
            TrapCode::IndirectCallTypeMismatch,
        ] {
            let runs = [seen("v8", either.clone()), seen("w", trap(code))];
            assert_eq!(compare(&runs, false), Verdict::Agree, "{code:?}");
        }
        let runs = [
            seen("w", trap(TrapCode::Unreachable)),
            seen("x", trap(TrapCode::Unreachable)),
            seen("v8", either),
        ];
        let Verdict::Diverge(d) = compare(&runs, false) else {
            panic!()
        };
        assert_eq!(
            d.signature,
            "trap:v8:trap(Unreachable)/trap(IndirectCallToNull|IndirectCallTypeMismatch)"
        );
    }

    #[test]
    fn exceptions_compare_by_tag_and_payload() {
        let exn = |n| {
            Outcome::Exception(Exception {
                tag: "t".into(),
                payload: Some(vec![Value::I32(n)]),
            })
        };
        assert_eq!(
            compare(&[seen("a", exn(1)), seen("b", exn(1))], false),
            Verdict::Agree
        );
        let Verdict::Diverge(d) = compare(
            &[seen("a", exn(1)), seen("b", exn(1)), seen("c", exn(2))],
            false,
        ) else {
            panic!()
        };
        assert_eq!(d.kind, Kind::Exception);
    }

    #[test]
    fn an_unread_payload_agrees_with_any_but_the_tag_still_counts() {
        let exn = |tag: &str, payload| {
            Outcome::Exception(Exception {
                tag: tag.into(),
                payload,
            })
        };
        let read = exn(UNEXPORTED_TAG, Some(vec![Value::I32(7)]));
        let unread = exn(UNEXPORTED_TAG, None);
        assert_eq!(
            compare(&[seen("w", read), seen("v8", unread.clone())], false),
            Verdict::Agree
        );
        let named = exn("t", Some(vec![Value::I32(7)]));
        let Verdict::Diverge(d) = compare(
            &[
                seen("a", named.clone()),
                seen("b", named),
                seen("v8", unread),
            ],
            false,
        ) else {
            panic!()
        };
        assert_eq!(d.kind, Kind::Exception);
    }

    #[test]
    fn nulls_agree_whatever_hierarchy_an_engine_names() {
        let null = |heap| values(vec![Value::Ref(Ref::Null(heap))]);
        let runs = [seen("w", null(Heap::Any)), seen("v8", null(Heap::Func))];
        assert_eq!(compare(&runs, false), Verdict::Agree);
        let runs = [
            seen("w", null(Heap::Any)),
            seen("x", values(vec![Value::Ref(Ref::Struct)])),
        ];
        assert!(matches!(compare(&runs, false), Verdict::Diverge(_)));
    }

    #[test]
    fn a_global_one_engine_cannot_read_is_compared_where_it_is_read() {
        let with_globals = |engine: &str, globals: Vec<(&str, Value)>| Observation {
            state: Some(State {
                globals: globals.into_iter().map(|(n, v)| (n.into(), v)).collect(),
                ..State::default()
            }),
            ..seen(engine, values(vec![]))
        };
        let lanes = ("lanes", Value::V128(1));
        let runs = [
            with_globals("w", vec![("count", Value::I32(1)), lanes.clone()]),
            with_globals("v8", vec![("count", Value::I32(1))]),
        ];
        assert_eq!(compare(&runs, false), Verdict::Agree);
        let runs = [
            with_globals("w", vec![("count", Value::I32(1)), lanes.clone()]),
            with_globals(
                "x",
                vec![("count", Value::I32(1)), ("lanes", Value::V128(2))],
            ),
            with_globals("v8", vec![("count", Value::I32(1))]),
        ];
        assert!(matches!(compare(&runs, false), Verdict::Diverge(d) if d.kind == Kind::State));
    }

    #[test]
    fn exhaustion_is_inconclusive_except_for_tail_calls() {
        let done = values(vec![Value::I32(0)]);
        let overflow = Outcome::Exhausted(Resource::Stack);
        let runs = [seen("a", done.clone()), seen("b", overflow.clone())];
        assert!(matches!(compare(&runs, false), Verdict::Inconclusive(_)));
        let trapped = [
            seen("a", Outcome::trap(TrapCode::Unreachable, "fuel")),
            seen("b", overflow),
        ];
        assert!(matches!(compare(&trapped, true), Verdict::Inconclusive(_)));
        let Verdict::Diverge(d) = compare(&runs, true) else {
            panic!()
        };
        assert_eq!(
            (d.kind, d.minority.as_slice()),
            (Kind::TailCall, ["b".to_string()].as_slice())
        );
        let unsupported = [
            seen("a", done),
            seen("w", Outcome::Unsupported("no".into())),
        ];
        assert!(matches!(
            compare(&unsupported, true),
            Verdict::Inconclusive(_)
        ));
    }

    #[test]
    fn state_after_the_call_is_compared() {
        let mut a = seen("a", values(vec![]));
        let mut b = seen("b", values(vec![]));
        a.state = Some(State {
            memories: vec![("m".into(), 65536, 1)],
            ..State::default()
        });
        b.state = Some(State {
            memories: vec![("m".into(), 65536, 2)],
            ..State::default()
        });
        let Verdict::Diverge(d) = compare(&[a, b], false) else {
            panic!()
        };
        assert_eq!(d.kind, Kind::State);
    }

    #[test]
    fn an_unread_state_is_neither_agreement_nor_divergence() {
        let with_memory = |engine: &str, digest: u64| Observation {
            state: Some(State {
                memories: vec![("m".into(), 65536, digest)],
                ..State::default()
            }),
            ..seen(engine, values(vec![]))
        };
        let unread = Observation {
            state_unread: Some(Unread::NoReply(Outcome::Exhausted(Resource::Time))),
            ..seen("v8", values(vec![]))
        };
        let runs = [with_memory("a", 1), with_memory("b", 1), unread.clone()];
        let Verdict::Inconclusive(why) = compare(&runs, false) else {
            panic!("{:?}", compare(&runs, false))
        };
        assert!(
            why.contains("state not judged (v8: no reply to the state request"),
            "{why}"
        );
        // The engines that read their state are still compared with each other, and only them.
        let runs = [with_memory("a", 1), with_memory("b", 2), unread];
        let Verdict::Diverge(d) = compare(&runs, false) else {
            panic!()
        };
        assert_eq!(d.kind, Kind::State);
        assert!(!d.majority.contains(&"v8".to_string()) && !d.minority.contains(&"v8".to_string()));
    }
}
