//! `cargo xtask diff FILE.wast`: every directive on every engine, what each did, and where engines or assertions disagree.

use super::{render, short, verdict_text};
use crate::Conclusion;
use crate::budgets::{self, Budgets};
use crate::worker::{ScriptSource, Worker};
use oracles::compare::{Observation, Verdict, compare};
use oracles::{Engine, Limits, Outcome};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use suites::driver::{ScriptRun, Status};
use suites::runner::{self, Options};

/// What every engine did with a script, directive by directive: what `--json` prints.
#[derive(Serialize)]
pub struct ScriptDiff {
    pub file: String,
    /// The budgets every engine ran each directive under.
    pub budgets: Budgets,
    /// One tally per engine, in the order the engines were given.
    pub engines: Vec<Tally>,
    /// Every directive some engine reached, in source order.
    pub directives: Vec<Directive>,
}

/// What one engine did with the script's directives.
#[derive(Serialize)]
pub struct Tally {
    pub engine: String,
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
    /// Why the engine stopped before the end of the script (time limit, crash).
    pub aborted: Option<String>,
}

impl Tally {
    /// Directives the engine ran to a result of its own (passed or failed), skips aside.
    pub fn ran(&self) -> u32 {
        self.passed + self.failed
    }
}

/// One directive: what each engine did with it, and how their outcomes compare.
#[derive(Serialize)]
pub struct Directive {
    pub line: u32,
    pub column: u32,
    pub keyword: String,
    /// In engine order; an engine that stopped before this directive has no entry.
    pub engines: Vec<EngineResult>,
    /// The comparison of the engines' outcomes; absent when no engine got as far as an outcome.
    pub verdict: Option<Verdict>,
}

/// One engine on one directive.
#[derive(Serialize)]
pub struct EngineResult {
    pub engine: String,
    #[serde(flatten)]
    pub status: Status,
    /// What its compilation, instantiation or action did, when it got that far.
    pub outcome: Option<Outcome>,
}

impl ScriptDiff {
    /// The line of the first directive on which engines disagree with each other.
    pub fn first_divergence(&self) -> Option<u32> {
        self.directives
            .iter()
            .find(|d| matches!(d.verdict, Some(Verdict::Diverge(_))))
            .map(|d| d.line)
    }

    /// Exit 1 when engines disagree, an assertion fails or an engine stopped short.
    pub fn conclusion(&self) -> Conclusion {
        let failed = self
            .engines
            .iter()
            .any(|t| t.failed > 0 || t.aborted.is_some());
        match failed || self.first_divergence().is_some() {
            true => Conclusion::Diverge,
            false => Conclusion::Agree,
        }
    }

    fn new(file: &str, limits: &Limits, runs: Vec<(String, ScriptRun)>) -> ScriptDiff {
        let mut directives: BTreeMap<(u32, u32), Directive> = BTreeMap::new();
        let mut engines = Vec::new();
        for (engine, run) in runs {
            engines.push(Tally {
                engine: engine.to_string(),
                passed: run.passed,
                failed: run.failures.len() as u32,
                skipped: run.skipped_count(),
                aborted: run.aborted,
            });
            for directive in run.directives {
                let entry = directives
                    .entry((directive.line, directive.column))
                    .or_insert_with(|| Directive {
                        line: directive.line,
                        column: directive.column,
                        keyword: directive.keyword,
                        engines: Vec::new(),
                        verdict: None,
                    });
                entry.engines.push(EngineResult {
                    engine: engine.to_string(),
                    status: directive.status,
                    outcome: directive.outcome,
                });
            }
        }
        let mut directives: Vec<Directive> = directives.into_values().collect();
        // An engine that ran out of resources mid-call left its instance where no other engine
        // is (globals half-way through a recursion of a depth of its own): until the next
        // module, its outcomes are shown, not compared.
        let mut left_behind: HashSet<String> = HashSet::new();
        for directive in &mut directives {
            if directive.keyword.starts_with("module") {
                left_behind.clear();
            }
            let observations = directive.observations();
            let exhausted = exhausted(&directive.keyword, &observations);
            directive.verdict = compared(observations, &left_behind);
            left_behind.extend(exhausted);
        }
        ScriptDiff {
            file: file.to_string(),
            budgets: Budgets::from(limits),
            engines,
            directives,
        }
    }
}

/// The verdict on the `observations` of the engines that judged a directive, `left_behind` aside.
fn compared(observations: Vec<Observation>, left_behind: &HashSet<String>) -> Option<Verdict> {
    let (behind, observations): (Vec<Observation>, Vec<Observation>) = observations
        .into_iter()
        .partition(|o| left_behind.contains(&o.engine));
    let verdict = match compare(&observations, false) {
        Verdict::Inconclusive(_) if !behind.is_empty() => {
            let names: Vec<&str> = behind.iter().map(|o| o.engine.as_str()).collect();
            Verdict::Inconclusive(format!(
                "{} ran out of resources in an earlier call: its instance is not where the others are",
                names.join(", ")
            ))
        }
        verdict => verdict,
    };
    (!observations.is_empty() || !behind.is_empty()).then_some(verdict)
}

