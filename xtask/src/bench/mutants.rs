//! `cargo xtask bench mutants`: the fuzzer's power to find bugs, measured on planted ones. Each mutant
//! engine (one one-line bug in Cranelift's lowering, planted by `oracles::mutants`) is fuzzed against
//! the honest `wasmtime-cranelift` until the first finding or the time budget, as `cargo xtask fuzz` runs.

use crate::Conclusion;
use crate::fuzz::{Args, Campaign};
use oracles::EngineChoice;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Mutants that check the machinery rather than plant a lowering bug (a growing stack, an
/// exception payload, a crash, `clz-as-ctz` again in one setting or CPU level for `blame`, a GC
/// field read that only a GC engine beside it shows): the bench leaves them out. The other 12 are one-instruction bugs the operator probes aim at and
/// instruction-selection bugs that only a combination of instructions with a boundary constant
/// or argument shows.
const NOT_LOWERING_BUGS: [&str; 6] = [
    "mutant:return-call-as-call",
    "mutant:exception-payload",
    "mutant:abort-on-popcnt",
    "mutant:unoptimized-clz-as-ctz",
    "mutant:baseline-clz-as-ctz",
    "mutant:struct-get-wrong-field",
];

/// The planted lowering bugs, in the order `oracles::mutants` lists them.
fn mutants() -> Vec<&'static str> {
    let ids = oracles::mutants::MUTANT_IDS.iter().copied();
    ids.filter(|id| !NOT_LOWERING_BUGS.contains(id)).collect()
}

/// The honest engine each mutant is compared with: the tier the bugs are planted in.
const HONEST: &str = "wasmtime-cranelift";

pub fn run(seconds: u64) -> anyhow::Result<Conclusion> {
    let jobs = super::jobs();
    println!("fuzzing each mutant against {HONEST}, seed 0, {jobs} jobs, budget {seconds} s each:");
    println!();
    println!("| planted bug | found | time to first finding | modules |");
    println!("|---|---|---|---|");
    let mutants = mutants();
    let mut found = 0;
    for mutant in &mutants {
        let hunt = hunt(mutant, seconds)?;
        let (verdict, time) = match hunt.found {
            true => ("yes", format!("{:.1} s", hunt.seconds)),
            false => ("no", format!("> {seconds} s")),
        };
        found += usize::from(hunt.found);
        println!("| `{mutant}` | {verdict} | {time} | {} |", hunt.modules);
    }
    println!();
    println!(
        "found {found} of {} within {seconds} s each (target: 11 of 12 within 120 s)",
        mutants.len()
    );
    Ok(Conclusion::Agree)
}

/// How one mutant's hunt went.
struct Hunt {
    found: bool,
    seconds: f64,
    modules: u64,
}

fn hunt(mutant: &str, seconds: u64) -> anyhow::Result<Hunt> {
    let out = oracles::tempfiles::folder("bench-mutants-")?;
    let engines = vec![EngineChoice::parse(HONEST)?, EngineChoice::parse(mutant)?];
    let args = Args {
        time: Some(seconds),
        // Saved as found: the time measured is the time to find, not to reduce.
        reduce_time: Some(0),
        ..Args::new(engines, out.path())
    };
    let campaign = Campaign::new(&args)?.stopping_at_first_finding();
    let started = Instant::now();
    campaign.run(None);
    Ok(Hunt {
        found: campaign.stats.new.load(Ordering::Relaxed) > 0,
        seconds: started.elapsed().as_secs_f64(),
        modules: campaign.stats.modules.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    /// The table a user compares with the README's: the twelve lowering bugs, no self-test.
    #[test]
    fn the_bench_hunts_the_twelve_lowering_bugs() {
        let hunted = super::mutants();
        assert_eq!(hunted.len(), 12, "{hunted:?}");
        assert!(hunted.contains(&"mutant:rem-s-as-rem-u"));
        assert!(!hunted.contains(&"mutant:struct-get-wrong-field"));
    }
}
