//! Known divergences (`docs/known-divergences.toml`): engine bugs already found and written up,
//! recognised by `fuzz` and `diff` so that they are reported as known rather than as new.

use oracles::compare::{Divergence, shape};
use oracles::differential::Step;
use oracles::features;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use wasmparser::WasmFeatures;

/// The checked-in list, built into the binary so that every checkout and install applies the same one.
const LIST: &str = include_str!("../../docs/known-divergences.toml");

/// One known divergence: which engines go wrong, on which modules, how, and why.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// A short name, the one reports show.
    pub id: String,
    /// The engines that go wrong: a divergence matches when every odd engine out is one of them.
    pub engines: Vec<String>,
    /// Proposals the module must use (all of them), by the names of `cargo xtask engines`.
    #[serde(default)]
    pub proposals: Vec<String>,
    /// Instructions the module must contain (all of them), as the text format names them
    /// (`select`, `i32.ne`): for a bug of plain instructions that no proposal narrows down.
    #[serde(default)]
    pub instructions: Vec<String>,
    /// What the engines going wrong do, as outcome classes of a signature (`trap(MemoryOutOfBounds)`,
    /// `values(i32)`); empty for any.
    #[serde(default)]
    pub outcomes: Vec<String>,
    /// What the other engines do, likewise; empty for any.
    #[serde(default)]
    pub others: Vec<String>,
    pub reason: String,
    /// Where the bug is reported upstream, once it is.
    #[serde(default)]
    pub upstream: Option<String>,
    /// The reproducer in this repository.
    pub reproducer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct List {
    divergence: Vec<Known>,
}

/// The known divergences; the list is checked by a test, so a broken one never ships.
pub fn list() -> &'static [Known] {
    static PARSED: OnceLock<Vec<Known>> = OnceLock::new();
    PARSED.get_or_init(|| {
        toml::from_str::<List>(LIST)
            .expect("docs/known-divergences.toml parses")
            .divergence
    })
}

/// The known divergence `divergence` (at `step`, of module `wasm`) is an instance of, if any.
pub fn recognise(wasm: &[u8], step: &Step, divergence: &Divergence) -> Option<&'static Known> {
    let shape_of = |engines: &[String]| -> Vec<String> {
        step.observations
            .iter()
            .filter(|o| engines.contains(&o.engine))
            .map(|o| shape(&o.outcome))
            .collect()
    };
    let (odd, rest) = (
        shape_of(&divergence.minority),
        shape_of(&divergence.majority),
    );
    // Proposal detection validates the module several times, and printing it costs too: only for a
    // known entry that matches otherwise.
    let mut used: Option<Vec<&str>> = None;
    let mut text: Option<String> = None;
    list().iter().find(|known| {
        known.matches(divergence, &odd, &rest)
            && known.proposals.iter().all(|proposal| {
                used.get_or_insert_with(|| proposals(wasm))
                    .contains(&proposal.as_str())
            })
            && known.instructions.iter().all(|instruction| {
                let text =
                    text.get_or_insert_with(|| wasmprinter::print_bytes(wasm).unwrap_or_default());
                text.split_whitespace().any(|word| word == instruction)
            })
    })
}

impl Known {
    fn matches(&self, divergence: &Divergence, odd: &[String], rest: &[String]) -> bool {
        let among = |patterns: &[String], shapes: &[String]| {
            patterns.is_empty() || shapes.iter().all(|s| patterns.contains(s))
        };
        !divergence.minority.is_empty()
            && divergence.minority.iter().all(|e| self.lists(e))
            && among(&self.outcomes, odd)
            && among(&self.others, rest)
    }

    /// Whether the engine named `name` (a tier, or one of its variants `TIER@SETTING`) is listed.
    fn lists(&self, name: &str) -> bool {
        self.engines.iter().any(|id| {
            name.strip_prefix(id.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('@'))
        })
    }
}

/// The proposals beyond the MVP that `wasm` needs.
fn proposals(wasm: &[u8]) -> Vec<&'static str> {
    match features::requirement(wasm, WasmFeatures::MVP) {
        features::Requirement::Missing(needed) => features::names(needed),
        features::Requirement::Met | features::Requirement::InvalidEverywhere => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker;
    use oracles::compare::Verdict;
    use std::path::Path;

    #[test]
    fn every_entry_names_engines_a_reproducer_and_at_most_a_https_link() {
        let ids = oracles::tiers::ids();
        for known in list() {
            assert!(!known.engines.is_empty(), "{}", known.id);
            for engine in &known.engines {
                assert!(ids.contains(&engine.as_str()), "{}: {engine}", known.id);
            }
            for proposal in &known.proposals {
                assert!(
                    features::PROPOSALS.iter().any(|(name, _)| name == proposal),
                    "{}: {proposal}",
                    known.id
                );
            }
            let upstream = known.upstream.as_deref().unwrap_or("https://");
            assert!(upstream.starts_with("https://"), "{}", known.id);
        }
    }

    /// Each reproducer, replayed on wasmtime and wasmi as its comment says, is recognised as its entry
    /// at every call that diverges (each shape of the bug it shows: other result types, say).
    #[test]
    fn every_divergence_of_every_reproducer_is_recognised_as_its_entry() {
        let engines: Vec<_> = ["wasmtime-cranelift", "wasmi"]
            .iter()
            .map(|id| oracles::engine(id).expect("built in"))
            .collect();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for known in list() {
            let path = root.join(&known.reproducer);
            let text = std::fs::read_to_string(&path).unwrap();
            // Findings link against lockstep's host functions.
            let limits = oracles::Limits {
                host_functions: true,
                ..oracles::Limits::default()
            };
            let diff =
                crate::diff::compare_script(&engines, &known.reproducer, &text, &limits, None);
            let (wasm, _) =
                crate::reduce::cut_script(&path, &worker::references(&engines), None).unwrap();
            let mut diverging = 0;
            for directive in &diff.directives {
                let Some(verdict @ Verdict::Diverge(divergence)) = &directive.verdict else {
                    continue;
                };
                let step = Step {
                    label: known.reproducer.clone(),
                    observations: directive.observations(),
                    verdict: verdict.clone(),
                };
                let recognised = recognise(&wasm, &step, divergence).map(|k| k.id.as_str());
                assert_eq!(recognised, Some(known.id.as_str()), "{divergence:?}");
                diverging += 1;
            }
            assert!(diverging > 0, "{} does not diverge", known.reproducer);
        }
    }
}
