//! The conformance history: a compact summary of every run, one JSON line each, and what changed between two runs.

use crate::report::Report;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One run, small enough to keep thousands of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// When the run finished, in seconds since the Unix epoch.
    pub time: u64,
    pub engines: Vec<EngineSummary>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineSummary {
    pub id: String,
    pub directives_passed: u64,
    /// suite → files as `pass/partial/expected-failure/fail/skip`.
    pub cells: BTreeMap<String, String>,
}

impl Summary {
    pub fn of(report: &Report, time: u64) -> Summary {
        let engines = report
            .engines
            .iter()
            .enumerate()
            .map(|(column, engine)| EngineSummary {
                id: engine.id.clone(),
                directives_passed: report.directive_counts(&engine.id).passed,
                cells: report
                    .matrix
                    .iter()
                    .map(|(suite, cells)| (suite.clone(), cells[column].show()))
                    .collect(),
            })
            .collect();
        Summary { time, engines }
    }

    pub fn engine(&self, id: &str) -> Option<&EngineSummary> {
        self.engines.iter().find(|e| e.id == id)
    }
}

/// The runs recorded in a history file, oldest first.
pub struct History {
    path: PathBuf,
    pub runs: Vec<Summary>,
}

impl History {
    /// Reads the history file; a missing file is an empty history, a malformed line an error naming it.
    pub fn load(path: &Path) -> anyhow::Result<History> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => anyhow::bail!("{}: {e}", path.display()),
        };
        let runs = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(index, line)| {
                serde_json::from_str(line).map_err(|e| {
                    // serde_json ends its message with the position inside the line; the file's comes first.
                    let message = e.to_string();
                    let message = message.split(" at line ").next().unwrap_or_default();
                    anyhow::anyhow!("{}:{}:{}: {message}", path.display(), index + 1, e.column())
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(History {
            path: path.to_path_buf(),
            runs,
        })
    }

    /// Appends a run to the file and to the history.
    pub fn append(&mut self, run: Summary) -> anyhow::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .with_context(|| self.path.display().to_string())?;
        writeln!(file, "{}", serde_json::to_string(&run)?)
            .with_context(|| self.path.display().to_string())?;
        self.runs.push(run);
        Ok(())
    }
}

/// What differs between two runs, one line per engine or cell; empty when nothing does.
pub fn changes(previous: &Summary, current: &Summary) -> Vec<String> {
    let mut lines = Vec::new();
    for engine in &previous.engines {
        if current.engine(&engine.id).is_none() {
            lines.push(format!("{}: not run this time", engine.id));
        }
    }
    for engine in &current.engines {
        let Some(before) = previous.engine(&engine.id) else {
            lines.push(format!("{}: new in this run", engine.id));
            continue;
        };
        if before.directives_passed != engine.directives_passed {
            lines.push(format!(
                "{}: directives passed {} → {}",
                engine.id, before.directives_passed, engine.directives_passed
            ));
        }
        for (suite, cell) in &engine.cells {
            match before.cells.get(suite) {
                Some(was) if was == cell => {}
                Some(was) => lines.push(format!("{} × {suite}: files {was} → {cell}", engine.id)),
                None => lines.push(format!("{} × {suite}: new, files {cell}", engine.id)),
            }
        }
        for suite in before.cells.keys() {
            if !engine.cells.contains_key(suite) {
                lines.push(format!("{} × {suite}: not run this time", engine.id));
            }
        }
    }
    lines
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM UTC`.
pub fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let minutes = seconds % 86_400 / 60;
    // Howard Hinnant's days-to-civil: the proleptic Gregorian calendar in eras of 400 years.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(time: u64, passed: u64, cell: &str) -> Summary {
        Summary {
            time,
            engines: vec![EngineSummary {
                id: "wasmi".into(),
                directives_passed: passed,
                cells: BTreeMap::from([("wasm-v1".to_string(), cell.to_string())]),
            }],
        }
    }

    #[test]
    fn identical_runs_have_no_changes() {
        assert!(changes(&run(1, 10, "3/0/0/0"), &run(2, 10, "3/0/0/0")).is_empty());
    }

    #[test]
    fn changes_name_the_engine_the_cell_and_both_counts() {
        let lines = changes(&run(1, 10, "3/0/0/0"), &run(2, 9, "2/0/1/0"));
        assert_eq!(
            lines,
            [
                "wasmi: directives passed 10 → 9",
                "wasmi × wasm-v1: files 3/0/0/0 → 2/0/1/0"
            ]
        );
    }

    #[test]
    fn a_malformed_line_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let good = serde_json::to_string(&run(1, 10, "3/0/0/0")).unwrap();
        std::fs::write(&path, format!("{good}\n{{\"time\": oops}}\n")).unwrap();
        let error = History::load(&path).err().unwrap().to_string();
        assert!(
            error.ends_with("history.jsonl:2:10: expected value"),
            "{error}"
        );
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34 UTC");
    }
}
