//! A finding on disk: `module.wasm`, `module.wat`, a runnable `repro.wast` and `report.json`, in a folder named by signature.

use oracles::compare::{Divergence, Verdict};
use oracles::differential::{Invocation, Run};
use oracles::{Outcome, Ref, Resource, Value};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where a finding comes from, for its report.
#[derive(Serialize)]
pub struct Origin {
    /// The generator, or the file a reduction started from.
    pub source: String,
    /// The fuzzing campaign's seed and module index, when it came from one.
    pub seed: Option<u64>,
    pub iteration: Option<u64>,
    /// Engine ids with their versions and configuration.
    pub engines: Vec<(String, String)>,
    /// The proposals generated modules were allowed to use.
    pub features: Vec<&'static str>,
}

#[derive(Serialize)]
struct Report<'a> {
    signature: &'a str,
    divergence: &'a Divergence,
    origin: &'a Origin,
    invocations: &'a [Invocation],
    run: &'a Run,
}

/// The folder a signature's finding lives in.
pub fn folder(out: &Path, signature: &str) -> PathBuf {
    let safe: String = signature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    out.join(safe)
}

/// A divergence and everything needed to show it again.
pub struct Evidence<'a> {
    pub wasm: &'a [u8],
    pub invocations: &'a [Invocation],
    pub run: &'a Run,
    /// The step of `run` that diverged.
    pub step: usize,
}

/// Writes the finding into its signature's folder under `out`.
pub fn save(out: &Path, evidence: &Evidence, origin: &Origin) -> anyhow::Result<PathBuf> {
    save_to(&folder(out, &signature(evidence)?), evidence, origin)
}

fn signature(evidence: &Evidence) -> anyhow::Result<String> {
    match &evidence.run.steps[evidence.step].verdict {
        Verdict::Diverge(divergence) => Ok(divergence.signature.clone()),
        _ => anyhow::bail!("step {} did not diverge", evidence.step),
    }
}

/// Writes the finding into `dir`.
pub fn save_to(dir: &Path, evidence: &Evidence, origin: &Origin) -> anyhow::Result<PathBuf> {
    let Evidence {
        wasm,
        invocations,
        run,
        step,
    } = *evidence;
    let Verdict::Diverge(divergence) = &run.steps[step].verdict else {
        anyhow::bail!("step {step} did not diverge");
    };
    let dir = dir.to_path_buf();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("module.wasm"), wasm)?;
    let text = wasmprinter::print_bytes(wasm).unwrap_or_else(|e| format!(";; wasmprinter: {e}\n"));
    std::fs::write(dir.join("module.wat"), &text)?;
    std::fs::write(
        dir.join("repro.wast"),
        repro(wasm, invocations, run, step, divergence),
    )?;
    let report = Report {
        signature: &divergence.signature,
        divergence,
        origin,
        invocations,
        run,
    };
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(dir)
}

/// A script that replays the divergence: the module, the calls before the
/// divergent one, and an assertion of the majority's outcome, with a comment
/// per engine saying what it did.
pub fn repro(
    wasm: &[u8],
    invocations: &[Invocation],
    run: &Run,
    step: usize,
    divergence: &Divergence,
) -> String {
    let mut out = format!(";; lockstep finding {}\n", divergence.signature);
    for observation in &run.steps[step].observations {
        let _ = writeln!(out, ";;   {}: {}", observation.engine, observation.outcome);
    }
    let reference = run.steps[step]
        .observations
        .iter()
        .find(|o| divergence.majority.contains(&o.engine))
        .map(|o| &o.outcome);
    let module = binary_module(wasm);
    // Steps 0 and 1 are compilation and instantiation; calls follow.
    if step < 2 {
        let assertion = match reference {
            Some(Outcome::Invalid(_) | Outcome::Malformed(_)) => {
                format!("(assert_invalid {module} \"rejected\")")
            }
            Some(Outcome::Unlinkable(_)) => format!("(assert_unlinkable {module} \"unlinkable\")"),
            _ => module,
        };
        return out + &assertion + "\n";
    }
    out.push_str(&module);
    out.push('\n');
    for invocation in &invocations[..step - 2] {
        let _ = writeln!(out, "(invoke {})", invoke(invocation));
    }
    let call = invoke(&invocations[step - 2]);
    let _ = writeln!(out, "{}", assertion(&call, reference));
    out.push_str(&global_assertions(run, step, divergence));
    out
}

/// For a state divergence: the majority's value of every exported global some engine disagrees on.
fn global_assertions(run: &Run, step: usize, divergence: &Divergence) -> String {
    let states: Vec<(&str, &oracles::State)> = run.steps[step]
        .observations
        .iter()
        .filter_map(|o| Some((o.engine.as_str(), o.state.as_ref()?)))
        .collect();
    let Some((_, reference)) = states
        .iter()
        .find(|(engine, _)| divergence.majority.iter().any(|m| m == engine))
    else {
        return String::new();
    };
    let mut out = String::new();
    for (name, value) in &reference.globals {
        let disputed = states
            .iter()
            .any(|(_, state)| !state.globals.iter().any(|(n, v)| n == name && v == value));
        if disputed {
            let _ = writeln!(
                out,
                "(assert_return (get \"{}\") {})",
                name.escape_default(),
                result(value)
            );
        }
    }
    let contents_differ = states
        .iter()
        .any(|(_, state)| state.memories != reference.memories || state.tables != reference.tables);
    if contents_differ {
        out.push_str(";; a memory or table differs too: they are compared by digest, which a script cannot assert\n");
    }
    out
}

