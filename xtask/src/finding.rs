//! A finding on disk: `module.wasm`, `module.wat`, a runnable `repro.wast` and `report.json`, in a folder named by signature.

use crate::blame::Blame;
use crate::bucket::Bucket;
use crate::known::Known;
use oracles::compare::{Divergence, Observation, Verdict};
use oracles::differential::{EXPECTED, Invocation, Run};
use oracles::{Outcome, Ref, Resource, Value};
use serde::Serialize;
use serde_json::value::{RawValue, to_raw_value};
use std::collections::BTreeMap;
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
    /// Each engine as `--engine` names the variant that ran (`asyncify@O1`): `diff`, `reduce`
    /// and `blame` on the finding run these unless told otherwise.
    pub variants: Vec<String>,
    /// The proposals generated modules were allowed to use.
    pub features: Vec<&'static str>,
}

#[derive(Serialize)]
struct Report<'a> {
    signature: &'a str,
    /// The cause this finding is grouped under (see `bucket.rs`).
    bucket: &'a Bucket,
    divergence: &'a Divergence,
    origin: &'a Origin,
    invocations: &'a [Invocation],
    run: &'a Run,
    /// How many more modules showed this signature after it was saved (campaigns update it).
    seen_again: u64,
    /// The known divergence this is an instance of, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    known: Option<&'a Known>,
    /// Whose bug it is (see `blame.rs`), when it was blamed.
    #[serde(skip_serializing_if = "Option::is_none")]
    blame: Option<&'a Blame>,
}

/// Characters of the signature a folder name shows before the hash.
const READABLE_PREFIX: usize = 80;

/// The folder a signature's finding lives in: a readable prefix of the
/// signature and a hash of all of it, so that long signatures sharing a
/// prefix still get folders of their own.
pub fn folder(out: &Path, signature: &str) -> PathBuf {
    let readable: String = signature
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(READABLE_PREFIX)
        .collect();
    let hash = blake3::hash(signature.as_bytes()).to_hex();
    out.join(format!("{readable}-{}", &hash[..16]))
}

/// The engine variants the finding in `dir` was found on, as its `report.json` records
/// them; none for a report from before variants were recorded.
pub fn recorded_variants(dir: &Path) -> anyhow::Result<Vec<oracles::EngineChoice>> {
    let path = dir.join("report.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let report: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let variants = report["origin"]["variants"].as_array().cloned();
    variants
        .unwrap_or_default()
        .iter()
        .map(|variant| {
            let name = variant.as_str().unwrap_or_default();
            oracles::EngineChoice::parse(name)
                .map_err(|why| anyhow::anyhow!("{}: origin.variants: {why}", path.display()))
        })
        .collect()
}

/// How many findings `out` holds: its folders with a `report.json`.
pub fn count(out: &Path) -> anyhow::Result<u64> {
    let folders = std::fs::read_dir(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    Ok(folders
        .flatten()
        .filter(|entry| entry.path().join("report.json").is_file())
        .count() as u64)
}

/// Adds `repeats` to the `seen_again` count in the `report.json` of the finding in `dir`.
pub fn add_repeats(dir: &Path, repeats: u64) -> anyhow::Result<()> {
    let mut report = fields(dir)?;
    let seen_again = report.get("seen_again");
    let before: u64 = seen_again.map_or(Ok(0), |raw| serde_json::from_str(raw.get()))?;
    report.insert("seen_again".into(), to_raw_value(&(before + repeats))?);
    rewrite(dir, &report)
}

/// Records `blame` in the `report.json` of the finding in `dir`, and its verdict in the bucket's name.
pub fn record_blame(dir: &Path, blame: &Blame) -> anyhow::Result<()> {
    let mut report = fields(dir)?;
    report.insert("blame".into(), to_raw_value(blame)?);
    let bucket = report
        .get("bucket")
        .map(|raw| serde_json::from_str::<Bucket>(raw.get()));
    if let Some(Ok(bucket)) = bucket {
        report.insert(
            "bucket".into(),
            to_raw_value(&bucket.blamed(&blame.verdict))?,
        );
    }
    rewrite(dir, &report)
}

/// A `report.json`'s top-level fields, each kept as the text it was written as, so that a rewrite
/// changes only the fields it sets. Rationale: read into a `serde_json::Value`, a v128 beyond
/// 2^64 comes back as a rounded float, which the report's readers then refuse.
type Fields = BTreeMap<String, Box<RawValue>>;

fn fields(dir: &Path) -> anyhow::Result<Fields> {
    let path = dir.join("report.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Replaces the `report.json` in `dir`: written beside and renamed, so that a kill never leaves half a report.
fn rewrite(dir: &Path, report: &Fields) -> anyhow::Result<()> {
    let temporary = dir.join("report.json.tmp");
    std::fs::write(&temporary, serde_json::to_string_pretty(report)?)?;
    std::fs::rename(&temporary, dir.join("report.json"))?;
    Ok(())
}

/// A divergence and everything needed to show it again.
pub struct Evidence<'a> {
    pub wasm: &'a [u8],
    pub invocations: &'a [Invocation],
    pub run: &'a Run,
    /// The step of `run` that diverged.
    pub step: usize,
}

/// How a finding is filed: its bucket, the known divergence it is an instance of, if it is one,
/// and whose bug it is, if it was blamed.
pub struct Filing<'a> {
    pub bucket: &'a Bucket,
    pub known: Option<&'a Known>,
    pub blame: Option<&'a Blame>,
}

/// Writes the finding into its signature's folder under `out`.
pub fn save(
    out: &Path,
    evidence: &Evidence,
    origin: &Origin,
    filing: &Filing,
) -> anyhow::Result<PathBuf> {
    save_to(
        &folder(out, &signature(evidence)?),
        evidence,
        origin,
        filing,
    )
}

/// The buckets of the findings saved in `out` (a report from before buckets is a bucket of its own).
pub fn buckets(out: &Path) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let folders = std::fs::read_dir(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    Ok(folders
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("report.json")).ok())
        .filter_map(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .filter_map(|report| {
            let name = report["bucket"]["name"]
                .as_str()
                .or(report["signature"].as_str())?;
            Some(name.to_string())
        })
        .collect())
}

fn signature(evidence: &Evidence) -> anyhow::Result<String> {
    match &evidence.run.steps[evidence.step].verdict {
        Verdict::Diverge(divergence) => Ok(divergence.signature.clone()),
        _ => anyhow::bail!("step {} did not diverge", evidence.step),
    }
}

/// Writes the finding into `dir`.
pub fn save_to(
    dir: &Path,
    evidence: &Evidence,
    origin: &Origin,
    filing: &Filing,
) -> anyhow::Result<PathBuf> {
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
        repro(wasm, invocations, run, step, divergence, &origin.variants),
    )?;
    let report = Report {
        signature: &divergence.signature,
        bucket: filing.bucket,
        divergence,
        origin,
        invocations,
        run,
        seen_again: 0,
        known: filing.known,
        blame: filing.blame,
    };
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(dir)
}

