//! The conformance view: the engines × suites matrix, each cell opening the directives that did not pass, with every engine's outcome.

use super::{Mark, escape, trend};
use crate::history::{self, Summary};
use crate::report::{Cell, Report};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use suites::catalog::SuiteFile;
use suites::expectations::Expectations;
use suites::runner::TrialResult;

/// A cell lists at most this many unexpected results; conformance.md has them all.
const UNEXPECTED_PER_CELL: usize = 200;
/// A cell lists at most this many expected failures; the engine's expectations file has them all.
const EXPECTED_PER_CELL: usize = 25;
/// An assertion is shown up to this many bytes of its source.
const ASSERTION_BYTES: usize = 400;
/// A skip reason names at most this many of its files.
const FILES_PER_SKIP: usize = 8;

/// Everything the conformance page shows.
pub struct Conformance<'a> {
    pub report: &'a Report<'a>,
    /// The files of the run, in catalog order (for row order and assertion text).
    pub files: &'a [SuiteFile],
    /// Each engine's expectations, for the reason of every expected failure.
    pub expectations: &'a HashMap<String, Expectations>,
    /// The history, this run last.
    pub history: &'a [Summary],
}

/// Writes `dir/index.html` for a conformance run.
pub fn write_conformance(dir: &Path, page: &Conformance) -> anyhow::Result<()> {
    super::write_page(dir, "lockstep conformance", &Page::new(page).body())
}

/// The run indexed for drawing: rows in catalog order, trials by cell and by file.
struct Page<'a> {
    input: &'a Conformance<'a>,
    suites: Vec<&'a str>,
    /// (engine, suite) → its trials.
    cells: HashMap<(&'a str, &'a str), Vec<&'a TrialResult>>,
    /// (engine, `suite/file`) → the trial.
    trials: HashMap<(&'a str, String), &'a TrialResult>,
    sources: HashMap<String, &'a str>,
    previous: Option<&'a Summary>,
}

/// A directive that did not pass on the cell's engine.
struct Directive<'a> {
    trial: &'a TrialResult,
    line: u32,
    column: u32,
    /// An expected failure, as opposed to an unexpected result.
    expected: bool,
}

/// What one engine did with one directive.
#[derive(PartialEq)]
struct Outcome<'a> {
    mark: Mark,
    text: String,
    /// The reason the engine's expectations give, when they list the directive.
    reason: Option<&'a str>,
}

impl Outcome<'_> {
    fn new(mark: Mark, text: impl Into<String>) -> Self {
        Outcome {
            mark,
            text: text.into(),
            reason: None,
        }
    }
}

