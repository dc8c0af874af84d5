//! Whether runs of one program on several tiers agree: exit status, standard output, standard error
//! and the scratch directory's final tree, compared in that order.

use super::sandbox::Node;
use super::{Ending, ProgramRun};
use crate::classify::{self, Contender};
use crate::outcome::Outcome;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// What a program left behind that tiers can disagree on, in the order they are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aspect {
    Ending,
    Stdout,
    Stderr,
    Files,
}

impl Aspect {
    pub const ALL: [Aspect; 4] = [
        Aspect::Ending,
        Aspect::Stdout,
        Aspect::Stderr,
        Aspect::Files,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Aspect::Ending => "exit status",
            Aspect::Stdout => "stdout",
            Aspect::Stderr => "stderr",
            Aspect::Files => "files",
        }
    }

    /// This aspect of a run as text, one line per line of output or file, for a unified diff.
    pub fn text(self, run: &ProgramRun) -> String {
        match self {
            Aspect::Ending => format!("{}\n", ending_text(&run.ending)),
            Aspect::Stdout => String::from_utf8_lossy(&run.output.stdout).into_owned(),
            Aspect::Stderr => String::from_utf8_lossy(&run.output.stderr).into_owned(),
            Aspect::Files => files_text(run),
        }
    }

    fn same(self, a: &ProgramRun, b: &ProgramRun) -> bool {
        match self {
            Aspect::Ending => endings_agree(&a.ending, &b.ending),
            Aspect::Stdout => a.output.stdout == b.output.stdout,
            Aspect::Stderr => a.output.stderr == b.output.stderr,
            Aspect::Files => a.files == b.files,
        }
    }
}

/// How a run ended, as a person reads it.
pub fn ending_text(ending: &Ending) -> String {
    match ending {
        Ending::Exit(status) => format!("exit {status}"),
        Ending::Outcome(Outcome::Trap { code, .. }) => format!("trap {code:?}"),
        Ending::Outcome(outcome) => outcome.to_string(),
    }
}

fn files_text(run: &ProgramRun) -> String {
    let mut text = String::new();
    for (path, node) in &run.files {
        match node {
            Node::Dir => {
                let _ = writeln!(text, "{path}/");
            }
            Node::Symlink(target) => {
                let _ = writeln!(text, "{path} -> {target}");
            }
            Node::LargeFile { size, blake3 } => {
                let _ = writeln!(text, "{path} ({size} bytes, BLAKE3 {blake3})");
            }
            Node::Special(kind) => {
                let _ = writeln!(text, "{path} ({kind})");
            }
            Node::File(bytes) => {
                let _ = writeln!(text, "{path} ({} bytes):", bytes.len());
                for line in String::from_utf8_lossy(bytes).lines() {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
    }
    text
}

/// Traps compare by code and results by value, as for any call (see
/// [`crate::compare::equivalent`]); an exit status only equals the same status.
fn endings_agree(a: &Ending, b: &Ending) -> bool {
    match (a, b) {
        (Ending::Exit(a), Ending::Exit(b)) => a == b,
        (Ending::Outcome(a), Ending::Outcome(b)) => crate::compare::equivalent(a, b),
        _ => false,
    }
}

/// Tiers whose run of a program disagrees with the majority, and on what.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProgramDivergence {
    /// The first aspect on which the runs split.
    pub aspect: Aspect,
    pub majority: Vec<String>,
    pub minority: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ProgramVerdict {
    Agree,
    Diverge(ProgramDivergence),
    /// Nothing can be concluded, and why.
    Inconclusive(String),
}

/// Compares the runs of one program in one sandbox on several tiers, aspect by aspect.
pub fn compare(runs: &[ProgramRun]) -> ProgramVerdict {
    let finished = match classify::finished(classify::ran(runs)) {
        Ok(finished) => finished,
        Err(why) => return ProgramVerdict::Inconclusive(why),
    };
    for aspect in Aspect::ALL {
        let classes = classify::classes(&finished, |a, b| aspect.same(a, b));
        if classes.len() > 1 {
            let (majority, minority) = classify::split(&classes);
            return ProgramVerdict::Diverge(ProgramDivergence {
                aspect,
                majority,
                minority,
            });
        }
    }
    ProgramVerdict::Agree
}

impl Contender for ProgramRun {
    fn engine(&self) -> &str {
        &self.engine
    }

    fn outcome(&self) -> Option<&Outcome> {
        match &self.ending {
            Ending::Outcome(outcome) => Some(outcome),
            Ending::Exit(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Resource;
    use crate::wasi::{Output, Timing};

    fn run(engine: &str, ending: Ending, stdout: &str) -> ProgramRun {
        ProgramRun {
            engine: engine.into(),
            ending,
            output: Output {
                stdout: stdout.as_bytes().to_vec(),
                stderr: Vec::new(),
            },
            files: Default::default(),
            timing: Timing::default(),
        }
    }

    #[test]
    fn the_odd_tier_out_is_the_minority_on_the_first_aspect_that_differs() {
        let runs = [
            run("a", Ending::Exit(0), "1\n2\n"),
            run("b", Ending::Exit(0), "1\n3\n"),
            run("c", Ending::Exit(0), "1\n2\n"),
        ];
        let ProgramVerdict::Diverge(divergence) = compare(&runs) else {
            panic!("a divergence")
        };
        assert_eq!(divergence.aspect, Aspect::Stdout);
        assert_eq!(divergence.minority, ["b"]);
        assert_eq!(divergence.majority, ["a", "c"]);
    }

    #[test]
    fn a_tier_out_of_fuel_is_left_out_with_its_partial_output() {
        let runs = [
            run("a", Ending::Exit(3), "done\n"),
            run(
                "b",
                Ending::Outcome(Outcome::Exhausted(Resource::Fuel)),
                "do",
            ),
            run("c", Ending::Exit(3), "done\n"),
        ];
        assert_eq!(compare(&runs), ProgramVerdict::Agree);
        let alone = [runs[0].clone(), runs[1].clone()];
        assert_eq!(
            compare(&alone),
            ProgramVerdict::Inconclusive("b ran out of fuel".into())
        );
    }

    #[test]
    fn an_exit_status_never_equals_a_trap() {
        let trap = Ending::Outcome(Outcome::trap(crate::TrapCode::Unreachable, "x"));
        let runs = [run("a", Ending::Exit(0), ""), run("b", trap, "")];
        let ProgramVerdict::Diverge(divergence) = compare(&runs) else {
            panic!("a divergence")
        };
        assert_eq!(divergence.aspect, Aspect::Ending);
    }
}
