//! `cargo xtask fuzz`: random modules on every engine for a while; divergences saved, deduplicated by signature.

use crate::{Conclusion, finding};
use generators::seed::Rng;
use generators::{Generated, exceptions, ops, smith, tail_calls};
use oracles::differential::{self, Invocation, Run};
use oracles::{Engine, Limits, features};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmparser::WasmFeatures;

/// A module taking longer than this on all engines together is reported.
const SLOW: Duration = Duration::from_secs(10);
/// How often the stats line is printed.
const STATS_EVERY: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct Args {
    /// Engine id to run (repeatable; default: every built-in engine).
    #[arg(long = "engine", value_name = "ID")]
    engines: Vec<String>,
    /// Stop after this many seconds (default 60 when --iterations is not given).
    #[arg(long, value_name = "SECS", conflicts_with = "iterations")]
    time: Option<u64>,
    /// Stop after this many modules.
    #[arg(long)]
    iterations: Option<u64>,
    /// The same seed generates the same modules.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Worker threads (default: every core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Where findings are saved (default target/lockstep/fuzz).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// What the campaign shares between workers.
struct Campaign {
    engines: Vec<Arc<dyn Engine>>,
    shared: WasmFeatures,
    seed: u64,
    out: PathBuf,
    limits: Limits,
    next: AtomicU64,
    end: End,
    stats: Stats,
    seen: Mutex<HashSet<String>>,
}

enum End {
    Iterations(u64),
    Deadline(Instant),
}

#[derive(Default)]
struct Stats {
    modules: AtomicU64,
    calls: AtomicU64,
    findings: AtomicU64,
    engine_seconds: Mutex<Vec<f64>>,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let engines = crate::select_engines(&args.engines)?;
    let shared = engines
        .iter()
        .fold(features::all(), |acc, e| acc & e.features());
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/lockstep/fuzz"
        ))
    });
    std::fs::create_dir_all(&out)?;
    let end = match (args.iterations, args.time) {
        (Some(n), _) => End::Iterations(n),
        (None, secs) => End::Deadline(Instant::now() + Duration::from_secs(secs.unwrap_or(60))),
    };
    let campaign = Campaign {
        stats: Stats {
            engine_seconds: Mutex::new(vec![0.0; engines.len()]),
            ..Stats::default()
        },
        engines,
        shared,
        seed: args.seed,
        out,
        // Tighter than the spec suites' limits: every call is followed by a
        // digest of memories and tables, which must stay cheap.
        limits: Limits {
            host_functions: true,
            call_time: Duration::from_secs(5),
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            ..Limits::default()
        },
        next: AtomicU64::new(0),
        end,
        seen: Mutex::new(HashSet::new()),
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let started = Instant::now();
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..jobs.max(1))
            .map(|_| scope.spawn(|| campaign.work()))
            .collect();
        scope.spawn(|| {
            let mut next = started + STATS_EVERY;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if Instant::now() >= next {
                    eprintln!("{}", campaign.stats_line(started));
                    next += STATS_EVERY;
                }
            }
        });
        for worker in workers {
            let _ = worker.join();
        }
        done.store(true, Ordering::Relaxed);
    });
    eprintln!("{}", campaign.stats_line(started));
    let findings = campaign.stats.findings.load(Ordering::Relaxed);
    println!("{findings} findings in {}", campaign.out.display());
    Ok(if findings > 0 {
        Conclusion::Diverge
    } else {
        Conclusion::Agree
    })
}

impl Campaign {
    fn work(&self) {
        loop {
            let iteration = self.next.fetch_add(1, Ordering::Relaxed);
            let more = match self.end {
                End::Iterations(n) => iteration < n,
                End::Deadline(deadline) => Instant::now() < deadline,
            };
            if !more {
                return;
            }
            self.iteration(iteration);
        }
    }