impl<'a> Page<'a> {
    fn new(input: &'a Conformance<'a>) -> Page<'a> {
        let mut suites: Vec<&str> = Vec::new();
        for file in input.files {
            if !suites.contains(&file.suite.as_str())
                && input.report.matrix.contains_key(&file.suite)
            {
                suites.push(&file.suite);
            }
        }
        let mut cells: HashMap<(&str, &str), Vec<&TrialResult>> = HashMap::new();
        let mut trials = HashMap::new();
        for trial in input.report.trials {
            cells
                .entry((&trial.engine, &trial.suite))
                .or_default()
                .push(trial);
            trials.insert((trial.engine.as_str(), key(trial)), trial);
        }
        for list in cells.values_mut() {
            list.sort_by(|a, b| a.file.cmp(&b.file));
        }
        Page {
            input,
            suites,
            cells,
            trials,
            sources: input
                .files
                .iter()
                .map(|f| (f.key(), f.text.as_ref()))
                .collect(),
            previous: input
                .history
                .len()
                .checked_sub(2)
                .map(|i| &input.history[i]),
        }
    }

    fn body(&self) -> String {
        let mut out = self.header();
        out.push_str("<main>\n<section aria-labelledby=\"matrix-title\">\n<h2 id=\"matrix-title\">Engines × suites</h2>\n");
        out.push_str(&legend());
        out.push_str(&self.matrix());
        out.push_str("<div class=\"details\">\n<p class=\"hint\">Choose a cell (click it, or move with the arrow keys and press Enter) to see its directives.</p>\n");
        for (row, suite) in self.suites.iter().enumerate() {
            for (column, engine) in self.input.report.engines.iter().enumerate() {
                out.push_str(&self.detail(row, column, &engine.id, suite));
            }
        }
        out.push_str("</div>\n</section>\n");
        out.push_str(&trend::section(self.input.history));
        out.push_str(&self.directive_table());
        out.push_str("</main>\n");
        out
    }

    fn header(&self) -> String {
        let report = self.input.report;
        let files: std::collections::HashSet<String> = report.trials.iter().map(key).collect();
        let time = self.input.history.last().map_or(String::new(), |run| {
            format!("{} · ", history::utc(run.time))
        });
        format!(
            "<header>\n<h1>lockstep conformance</h1>\n<p class=\"facts\">{time}{} files on {} engines · reports: \
             <a href=\"conformance.md\">conformance.md</a>, <a href=\"conformance.json\">conformance.json</a>, \
             <a href=\"junit.xml\">junit.xml</a></p>\n</header>\n",
            files.len(),
            report.engines.len()
        )
    }

    fn matrix(&self) -> String {
        let engines = &self.input.report.engines;
        let mut out = format!(
            "<div class=\"scroll\">\n<table class=\"matrix\" data-columns=\"{}\">\n<thead><tr><th scope=\"col\">suite</th>",
            engines.len()
        );
        for engine in engines {
            let _ = write!(
                out,
                "<th scope=\"col\" title=\"{}\">{}</th>",
                escape(&engine.version),
                escape(&engine.id)
            );
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for (row, suite) in self.suites.iter().enumerate() {
            let _ = write!(out, "<tr><th scope=\"row\">{}</th>", escape(suite));
            for (column, engine) in engines.iter().enumerate() {
                out.push_str(&self.cell(row, column, &engine.id, suite));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n<tfoot><tr><th scope=\"row\">total</th>");
        for total in &self.input.report.totals {
            let _ = write!(
                out,
                "<td class=\"{}\">{}</td>",
                mark(total).class(),
                counts(total)
            );
        }
        out.push_str("</tr></tfoot>\n</table>\n</div>\n");
        out
    }

    fn cell(&self, row: usize, column: usize, engine: &str, suite: &str) -> String {
        let cell = &self.input.report.matrix[suite][column];
        let state = mark(cell);
        let was = self
            .previous
            .and_then(|run| Some(run.engine(engine)?.cells.get(suite)?.as_str()))
            .filter(|was| *was != cell.show());
        let delta = was.map_or(String::new(), |was| {
            format!(
                " <span class=\"delta\" title=\"changed since the previous run: was {was}\">Δ</span>"
            )
        });
        let label = format!(
            "{engine}, {suite}: {}{}",
            words(cell),
            was.map_or(String::new(), |was| format!(
                "; changed since the previous run, was {was}"
            ))
        );
        format!(
            "<td class=\"{}{}\" data-engine=\"{}\" data-suite=\"{}\"><a class=\"cell\" id=\"c{row}-{column}\" href=\"#d{row}-{column}\" aria-label=\"{}\">{}{delta}</a></td>",
            state.class(),
            if was.is_some() { " changed" } else { "" },
            escape(engine),
            escape(suite),
            escape(&label),
            counts(cell)
        )
    }

    /// The drill-down of one cell, shown when the cell's link targets it.
    fn detail(&self, row: usize, column: usize, engine: &str, suite: &str) -> String {
        let cell = &self.input.report.matrix[suite][column];
        let trials = self
            .cells
            .get(&(engine, suite))
            .map_or(&[][..], Vec::as_slice);
        let mut out = format!(
            "<section class=\"detail\" id=\"d{row}-{column}\" data-cell=\"c{row}-{column}\" tabindex=\"-1\" aria-labelledby=\"h{row}-{column}\">\n\
             <h3 id=\"h{row}-{column}\">{} × {}</h3>\n<p>Files: {}. Directives: {} passed, {} skipped. \
             <a href=\"#c{row}-{column}\">Back to the matrix</a></p>\n",
            escape(engine),
            escape(suite),
            words(cell),
            cell.directives_passed,
            cell.directives_skipped
        );
        out.push_str(&self.directive_list(engine, trials));
        out.push_str(&skips(trials));
        out.push_str("</section>\n");
        out
    }

    /// The cell's directives that did not pass, unexpected results first, then the reasons they cite.
    fn directive_list(&self, engine: &str, trials: &[&TrialResult]) -> String {
        let directives = not_passing(trials);
        if directives.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "<h4>Directives that did not pass ({})</h4>\n<ol class=\"directives\">\n",
            directives.len()
        );
        let (expected, unexpected): (Vec<&Directive>, Vec<&Directive>) =
            directives.iter().partition(|d| d.expected);
        // Reasons are long and shared by many directives: each is written once per cell, and numbered.
        let mut reasons = Vec::new();
        let shown = unexpected
            .iter()
            .take(UNEXPECTED_PER_CELL)
            .chain(expected.iter().take(EXPECTED_PER_CELL));
        for directive in shown {
            out.push_str(&self.directive(directive, &mut reasons));
        }
        out.push_str("</ol>\n");
        let omitted = [
            (
                unexpected.len().saturating_sub(UNEXPECTED_PER_CELL),
                "unexpected results: see conformance.md".to_string(),
            ),
            (
                expected.len().saturating_sub(EXPECTED_PER_CELL),
                format!(
                    "expected failures, each listed with its reason in suites/expectations/{}.toml",
                    escape(engine)
                ),
            ),
        ];
        for (more, what) in omitted {
            if more > 0 {
                let _ = writeln!(out, "<p>… and {more} more {what}.</p>");
            }
        }
        if !reasons.is_empty() {
            let items: Vec<String> = reasons
                .iter()
                .map(|r| format!("<li>{}</li>", escape(r)))
                .collect();
            let _ = writeln!(
                out,
                "<h4>Reasons the expectations give</h4>\n<ol class=\"reasons\">{}</ol>",
                items.concat()
            );
        }
        out
    }

    /// One directive with every engine's outcome; reasons are numbered into `reasons`.
    fn directive<'r>(&'r self, directive: &Directive, reasons: &mut Vec<&'r str>) -> String {
        let file = key(directive.trial);
        let assertion = self
            .sources
            .get(&file)
            .and_then(|text| assertion_text(text, directive.line, directive.column))
            .map_or(String::new(), |text| {
                format!("<pre class=\"assertion\">{}</pre>\n", escape(&text))
            });
        let mut out = format!(
            "<li>\n<p class=\"where\"><code>{}:{}:{}</code></p>\n{assertion}<table class=\"outcomes\"><tbody>\n",
            escape(&file),
            directive.line,
            directive.column
        );
        // Engines that did the same thing share a row: the page stays small when all of them fail alike.
        let mut groups: Vec<(Outcome, Vec<&str>)> = Vec::new();
        for engine in &self.input.report.engines {
            let outcome = self.outcome(&engine.id, &file, directive.line);
            match groups.iter_mut().find(|(seen, _)| *seen == outcome) {
                Some((_, engines)) => engines.push(&engine.id),
                None => groups.push((outcome, vec![&engine.id])),
            }
        }
        for (outcome, engines) in groups {
            let reason = outcome.reason.map_or(String::new(), |reason| {
                let number = match reasons.iter().position(|r| *r == reason) {
                    Some(index) => index + 1,
                    None => {
                        reasons.push(reason);
                        reasons.len()
                    }
                };
                format!(" (reason {number} below)")
            });
            let _ = writeln!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{} {}{reason}</td></tr>",
                escape(&engines.join(", ")),
                outcome.mark.badge(),
                escape(&outcome.text)
            );
        }
        out.push_str("</tbody></table>\n</li>\n");
        out
    }

    /// What `engine` did with the directive at `line` of `file`, with the expectation's reason when one lists it.
    fn outcome(&self, engine: &str, file: &str, line: u32) -> Outcome<'_> {
        let Some(trial) = self.trials.get(&(engine, file.to_string())) else {
            return Outcome::new(Mark::Skip, "not run");
        };
        let verdict = &trial.verdict;
        if let Some(failure) = verdict.unexpected_failures.iter().find(|f| f.line == line) {
            return Outcome::new(Mark::Unexpected, failure.message.clone());
        }
        if let Some(failure) = verdict.expected_failures.iter().find(|f| f.line == line) {
            let reason = self
                .input
                .expectations
                .get(engine)
                .and_then(|e| e.covering(file, line));
            return Outcome {
                reason: reason.map(|e| e.reason.as_str()),
                ..Outcome::new(Mark::Expected, failure.message.clone())
            };
        }
        if let Some(stale) = verdict
            .unexpected_passes
            .iter()
            .find(|e| e.line.unwrap_or(0) == line)
        {
            return Outcome {
                reason: Some(&stale.reason),
                ..Outcome::new(
                    Mark::Unexpected,
                    "passes, but the expectations list it as failing",
                )
            };
        }
        // Skips are counted per reason from the first skipped line on, not per directive.
        let skipped_before: Vec<&str> = trial
            .run
            .skipped
            .iter()
            .filter(|(_, s)| s.first_line <= line)
            .map(|(reason, _)| reason.as_str())
            .collect();
        if skipped_before.is_empty() {
            Outcome::new(Mark::Pass, "passed")
        } else {
            let text = format!("passed or skipped ({})", skipped_before.join("; "));
            Outcome::new(Mark::Skip, text)
        }
    }

    /// Per engine: directives passed, failed as expected, failed unexpectedly, skipped.
    fn directive_table(&self) -> String {
        let mut out = String::from(
            "<section aria-labelledby=\"directives-title\">\n<h2 id=\"directives-title\">Directives per engine</h2>\n<div class=\"scroll\">\n\
             <table class=\"totals\"><thead><tr><th scope=\"col\">engine</th><th scope=\"col\">version</th>\
             <th scope=\"col\">✓ passed</th><th scope=\"col\">≈ expected failures</th><th scope=\"col\">✗ unexpected</th><th scope=\"col\">– skipped</th></tr></thead>\n<tbody>\n",
        );
        for engine in &self.input.report.engines {
            let counts = self.input.report.directive_counts(&engine.id);
            let _ = writeln!(
                out,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&engine.id),
                escape(&engine.version),
                counts.passed,
                counts.expected_failures,
                counts.unexpected_failures,
                counts.skipped
            );
        }
        out.push_str("</tbody></table>\n</div>\n</section>\n");
        out
    }
}

