//! `cargo xtask fuzz`: random modules on every engine for a while; divergences saved, deduplicated by signature.

use crate::blame::{self, Blame, Lab};
use crate::bucket::Bucket;
use crate::known::{self, Known};
use crate::reduce::Reducer;
use crate::worker::{self, EngineRef, Worker};
use crate::{Conclusion, dashboard, finding};
use generators::seed::Rng;
use generators::{Generated, exceptions, gc, isel, ops, smith, tail_calls};
use oracles::differential::{Run, Timing};
use oracles::external::Spec;
use oracles::tiers::{Class, Tier};
use oracles::{Engine, EngineChoice, Limits, Watchdog, features};
use std::collections::{BTreeSet, HashMap};
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
    pub engines: Vec<EngineChoice>,
    /// Stop after this many seconds (default 60 when --iterations is not given).
    #[arg(long, value_name = "SECS", conflicts_with = "iterations")]
    pub time: Option<u64>,
    /// Stop after this many modules.
    #[arg(long)]
    pub iterations: Option<u64>,
    /// Start at this module of the campaign (a finding's report names its iteration).
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// The same seed generates the same modules.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run engines inside this process: faster, but an engine crash ends the campaign.
    #[arg(long)]
    pub in_process: bool,
    /// Seconds to spend reducing each new finding before it is saved (0: save it as found; default 10).
    #[arg(long, value_name = "SECS")]
    pub reduce_time: Option<u64>,
    /// Continue the campaign saved in DIR: its seed, engines, options, statistics and findings.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["seed", "out", "from"])]
    pub resume: Option<PathBuf>,
    /// Where findings are saved (default target/lockstep/fuzz).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub budgets: crate::budgets::BudgetArgs,
}

impl Args {
    /// The options `cargo xtask fuzz --engine ... --out DIR` would have: seed 0, every core,
    /// default budgets, 60 s.
    pub fn new(engines: Vec<EngineChoice>, out: &std::path::Path) -> Args {
        Args {
            engines,
            time: None,
            iterations: None,
            from: 0,
            seed: 0,
            jobs: None,
            in_process: false,
            reduce_time: None,
            resume: None,
            out: Some(out.to_path_buf()),
            budgets: crate::budgets::BudgetArgs::default(),
        }
    }
}

/// Keeps the knob choice independent of the module a seed generates.
const KNOB_STREAM: u64 = 0x6b6e_6f62;

/// Where a divergence came from.
struct Found<'a> {
    generator: &'static str,
    iteration: u64,
    engines: &'a [(EngineRef, Arc<dyn Engine>)],
}

/// What the campaign shares between workers.
pub struct Campaign {
    pub engines: Vec<Arc<dyn Engine>>,
    /// Each engine in every configuration the swarm varies (wasmtime knobs).
    variants: Vec<Vec<Arc<dyn Engine>>>,
    shared: WasmFeatures,
    /// Whether two or more engines run GC, so that the GC generator's modules are compared.
    gc_engines: bool,
    seed: u64,
    out: PathBuf,
    limits: Limits,
    next: AtomicU64,
    end: End,
    pub stats: Stats,
    /// Signatures this campaign has met → repeats not yet added to their saved report
    /// (a repeat that arrives while the first one is still being reduced waits here).
    seen: Mutex<HashMap<String, u64>>,
    /// What `--resume` restores besides seed and engines.
    settings: Settings,
    /// External engines the workers configure.
    externals: Vec<Spec>,
    /// `campaign.jsonl`: every stats line and every finding, appended as they happen.
    journal: Mutex<std::fs::File>,
    /// Set when the campaign has reached its end and workers are stopping.
    finished: AtomicBool,
    /// Modules handed to a worker and not finished: being run, or declined because the campaign had ended.
    unfinished: Mutex<BTreeSet<u64>>,
    /// The findings count `index.html` was last written with.
    findings_shown: AtomicU64,
    /// End the campaign at its first new finding (`bench mutants`).
    stop_at_first: bool,
}

enum End {
    Iterations(u64),
    Deadline(Instant),
}

