//! Per-engine expectations: the checked-in list of known failures, judged strictly both ways.

use crate::driver::{Failure, ScriptRun};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// One known failure: a directive (by line) or a whole file, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Expectation {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub reason: String,
}

/// A reason that recurs across many entries, written once here and named by
/// its id in an expectations file (`reason = "js-api-nan"`); any other reason is free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    JsApiNan,
    PreWasm2SegmentWrites,
    PreWasm2UnlinkableSegment,
    JsApiOpaqueGcRef,
    PythonF32Nan,
}

/// Every named reason: its id in the toml files and what it says.
const REASONS: &[(Reason, &str, &str)] = &[
    (
        Reason::JsApiNan,
        "js-api-nan",
        "JavaScript numbers keep no NaN payload: a NaN result crossing the JS API becomes the \
         canonical NaN, so an exact NaN bit pattern cannot be checked through V8's JS API (a \
         signalling NaN argument, which V8 would quiet, is not passed at all: those calls are skipped).",
    ),
    (
        Reason::PreWasm2SegmentWrites,
        "pre-wasm2-segment-writes",
        "The mutable-global proposal repository predates Wasm 2.0: it asserts that a failed \
         instantiation writes no segment; since bulk memory (Wasm 2.0) segments before the failing \
         one are written, as this engine does.",
    ),
    (
        Reason::PreWasm2UnlinkableSegment,
        "pre-wasm2-unlinkable-segment",
        "The mutable-global proposal repository predates Wasm 2.0: it asserts the MVP rule that an \
         out-of-bounds segment makes a module unlinkable; since bulk memory (Wasm 2.0) it is a trap \
         during instantiation, which this engine raises.",
    ),
    (
        Reason::JsApiOpaqueGcRef,
        "js-api-opaque-gc-ref",
        "A GC reference crosses V8's JS API as an opaque object: JavaScript cannot tell a struct from \
         an array, an i31 or an eqref, so the engine reports only that a non-null reference came back.",
    ),
    (
        Reason::PythonF32Nan,
        "python-f32-nan",
        "wasmtime's Python API carries an f32 as a Python float (a C double): converting a signalling \
         NaN between float and double sets its quiet bit, so an f32 signalling NaN argument or result \
         cannot be checked exactly through it (f64 NaNs keep every bit).",
    ),
];

impl Reason {
    /// The named reason with this id.
    pub fn named(id: &str) -> Option<Reason> {
        REASONS
            .iter()
            .find(|(_, known, _)| *known == id)
            .map(|(r, ..)| *r)
    }

    /// What the reason says.
    pub fn text(self) -> &'static str {
        REASONS
            .iter()
            .find(|(r, ..)| *r == self)
            .map(|(.., text)| *text)
            .expect("every reason is listed")
    }
}

/// Whether `reason` is written like a reason's id (lowercase words joined by
/// hyphens) rather than a sentence.
fn looks_named(reason: &str) -> bool {
    reason.contains('-')
        && reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Expectation {
    /// The reason in words: a named reason's text, or the free text.
    pub fn explanation(&self) -> &str {
        match Reason::named(&self.reason) {
            Some(named) => named.text(),
            None => &self.reason,
        }
    }
}

/// An engine's expectations file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Expectations {
    #[serde(default, rename = "failure")]
    pub failures: Vec<Expectation>,
}

/// How a script run compares with the expectations.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Verdict {
    pub unexpected_failures: Vec<Failure>,
    pub expected_failures: Vec<Failure>,
    /// Expectations that did not fail this time: the list must be corrected.
    pub unexpected_passes: Vec<Expectation>,
}

impl Verdict {
    pub fn is_ok(&self) -> bool {
        self.unexpected_failures.is_empty() && self.unexpected_passes.is_empty()
    }
}

/// `suites/expectations/<engine>.toml`.
pub fn path(engine: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("expectations")
        .join(format!("{engine}.toml"))
}

impl Expectations {
    /// Loads an engine's expectations; a missing file means none.
    pub fn load(engine: &str) -> Result<Expectations, String> {
        let path = path(engine);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let loaded: Expectations =
                    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
                loaded
                    .check_names()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(loaded)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Expectations::default()),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    /// An id-like reason that names no [`Reason`] is a typo, not free text.
    fn check_names(&self) -> Result<(), String> {
        let unknown = self
            .failures
            .iter()
            .find(|e| looks_named(&e.reason) && Reason::named(&e.reason).is_none());
        match unknown {
            Some(e) => Err(format!(
                "{}:{}: `{}` is not a named reason (see `Reason` in suites/src/expectations.rs)",
                e.file,
                e.line.unwrap_or(0),
                e.reason
            )),
            None => Ok(()),
        }
    }

    /// Judges one script run (`file` is its `suite/name` key).
    pub fn judge(&self, file: &str, run: &ScriptRun) -> Verdict {
        let failures = failures_of(run);
        let (expected, unexpected) = failures
            .into_iter()
            .partition(|f| self.covering(file, f.line).is_some());
        let unexpected_passes = self
            .failures
            .iter()
            .filter(|e| e.file == file && !run_failures_cover(run, e))
            .cloned()
            .collect();
        Verdict {
            unexpected_failures: unexpected,
            expected_failures: expected,
            unexpected_passes,
        }
    }