fn legend() -> String {
    let states = [
        Mark::Pass,
        Mark::Partial,
        Mark::Expected,
        Mark::Unexpected,
        Mark::Skip,
    ]
    .map(|m| format!("<li>{} {}</li>", m.badge(), m.words()));
    format!(
        "<ul class=\"legend\">{}<li><span class=\"delta\">Δ</span> changed since the previous run</li></ul>\n\
         <p class=\"note\">Counts are files: a file passes when every directive ran and passed, \
         and ran partly when every directive that ran passed but some were skipped.</p>\n",
        states.concat()
    )
}

/// `suite/file`, the key of files in expectations and reports.
fn key(trial: &TrialResult) -> String {
    format!("{}/{}", trial.suite, trial.file)
}

/// The state a cell is coloured by: its worst file.
fn mark(cell: &Cell) -> Mark {
    if cell.fail > 0 {
        Mark::Unexpected
    } else if cell.expected_failure > 0 {
        Mark::Expected
    } else if cell.partial > 0 {
        Mark::Partial
    } else if cell.pass == 0 && cell.skip > 0 {
        Mark::Skip
    } else {
        Mark::Pass
    }
}

/// The cell's non-zero counts, each shown by `show` and joined by `separator`; `empty` when there are none.
fn nonzero(
    cell: &Cell,
    show: impl Fn(Mark, usize) -> String,
    separator: &str,
    empty: &str,
) -> String {
    let states = [
        (Mark::Pass, cell.pass),
        (Mark::Partial, cell.partial),
        (Mark::Expected, cell.expected_failure),
        (Mark::Unexpected, cell.fail),
        (Mark::Skip, cell.skip),
    ];
    let shown: Vec<String> = states
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(m, n)| show(m, n))
        .collect();
    if shown.is_empty() {
        empty.to_string()
    } else {
        shown.join(separator)
    }
}

