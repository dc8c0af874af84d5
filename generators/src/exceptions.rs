//! Exception patterns: a call chain whose deepest frame throws, with `catch`, `catch_ref` + `throw_ref`,
//! `catch_all` and `catch_all_ref` handlers on the way up; payloads of every number type; the outcome known.

use crate::seed::Choices;
use crate::{Generated, Num};
use oracles::differential::Invocation;
use oracles::{Exception, Outcome, Value};
use std::fmt::Write as _;

/// The handler a frame puts around its call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Handler {
    None,
    /// `catch $tag`: catches that tag, folds its payload into the result.
    Catch(usize),
    /// `catch_ref $tag` then `throw_ref`: catches that tag and throws it on.
    Rethrow(usize),
    CatchAll,
    /// `catch_all_ref` then `throw_ref`.
    RethrowAll,
}

/// Tags with payload types, frames with handlers, and which tag the deepest frame throws.
#[derive(Clone, Debug)]
pub struct Pattern {
    tags: Vec<Vec<Num>>,
    handlers: Vec<Handler>,
    thrown: usize,
}

impl Pattern {
    pub fn random(rng: &mut impl Choices) -> Pattern {
        let nums = Num::ALL;
        let tags: Vec<Vec<Num>> = (0..1 + rng.below(3))
            .map(|_| {
                (0..rng.below(4))
                    .map(|_| nums[rng.below(4) as usize])
                    .collect()
            })
            .collect();
        let tag_count = tags.len() as u64;
        let handlers = (0..1 + rng.below(5))
            .map(|_| match rng.below(6) {
                0 => Handler::Catch(rng.below(tag_count) as usize),
                1 => Handler::Rethrow(rng.below(tag_count) as usize),
                2 => Handler::CatchAll,
                3 => Handler::RethrowAll,
                _ => Handler::None,
            })
            .collect();
        let thrown = rng.below(tag_count) as usize;
        Pattern {
            tags,
            handlers,
            thrown,
        }
    }

    /// A throw of a two-value payload that nothing catches.
    pub fn uncaught_pair() -> Pattern {
        Pattern {
            tags: vec![vec![Num::I32, Num::F64]],
            handlers: vec![Handler::None, Handler::Rethrow(0), Handler::RethrowAll],
            thrown: 0,
        }
    }

    fn payload(&self) -> Vec<Value> {
        self.tags[self.thrown]
            .iter()
            .enumerate()
            .map(|(slot, num)| num.value(payload_constant(self.thrown, slot)))
            .collect()
    }

    /// What `run` does: the innermost catching handler decides, or the exception escapes.
    pub fn expected(&self) -> Outcome {
        let payload = self.payload();
        for (frame, handler) in self.handlers.iter().enumerate().rev() {
            match handler {
                Handler::Catch(tag) if *tag == self.thrown => {
                    let folded = payload
                        .iter()
                        .map(fold)
                        .fold(0i32, |a, b| a.wrapping_add(b));
                    return Outcome::Values(vec![Value::I32(
                        folded.wrapping_add(100 * (frame as i32 + 1)),
                    )]);
                }
                Handler::CatchAll => return Outcome::Values(vec![Value::I32(1000 + frame as i32)]),
                _ => {}
            }
        }
        Outcome::Exception(Exception {
            tag: format!("t{}", self.thrown),
            payload,
        })
    }

    pub fn wat(&self) -> String {
        let mut out = String::from("(module\n");
        for (i, params) in self.tags.iter().enumerate() {
            let _ = writeln!(
                out,
                "  (tag $t{i} (export \"t{i}\") (param{}))",
                names(params)
            );
        }
        for frame in 0..self.handlers.len() {
            out.push_str(&self.frame(frame));
        }
        let consts: String = self
            .payload()
            .iter()
            .zip(&self.tags[self.thrown])
            .map(|(v, num)| format!(" ({}.const {})", num.name(), literal(v)))
            .collect();
        let deepest = self.handlers.len();
        let _ = writeln!(
            out,
            "  (func $f{deepest} (result i32) (throw $t{}{consts}))",
            self.thrown
        );
        out.push_str("  (func (export \"run\") (result i32) (call $f0))\n)\n");
        out
    }

