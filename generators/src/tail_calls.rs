//! Tail-call chains and cycles through `return_call`, `return_call_indirect` and `return_call_ref`,
//! with mixed signatures and depths up to 10^6, whose result the generator computes itself.

use crate::seed::Choices;
use crate::{Generated, Num};
use oracles::differential::Invocation;
use oracles::{Outcome, Value};
use std::fmt::Write as _;
use wasmparser::WasmFeatures;

/// The deepest chain generated.
///
/// Rationale: a tier whose tail calls grow the stack runs out of it a thousand
/// calls deep on wasmi and tens of thousands deep on wasmtime and V8: a million
/// is past every tier's stack many times over. Ten million was no further past
/// it, and took the interpreters most of a campaign's run time.
pub const MAX_DEPTH: u64 = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    Direct,
    Indirect,
    Ref,
}

/// One function of the cycle: extra parameters carried along, how it calls the next, its multiplier.
#[derive(Clone, Debug)]
struct Link {
    extras: Vec<Num>,
    via: Via,
    multiplier: i32,
}

/// A cycle of `links.len()` functions, each tail-calling the next until `n` reaches zero.
#[derive(Clone, Debug)]
pub struct Chain {
    links: Vec<Link>,
}

impl Chain {
    /// A random cycle; `return_call_ref` only where typed function references are available.
    pub fn random(rng: &mut impl Choices, features: WasmFeatures) -> Chain {
        let vias = if features.function_references() {
            &[Via::Direct, Via::Indirect, Via::Ref][..]
        } else {
            &[Via::Direct, Via::Indirect][..]
        };
        let extras = Num::ALL;
        let links = (0..1 + rng.below(4))
            .map(|_| Link {
                extras: (0..rng.below(4))
                    .map(|_| extras[rng.below(4) as usize])
                    .collect(),
                via: vias[rng.below(vias.len() as u64) as usize],
                multiplier: (rng.below(1000) as i32) * 2 + 1,
            })
            .collect();
        Chain { links }
    }

    /// A plain self-recursive `return_call` loop.
    pub fn simple() -> Chain {
        Chain {
            links: vec![Link {
                extras: vec![Num::I64, Num::F64],
                via: Via::Direct,
                multiplier: 31,
            }],
        }
    }

    pub fn uses_function_references(&self) -> bool {
        self.links.iter().any(|l| l.via == Via::Ref)
    }

    /// What `run(depth)` returns: the accumulator, plus the extras the last caller passed.
    pub fn expected(&self, depth: u64) -> i64 {
        let k = self.links.len() as u64;
        let mut acc: i32 = 1;
        for step in 0..depth {
            let i = (step % k) as usize;
            acc = acc
                .wrapping_mul(self.links[i].multiplier)
                .wrapping_add(i as i32 + 1);
        }
        let last = (depth % k) as usize;
        let caller = if depth == 0 {
            k as usize
        } else {
            ((depth - 1) % k) as usize
        };
        let extras: i64 = (0..self.links[last].extras.len())
            .map(|slot| constant(caller, slot))
            .sum();
        i64::from(acc as u32).wrapping_add(extras)
    }

    /// The module in the text format: `run (param i64) (result i64)` starts the chain.
    pub fn wat(&self) -> String {
        let k = self.links.len();
        let mut out = String::from("(module\n");
        for (i, link) in self.links.iter().enumerate() {
            let extras: String = link
                .extras
                .iter()
                .map(|e| format!(" {}", e.name()))
                .collect();
            let _ = writeln!(
                out,
                "  (type $sig{i} (func (param i64 i32{extras}) (result i64)))"
            );
        }
        let names: String = (0..k).map(|i| format!(" $f{i}")).collect();
        let _ = writeln!(out, "  (table $table funcref (elem{names}))");
        let _ = writeln!(out, "  (elem declare func{names})");
        for i in 0..k {
            out.push_str(&self.function(i));
        }
        let _ = writeln!(
            out,
            "  (func (export \"run\") (param i64) (result i64)\n    (return_call $f0 (local.get 0) (i32.const 1){}))\n)",
            self.extras_for(0, k)
        );
        out
    }