/// The cell's counts, each behind its symbol: `✓ 72 ✗ 1`.
fn counts(cell: &Cell) -> String {
    let show = |m: Mark, n| format!("<span class=\"count\">{} {n}</span>", m.badge());
    nonzero(cell, show, " ", "<span class=\"count\">0</span>")
}

/// The cell's counts in words, for screen readers and the drill-down.
fn words(cell: &Cell) -> String {
    nonzero(cell, |m, n| format!("{n} {}", m.words()), ", ", "no files")
}

/// Every directive of these trials that failed, expectedly or not, or passed against its expectation, in file order.
fn not_passing<'a>(trials: &[&'a TrialResult]) -> Vec<Directive<'a>> {
    let mut directives = Vec::new();
    for &trial in trials {
        let verdict = &trial.verdict;
        let unexpected = verdict
            .unexpected_failures
            .iter()
            .map(|f| (f.line, f.column, false));
        let expected = verdict
            .expected_failures
            .iter()
            .map(|f| (f.line, f.column, true));
        let stale = verdict
            .unexpected_passes
            .iter()
            .map(|e| (e.line.unwrap_or(0), 0, false));
        for (line, column, expected) in unexpected.chain(expected).chain(stale) {
            directives.push(Directive {
                trial,
                line,
                column,
                expected,
            });
        }
    }
    directives.sort_by(|a, b| (&a.trial.file, a.line).cmp(&(&b.trial.file, b.line)));
    directives
}

