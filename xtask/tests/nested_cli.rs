//! The nested tiers (`wasmi-on-*`): the wasmi guest run on each host tier agrees with plain wasmi,
//! and a bug planted in a host tier shows only through the guest, found by `diff` and by `fuzz`,
//! and blamed on the host.
//! Each test needs the guest built (`cargo xtask guest`) and is skipped, visibly, without it.

mod common;

use common::tools::{self, Test, Tool};
use common::{shown, xtask};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nested.wast");

/// Every nested tier but the self-test one.
const NESTED: [&str; 3] = ["wasmi-on-cranelift", "wasmi-on-pulley", "wasmi-on-wasmi"];

/// The guest on wasmtime-cranelift with `i64.rem_s` computed as `i64.rem_u` in the guest's own code.
const PLANTED: &str = "mutant:wasmi-on-rem-s-as-rem-u";

fn main() {
    tools::run(vec![
        Test::new(
            "every_nested_tier_agrees_with_wasmi",
            &[Tool::WasmiGuest],
            every_nested_tier_agrees_with_wasmi,
        ),
        Test::new(
            "a_host_bug_shows_through_the_guest",
            &[Tool::WasmiGuest],
            a_host_bug_shows_through_the_guest,
        ),
        Test::new(
            "fuzzing_finds_the_host_bug_through_the_guest",
            &[Tool::WasmiGuest],
            fuzzing_finds_the_host_bug_through_the_guest,
        ),
    ]);
}

fn every_nested_tier_agrees_with_wasmi() {
    let mut args = vec!["diff", FIXTURE, "--engine", "wasmi"];
    for tier in NESTED {
        args.extend(["--engine", tier]);
    }
    let output = xtask(&args);
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(0), "{printed}");
    for tier in NESTED {
        let all_passed = format!("{tier}: 10 directives run (10 passed, 0 failed), 0 skipped");
        assert!(printed.contains(&all_passed), "{printed}");
    }
}

fn a_host_bug_shows_through_the_guest() {
    let args = ["diff", FIXTURE, "--engine", "wasmi", "--engine", PLANTED];
    let output = xtask(&args);
    let printed = shown(&output);
    assert_eq!(output.status.code(), Some(1), "{printed}");
    // Only the negative remainder (line 24) meets the planted bug; everything else agrees.
    let divergence = format!("nested.wast:24: DIVERGE values ({PLANTED} vs wasmi)");
    assert!(printed.contains(&divergence), "{printed}");
    assert!(
        printed.contains("1 divergences, 1 failed assertions"),
        "{printed}"
    );
}

fn fuzzing_finds_the_host_bug_through_the_guest() {
    let out = tempfile::tempdir().unwrap();
    let args = [
        "fuzz",
        "--seed",
        "1",
        "--iterations",
        "200",
        "--out",
        out.path().to_str().unwrap(),
        "--engine",
        "wasmi",
        "--engine",
        PLANTED,
    ];
    let output = xtask(&args);
    assert_eq!(output.status.code(), Some(1), "{}", shown(&output));
    let finding = common::finding(out.path(), "values_mutant_wasmi-on-rem-s-as-rem-u")
        .unwrap_or_else(|| panic!("no rem_s finding: {}", shown(&output)));
    // wasmi runs the module right natively, and so does the guest on another host: the host is at fault.
    let blamed = xtask(&["blame", finding.to_str().unwrap()]);
    let printed = shown(&blamed);
    assert_eq!(blamed.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains("agrees    the module natively on wasmi"),
        "{printed}"
    );
    assert!(
        printed.contains("blame     : host:mutant:rem-s-as-rem-u"),
        "{printed}"
    );
}
