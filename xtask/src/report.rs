//! Conformance reports: the engines × suites matrix as text and Markdown, `conformance.json`, and `junit.xml`.

use oracles::{Engine, features};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use suites::runner::{TrialResult, TrialState};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub id: String,
    pub version: String,
    pub proposals: Vec<String>,
}

/// Files per state in one engine × suite cell, and the directives they ran and skipped.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cell {
    pub pass: usize,
    /// Files whose directives that ran all passed, with some skipped.
    pub partial: usize,
    pub expected_failure: usize,
    pub fail: usize,
    pub skip: usize,
    pub directives_passed: u64,
    pub directives_skipped: u64,
}

impl Cell {
    fn add(&mut self, trial: &TrialResult) {
        match trial.state() {
            TrialState::Pass => self.pass += 1,
            TrialState::Partial => self.partial += 1,
            TrialState::ExpectedFailure => self.expected_failure += 1,
            TrialState::Fail => self.fail += 1,
            TrialState::Skip => self.skip += 1,
        }
        self.directives_passed += u64::from(trial.run.passed);
        self.directives_skipped += u64::from(trial.run.skipped_count());
    }

    /// `pass/partial/expected-failure/fail/skip`, as the text matrix and the history show a cell.
    pub fn show(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.pass, self.partial, self.expected_failure, self.fail, self.skip
        )
    }

    /// `passed/skipped` directives.
    fn show_directives(&self) -> String {
        format!("{}/{}", self.directives_passed, self.directives_skipped)
    }
}

/// Directives of one engine by how they went.
#[derive(Clone, Copy, Debug, Default)]
pub struct DirectiveCounts {
    pub passed: u64,
    pub expected_failures: usize,
    pub unexpected_failures: usize,
    pub skipped: u64,
}

impl std::fmt::Display for DirectiveCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} passed, {} expected failures, {} unexpected failures, {} skipped",
            self.passed, self.expected_failures, self.unexpected_failures, self.skipped
        )
    }
}

#[derive(Serialize)]
pub struct Report<'a> {
    pub engines: Vec<EngineInfo>,
    /// suite → one cell per engine, in `engines` order.
    pub matrix: BTreeMap<String, Vec<Cell>>,
    pub totals: Vec<Cell>,
    pub trials: &'a [TrialResult],
}

const LEGEND: &str = "cells: pass/partial/expected-failure/FAIL/skip, counted in files; \
                      a partial file passed every directive that ran and skipped some";

