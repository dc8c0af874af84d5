//! `cargo xtask diff PROGRAM.wasm --json`: what each tier's run left, as text a reader can search —
//! streams as text (escaped where they are not UTF-8), files as text or hex with their BLAKE3 digest.

use crate::budgets::Budgets;
use oracles::wasi::compare::ProgramVerdict;
use oracles::wasi::sandbox::Node;
use oracles::wasi::{Ending, ProgramRun, Timing};
use oracles::{Limits, hex::hex};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The whole document.
#[derive(Serialize)]
pub struct Report<'a> {
    verdict: &'a ProgramVerdict,
    /// The budgets every run had.
    budgets: Budgets,
    /// The function imports every tier answered with lockstep's host functions, as `module.name`.
    host_imports: &'a [String],
    runs: Vec<Run<'a>>,
}

impl<'a> Report<'a> {
    pub fn new(
        verdict: &'a ProgramVerdict,
        limits: &Limits,
        host_imports: &'a [String],
        runs: &'a [ProgramRun],
    ) -> Report<'a> {
        Report {
            verdict,
            budgets: Budgets::from(limits),
            host_imports,
            runs: runs.iter().map(Run::from).collect(),
        }
    }
}

/// One tier's run.
#[derive(Serialize)]
struct Run<'a> {
    engine: &'a str,
    ending: &'a Ending,
    stdout: Stream,
    stderr: Stream,
    files: BTreeMap<&'a str, Entry<'a>>,
    timing: &'a Timing,
}

impl<'a> From<&'a ProgramRun> for Run<'a> {
    fn from(run: &'a ProgramRun) -> Run<'a> {
        Run {
            engine: &run.engine,
            ending: &run.ending,
            stdout: Stream::from(run.output.stdout.as_slice()),
            stderr: Stream::from(run.output.stderr.as_slice()),
            files: run
                .files
                .iter()
                .map(|(path, node)| (path.as_str(), Entry::from(node)))
                .collect(),
            timing: &run.timing,
        }
    }
}

/// A standard stream: its text, or, when it is not UTF-8, its text with each
/// byte that is not part of a character written `\xNN` and each backslash doubled.
#[derive(Serialize)]
#[serde(untagged)]
enum Stream {
    Text(String),
    Escaped { escaped: String },
}

impl From<&[u8]> for Stream {
    fn from(bytes: &[u8]) -> Stream {
        match std::str::from_utf8(bytes) {
            Ok(text) => Stream::Text(text.to_string()),
            Err(_) => Stream::Escaped {
                escaped: escaped(bytes),
            },
        }
    }
}

/// `bytes` as text: characters as they are (backslashes doubled), other bytes as `\xNN`.
fn escaped(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(&chunk.valid().replace('\\', "\\\\"));
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}

/// An entry of the scratch directory after the run.
#[derive(Serialize)]
enum Entry<'a> {
    Dir,
    /// A file's contents: `text` when they are UTF-8, else `hex`.
    File {
        size: usize,
        blake3: String,
        #[serde(flatten)]
        contents: Contents,
    },
    /// A file too large to keep: its size and digest only.
    LargeFile {
        size: u64,
        blake3: &'a str,
    },
    Symlink(&'a str),
    Special(&'a str),
}

#[derive(Serialize)]
#[serde(rename_all = "lowercase")]
enum Contents {
    Text(String),
    Hex(String),
}

impl<'a> From<&'a Node> for Entry<'a> {
    fn from(node: &'a Node) -> Entry<'a> {
        match node {
            Node::Dir => Entry::Dir,
            Node::File(bytes) => Entry::File {
                size: bytes.len(),
                blake3: blake3::hash(bytes).to_hex().to_string(),
                contents: match std::str::from_utf8(bytes) {
                    Ok(text) => Contents::Text(text.to_string()),
                    Err(_) => Contents::Hex(hex(bytes)),
                },
            },
            Node::LargeFile { size, blake3 } => Entry::LargeFile {
                size: *size,
                blake3,
            },
            Node::Symlink(target) => Entry::Symlink(target),
            Node::Special(kind) => Entry::Special(kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_that_are_not_utf8_are_escaped_reversibly() {
        assert_eq!(escaped(b"a\\b\xffc\xe2\x82"), "a\\\\b\\xffc\\xe2\\x82");
        let json = serde_json::to_value(Stream::from(&b"ok \xc3\xa9"[..])).unwrap();
        assert_eq!(json, "ok é");
        let json = serde_json::to_value(Stream::from(&b"\x00\x80"[..])).unwrap();
        assert_eq!(json, serde_json::json!({ "escaped": "\u{0}\\x80" }));
    }

    #[test]
    fn files_are_text_or_hex_with_their_digest() {
        let text = serde_json::to_value(Entry::from(&Node::File(b"hi\n".to_vec()))).unwrap();
        assert_eq!(text["File"]["text"], "hi\n");
        assert_eq!(text["File"]["size"], 3);
        assert_eq!(
            text["File"]["blake3"],
            blake3::hash(b"hi\n").to_hex().as_str()
        );
        let binary = serde_json::to_value(Entry::from(&Node::File(vec![0xff, 0]))).unwrap();
        assert_eq!(binary["File"]["hex"], "ff00");
        assert!(binary["File"].get("text").is_none());
    }
}