fn assertion(call: &str, reference: Option<&Outcome>) -> String {
    match reference {
        Some(Outcome::Values(values)) => {
            let results: Vec<String> = values.iter().map(result).collect();
            format!("(assert_return (invoke {call}) {})", results.join(" "))
        }
        Some(Outcome::Trap { code, .. }) => {
            format!("(assert_trap (invoke {call}) \"{}\")", code.spec_message())
        }
        Some(Outcome::Exception(_)) => format!("(assert_exception (invoke {call}))"),
        Some(Outcome::Exhausted(Resource::Stack)) => {
            format!("(assert_exhaustion (invoke {call}) \"call stack exhausted\")")
        }
        _ => format!("(invoke {call})"),
    }
}

fn binary_module(wasm: &[u8]) -> String {
    let mut out = String::from("(module binary\n  \"");
    for (i, byte) in wasm.iter().enumerate() {
        if i > 0 && i % 32 == 0 {
            out.push_str("\"\n  \"");
        }
        let _ = write!(out, "\\{byte:02x}");
    }
    out.push_str("\")");
    out
}

fn invoke(invocation: &Invocation) -> String {
    let args: Vec<String> = invocation.args.iter().map(argument).collect();
    let name = invocation.export.escape_default();
    if args.is_empty() {
        format!("\"{name}\"")
    } else {
        format!("\"{name}\" {}", args.join(" "))
    }
}

fn argument(value: &Value) -> String {
    match value {
        Value::I32(v) => format!("(i32.const {v})"),
        Value::I64(v) => format!("(i64.const {v})"),
        Value::F32(bits) => format!("(f32.const {})", float32(*bits)),
        Value::F64(bits) => format!("(f64.const {})", float64(*bits)),
        Value::V128(v) => format!(
            "(v128.const i64x2 {} {})",
            *v as u64 as i64,
            (*v >> 64) as u64 as i64
        ),
        Value::Ref(Ref::Null(heap)) => format!("(ref.null {})", heap_name(*heap)),
        Value::Ref(Ref::Extern(Some(n))) => format!("(ref.extern {n})"),
        Value::Ref(Ref::Host(n)) => format!("(ref.host {n})"),
        Value::Ref(_) => "(ref.null func)".into(),
    }
}

/// An expected result: exact bits, except that a quiet NaN stands for any arithmetic NaN.
fn result(value: &Value) -> String {
    match value {
        Value::F32(bits) if f32::from_bits(*bits).is_nan() && bits & 0x0040_0000 != 0 => {
            "(f32.const nan:arithmetic)".into()
        }
        Value::F64(bits) if f64::from_bits(*bits).is_nan() && bits & (1 << 51) != 0 => {
            "(f64.const nan:arithmetic)".into()
        }
        Value::Ref(Ref::Func) => "(ref.func)".into(),
        Value::Ref(Ref::Extern(None)) => "(ref.extern)".into(),
        Value::Ref(Ref::Null(heap)) => format!("(ref.null {})", heap_name(*heap)),
        other => argument(other),
    }
}

fn heap_name(heap: oracles::Heap) -> &'static str {
    match heap {
        oracles::Heap::Func => "func",
        oracles::Heap::Extern => "extern",
        oracles::Heap::Any => "any",
        oracles::Heap::Exn => "exn",
    }
}

/// An exact `f32.const` literal: the shortest round-tripping decimal, or a NaN with its payload.
fn float32(bits: u32) -> String {
    float_text(
        f32::from_bits(bits).is_nan(),
        bits >> 31 == 1,
        u64::from(bits & 0x007f_ffff),
        format!("{:?}", f32::from_bits(bits)),
    )
}

/// An exact `f64.const` literal.
fn float64(bits: u64) -> String {
    float_text(
        f64::from_bits(bits).is_nan(),
        bits >> 63 == 1,
        bits & 0x000f_ffff_ffff_ffff,
        format!("{:?}", f64::from_bits(bits)),
    )
}

/// Rust's shortest form already writes `inf` and `-inf` as the text format does; only NaNs differ.
fn float_text(nan: bool, negative: bool, payload: u64, shortest: String) -> String {
    if nan {
        format!("{}nan:{payload:#x}", if negative { "-" } else { "" })
    } else {
        shortest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_exactly() {
        assert_eq!(float32(f32::NAN.to_bits()), "nan:0x400000");
        assert_eq!(float64((-0.0f64).to_bits()), "-0.0");
        assert_eq!(float64(f64::NEG_INFINITY.to_bits()), "-inf");
        assert_eq!(float32(1.5f32.to_bits()), "1.5");
    }
}