    /// Generates module `iteration` of this seed, runs it everywhere, keeps a new divergence.
    fn iteration(&self, iteration: u64) {
        let mut rng = Rng::for_item(self.seed, iteration);
        let (generator, generated) = generate(&mut rng, self.shared);
        let Ok(generated) = generated else { return };
        let invocations: Vec<Invocation> = generated
            .calls
            .iter()
            .map(|c| Invocation {
                export: c.export.clone(),
                args: c.args.clone(),
                expected: c.expected.clone(),
            })
            .collect();
        let started = Instant::now();
        let run = differential::run(&self.engines, &generated.wasm, &invocations, &self.limits);
        if started.elapsed() > SLOW {
            let per_engine: Vec<String> = self
                .engines
                .iter()
                .zip(&run.engine_seconds)
                .map(|(e, s)| format!("{} {s:.1}s", e.id()))
                .collect();
            eprintln!(
                "slow: iteration {iteration} ({generator}) took {:.0?}: {}",
                started.elapsed(),
                per_engine.join(", ")
            );
        }
        self.count(&run, invocations.len());
        if let Some((step, _)) = run.divergence() {
            self.keep(&generated, &invocations, &run, step, iteration, generator);
        }
    }

    fn count(&self, run: &Run, calls: usize) {
        self.stats.modules.fetch_add(1, Ordering::Relaxed);
        self.stats.calls.fetch_add(calls as u64, Ordering::Relaxed);
        let mut seconds = self.stats.engine_seconds.lock().expect("stats lock");
        for (total, spent) in seconds.iter_mut().zip(&run.engine_seconds) {
            *total += spent;
        }
    }

    fn keep(
        &self,
        generated: &Generated,
        invocations: &[Invocation],
        run: &Run,
        step: usize,
        iteration: u64,
        generator: &'static str,
    ) {
        let oracles::compare::Verdict::Diverge(divergence) = &run.steps[step].verdict else {
            return;
        };
        let new = self
            .seen
            .lock()
            .expect("seen lock")
            .insert(divergence.signature.clone());
        let folder = finding::folder(&self.out, &divergence.signature);
        if !new || folder.exists() {
            return;
        }
        let origin = finding::Origin {
            seed: self.seed,
            iteration,
            generator,
            engines: self
                .engines
                .iter()
                .map(|e| (e.id().to_string(), e.version()))
                .collect(),
            features: features::names(self.shared),
        };
        match finding::save(&self.out, &generated.wasm, invocations, run, step, &origin) {
            Ok(dir) => {
                self.stats.findings.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "finding {} (iteration {iteration}): {}",
                    divergence.signature,
                    dir.display()
                );
            }
            Err(e) => eprintln!("error: saving finding {}: {e:#}", divergence.signature),
        }
    }

    fn stats_line(&self, started: Instant) -> String {
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let modules = self.stats.modules.load(Ordering::Relaxed);
        let calls = self.stats.calls.load(Ordering::Relaxed);
        let seconds = self
            .stats
            .engine_seconds
            .lock()
            .expect("stats lock")
            .clone();
        let total: f64 = seconds.iter().sum::<f64>().max(1e-9);
        let shares: Vec<String> = self
            .engines
            .iter()
            .zip(&seconds)
            .map(|(e, s)| format!("{} {:.0}%", e.id(), 100.0 * s / total))
            .collect();
        format!(
            "[{elapsed:>6.0}s] {modules} modules ({:.1}/s), {calls} calls ({:.0}/s), {} findings; time: {}",
            modules as f64 / elapsed,
            calls as f64 / elapsed,
            self.stats.findings.load(Ordering::Relaxed),
            shares.join(", ")
        )
    }
}

/// Mostly wasm-smith; one module in ten each a tail-call chain, an exception pattern, an operator probe.
fn generate(rng: &mut Rng, shared: WasmFeatures) -> (&'static str, Result<Generated, String>) {
    match rng.below(10) {
        0 => ("tail-calls", tail_calls::generate(rng, shared)),
        1 => ("exceptions", exceptions::generate(rng)),
        2 => ("operators", ops::generate(rng, shared)),
        _ => ("wasm-smith", smith::module(shared, rng)),
    }
}