/// The engines that ran out of resources on a directive (`keyword`, `observations`), each at a
/// depth of its own. Not when all did so as an `assert_exhaustion` asked: the spec writes those
/// to leave no state behind.
fn exhausted(keyword: &str, observations: &[Observation]) -> Vec<String> {
    let exhausted = |o: &&Observation| matches!(o.outcome, Outcome::Exhausted(_));
    let as_asserted = keyword == "assert_exhaustion" && observations.iter().all(|o| exhausted(&o));
    match as_asserted {
        true => Vec::new(),
        false => observations
            .iter()
            .filter(exhausted)
            .map(|o| o.engine.clone())
            .collect(),
    }
}

impl Directive {
    /// The outcomes of the engines that judged this directive.
    pub fn observations(&self) -> Vec<Observation> {
        // An engine that skipped the directive did not judge it: it lacks a
        // proposal, or a later spec version it implements makes the module an
        // `assert_invalid` rejects valid. Its outcome answers another question,
        // so it takes no part in the comparison.
        self.engines
            .iter()
            .filter(|result| !matches!(result.status, Status::Skip(_)))
            .filter_map(|result| {
                Some(Observation {
                    engine: result.engine.clone(),
                    outcome: result.outcome.clone()?,
                    state: None,
                    state_unread: None,
                })
            })
            .collect()
    }
}

/// Runs every directive of a script on every engine (each in `worker`, if
/// given) under `limits`, and compares the engines with each other and with the assertions.
/// `limits.host_functions` resolves unknown function imports as lockstep's findings need;
/// the spec has none, so its scripts run without.
pub fn compare_script(
    engines: &[Arc<dyn Engine>],
    key: &str,
    text: &str,
    limits: &Limits,
    mut worker: Option<&mut Worker>,
) -> ScriptDiff {
    let options = Options {
        limits: limits.clone(),
        ..Options::default()
    };
    let runs = engines
        .iter()
        .map(|engine| {
            let name = engine.variant();
            let run = match worker.as_deref_mut() {
                Some(worker) => worker.run_script(
                    &name,
                    key,
                    ScriptSource::Text(text.to_string()),
                    &options,
                    true,
                ),
                None => in_process(engine.as_ref(), key, text, &options),
            };
            (name, run)
        })
        .collect();
    ScriptDiff::new(key, limits, runs)
}

fn in_process(engine: &dyn Engine, key: &str, text: &str, options: &Options) -> ScriptRun {
    match suites::script::parse(key, text) {
        Ok(script) => runner::run_script_recording(engine, &script, options, true),
        Err(e) => ScriptRun {
            aborted: Some(e.to_string()),
            ..ScriptRun::default()
        },
    }
}

/// Runs a script on every engine under `limits` and reports what each did and where they disagree.
pub fn run(
    file: &Path,
    engines: &[Arc<dyn Engine>],
    limits: Limits,
    worker: Option<&mut Worker>,
    json: bool,
) -> anyhow::Result<Conclusion> {
    let key = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("reading {key}: {e}"))?;
    // Bad input is reported before any engine runs.
    suites::script::parse(&key, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let limits = Limits {
        host_functions: limits.host_functions || asks_for_host_functions(&text),
        ..limits
    };
    let diff = compare_script(engines, &key, &text, &limits, worker);
    if json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
    } else {
        let text = budgets::line(&limits) + &report(&diff);
        print!("{}", crate::terminal::printable(&text));
    }
    let conclusion = diff.conclusion();
    if is_finding(&text) && matches!(conclusion, Conclusion::Agree) {
        // On standard error, so that `--json` stays one document.
        eprintln!("{key}: {NO_LONGER_REPRODUCES}");
    }
    Ok(conclusion)
}

/// What a saved finding that the engines now agree on is told.
pub const NO_LONGER_REPRODUCES: &str = "this finding no longer reproduces on these engines: \
    the divergence is intermittent (flaky), or the bug is fixed";

/// The comment line with which a script asks for lockstep's host functions.
/// Every `repro.wast` lockstep writes carries it, so a finding replays with a
/// plain `cargo xtask diff repro.wast`.
pub const HOST_FUNCTIONS_LINE: &str = ";; lockstep: --host-functions";

/// The start of the comment line with which a script names one engine (a variant,
/// `asyncify@O1`) to run it on; a finding's `repro.wast` names every engine it was found on.
pub const ENGINE_LINE: &str = ";; lockstep: --engine ";

/// The comments that open the script, with their line numbers.
fn opening_comments(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .take_while(|(_, line)| line.is_empty() || line.starts_with(";;"))
        .map(|(index, line)| (index + 1, line))
}

/// Whether the comments that open the script ask for host functions.
fn asks_for_host_functions(text: &str) -> bool {
    opening_comments(text).any(|(_, line)| line == HOST_FUNCTIONS_LINE)
}

