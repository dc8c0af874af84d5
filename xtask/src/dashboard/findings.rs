//! The findings view: every finding saved in a fuzzing output folder, grouped by bucket (its cause), with its
//! signature, engines, outcomes, size and a link to its `repro.wast`; instances of known divergences in a section of their own.

use super::escape;
use crate::bucket::{Bucket, Method};
use crate::known::Known;
use oracles::compare::Divergence;
use oracles::differential::Run;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the page needs of a finding's `report.json`.
#[derive(Deserialize)]
struct Saved {
    signature: String,
    /// Absent from reports saved before findings were bucketed: those are a bucket of their own.
    #[serde(default)]
    bucket: Option<Bucket>,
    divergence: Divergence,
    origin: Origin,
    run: Run,
    #[serde(default)]
    known: Option<Known>,
}

#[derive(Deserialize)]
struct Origin {
    source: String,
    iteration: Option<u64>,
}

/// A finding folder, read back.
struct Finding {
    folder: String,
    report: Saved,
    module_bytes: u64,
    /// Whether the campaign's journal says it was reduced before it was saved (unknown without a journal).
    reduced: Option<bool>,
}

/// Writes `out/index.html` listing the findings in `out`; `facts` (label, text) describe the campaign.
pub fn write_findings(out: &Path, facts: &[(&str, String)]) -> anyhow::Result<()> {
    let findings = read(out)?;
    let mut body = String::from("<header>\n<h1>lockstep findings</h1>\n<dl class=\"facts\">");
    for (label, text) in facts {
        let _ = write!(body, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(text));
    }
    body.push_str("</dl>\n</header>\n<main>\n");
    let (known, new): (Vec<Finding>, Vec<Finding>) =
        findings.into_iter().partition(|f| f.report.known.is_some());
    if new.is_empty() {
        let why = if known.is_empty() {
            "the engines agreed on every module"
        } else {
            "every divergence is a known one"
        };
        let _ = writeln!(
            body,
            "<p class=\"changes no-change\"><strong>No findings</strong>: {why}.</p>"
        );
    } else {
        body.push_str(&buckets(new));
    }
    if !known.is_empty() {
        let _ = writeln!(body, "<h2>{} known divergences</h2>", known.len());
        body.push_str(&table(&known));
    }
    body.push_str("</main>\n");
    super::write_page(out, "lockstep findings", &body)
}

/// Every subfolder of `out` holding a readable `report.json`, by signature.
fn read(out: &Path) -> anyhow::Result<Vec<Finding>> {
    let reduced = reductions(out);
    let mut findings = Vec::new();
    let folders = std::fs::read_dir(out).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    for folder in folders.flatten().map(|entry| entry.path()) {
        let report: PathBuf = folder.join("report.json");
        let Ok(text) = std::fs::read_to_string(&report) else {
            continue;
        };
        let saved: Saved = match serde_json::from_str(&text) {
            Ok(saved) => saved,
            Err(e) => {
                eprintln!(
                    "warning: {}: {e}; left off the findings page",
                    report.display()
                );
                continue;
            }
        };
        let name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Rationale: anyone can put folders into an output folder; only the one lockstep names after
        // the report's own signature is one it wrote, so no other name ever becomes a link.
        if crate::finding::folder(out, &saved.signature) != folder {
            eprintln!(
                "warning: {}: not the folder of signature {}; left off the findings page",
                folder.display(),
                saved.signature
            );
            continue;
        }
        findings.push(Finding {
            reduced: reduced.get(&name).copied(),
            folder: name,
            module_bytes: std::fs::metadata(folder.join("module.wasm")).map_or(0, |m| m.len()),
            report: saved,
        });
    }
    findings.sort_by(|a, b| a.report.signature.cmp(&b.report.signature));
    Ok(findings)
}

/// Finding folder name → reduced, from the `finding` events of `campaign.jsonl`.
fn reductions(out: &Path) -> HashMap<String, bool> {
    let journal = std::fs::read_to_string(out.join("campaign.jsonl")).unwrap_or_default();
    journal
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|event| {
            let finding = event.get("finding")?;
            let folder = Path::new(finding["folder"].as_str()?).file_name()?;
            Some((
                folder.to_string_lossy().into_owned(),
                finding["reduced"].as_bool()?,
            ))
        })
        .collect()
}

/// The findings grouped by bucket, the count of buckets first: one bucket is one cause to look into.
fn buckets(findings: Vec<Finding>) -> String {
    let total = findings.len();
    let mut grouped: BTreeMap<String, (Option<Method>, Vec<Finding>)> = BTreeMap::new();
    for finding in findings {
        let (name, by) = match &finding.report.bucket {
            Some(bucket) => (bucket.name.clone(), Some(bucket.by)),
            None => (finding.report.signature.clone(), None),
        };
        grouped
            .entry(name)
            .or_insert((by, Vec::new()))
            .1
            .push(finding);
    }
    let mut out = format!(
        "<p class=\"count\"><strong>{} buckets</strong> ({total} findings)</p>\n",
        grouped.len()
    );
    for (name, (by, findings)) in &grouped {
        let _ = writeln!(
            out,
            "<h2 class=\"bucket\"><code>{}</code></h2>\n<p class=\"told\">{} findings; {}</p>",
            escape(name),
            findings.len(),
            told(*by)
        );
        out.push_str(&table(findings));
    }
    out
}