impl<'a> Report<'a> {
    pub fn new(engines: &[Arc<dyn Engine>], trials: &'a [TrialResult]) -> Report<'a> {
        let infos: Vec<EngineInfo> = engines
            .iter()
            .map(|e| EngineInfo {
                id: e.id().to_string(),
                version: e.version(),
                proposals: features::names(e.features())
                    .into_iter()
                    .map(String::from)
                    .collect(),
            })
            .collect();
        Report::of(infos, trials)
    }

    /// The matrix of `trials` with a column per engine of `infos`.
    pub fn of(infos: Vec<EngineInfo>, trials: &'a [TrialResult]) -> Report<'a> {
        let column = |id: &str| infos.iter().position(|e| e.id == id);
        let mut matrix: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
        let mut totals = vec![Cell::default(); infos.len()];
        for trial in trials {
            let Some(column) = column(&trial.engine) else {
                continue;
            };
            let row = matrix
                .entry(trial.suite.clone())
                .or_insert_with(|| vec![Cell::default(); infos.len()]);
            row[column].add(trial);
            totals[column].add(trial);
        }
        Report {
            engines: infos,
            matrix,
            totals,
            trials,
        }
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(
            dir.join("conformance.json"),
            serde_json::to_string_pretty(self)?,
        )?;
        std::fs::write(dir.join("conformance.md"), self.markdown())?;
        std::fs::write(dir.join("junit.xml"), self.junit())?;
        Ok(())
    }

    /// One row per suite and a total row, each cell shown by `show`.
    fn rows(&self, show: fn(&Cell) -> String) -> Vec<(String, Vec<String>)> {
        let mut rows: Vec<(String, Vec<String>)> = self
            .matrix
            .iter()
            .map(|(suite, cells)| (suite.clone(), cells.iter().map(show).collect()))
            .collect();
        rows.push(("total".into(), self.totals.iter().map(show).collect()));
        rows
    }

    pub fn text_matrix(&self) -> String {
        let rows = self.rows(Cell::show);
        let first = rows.iter().map(|(s, _)| s.len()).max().unwrap_or(5).max(5);
        let widths: Vec<usize> = self
            .engines
            .iter()
            .enumerate()
            .map(|(i, e)| {
                rows.iter()
                    .map(|(_, c)| c[i].len())
                    .max()
                    .unwrap_or(0)
                    .max(e.id.len())
            })
            .collect();
        let mut out = format!("{:first$}", "suite");
        for (engine, width) in self.engines.iter().zip(&widths) {
            let _ = write!(out, "  {:>width$}", engine.id);
        }
        out.push('\n');
        for (suite, cells) in rows {
            let _ = write!(out, "{suite:first$}");
            for (cell, width) in cells.iter().zip(&widths) {
                let _ = write!(out, "  {cell:>width$}");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "({LEGEND})");
        out.push_str(&self.directive_totals());
        out
    }

    /// Directives of one engine, summed over its trials.
    pub fn directive_counts(&self, engine: &str) -> DirectiveCounts {
        let mut counts = DirectiveCounts::default();
        for trial in self.trials.iter().filter(|t| t.engine == engine) {
            counts.passed += u64::from(trial.run.passed);
            counts.expected_failures += trial.verdict.expected_failures.len();
            counts.unexpected_failures += trial.verdict.unexpected_failures.len();
            counts.skipped += u64::from(trial.run.skipped_count());
        }
        counts
    }

    /// Per engine: directives passed, failed as expected, failed unexpectedly, skipped.
    fn directive_totals(&self) -> String {
        let mut out = String::from("directives:\n");
        for engine in &self.engines {
            let _ = writeln!(
                out,
                "  {:<20} {}",
                engine.id,
                self.directive_counts(&engine.id)
            );
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("# lockstep conformance\n\n");
        out.push_str(&self.markdown_table(Cell::show));
        let _ = writeln!(out, "\n{LEGEND}.\n");
        out.push_str(&self.markdown_table(Cell::show_directives));
        let _ = writeln!(
            out,
            "\ncells: directives passed/skipped.\n\n{}",
            fenced(&self.directive_totals())
        );
        let unexpected = self.unexpected_results();
        if !unexpected.is_empty() {
            let _ = write!(out, "## Unexpected results\n\n{}", fenced(&unexpected));
        }
        out
    }

    fn markdown_table(&self, show: fn(&Cell) -> String) -> String {
        let ids: Vec<String> = self.engines.iter().map(|e| markdown_text(&e.id)).collect();
        let mut out = format!("| suite | {} |\n", ids.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(self.engines.len()));
        for (suite, cells) in self.rows(show) {
            let _ = writeln!(out, "| {} | {} |", markdown_text(&suite), cells.join(" | "));
        }
        out
    }

    /// Every new failure and stale expectation, grouped by directive, naming the engines.
    pub fn unexpected_results(&self) -> String {
        let mut groups: BTreeMap<(String, u32, u32), BTreeMap<String, Vec<&str>>> = BTreeMap::new();
        for trial in self.trials {
            let key = format!("{}/{}", trial.suite, trial.file);
            for f in &trial.verdict.unexpected_failures {
                groups
                    .entry((key.clone(), f.line, f.column))
                    .or_default()
                    .entry(f.message.clone())
                    .or_default()
                    .push(&trial.engine);
            }
            for e in &trial.verdict.unexpected_passes {
                let message = format!("listed as failing ({}) but passes now", e.explanation());
                groups
                    .entry((key.clone(), e.line.unwrap_or(0), 0))
                    .or_default()
                    .entry(message)
                    .or_default()
                    .push(&trial.engine);
            }
        }
        let mut out = String::new();
        if !groups.is_empty() {
            out.push_str("unexpected results:\n");
        }
        for ((file, line, column), messages) in groups {
            let _ = writeln!(out, "{file}:{line}:{column}");
            for (message, engines) in messages {
                let _ = writeln!(out, "    {}: {message}", engines.join(", "));
            }
        }
        out
    }

    pub fn junit(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"lockstep conformance\">\n",
        );
        for (column, engine) in self.engines.iter().enumerate() {
            let trials: Vec<&TrialResult> = self
                .trials
                .iter()
                .filter(|t| t.engine == engine.id)
                .collect();
            let totals = self.totals[column];
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">",
                xml(&engine.id),
                trials.len(),
                totals.fail,
                totals.skip
            );
            for trial in trials {
                out.push_str(&junit_case(trial));
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Trial results appended to a JSON-lines file as they complete: an
/// interrupted run leaves every result it finished, readable line by line.
pub struct Stream {
    file: std::io::BufWriter<std::fs::File>,
}

impl Stream {
    pub fn create(path: &Path) -> anyhow::Result<Stream> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file =
            std::fs::File::create(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Stream {
            file: std::io::BufWriter::new(file),
        })
    }

    pub fn write(&mut self, trial: &TrialResult) {
        use std::io::Write;
        let line = serde_json::to_string(trial).expect("trial results serialize");
        // Flushed per line: a kill loses at most the trial being written.
        if writeln!(self.file, "{line}")
            .and_then(|()| self.file.flush())
            .is_err()
        {
            eprintln!("warning: could not stream a result to conformance.jsonl");
        }
    }
}

fn junit_case(trial: &TrialResult) -> String {
    let head = format!(
        "    <testcase classname=\"{}.{}\" name=\"{}\" time=\"{:.3}\"",
        xml(&trial.engine),
        xml(&trial.suite),
        xml(&trial.file),
        trial.seconds
    );
    match trial.state() {
        TrialState::Fail => {
            let details: Vec<String> = trial
                .verdict
                .unexpected_failures
                .iter()
                .map(|f| format!("{}:{}:{}: {}", trial.file, f.line, f.column, f.message))
                .chain(trial.verdict.unexpected_passes.iter().map(|e| {
                    format!(
                        "{}:{}: expected to fail ({}) but passed",
                        trial.file,
                        e.line.unwrap_or(0),
                        e.explanation()
                    )
                }))
                .collect();
            format!(
                "{head}>\n      <failure message=\"{} unexpected results\">{}</failure>\n    </testcase>\n",
                details.len(),
                xml(&details.join("\n"))
            )
        }
        TrialState::Skip => {
            let reasons: Vec<&str> = trial.run.skipped.keys().map(String::as_str).collect();
            format!(
                "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                xml(&reasons.join("; "))
            )
        }
        TrialState::Pass | TrialState::Partial | TrialState::ExpectedFailure => {
            format!("{head}/>\n")
        }
    }
}

/// Text escaped for XML and HTML, in element content and in quoted attributes.
/// Text for Markdown outside code: every punctuation mark Markdown gives a meaning to backslash-escaped,
/// and `<`, `>`, `&` as HTML entities, so that a path or engine name shows as written and never as
/// markup or a raw HTML element.
fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c if "\\`*_{}[]()#+-.!|~".contains(c) => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// `text` in a Markdown code block whose fence is longer than any run of backticks inside it, so
/// nothing in the text can close the block early.
fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}\n{text}{fence}\n")
}

pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                out.push_str(&format!("&#x{:x};", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}
