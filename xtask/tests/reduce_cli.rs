//! `cargo xtask reduce`: a divergence planted in a large generated module shrinks to a tiny, replayable finding.

use std::process::Command;

#[test]
fn a_planted_divergence_reduces_to_one_small_function_that_replays() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("planted.wat");
    let plant = &generators::planted::PLANTS[0];
    std::fs::write(&module, generators::planted::module(plant, 5).unwrap()).unwrap();
    let out = dir.path().join("reduced");
    let engines = [
        "--engine",
        "wasmtime-cranelift",
        "--engine",
        "mutant:rem-s-as-rem-u",
    ];
    let mut args = vec![
        "reduce",
        module.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--time",
        "60",
    ];
    args.extend(engines);
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(&args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let before = text.lines().find(|l| l.starts_with("before")).unwrap();
    let functions: usize = before
        .split(", ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(functions >= 51, "{text}");
    let reduced = wasmparser::Parser::new(0)
        .parse_all(&std::fs::read(out.join("module.wasm")).unwrap())
        .filter_map(|p| match p.unwrap() {
            wasmparser::Payload::CodeSectionEntry(body) => {
                Some(body.get_operators_reader().unwrap().into_iter().count())
            }
            _ => None,
        })
        .collect::<Vec<usize>>();
    assert_eq!(reduced.len(), 1, "one function left: {text}");
    assert!(
        reduced[0] <= 10,
        "at most 10 instructions, found {}: {text}",
        reduced[0]
    );
    let repro = out.join("repro.wast");
    let mut replay = vec!["diff", repro.to_str().unwrap()];
    replay.extend(engines);
    let replayed = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(&replay)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&replayed.stdout).to_string();
    assert_eq!(replayed.status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("DIVERGE values (mutant:rem-s-as-rem-u"),
        "{shown}"
    );
}