/// Counters the workers update and the stats line reads.
#[derive(Default)]
pub struct Stats {
    pub modules: AtomicU64,
    pub calls: AtomicU64,
    /// Findings in the output folder, saved by this campaign or an earlier one.
    pub findings: AtomicU64,
    /// Findings this run saved.
    pub new: AtomicU64,
    /// Divergences this run met whose signature was already saved.
    pub seen_again: AtomicU64,
    /// Divergences this run met that are instances of known ones (`docs/known-divergences.toml`).
    pub known: AtomicU64,
    pub times: Mutex<Times>,
    /// Resident memory in MiB, sampled with every stats line: (seconds, MiB).
    pub resident: Mutex<Vec<(f64, f64)>>,
}

/// Where the workers' time went, in seconds summed over workers.
#[derive(Clone, Default)]
pub struct Times {
    pub generate: f64,
    pub compare: f64,
    pub engines: Vec<Timing>,
}

/// What `--resume` needs to continue a campaign, written when it starts and with every stats line.
#[derive(serde::Serialize, serde::Deserialize)]
struct Checkpoint {
    seed: u64,
    engines: Vec<String>,
    /// Every module before this one has been run.
    resume_from: u64,
    modules: u64,
    calls: u64,
    findings: u64,
    /// Absent from checkpoints written before options were saved: those resume with the defaults.
    #[serde(default)]
    settings: Settings,
}

/// The options of a campaign that `--resume` restores unless given again.
#[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
struct Settings {
    time: Option<u64>,
    /// The module an `--iterations` campaign stops before.
    end: Option<u64>,
    jobs: Option<usize>,
    in_process: bool,
    reduce_time: Option<u64>,
    /// The budgets given; absent from checkpoints written before budgets were saved.
    #[serde(default)]
    budgets: crate::budgets::BudgetArgs,
}

/// Seconds spent reducing a new finding when `--reduce-time` is not given.
const DEFAULT_REDUCE_TIME: u64 = 10;

const CHECKPOINT: &str = "campaign.json";
const JOURNAL: &str = "campaign.jsonl";

pub fn run(mut args: Args) -> anyhow::Result<Conclusion> {
    let resumed = match args.resume.clone() {
        Some(dir) => Some(resume(&mut args, &dir)?),
        None => None,
    };
    let campaign = Campaign::new(&args)?;
    eprint!("{}", crate::budgets::line(&campaign.limits));
    if let Some(checkpoint) = resumed {
        eprintln!(
            "resuming seed {} at module {}",
            checkpoint.seed, checkpoint.resume_from
        );
        campaign
            .stats
            .modules
            .store(checkpoint.modules, Ordering::Relaxed);
        campaign
            .stats
            .calls
            .store(checkpoint.calls, Ordering::Relaxed);
    }
    campaign.run(args.jobs);
    let stats = &campaign.stats;
    let (new, again, known) = (
        stats.new.load(Ordering::Relaxed),
        stats.seen_again.load(Ordering::Relaxed),
        stats.known.load(Ordering::Relaxed),
    );
    // Buckets first: findings of one cause share one, so they are what a person triages.
    println!(
        "{} buckets ({} findings: {new} new, {again} seen again, {known} known) in {}",
        finding::buckets(&campaign.out)?.len(),
        stats.findings.load(Ordering::Relaxed),
        campaign.out.display()
    );
    // A divergence met again is still a divergence: a nightly run into the same folder must not pass.
    // Known divergences alone do not fail it: they are reported, with their reasons, and kept apart.
    Ok(if new + again > 0 {
        Conclusion::Diverge
    } else {
        Conclusion::Agree
    })
}

