//! The history on the conformance page: what changed since the previous run, and each engine's passed directives over recent runs as a small SVG chart.

use super::escape;
use crate::history::{self, Summary};
use std::fmt::Write as _;

/// The chart shows this many runs at most.
const RUNS_SHOWN: usize = 30;
const WIDTH: f64 = 200.0;
const HEIGHT: f64 = 36.0;
const MARGIN: f64 = 5.0;

/// The history section: changes since the previous run, then one chart per engine of this run.
pub fn section(runs: &[Summary]) -> String {
    let Some(current) = runs.last() else {
        return String::new();
    };
    let recent = &runs[runs.len().saturating_sub(RUNS_SHOWN)..];
    let mut out = format!(
        "<section id=\"history\" aria-labelledby=\"history-title\">\n<h2 id=\"history-title\">History</h2>\n{}",
        changes(runs)
    );
    let _ = writeln!(
        out,
        "<div class=\"scroll\">\n<table class=\"trend\"><thead><tr><th scope=\"col\">engine</th>\
         <th scope=\"col\">directives passed, last {} of {} runs</th><th scope=\"col\">now</th></tr></thead>\n<tbody>",
        recent.len(),
        runs.len()
    );
    for engine in &current.engines {
        let points: Vec<(u64, Option<u64>)> = recent
            .iter()
            .map(|run| {
                (
                    run.time,
                    run.engine(&engine.id).map(|e| e.directives_passed),
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
            escape(&engine.id),
            sparkline(&engine.id, &points),
            engine.directives_passed
        );
    }
    out.push_str("</tbody></table>\n</div>\n</section>\n");
    out
}

/// "No change", the list of changes, or that this is the first run.
fn changes(runs: &[Summary]) -> String {
    let [.., previous, current] = runs else {
        return "<p class=\"changes\">The first run of this history.</p>\n".into();
    };
    let since = format!("since the previous run ({})", history::utc(previous.time));
    let lines = history::changes(previous, current);
    if lines.is_empty() {
        return format!("<p class=\"changes no-change\"><strong>No change</strong> {since}.</p>\n");
    }
    let items: Vec<String> = lines
        .iter()
        .map(|line| format!("<li>{}</li>", escape(line)))
        .collect();
    format!(
        "<p class=\"changes\"><strong>Changed</strong> {since}:</p>\n<ul class=\"changes\">{}</ul>\n",
        items.concat()
    )
}

/// A line through the engine's counts, scaled to their own range; each point names its run.
fn sparkline(engine: &str, points: &[(u64, Option<u64>)]) -> String {
    let values: Vec<u64> = points.iter().filter_map(|(_, v)| *v).collect();
    let (low, high) = (
        values.iter().copied().min().unwrap_or(0),
        values.iter().copied().max().unwrap_or(0),
    );
    let x = |i: usize| {
        if points.len() < 2 {
            WIDTH / 2.0
        } else {
            MARGIN + i as f64 * (WIDTH - 2.0 * MARGIN) / (points.len() - 1) as f64
        }
    };
    let y = |v: u64| {
        if high == low {
            HEIGHT / 2.0
        } else {
            MARGIN + (high - v) as f64 * (HEIGHT - 2.0 * MARGIN) / (high - low) as f64
        }
    };
    let placed: Vec<(f64, f64, u64, u64)> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (time, v))| Some((x(i), y((*v)?), *time, (*v)?)))
        .collect();
    let line: Vec<String> = placed
        .iter()
        .map(|(x, y, _, _)| format!("{x:.1},{y:.1}"))
        .collect();
    let mut svg = format!(
        "<svg class=\"spark\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" \
         aria-label=\"{}: directives passed in the last {} runs: {}\"><polyline points=\"{}\"/>",
        escape(engine),
        values.len(),
        values
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        line.join(" ")
    );
    for (x, y, time, value) in placed {
        let _ = write!(
            svg,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"><title>{}: {value}</title></circle>",
            history::utc(time)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_per_run_and_a_missing_run_leaves_a_gap() {
        let svg = sparkline("wasmi", &[(0, Some(10)), (60, None), (120, Some(12))]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("points=\"5.0,31.0 195.0,5.0\""), "{svg}");
    }
}
