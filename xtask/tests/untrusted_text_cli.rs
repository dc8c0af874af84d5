//! Text from strangers in lockstep's reports: export names never reach the terminal as control
//! characters, and file names never become markup in `conformance.md`.

mod common;

use common::{WRONG_ASSERTION, shown, xtask};

#[test]
fn control_characters_in_export_names_are_escaped_on_the_terminal() {
    let module = format!(
        "{}/tests/fixtures/hostile_names.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    let output = xtask(&[
        "diff",
        &module,
        "--engine",
        "wasmi",
        "--engine",
        "wasmtime-cranelift",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", shown(&output));
    let printed = shown(&output);
    assert!(
        !printed
            .bytes()
            .any(|b| b == 0x1b || b == 0x07 || b == b'\r'),
        "{printed:?}"
    );
    assert!(printed.contains("title\\u{1b}]0;owned\\u{7}"), "{printed}");
    assert!(printed.contains("erase\\u{1b}[2K\\r"), "{printed}");
}

#[test]
fn a_file_name_made_of_html_stays_text_in_conformance_md() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("<img src=x onerror=alert(1)>");
    std::fs::create_dir(&suite).unwrap();
    let file = suite.join("```\n<script>alert(1)<|script>.wast");
    std::fs::write(file, WRONG_ASSERTION).unwrap();
    let out = dir.path().join("out");
    let output = xtask(&[
        "conformance",
        "--suite",
        suite.to_str().unwrap(),
        "--engine",
        "wasmi",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let markdown = std::fs::read_to_string(out.join("conformance.md")).unwrap();
    assert!(!outside_code_blocks(&markdown).contains('<'), "{markdown}");
    assert!(
        markdown.contains("&lt;img src=x onerror=alert\\(1\\)&gt;"),
        "{markdown}"
    );
}

/// The Markdown text outside fenced code blocks, where a block ends only at its own fence.
fn outside_code_blocks(markdown: &str) -> String {
    let mut fence: Option<&str> = None;
    let mut outside = String::new();
    for line in markdown.lines() {
        let is_fence = line.len() >= 3 && line.bytes().all(|b| b == b'`');
        match fence {
            Some(open) if line == open => fence = None,
            Some(_) => {}
            None if is_fence => fence = Some(line),
            None => outside.push_str(line),
        }
    }
    outside
}