/// The cell's skipped directives, grouped by reason, naming the first few files.
fn skips(trials: &[&TrialResult]) -> String {
    let mut reasons: BTreeMap<&str, (u32, Vec<&str>)> = BTreeMap::new();
    for trial in trials {
        for (reason, skips) in &trial.run.skipped {
            let entry = reasons.entry(reason).or_default();
            entry.0 += skips.count;
            entry.1.push(&trial.file);
        }
    }
    if reasons.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h4>Skipped directives</h4>\n<ul class=\"skips\">\n");
    for (reason, (count, files)) in reasons {
        let mut named = files
            .iter()
            .take(FILES_PER_SKIP)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if files.len() > FILES_PER_SKIP {
            named.push_str(", …");
        }
        let _ = writeln!(
            out,
            "<li>{} {}: {count} directives in {} files ({})</li>",
            Mark::Skip.badge(),
            escape(reason),
            files.len(),
            escape(&named)
        );
    }
    out.push_str("</ul>\n");
    out
}

/// The source of the directive whose keyword is at `line:column` (1-based), from its opening
/// parenthesis to the matching one, cut after [`ASSERTION_BYTES`].
fn assertion_text(text: &str, line: u32, column: u32) -> Option<String> {
    let line_start = match line {
        0 => return None,
        1 => 0,
        _ => text.match_indices('\n').nth(line as usize - 2)?.0 + 1,
    };
    let rest = &text[line_start..];
    let this_line = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let before_keyword: usize = this_line
        .chars()
        .take(column.saturating_sub(1) as usize)
        .map(char::len_utf8)
        .sum();
    let open = this_line[..before_keyword]
        .rfind('(')
        .or_else(|| this_line.find('('))?;
    let source = &rest[open..];
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() && i < ASSERTION_BYTES {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b';' if bytes.get(i + 1) == Some(&b';') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(source[..=i].to_string());
                }
            }
            _ => {}
        }
        i += 1;
    }
    let cut = source.floor_char_boundary(ASSERTION_BYTES.min(source.len()));
    Some(format!("{} …", &source[..cut]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "(module (func (export \"f\") (result i32) (i32.const 1)))\n\
                          (assert_return (invoke \"f\" \"a)\") ;; (\n  (i32.const 2))\n";

    #[test]
    fn the_assertion_is_cut_at_its_closing_parenthesis() {
        assert_eq!(
            assertion_text(SCRIPT, 2, 2).unwrap(),
            "(assert_return (invoke \"f\" \"a)\") ;; (\n  (i32.const 2))"
        );
    }

    #[test]
    fn a_long_assertion_is_cut_with_an_ellipsis() {
        let long = format!("(module binary \"{}\")", "\\00".repeat(500));
        let shown = assertion_text(&long, 1, 2).unwrap();
        assert!(shown.ends_with(" …") && shown.len() < ASSERTION_BYTES + 8);
    }

    #[test]
    fn a_cell_is_coloured_by_its_worst_file() {
        let cell = Cell {
            pass: 5,
            skip: 1,
            ..Cell::default()
        };
        assert_eq!(mark(&cell), Mark::Pass);
        assert_eq!(
            mark(&Cell {
                expected_failure: 1,
                ..cell
            }),
            Mark::Expected
        );
        assert_eq!(
            mark(&Cell {
                skip: 2,
                ..Cell::default()
            }),
            Mark::Skip
        );
        assert_eq!(words(&cell), "5 pass, 1 skipped");
    }

    #[test]
    fn a_file_that_ran_partly_is_not_a_pass() {
        let cell = Cell {
            pass: 5,
            partial: 1,
            ..Cell::default()
        };
        assert_eq!(mark(&cell), Mark::Partial);
        assert_eq!(words(&cell), "5 pass, 1 ran partly");
        assert!(counts(&cell).contains("◐</span> 1"), "{}", counts(&cell));
    }
}