/// Opens `campaign.jsonl` for appending: a resumed campaign continues its journal.
fn journal(out: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let path = out.join(JOURNAL);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Points `args` at the saved campaign in `dir` and returns its checkpoint.
fn resume(args: &mut Args, dir: &std::path::Path) -> anyhow::Result<Checkpoint> {
    let path = dir.join(CHECKPOINT);
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let checkpoint: Checkpoint =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let ran: Vec<EngineChoice> = checkpoint
        .engines
        .iter()
        .map(|id| EngineChoice::parse(id))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if !args.engines.is_empty() && args.engines != ran {
        anyhow::bail!(
            "{} ran {}; resume it with the same engines",
            path.display(),
            checkpoint.engines.join(", ")
        );
    }
    args.engines = ran;
    args.seed = checkpoint.seed;
    args.from = checkpoint.resume_from;
    args.out = Some(dir.to_path_buf());
    let saved = &checkpoint.settings;
    if args.time.is_none() && args.iterations.is_none() {
        args.time = saved.time;
        args.iterations = saved.end.map(|end| end.saturating_sub(args.from));
    }
    args.jobs = args.jobs.or(saved.jobs);
    args.in_process |= saved.in_process;
    args.reduce_time = args.reduce_time.or(saved.reduce_time);
    args.budgets = args.budgets.or(&saved.budgets);
    Ok(checkpoint)
}

impl Campaign {
    pub fn new(args: &Args) -> anyhow::Result<Campaign> {
        let choices = crate::chosen(&args.engines);
        let built = crate::engines_for(&choices, Watchdog::InEngine);
        let variants: Vec<Vec<Arc<dyn Engine>>> = choices
            .iter()
            .map(|choice| {
                let id = choice.id();
                let variants = built.variants(choice);
                variants.map_err(|why| anyhow::anyhow!("engine `{id}` is unavailable: {why}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let engines: Vec<Arc<dyn Engine>> = variants.iter().map(|v| v[0].clone()).collect();
        let out = args.out.clone().unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/lockstep/fuzz"
            ))
        });
        std::fs::create_dir_all(&out)?;
        let journal = journal(&out)?;
        let saved = finding::count(&out)?;
        let end = match (args.iterations, args.time) {
            (Some(n), _) => End::Iterations(args.from + n),
            (None, secs) => End::Deadline(Instant::now() + Duration::from_secs(secs.unwrap_or(60))),
        };
        let times = Times {
            engines: vec![Timing::default(); engines.len()],
            ..Times::default()
        };
        Ok(Campaign {
            variants,
            shared: engines
                .iter()
                .fold(features::all(), |acc, e| acc & e.features()),
            gc_engines: engines
                .iter()
                .filter(|e| e.features().contains(WasmFeatures::GC))
                .nth(1)
                .is_some(),
            stats: Stats {
                times: Mutex::new(times),
                findings: AtomicU64::new(saved),
                ..Stats::default()
            },
            engines,
            seed: args.seed,
            out,
            limits: args.budgets.apply(Limits::fuzzing())?,
            next: AtomicU64::new(args.from),
            end,
            seen: Mutex::new(HashMap::new()),
            settings: Settings {
                time: args.time,
                end: args.iterations.map(|n| args.from + n),
                jobs: args.jobs,
                in_process: args.in_process,
                reduce_time: args.reduce_time,
                budgets: args.budgets.clone(),
            },
            externals: crate::external_specs(&choices),
            journal: Mutex::new(journal),
            finished: AtomicBool::new(false),
            unfinished: Mutex::new(BTreeSet::new()),
            findings_shown: AtomicU64::new(u64::MAX),
            stop_at_first: false,
        })
    }

    /// The campaign, ending at its first new finding rather than at its deadline or iteration.
    pub fn stopping_at_first_finding(self) -> Campaign {
        Campaign {
            stop_at_first: true,
            ..self
        }
    }

    /// Runs the workers until the campaign ends, printing a stats line every few seconds.
    pub fn run(&self, jobs: Option<usize>) {
        let jobs =
            jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let started = Instant::now();
        let done = AtomicBool::new(false);
        // Saved before any module runs: a campaign killed in its first seconds can still be resumed.
        self.checkpoint();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..jobs.max(1))
                .map(|_| scope.spawn(|| self.work()))
                .collect();
            scope.spawn(|| {
                let mut next = started + STATS_EVERY;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    if Instant::now() >= next {
                        self.report_progress(started, false);
                        next += STATS_EVERY;
                    }
                }
            });
            for worker in workers {
                let _ = worker.join();
            }
            done.store(true, Ordering::Relaxed);
        });
        self.report_progress(started, true);
    }

    /// Prints the stats line, appends it to the journal, saves the checkpoint, and
    /// rewrites `index.html` when there are new findings (always, the first and the `last` time).
    fn report_progress(&self, started: Instant, last: bool) {
        let line = self.stats_line(started);
        eprintln!("{line}");
        self.record(serde_json::json!({ "stats": line }));
        self.checkpoint();
        let findings = self.stats.findings.load(Ordering::Relaxed);
        if self.findings_shown.swap(findings, Ordering::Relaxed) != findings || last {
            self.write_dashboard(line);
        }
    }

    fn write_dashboard(&self, stats: String) {
        let engines: Vec<&str> = self.engines.iter().map(|e| e.id()).collect();
        let line = crate::budgets::line(&self.limits);
        let budgets = line.strip_prefix("budgets: ").unwrap_or(&line);
        let facts = [
            ("seed", self.seed.to_string()),
            ("engines", engines.join(", ")),
            ("budgets", budgets.trim_end().to_string()),
            ("progress", stats),
        ];
        if let Err(e) = dashboard::write_findings(&self.out, &facts) {
            eprintln!("warning: could not write {}: {e:#}", dashboard::INDEX);
        }
    }

    /// Appends one event to `campaign.jsonl`, flushed at once so that a kill loses nothing before it.
    fn record(&self, event: serde_json::Value) {
        use std::io::Write;
        let mut journal = self.journal.lock().expect("journal lock");
        if writeln!(journal, "{event}")
            .and_then(|()| journal.flush())
            .is_err()
        {
            eprintln!("warning: could not append to {JOURNAL}");
        }
    }

    /// Saves what `--resume` needs; written beside and renamed, so a kill never leaves half a file.
    fn checkpoint(&self) {
        let next = self.next.load(Ordering::Relaxed);
        let first_unfinished = self
            .unfinished
            .lock()
            .expect("unfinished lock")
            .first()
            .copied();
        let checkpoint = Checkpoint {
            seed: self.seed,
            engines: self.engines.iter().map(|e| e.id().to_string()).collect(),
            resume_from: first_unfinished
                .unwrap_or(next)
                .min(self.end_iteration().unwrap_or(u64::MAX)),
            modules: self.stats.modules.load(Ordering::Relaxed),
            calls: self.stats.calls.load(Ordering::Relaxed),
            findings: self.stats.findings.load(Ordering::Relaxed),
            settings: self.settings.clone(),
        };
        let path = self.out.join(CHECKPOINT);
        let temporary = self.out.join(format!("{CHECKPOINT}.tmp"));
        let text = serde_json::to_string_pretty(&checkpoint).expect("checkpoints serialize");
        if std::fs::write(&temporary, text)
            .and_then(|()| std::fs::rename(&temporary, &path))
            .is_err()
        {
            eprintln!("warning: could not save {}", path.display());
        }
    }

    fn end_iteration(&self) -> Option<u64> {
        match self.end {
            End::Iterations(n) => Some(n),
            End::Deadline(_) => None,
        }
    }

    fn work(&self) {
        let mut worker = (!self.settings.in_process).then(|| Worker::new(self.externals.clone()));
        loop {
            let iteration = self.next.fetch_add(1, Ordering::Relaxed);
            // Taken before deciding to run it: a module declined at the end stays
            // unfinished, so the checkpoint resumes from it rather than past it.
            self.unfinished
                .lock()
                .expect("unfinished lock")
                .insert(iteration);
            let more = match self.end {
                End::Iterations(n) => iteration < n,
                End::Deadline(deadline) => Instant::now() < deadline,
            } && !(self.stop_at_first && self.stats.new.load(Ordering::Relaxed) > 0);
            if !more {
                // From here on workers wind down: memory samples would not be representative.
                self.finished.store(true, Ordering::Relaxed);
                return;
            }
            self.iteration(worker.as_mut(), iteration);
            self.unfinished
                .lock()
                .expect("unfinished lock")
                .remove(&iteration);
        }
    }

    /// Generates module `iteration` of this seed, runs it everywhere, keeps a new divergence.
    fn iteration(&self, mut worker: Option<&mut Worker>, iteration: u64) {
        let started = Instant::now();
        let mut rng = Rng::for_item(self.seed, iteration);
        let (generator, generated) = generate(&mut rng, self.shared, self.gc_engines);
        let Ok(generated) = generated else { return };
        let generating = started.elapsed().as_secs_f64();
        let invocations = &generated.calls;
        let engines = self.configurations(iteration);
        let running = Instant::now();
        let run = worker::run_all(
            worker.as_deref_mut(),
            &engines,
            &generated.wasm,
            invocations,
            &self.limits,
            None,
            &mut |_| {},
        );
        let running = running.elapsed();
        if running > SLOW {
            let per_engine: Vec<String> = self
                .engines
                .iter()
                .zip(&run.timings)
                .map(|(e, t)| format!("{} {:.1}s", e.id(), t.compile + t.run))
                .collect();
            eprintln!(
                "slow: iteration {iteration} ({generator}) took {running:.0?}: {}",
                per_engine.join(", ")
            );
        }
        self.count(&run, invocations.len(), generating, running.as_secs_f64());
        if let Some((step, _)) = run.divergence() {
            let found = Found {
                generator,
                iteration,
                engines: &engines,
            };
            let evidence = finding::Evidence {
                wasm: &generated.wasm,
                invocations,
                run: &run,
                step,
            };
            self.keep(worker, &evidence, found);
        }
    }

    /// The configuration of every engine for this module, chosen by the seed.
    ///
    /// Rationale: the Asyncify tiers all take the level the first of them
    /// draws. Binaryen's output for a module at a level is then one binary,
    /// made once for every Asyncify tier, and a difference between those tiers
    /// is their bases'.
    fn configurations(&self, iteration: u64) -> Vec<(EngineRef, Arc<dyn Engine>)> {
        let mut rng = Rng::for_item(self.seed ^ KNOB_STREAM, iteration);
        let mut asyncify_level = None;
        self.variants
            .iter()
            .map(|variants| {
                let mut variant = rng.below(variants.len() as u64) as usize;
                if Tier::named(variants[0].id()).is_some_and(|t| t.class == Class::Instrumented) {
                    variant = *asyncify_level.get_or_insert(variant) % variants.len();
                }
                let engine = variants[variant].clone();
                (
                    EngineRef {
                        id: engine.id().to_string(),
                        variant,
                    },
                    engine,
                )
            })
            .collect()
    }

    fn count(&self, run: &Run, calls: usize, generating: f64, running: f64) {
        self.stats.modules.fetch_add(1, Ordering::Relaxed);
        self.stats.calls.fetch_add(calls as u64, Ordering::Relaxed);
        let mut times = self.stats.times.lock().expect("stats lock");
        times.generate += generating;
        let engines: f64 = run.timings.iter().map(|t| t.compile + t.run).sum();
        times.compare += (running - engines).max(0.0);
        for (total, spent) in times.engines.iter_mut().zip(&run.timings) {
            total.compile += spent.compile;
            total.run += spent.run;
        }
    }

    /// Saves a divergence with a signature not seen before, reduced first when there is time for it.
    fn keep(&self, worker: Option<&mut Worker>, evidence: &finding::Evidence, found: Found) {
        let step = &evidence.run.steps[evidence.step];
        let oracles::compare::Verdict::Diverge(divergence) = &step.verdict else {
            return;
        };
        if let Some(known) = known::recognise(evidence.wasm, step, divergence) {
            self.keep_known(known, evidence, &divergence.signature, &found);
            return;
        }
        let iteration = found.iteration;
        if self.repeat(&divergence.signature, iteration) {
            return;
        }
        let origin = self.origin(&found);
        let reduce_time =
            Duration::from_secs(self.settings.reduce_time.unwrap_or(DEFAULT_REDUCE_TIME));
        let mut reducer = Reducer::new(
            found.engines,
            evidence.invocations,
            worker,
            self.limits.clone(),
        );
        let reduced = (reduce_time > Duration::ZERO)
            .then(|| {
                reducer
                    .reduce(
                        evidence.wasm,
                        &divergence.signature,
                        Instant::now() + reduce_time,
                    )
                    .ok()
            })
            .flatten();
        let reduced_evidence = reduced.as_ref().map(|r| r.evidence());
        let evidence = reduced_evidence.as_ref().unwrap_or(evidence);
        // Bucketed after reduction: the fewer instructions, the closer the first probe is to the cause.
        let bucket = reducer.bucket(evidence);
        let blame = blame_finding(&mut reducer, evidence);
        let bucket = match &blame {
            Some(blame) => bucket.blamed(&blame.verdict),
            None => bucket,
        };
        let filing = finding::Filing {
            bucket: &bucket,
            known: None,
            blame: blame.as_ref(),
        };
        let saved = finding::save(&self.out, evidence, &origin, &filing);
        match saved {
            Ok(dir) => {
                self.stats.findings.fetch_add(1, Ordering::Relaxed);
                self.stats.new.fetch_add(1, Ordering::Relaxed);
                self.flush_repeats(&divergence.signature, &dir);
                let how = if reduced.is_some() {
                    "reduced"
                } else {
                    "as found"
                };
                eprintln!(
                    "finding {} (iteration {iteration}, {how}) in bucket {}: {}",
                    divergence.signature,
                    bucket.name,
                    dir.display()
                );
                self.record(serde_json::json!({
                    "finding": { "signature": divergence.signature, "bucket": bucket.name, "iteration": iteration, "reduced": reduced.is_some(), "folder": dir },
                }));
            }
            Err(e) => eprintln!("error: saving finding {}: {e:#}", divergence.signature),
        }
    }

    fn origin(&self, found: &Found) -> finding::Origin {
        finding::Origin {
            source: found.generator.to_string(),
            seed: Some(self.seed),
            iteration: Some(found.iteration),
            engines: found
                .engines
                .iter()
                .map(|(_, e)| (e.id().to_string(), e.version()))
                .collect(),
            variants: found.engines.iter().map(|(_, e)| e.variant()).collect(),
            features: features::names(self.shared),
        }
    }

    /// Counts an instance of a known divergence, and saves the first one of its
    /// signature as found (it needs no reduction: it is written up already).
    fn keep_known(
        &self,
        known: &Known,
        evidence: &finding::Evidence,
        signature: &str,
        found: &Found,
    ) {
        self.stats.known.fetch_add(1, Ordering::Relaxed);
        let dir = finding::folder(&self.out, signature);
        let first = self
            .seen
            .lock()
            .expect("seen lock")
            .insert(signature.to_string(), 0)
            .is_none()
            && !dir.join("report.json").exists();
        self.record(serde_json::json!({
            "known": { "id": known.id, "signature": signature, "iteration": found.iteration, "folder": dir },
        }));
        if !first {
            return;
        }
        let filing = finding::Filing {
            bucket: &Bucket::known(&known.id),
            known: Some(known),
            blame: None,
        };
        match finding::save(&self.out, evidence, &self.origin(found), &filing) {
            Ok(dir) => {
                self.stats.findings.fetch_add(1, Ordering::Relaxed);
                eprintln!(
                    "known divergence {} (iteration {}): {}",
                    known.id,
                    found.iteration,
                    dir.display()
                );
            }
            Err(e) => eprintln!("error: saving known divergence {}: {e:#}", known.id),
        }
    }

    /// Whether `signature` is already saved or being saved; if so, counts the repeat,
    /// in the saved report when there is one, and in the journal.
    fn repeat(&self, signature: &str, iteration: u64) -> bool {
        let dir = finding::folder(&self.out, signature);
        let mut seen = self.seen.lock().expect("seen lock");
        let saved = dir.join("report.json").exists();
        if !saved && !seen.contains_key(signature) {
            seen.insert(signature.to_string(), 0);
            return false;
        }
        let pending = seen.entry(signature.to_string()).or_default();
        *pending += 1;
        if saved {
            add_pending(&dir, signature, pending);
        }
        drop(seen);
        self.stats.seen_again.fetch_add(1, Ordering::Relaxed);
        self.record(serde_json::json!({
            "seen_again": { "signature": signature, "iteration": iteration, "folder": dir },
        }));
        true
    }

    /// Adds to a just-saved finding the repeats met while it was being reduced.
    fn flush_repeats(&self, signature: &str, dir: &std::path::Path) {
        let mut seen = self.seen.lock().expect("seen lock");
        if let Some(pending) = seen.get_mut(signature) {
            add_pending(dir, signature, pending);
        }
    }

    fn stats_line(&self, started: Instant) -> String {
        let elapsed = started.elapsed().as_secs_f64().max(1e-9);
        let modules = self.stats.modules.load(Ordering::Relaxed);
        let calls = self.stats.calls.load(Ordering::Relaxed);
        let resident = {
            let mut samples = self.stats.resident.lock().expect("stats lock");
            // Measured while the workers run: once they have exited, the last sample stands.
            if self.finished.load(Ordering::Relaxed) {
                samples.last().map_or(f64::NAN, |(_, mib)| *mib)
            } else {
                let mib = crate::resident_with_workers_mib();
                samples.push((elapsed, mib));
                mib
            }
        };
        let times = self.stats.times.lock().expect("stats lock").clone();
        let total: f64 = times
            .engines
            .iter()
            .map(|t| t.compile + t.run)
            .sum::<f64>()
            .max(1e-9);
        let shares: Vec<String> = self
            .engines
            .iter()
            .zip(&times.engines)
            .map(|(e, t)| format!("{} {:.0}%", e.id(), 100.0 * (t.compile + t.run) / total))
            .collect();
        format!(
            "[{elapsed:>6.0}s] {modules} modules ({:.1}/s), {calls} calls ({:.0}/s), {} findings, {resident:.0} MiB; time: {}",
            modules as f64 / elapsed,
            calls as f64 / elapsed,
            self.stats.findings.load(Ordering::Relaxed),
            shares.join(", ")
        )
    }
}