/// A script that replays the divergence: the module, the calls before the
/// divergent one, and an assertion of the reference outcome (see [`Reference`]),
/// with a comment per engine saying what it did, and a line per engine variant
/// that `diff` runs it on (see [`crate::diff::script::ENGINE_LINE`]).
pub fn repro(
    wasm: &[u8],
    invocations: &[Invocation],
    run: &Run,
    step: usize,
    divergence: &Divergence,
    variants: &[String],
) -> String {
    let mut out = format!(";; lockstep finding {}\n", comment(&divergence.signature));
    let _ = writeln!(out, "{}", crate::diff::script::HOST_FUNCTIONS_LINE);
    for variant in variants {
        let _ = writeln!(out, "{}{variant}", crate::diff::script::ENGINE_LINE);
    }
    let observations = &run.steps[step].observations;
    for observation in observations {
        let _ = writeln!(
            out,
            ";;   {}: {}",
            comment(&observation.engine),
            comment(&observation.outcome.to_string())
        );
    }
    let reference = Reference::of(observations, divergence);
    let _ = writeln!(out, ";; {}", comment(&reference.explained()));
    let reference = reference.observation().map(|o| &o.outcome);
    let module = module_source(wasm);
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
    out.push_str(&global_assertions(observations, divergence));
    out
}

/// `text` fit for a `;;` line comment: an engine's message may span lines (an external
/// engine's trap message, a backtrace), and its second line would otherwise be read as
/// script, leaving the repro unparsable. Line breaks and other control characters are
/// written as escapes.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// What a repro asserts. With engines split evenly, asserting one side would
/// call the other wrong on no evidence, so the script then asserts nothing.
enum Reference<'a> {
    /// The outcome the generator or the spec knows for this call.
    Known(&'a Observation),
    /// The outcome of more engines than all the others together.
    Majority(&'a Observation),
    NoMajority,
}

impl<'a> Reference<'a> {
    fn of(observations: &'a [Observation], divergence: &Divergence) -> Reference<'a> {
        if let Some(known) = observations.iter().find(|o| o.engine == EXPECTED) {
            return Reference::Known(known);
        }
        majority(observations, divergence).map_or(Reference::NoMajority, Reference::Majority)
    }

    fn observation(&self) -> Option<&'a Observation> {
        match self {
            Reference::Known(o) | Reference::Majority(o) => Some(o),
            Reference::NoMajority => None,
        }
    }

    fn explained(&self) -> String {
        match self {
            Reference::Known(_) => "asserted: the outcome the generator knows for this call".into(),
            Reference::Majority(o) => {
                format!("asserted: the majority's outcome, as {} saw it", o.engine)
            }
            Reference::NoMajority => {
                "no majority and no known outcome: nothing is asserted for one side; \
                the outcomes above are what each engine did"
                    .into()
            }
        }
    }
}

/// The first observation of the divergence's majority, when it is one: more engines than the rest together.
fn majority<'a>(
    observations: &'a [Observation],
    divergence: &Divergence,
) -> Option<&'a Observation> {
    if divergence.majority.len() <= divergence.minority.len() {
        return None;
    }
    observations
        .iter()
        .find(|o| divergence.majority.contains(&o.engine))
}