    /// The entry listing a failure of `file` (a `suite/name` key) at `line`, or of the whole file.
    pub fn covering(&self, file: &str, line: u32) -> Option<&Expectation> {
        self.failures
            .iter()
            .find(|e| e.file == file && e.line.is_none_or(|l| l == line))
    }

    /// Replaces the entries of the files in `runs` with their current failures,
    /// keeping the reason of every entry that still fails.
    pub fn bless<'a>(&mut self, runs: impl IntoIterator<Item = (String, &'a ScriptRun)>) {
        let mut blessed = Vec::new();
        let mut seen = BTreeSet::new();
        for (file, run) in runs {
            for failure in failures_of(run) {
                let kept = self
                    .failures
                    .iter()
                    .find(|e| e.file == file && e.line == Some(failure.line))
                    .map_or_else(|| failure.message.clone(), |e| e.reason.clone());
                blessed.push(Expectation {
                    file: file.clone(),
                    line: Some(failure.line),
                    reason: kept,
                });
            }
            seen.insert(file);
        }
        self.failures.retain(|e| !seen.contains(&e.file));
        self.failures.extend(blessed);
        self.failures.sort();
        self.failures.dedup();
    }

    pub fn save(&self, engine: &str) -> Result<(), String> {
        let header = format!(
            "# Known failures of `{engine}` on the spec suites: one entry per directive\n\
             # (file and line), each with the reason. `cargo xtask conformance --bless` rewrites it.\n\n"
        );
        let body = toml::to_string(self).map_err(|e| e.to_string())?;
        std::fs::write(path(engine), header + &body).map_err(|e| e.to_string())
    }
}

/// The run's failures, with an aborted run counting as a failure at line 0.
fn failures_of(run: &ScriptRun) -> Vec<Failure> {
    let mut failures = run.failures.clone();
    if let Some(why) = &run.aborted {
        failures.push(Failure {
            line: 0,
            column: 0,
            message: why.clone(),
        });
    }
    failures
}

fn run_failures_cover(run: &ScriptRun, entry: &Expectation) -> bool {
    match entry.line {
        None => !run.failures.is_empty() || run.aborted.is_some(),
        Some(0) => run.aborted.is_some(),
        Some(line) => run.failures.iter().any(|f| f.line == line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_failing_at(lines: &[u32]) -> ScriptRun {
        ScriptRun {
            failures: lines
                .iter()
                .map(|&line| Failure {
                    line,
                    column: 1,
                    message: format!("broke at {line}"),
                })
                .collect(),
            ..ScriptRun::default()
        }
    }

    #[test]
    fn strict_both_ways() {
        let expectations = Expectations {
            failures: vec![
                Expectation {
                    file: "s/a.wast".into(),
                    line: Some(3),
                    reason: "known".into(),
                },
                Expectation {
                    file: "s/a.wast".into(),
                    line: Some(9),
                    reason: "fixed since".into(),
                },
            ],
        };
        let verdict = expectations.judge("s/a.wast", &run_failing_at(&[3, 5]));
        assert_eq!(verdict.expected_failures.len(), 1);
        assert_eq!(verdict.unexpected_failures[0].line, 5);
        assert_eq!(verdict.unexpected_passes[0].line, Some(9));
        assert!(!verdict.is_ok());
        assert!(expectations.judge("s/b.wast", &run_failing_at(&[])).is_ok());
    }

    #[test]
    fn bless_keeps_reasons_and_untouched_files() {
        let mut expectations = Expectations {
            failures: vec![
                Expectation {
                    file: "s/a.wast".into(),
                    line: Some(3),
                    reason: "known".into(),
                },
                Expectation {
                    file: "s/other.wast".into(),
                    line: Some(1),
                    reason: "elsewhere".into(),
                },
            ],
        };
        let run = run_failing_at(&[3, 5]);
        expectations.bless([("s/a.wast".to_string(), &run)]);
        let reasons: Vec<&str> = expectations
            .failures
            .iter()
            .map(|e| e.reason.as_str())
            .collect();
        assert_eq!(reasons, ["known", "broke at 5", "elsewhere"]);
    }

    #[test]
    fn a_named_reason_reads_as_its_text_and_an_unknown_name_is_refused() {
        let named: Expectations =
            toml::from_str("[[failure]]\nfile = \"s/a.wast\"\nline = 3\nreason = \"js-api-nan\"\n")
                .unwrap();
        assert!(named.check_names().is_ok());
        assert!(
            named.failures[0]
                .explanation()
                .starts_with("JavaScript numbers keep no NaN payload")
        );
        let free = Expectation {
            reason: "V8 has its own idea".into(),
            ..named.failures[0].clone()
        };
        assert_eq!(free.explanation(), "V8 has its own idea");
        let typo = Expectations {
            failures: vec![Expectation {
                reason: "js-api-nun".into(),
                ..free
            }],
        };
        let why = typo.check_names().unwrap_err();
        assert!(
            why.contains("s/a.wast:3: `js-api-nun` is not a named reason"),
            "{why}"
        );
    }
}
