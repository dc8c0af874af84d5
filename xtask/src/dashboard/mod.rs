//! The dashboard: one self-contained `index.html` per output folder (inline CSS and a little JavaScript, nothing fetched), readable offline and as a CI artifact.

mod conformance;
mod findings;
mod trend;

pub use conformance::{Conformance, write_conformance};
pub use findings::write_findings;

use std::path::Path;

const TEMPLATE: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page's file name inside the output folder.
pub const INDEX: &str = "index.html";

/// Writes `dir/index.html` with `body` under `title`: beside and renamed, so a reader never sees half a page.
fn write_page(dir: &Path, title: &str, body: &str) -> anyhow::Result<()> {
    let page = fill(
        TEMPLATE,
        &[
            ("csp", &content_security_policy()),
            ("title", &escape(title)),
            ("style", STYLE),
            ("script", SCRIPT),
            ("body", body),
        ],
    );
    std::fs::create_dir_all(dir)?;
    let temporary = dir.join(format!("{INDEX}.tmp"));
    std::fs::write(&temporary, page)?;
    std::fs::rename(&temporary, dir.join(INDEX))?;
    Ok(())
}

/// The page's Content-Security-Policy: nothing fetched, and only lockstep's own style sheet and script
/// run, named by their SHA-256 hashes.
///
/// Rationale: pages show text from modules and engines (export names, messages, folder names). With
/// `'unsafe-inline'`, one escaping slip would run a stranger's script; with hashes, markup that slips
/// through can run nothing.
fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src {}; script-src {}; img-src data:",
        hash_source(STYLE),
        hash_source(SCRIPT)
    )
}

/// `'sha256-…'`: the CSP source that allows exactly the inline element whose text is `text`.
fn hash_source(text: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text));
    format!("'sha256-{hash}'")
}

/// Replaces each `{{name}}` in `template` with its value, in one pass: values are never searched for names.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out =
        String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").expect("the page template closes every {{");
        let name = &after[..end];
        let (_, value) = values
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("the page template names an unknown value `{name}`"));
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Text for HTML content and quoted attributes.
fn escape(text: &str) -> String {
    crate::report::xml(text)
}

/// The symbol, CSS class and words of each state a matrix cell or directive can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mark {
    Pass,
    /// A file that passed every directive it ran, and skipped others.
    Partial,
    Skip,
    Expected,
    Unexpected,
}

impl Mark {
    fn symbol(self) -> &'static str {
        match self {
            Mark::Pass => "✓",
            Mark::Partial => "◐",
            Mark::Skip => "–",
            Mark::Expected => "≈",
            Mark::Unexpected => "✗",
        }
    }

    fn class(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::Partial => "partial",
            Mark::Skip => "skip",
            Mark::Expected => "expected",
            Mark::Unexpected => "unexpected",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Mark::Pass => "pass",
            Mark::Partial => "ran partly",
            Mark::Skip => "skipped",
            Mark::Expected => "expected failure",
            Mark::Unexpected => "unexpected result",
        }
    }

    /// `<span class="mark unexpected">✗</span>`: the symbol, coloured by state.
    fn badge(self) -> String {
        format!(
            "<span class=\"mark {}\" title=\"{}\">{}</span>",
            self.class(),
            self.words(),
            self.symbol()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_allow_only_their_own_script_and_style() {
        let dir = tempfile::tempdir().unwrap();
        write_page(dir.path(), "t", "<p>body</p>").unwrap();
        let page = std::fs::read_to_string(dir.path().join(INDEX)).unwrap();
        assert!(!page.contains("unsafe-inline"), "{page}");
        let inline = |tag: &str| {
            let text = page.split(&format!("<{tag}>")).nth(1).unwrap();
            text.split(&format!("</{tag}>")).next().unwrap().to_string()
        };
        let policy = content_security_policy();
        assert!(page.contains(&policy));
        assert!(policy.contains(&format!("script-src {};", hash_source(&inline("script")))));
        assert!(policy.contains(&format!("style-src {};", hash_source(&inline("style")))));
    }

    #[test]
    fn fill_does_not_look_for_names_inside_values() {
        let page = fill("<b>{{a}}</b>{{b}}", &[("a", "{{b}}"), ("b", "x")]);
        assert_eq!(page, "<b>{{b}}</b>x");
    }
}