    fn frame(&self, frame: usize) -> String {
        let call = format!("(call $f{})", frame + 1);
        let base = 100 * (frame as i32 + 1);
        let body = match self.handlers[frame] {
            Handler::None => call,
            Handler::Catch(tag) => {
                let params = &self.tags[tag];
                let sets: String = (0..params.len())
                    .rev()
                    .map(|slot| format!(" (local.set $p{slot})"))
                    .collect();
                let sum = (0..params.len()).fold(format!("(i32.const {base})"), |acc, slot| {
                    format!("(i32.add {acc} {})", fold_local(params[slot], slot))
                });
                format!(
                    "(block $h (result{})\n      (return (try_table (result i32) (catch $t{tag} $h) {call})))\n    {sets}\n    {sum}",
                    names(params)
                )
            }
            Handler::Rethrow(tag) => {
                let params = &self.tags[tag];
                let drops = " (drop)".repeat(params.len());
                format!(
                    "(block $h (result{} exnref)\n      (return (try_table (result i32) (catch_ref $t{tag} $h) {call})))\n    (local.set $e){drops} (throw_ref (local.get $e))",
                    names(params)
                )
            }
            Handler::CatchAll => format!(
                "(block $h\n      (return (try_table (result i32) (catch_all $h) {call})))\n    (i32.const {})",
                1000 + frame
            ),
            Handler::RethrowAll => format!(
                "(block $h (result exnref)\n      (return (try_table (result i32) (catch_all_ref $h) {call})))\n    (throw_ref)"
            ),
        };
        let locals: String = match self.handlers[frame] {
            Handler::Catch(tag) => self.tags[tag]
                .iter()
                .enumerate()
                .map(|(slot, n)| format!(" (local $p{slot} {})", n.name()))
                .collect(),
            _ => String::new(),
        };
        format!("  (func $f{frame} (result i32) (local $e exnref){locals}\n    {body})\n")
    }

    pub fn generated(&self) -> Result<Generated, String> {
        Ok(Generated {
            wasm: crate::wat_to_wasm(&self.wat())?,
            calls: vec![Invocation {
                export: "run".into(),
                args: Vec::new(),
                expected: Some(self.expected()),
            }],
        })
    }
}

pub fn generate(rng: &mut impl Choices) -> Result<Generated, String> {
    Pattern::random(rng).generated()
}

/// Payload values: small and distinct, negative for odd slots, exact in every type.
fn payload_constant(tag: usize, slot: usize) -> i64 {
    let magnitude = (tag as i64 + 1) * 10 + slot as i64 * 3 + 1;
    if slot % 2 == 1 { -magnitude } else { magnitude }
}

fn fold(value: &Value) -> i32 {
    match value {
        Value::I32(v) => *v,
        Value::I64(v) => *v as i32,
        Value::F32(bits) => f32::from_bits(*bits) as i32,
        Value::F64(bits) => f64::from_bits(*bits) as i32,
        _ => 0,
    }
}

fn literal(value: &Value) -> String {
    match value {
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::F32(bits) => format!("{:?}", f32::from_bits(*bits)),
        Value::F64(bits) => format!("{:?}", f64::from_bits(*bits)),
        other => unreachable!("payloads are numbers, not {other}"),
    }
}

fn names(nums: &[Num]) -> String {
    nums.iter().map(|n| format!(" {}", n.name())).collect()
}

/// The payload value in local `slot` as an i32 (floats truncate, saturating).
fn fold_local(num: Num, slot: usize) -> String {
    match num {
        Num::I32 => format!("(local.get $p{slot})"),
        Num::I64 => format!("(i32.wrap_i64 (local.get $p{slot}))"),
        Num::F32 => format!("(i32.trunc_sat_f32_s (local.get $p{slot}))"),
        Num::F64 => format!("(i32.trunc_sat_f64_s (local.get $p{slot}))"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;
    use oracles::Limits;

    #[test]
    fn the_generator_knows_the_outcome() {
        let engine = oracles::engine("wasmtime-cranelift").unwrap();
        for item in 0..40 {
            let pattern = Pattern::random(&mut Rng::for_item(11, item));
            let generated = pattern
                .generated()
                .unwrap_or_else(|e| panic!("{e}\n{}", pattern.wat()));
            let mut session = engine.session(&Limits::default());
            let module = session.compile(&generated.wasm).unwrap();
            let instance = session.instantiate(module).unwrap();
            let outcome = session.invoke(instance, "run", &[]);
            assert_eq!(
                Some(outcome),
                generated.calls[0].expected,
                "{}",
                pattern.wat()
            );
        }
    }
}