    fn function(&self, i: usize) -> String {
        let link = &self.links[i];
        let next = (i + 1) % self.links.len();
        let args = format!(
            "(i64.sub (local.get 0) (i64.const 1)) (i32.add (i32.mul (local.get 1) (i32.const {})) (i32.const {})){}",
            link.multiplier,
            i + 1,
            self.extras_for(next, i)
        );
        let call = match link.via {
            Via::Direct => format!("(return_call $f{next} {args})"),
            Via::Indirect => {
                format!("(return_call_indirect $table (type $sig{next}) {args} (i32.const {next}))")
            }
            Via::Ref => format!("(return_call_ref $sig{next} {args} (ref.func $f{next}))"),
        };
        let sum = (0..link.extras.len()).fold(
            "(i64.extend_i32_u (local.get 1))".to_string(),
            |acc, slot| format!("(i64.add {acc} {})", to_i64(link.extras[slot], slot + 2)),
        );
        format!(
            "  (func $f{i} (type $sig{i})\n    (if (result i64) (i64.eqz (local.get 0))\n      (then {sum})\n      (else {call})))\n"
        )
    }

    /// The extra arguments caller `caller` passes to function `callee`.
    fn extras_for(&self, callee: usize, caller: usize) -> String {
        let extras = &self.links[callee].extras;
        (0..extras.len())
            .map(|slot| {
                format!(
                    " ({}.const {})",
                    extras[slot].name(),
                    constant(caller, slot)
                )
            })
            .collect()
    }

    /// The module with a call of `run(depth)` and its known result.
    pub fn generated(&self, depth: u64) -> Result<Generated, String> {
        Ok(Generated {
            wasm: crate::wat_to_wasm(&self.wat())?,
            calls: vec![Invocation {
                export: "run".into(),
                args: vec![Value::I64(depth as i64)],
                expected: Some(Outcome::Values(vec![Value::I64(self.expected(depth))])),
            }],
        })
    }
}

/// The constant a caller passes in an extra slot: small, so exact in every type.
fn constant(caller: usize, slot: usize) -> i64 {
    (caller as i64) * 7 + (slot as i64) * 3 + 1
}

/// Extra parameter `local` widened to i64 for the final sum.
fn to_i64(num: Num, local: usize) -> String {
    match num {
        Num::I32 => format!("(i64.extend_i32_s (local.get {local}))"),
        Num::I64 => format!("(local.get {local})"),
        Num::F32 => format!("(i64.trunc_f32_s (local.get {local}))"),
        Num::F64 => format!("(i64.trunc_f64_s (local.get {local}))"),
    }
}

/// A random chain of random depth: mostly shallow, sometimes up to [`MAX_DEPTH`].
pub fn generate(rng: &mut impl Choices, features: WasmFeatures) -> Result<Generated, String> {
    let chain = Chain::random(rng, features);
    let depth = match rng.below(20) {
        0 => MAX_DEPTH,
        1..=3 => rng.below(MAX_DEPTH / 10),
        _ => rng.below(10_000),
    };
    chain.generated(depth)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Rng;
    use oracles::{Limits, features};

    fn run_on(engine: &str, generated: &Generated) -> Outcome {
        let engine = oracles::engine(engine).unwrap();
        let mut session = engine.session(&Limits::default());
        let module = session.compile(&generated.wasm).unwrap();
        let instance = session.instantiate(module).unwrap();
        session.invoke(instance, "run", &generated.calls[0].args)
    }

    #[test]
    fn the_generator_knows_the_result() {
        for item in 0..30 {
            let chain = Chain::random(&mut Rng::for_item(5, item), WasmFeatures::WASM3);
            let generated = chain.generated(item * 37).unwrap();
            assert!(
                features::validates(&generated.wasm, WasmFeatures::WASM3),
                "{}",
                chain.wat()
            );
            let engine = if chain.uses_function_references() {
                "wasmtime-cranelift"
            } else {
                "wasmi"
            };
            assert_eq!(
                Some(run_on(engine, &generated)),
                generated.calls[0].expected,
                "{}",
                chain.wat()
            );
        }
    }

    #[test]
    fn a_million_tail_calls_run_in_constant_stack() {
        let generated = Chain::simple().generated(MAX_DEPTH).unwrap();
        assert_eq!(
            Some(run_on("wasmtime-cranelift", &generated)),
            generated.calls[0].expected
        );
    }
}