/// The engines the comments that open the script name (see [`ENGINE_LINE`]);
/// an engine that does not parse is bad input at its line.
pub fn engines_asked(key: &str, text: &str) -> anyhow::Result<Vec<oracles::EngineChoice>> {
    opening_comments(text)
        .filter_map(|(number, line)| Some((number, line.strip_prefix(ENGINE_LINE)?)))
        .map(|(number, engine)| {
            oracles::EngineChoice::parse(engine.trim())
                .map_err(|why| anyhow::anyhow!("{key}:{number}:1: {why}"))
        })
        .collect()
}

/// Whether the script is a finding lockstep saved (its `repro.wast`).
pub fn is_finding(text: &str) -> bool {
    text.starts_with(";; lockstep finding ")
}

/// The directive × engine table, then failures, divergences, skip reasons,
/// one line per engine, and the conclusion.
fn report(diff: &ScriptDiff) -> String {
    let header: Vec<String> = diff.engines.iter().map(|t| t.engine.clone()).collect();
    let rows: Vec<(String, Vec<String>, String)> = diff
        .directives
        .iter()
        .map(|d| {
            let cells = header.iter().map(|engine| cell(d, engine)).collect();
            let verdict = d.verdict.as_ref().map_or_else(String::new, verdict_text);
            (
                format!("{}:{} {}", d.line, d.column, d.keyword),
                cells,
                verdict,
            )
        })
        .collect();
    let mut out = render("directive", &header, &rows);
    out.push_str(&problems(diff));
    out.push_str(&skip_reasons(diff));
    for tally in &diff.engines {
        let _ = writeln!(out, "{}", tally_line(tally));
    }
    out.push_str(&closing(diff));
    out
}

fn cell(directive: &Directive, engine: &str) -> String {
    let result = directive.engines.iter().find(|r| r.engine == engine);
    match result.map(|r| &r.status) {
        Some(Status::Pass) => "pass".into(),
        Some(Status::Fail(_)) => "FAIL".into(),
        Some(Status::Skip(_)) => "skip".into(),
        None => "-".into(),
    }
}

/// Every failed assertion and every divergence, at `file:line`.
fn problems(diff: &ScriptDiff) -> String {
    let mut out = String::new();
    for d in &diff.directives {
        if let Some(Verdict::Diverge(_)) = &d.verdict {
            let verdict = d.verdict.as_ref().map(verdict_text).unwrap_or_default();
            let _ = writeln!(out, "{}:{}: {verdict}", diff.file, d.line);
            for result in &d.engines {
                let seen = result.outcome.as_ref().map_or_else(String::new, short);
                let _ = writeln!(out, "    {}: {seen}", result.engine);
            }
        }
        for result in &d.engines {
            if let Status::Fail(why) = &result.status {
                let _ = writeln!(
                    out,
                    "{}:{}:{}: {} failed ({}): {why}",
                    diff.file, d.line, d.column, d.keyword, result.engine
                );
            }
        }
    }
    for tally in &diff.engines {
        if let Some(why) = &tally.aborted {
            let _ = writeln!(out, "{}: {} stopped: {why}", diff.file, tally.engine);
        }
    }
    out
}

/// Why each engine skipped what it skipped: one line per engine and reason.
fn skip_reasons(diff: &ScriptDiff) -> String {
    let mut groups: BTreeMap<(&str, &str), (u32, u32)> = BTreeMap::new();
    for d in &diff.directives {
        for result in &d.engines {
            if let Status::Skip(why) = &result.status {
                let key = (result.engine.as_str(), why.as_str());
                let group = groups.entry(key).or_insert((0, d.line));
                group.0 += 1;
            }
        }
    }
    let mut out = String::new();
    for ((engine, why), (count, first)) in groups {
        let directives = if count == 1 {
            "directive"
        } else {
            "directives"
        };
        let _ = writeln!(
            out,
            "{engine}: skipped {count} {directives} (first at line {first}): {why}"
        );
    }
    out
}

fn tally_line(tally: &Tally) -> String {
    format!(
        "{}: {} directives run ({} passed, {} failed), {} skipped",
        tally.engine,
        tally.ran(),
        tally.passed,
        tally.failed,
        tally.skipped
    )
}

/// The last line: agreement is only claimed for engines that ran something.
fn closing(diff: &ScriptDiff) -> String {
    let divergences = diff
        .directives
        .iter()
        .filter(|d| matches!(d.verdict, Some(Verdict::Diverge(_))))
        .count();
    let failed: u32 = diff.engines.iter().map(|t| t.failed).sum();
    let aborted = diff.engines.iter().filter(|t| t.aborted.is_some()).count();
    if divergences + failed as usize + aborted > 0 {
        return format!(
            "{divergences} divergences, {failed} failed assertions, {aborted} engines stopped short\n"
        );
    }
    let idle: Vec<&str> = diff
        .engines
        .iter()
        .filter(|t| t.ran() == 0)
        .map(|t| t.engine.as_str())
        .collect();
    match idle.len() {
        0 => "every engine agrees with every assertion\n".into(),
        n if n == diff.engines.len() => "no engine ran any directive: no verdict\n".into(),
        _ => format!(
            "the engines that ran agree with every assertion; {} ran no directive, so no verdict on {}\n",
            idle.join(", "),
            if idle.len() == 1 { "it" } else { "them" }
        ),
    }
}