/// Whose bug the divergence of `evidence` is, told on the reducer's engines and worker
/// (a few more runs of the module per odd engine: see `blame.rs`).
fn blame_finding(reducer: &mut Reducer, evidence: &finding::Evidence) -> Option<Blame> {
    let step = &evidence.run.steps[evidence.step];
    let oracles::compare::Verdict::Diverge(divergence) = &step.verdict else {
        return None;
    };
    let mut lab = Lab::new(
        reducer.worker.as_deref_mut(),
        reducer.limits.clone(),
        evidence.invocations,
    );
    Some(blame::blame(
        &mut lab,
        reducer.engines,
        evidence.wasm,
        divergence,
    ))
}

/// Moves the `pending` repeats of `signature` into the report saved in `dir`.
fn add_pending(dir: &std::path::Path, signature: &str, pending: &mut u64) {
    if *pending == 0 {
        return;
    }
    match finding::add_repeats(dir, *pending) {
        Ok(()) => *pending = 0,
        Err(e) => eprintln!("warning: counting repeats of {signature}: {e:#}"),
    }
}

/// Half wasm-smith (six in ten without a GC pattern); two modules in ten instruction-selection
/// trees; one in ten each a tail-call chain, an exception pattern, an operator probe, and a GC
/// pattern when two or more engines run GC (engines without it skip those modules).
fn generate(
    rng: &mut Rng,
    shared: WasmFeatures,
    gc_engines: bool,
) -> (&'static str, Result<Generated, String>) {
    match rng.below(10) {
        0 => ("tail-calls", tail_calls::generate(rng, shared)),
        1 => ("exceptions", exceptions::generate(rng)),
        2 => ("operators", ops::generate(rng, shared)),
        3 if gc_engines => ("gc", gc::generate(rng)),
        5 | 6 => ("isel", isel::generate(rng, shared)),
        _ => ("wasm-smith", smith::module(shared, rng)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracles::asyncify::OPTIMIZE_LEVELS;

    /// Some instruction-selection bugs hide behind the optimizer's constant folding: the trees
    /// must also meet Cranelift without optimizations.
    #[test]
    fn isel_trees_meet_unoptimized_cranelift() {
        let out = tempfile::tempdir().unwrap();
        let args = Args {
            iterations: Some(1),
            in_process: true,
            ..Args::new(
                vec![EngineChoice::parse("wasmtime-cranelift").unwrap()],
                out.path(),
            )
        };
        let campaign = Campaign::new(&args).unwrap();
        let isel: Vec<u64> = (0..100)
            .filter(|&i| generate(&mut Rng::for_item(0, i), campaign.shared, false).0 == "isel")
            .collect();
        let unoptimized = isel.iter().filter(|&&i| {
            let version = campaign.configurations(i)[0].1.version();
            version.contains("opt-level=none")
        });
        assert!(unoptimized.count() >= 2, "isel modules {isel:?}");
    }

    #[test]
    fn the_asyncify_tiers_instrument_each_module_at_one_level_and_every_level_comes_up() {
        let out = tempfile::tempdir().unwrap();
        let asyncify = ["asyncify", "asyncify-wasmi"].map(|id| EngineChoice::parse(id).unwrap());
        let args = Args {
            in_process: true,
            ..Args::new(asyncify.to_vec(), out.path())
        };
        let campaign = Campaign::new(&args).unwrap();
        let levels: BTreeSet<String> = (0..30)
            .map(|i| {
                let [first, second] = [0, 1].map(|k| campaign.configurations(i)[k].1.variant());
                let level = |variant: &str| variant.split_once('@').map(|(_, l)| l.to_string());
                assert_eq!(level(&first), level(&second), "module {i}");
                level(&first).unwrap_or_default()
            })
            .collect();
        assert_eq!(levels.len(), OPTIMIZE_LEVELS.len(), "{levels:?}");
    }
}