/// For a state divergence: the majority's value of every exported global some engine disagrees on.
fn global_assertions(observations: &[Observation], divergence: &Divergence) -> String {
    let states: Vec<(&str, &oracles::State)> = observations
        .iter()
        .filter_map(|o| Some((o.engine.as_str(), o.state.as_ref()?)))
        .collect();
    let Some(reference) = majority(observations, divergence).and_then(|o| o.state.as_ref()) else {
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

/// The module as readable text when that text assembles back to the same module, else as a
/// `(module binary …)`.
fn module_source(wasm: &[u8]) -> String {
    text_module(wasm).unwrap_or_else(|| binary_module(wasm))
}

/// The printed module, if assembling it prints the same again: the bytes may differ only where
/// the text cannot tell (how locals of one type are grouped, how long a LEB128 is).
fn text_module(wasm: &[u8]) -> Option<String> {
    let text = wasmprinter::print_bytes(wasm).ok()?;
    let buffer = wast::parser::ParseBuffer::new(&text).ok()?;
    let mut module = wast::parser::parse::<wast::Wat>(&buffer).ok()?;
    let same = wasmprinter::print_bytes(module.encode().ok()?).ok()? == text;
    same.then(|| text.trim_end().to_string())
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
    use oracles::TrapCode;

    /// A run whose only call (step 2) diverged, `observations` being what each engine returned.
    fn diverging_call(observations: &[(&str, i32)]) -> (Run, Divergence) {
        let outcomes = observations
            .iter()
            .map(|(engine, value)| (*engine, Outcome::Values(vec![Value::I32(*value)])));
        diverging_outcomes(outcomes)
    }

    /// A run whose only call (step 2) diverged, each engine having seen its outcome.
    fn diverging_outcomes<'a>(
        outcomes: impl IntoIterator<Item = (&'a str, Outcome)>,
    ) -> (Run, Divergence) {
        let observations: Vec<Observation> = outcomes
            .into_iter()
            .map(|(engine, outcome)| Observation {
                engine: engine.to_string(),
                outcome,
                state: None,
                state_unread: None,
            })
            .collect();
        let Verdict::Diverge(divergence) = oracles::compare::compare(&observations, false) else {
            panic!("{observations:?} agree")
        };
        let step = |observations: Vec<Observation>, verdict| oracles::differential::Step {
            label: "f()".into(),
            observations,
            verdict,
        };
        let run = Run {
            steps: vec![
                step(Vec::new(), Verdict::Agree),
                step(Vec::new(), Verdict::Agree),
                step(observations, Verdict::Diverge(divergence.clone())),
            ],
            timings: Vec::new(),
        };
        (run, divergence)
    }

    fn repro_of(observations: &[(&str, i32)]) -> String {
        let (run, divergence) = diverging_call(observations);
        repro_of_run(&run, &divergence)
    }

    fn repro_of_run(run: &Run, divergence: &Divergence) -> String {
        let call = Invocation {
            export: "f".into(),
            args: Vec::new(),
            expected: None,
        };
        repro(b"\0asm\x01\0\0\0", &[call], run, 2, divergence, &[])
    }

    /// A campaign counting a finding seen again rewrites its report: a v128 result beyond 2^64
    /// must stay the exact integer it was, not come back as a rounded float.
    #[test]
    fn a_rewritten_report_keeps_a_v128_beyond_2_64_exact() {
        let dir = tempfile::tempdir().unwrap();
        let all_ones = u128::MAX.to_string();
        let outcome = format!(r#"{{"Values": [{{"V128": {all_ones}}}]}}"#);
        let report = format!(r#"{{"signature": "s", "outcome": {outcome}, "seen_again": 1}}"#);
        std::fs::write(dir.path().join("report.json"), report).unwrap();
        add_repeats(dir.path(), 2).unwrap();
        let report = fields(dir.path()).unwrap();
        assert_eq!(report["seen_again"].get(), "3");
        let outcome: Outcome = serde_json::from_str(report["outcome"].get()).unwrap();
        assert_eq!(outcome, Outcome::Values(vec![Value::V128(u128::MAX)]));
    }

    #[test]
    fn a_multi_line_engine_message_stays_inside_its_comment() {
        let message =
            "wasm trap: out of bounds memory access\nwasm backtrace:\n  0: f\r\n(assert_trap";
        let (run, divergence) = diverging_outcomes([
            ("wasmi", Outcome::Values(vec![Value::I32(1)])),
            (
                "external",
                Outcome::trap(TrapCode::MemoryOutOfBounds, message),
            ),
        ]);
        let repro = repro_of_run(&run, &divergence);
        assert!(
            repro.contains(
                "out of bounds memory access\\nwasm backtrace:\\n  0: f\\r\\n(assert_trap"
            ),
            "{repro}"
        );
        let buffer = wast::parser::ParseBuffer::new(&repro).unwrap();
        let script: wast::Wast = wast::parser::parse(&buffer)
            .unwrap_or_else(|e| panic!("repro does not parse: {e}\n{repro}"));
        assert_eq!(script.directives.len(), 2, "{repro}");
    }

    #[test]
    fn with_two_engines_the_repro_takes_no_side() {
        let repro = repro_of(&[("mutant", 7), ("wasmi", 1)]);
        assert!(!repro.contains("assert_return"), "{repro}");
        assert!(repro.contains("\n(invoke \"f\")\n"), "{repro}");
        assert!(
            repro.contains(";; no majority and no known outcome"),
            "{repro}"
        );
    }

    #[test]
    fn the_repro_asserts_the_known_outcome_or_else_a_majority() {
        let known = repro_of(&[("mutant", 7), ("wasmi", 1), (EXPECTED, 1)]);
        assert!(
            known.contains("(assert_return (invoke \"f\") (i32.const 1))"),
            "{known}"
        );
        assert!(
            known.contains(";; asserted: the outcome the generator knows"),
            "{known}"
        );
        let voted = repro_of(&[("a", 7), ("b", 1), ("c", 1)]);
        assert!(
            voted.contains("(assert_return (invoke \"f\") (i32.const 1))"),
            "{voted}"
        );
        let split = repro_of(&[("a", 7), ("b", 1), ("c", 2)]);
        assert!(!split.contains("assert_return"), "{split}");
    }

    #[test]
    fn signatures_sharing_a_long_prefix_get_folders_of_their_own() {
        let out = Path::new("out");
        let common = format!("values:wasmi:{}", "values(i32,i64)/".repeat(12));
        let (a, b) = (format!("{common}a"), format!("{common}b"));
        assert_ne!(folder(out, &a), folder(out, &b));
        assert_eq!(folder(out, &a), folder(out, &a));
        let name = folder(out, "trap:wasmi:trap(Unreachable)/values()");
        let name = name.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("trap_wasmi_trap_Unreachable__values__-"),
            "{name}"
        );
    }

    #[test]
    fn a_module_that_prints_back_the_same_is_written_as_text() {
        let wasm = wast::parser::parse::<wast::Wat>(
            &wast::parser::ParseBuffer::new(
                r#"(module (func (export "f") (result i32) (i32.const 7)))"#,
            )
            .unwrap(),
        )
        .unwrap()
        .encode()
        .unwrap();
        let source = module_source(&wasm);
        assert!(source.starts_with("(module"), "{source}");
        assert!(source.contains("i32.const 7"), "{source}");
        // Three groups of one f64 local, as wasm-smith writes them: text groups them as one.
        let grouped = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0\x03\x02\x01\0\
                        \x0a\x0a\x01\x08\x03\x01\x7c\x01\x7c\x01\x7c\x0b";
        assert!(
            module_source(grouped).contains("(local f64 f64 f64)"),
            "{}",
            module_source(grouped)
        );
        // A type section cut short: there is no text for it.
        let unprintable = b"\0asm\x01\0\0\0\x01\x05\x01\x60";
        assert!(module_source(unprintable).starts_with("(module binary"));
    }

    #[test]
    fn floats_are_written_exactly() {
        assert_eq!(float32(f32::NAN.to_bits()), "nan:0x400000");
        assert_eq!(float64((-0.0f64).to_bits()), "-0.0");
        assert_eq!(float64(f64::NEG_INFINITY.to_bits()), "-inf");
        assert_eq!(float32(1.5f32.to_bits()), "1.5");
    }
}