/// How a bucket was told, for its heading.
fn told(by: Option<Method>) -> &'static str {
    match by {
        Some(Method::FirstDifferentValue) => "the first instruction whose value differs",
        Some(Method::LastReached) => {
            "no value differs: the last instruction the odd engines reached"
        }
        Some(Method::Signature(_)) => "not probed: grouped by signature",
        Some(Method::Known) => "a known divergence",
        None => "saved before buckets: grouped by signature",
    }
}

fn table(findings: &[Finding]) -> String {
    let mut out = String::from(
        "<div class=\"scroll\">\n<table class=\"findings\"><thead><tr>\
         <th scope=\"col\">signature</th><th scope=\"col\">engines</th><th scope=\"col\">outcomes</th>\
         <th scope=\"col\">module size</th><th scope=\"col\">found by</th><th scope=\"col\">replay</th></tr></thead>\n<tbody>\n",
    );
    for finding in findings {
        let Saved {
            signature,
            bucket: _,
            divergence,
            origin,
            run,
            known,
        } = &finding.report;
        let folder = escape(&link(&finding.folder));
        let _ = writeln!(
            out,
            "<tr><th scope=\"row\"><code>{}</code>{}</th><td>{}</td><td>{}</td><td>{} bytes{}</td><td>{}</td>\
             <td><a href=\"{folder}/repro.wast\">repro.wast</a> · <a href=\"{folder}/report.json\">report.json</a></td></tr>",
            escape(signature),
            known.as_ref().map(known_as).unwrap_or_default(),
            engines(divergence),
            outcomes(run),
            finding.module_bytes,
            match finding.reduced {
                Some(true) => ", reduced",
                Some(false) => ", as found",
                None => "",
            },
            escape(&match origin.iteration {
                Some(i) => format!("{}, module {i}", origin.source),
                None => origin.source.clone(),
            }),
        );
    }
    out.push_str("</tbody></table>\n</div>\n");
    out
}

/// A relative link to a folder of `out`: `./` and the name percent-encoded, so that no name can
/// become a scheme (`javascript:`) or leave the folder.
fn link(folder: &str) -> String {
    let encoded = percent_encoding::utf8_percent_encode(folder, percent_encoding::NON_ALPHANUMERIC);
    format!("./{encoded}")
}

/// Which known divergence a finding is, and why.
fn known_as(known: &Known) -> String {
    let upstream = match &known.upstream {
        Some(url) => format!(" <a href=\"{}\">upstream</a>", escape(url)),
        None => " (not reported upstream yet)".into(),
    };
    format!(
        "<p class=\"known\">known: <b>{}</b>, {}{upstream}; reproducer <code>{}</code></p>",
        escape(&known.id),
        escape(&known.reason),
        escape(&known.reproducer)
    )
}

/// The odd engines out against the rest.
fn engines(divergence: &Divergence) -> String {
    format!(
        "<span class=\"mark unexpected\">✗</span> {} <span class=\"versus\">vs</span> {}",
        escape(&divergence.minority.join(", ")),
        escape(&divergence.majority.join(", "))
    )
}

/// What each engine did at the step that diverged.
fn outcomes(run: &Run) -> String {
    let Some((_, step)) = run.divergence() else {
        return String::new();
    };
    let mut out = format!(
        "<p class=\"step\"><code>{}</code></p><ul class=\"outcomes\">",
        escape(&step.label)
    );
    for observation in &step.observations {
        let _ = write!(
            out,
            "<li><b>{}</b>: {}</li>",
            escape(&observation.engine),
            escape(&observation.outcome.to_string())
        );
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracles::compare::Kind;

    /// Writes a finding's `report.json` for `signature` into `out/folder`.
    fn plant(out: &Path, folder: &str, signature: &str) {
        let divergence = Divergence {
            kind: Kind::Values,
            signature: signature.to_string(),
            majority: vec!["wasmi".into()],
            minority: vec!["mutant".into()],
        };
        let report = serde_json::json!({
            "signature": signature,
            "divergence": divergence,
            "origin": {"source": "fuzz", "iteration": 1},
            "run": Run::default(),
        });
        std::fs::create_dir_all(out.join(folder)).unwrap();
        std::fs::write(out.join(folder).join("report.json"), report.to_string()).unwrap();
    }

    #[test]
    fn only_folders_named_after_their_signature_become_links() {
        let out = tempfile::tempdir().unwrap();
        let saved = crate::finding::folder(out.path(), "values_mutant");
        let saved = saved.file_name().unwrap().to_str().unwrap();
        plant(out.path(), saved, "values_mutant");
        plant(out.path(), "javascript:alert(1)", "values_mutant");
        write_findings(out.path(), &[]).unwrap();
        let page = std::fs::read_to_string(out.path().join(super::super::INDEX)).unwrap();
        assert!(!page.contains("javascript:"), "{page}");
        let link = format!("href=\"{}/repro.wast\"", link(saved));
        assert!(link.contains("values%5Fmutant%2D"), "{link}");
        assert!(page.contains(&link), "{page}");
        assert!(
            page.contains("<strong>1 buckets</strong> (1 findings)"),
            "{page}"
        );
    }
}
