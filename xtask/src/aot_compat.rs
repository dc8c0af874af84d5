//! `cargo xtask aot-compat`: a probe module precompiled by `wasmtime-aot`, loaded into engines that differ
//! in one setting at a time (or changed on the way), each load in a child process; the table says which
//! loads were refused, accepted and agreed, or misbehaved.

use crate::Conclusion;
use oracles::child::{Child, Silence};
use oracles::compare::{Observation, Verdict as StepVerdict};
use oracles::differential::{self, EngineRun, Invocation};
use oracles::wasmtime::compat::Setting;
use oracles::{Engine, Limits, Outcome, Value};
use serde::{Deserialize, Serialize};
use std::process::Command;
use std::time::{Duration, Instant};

/// The hidden subcommand that performs one load.
pub const LOAD_SUBCOMMAND: &str = "aot-load";

/// How long one load, with the probe's calls, may take before it counts as hung.
const LOAD_TIME: Duration = Duration::from_secs(60);

/// The longest line a loading process may answer with: a run of the probe is a few kilobytes.
const LINE_LIMIT: usize = 1 << 20;

/// The module every load runs: its instructions' lowering depends on the settings varied.
const PROBE: &str = include_str!("aot_compat/probe.wat");

#[derive(clap::Args)]
pub struct Args {
    /// Print the table as JSON: one object per setting.
    #[arg(long)]
    json: bool,
    /// Also load an artifact whose memory images were inverted on the way, which wasmtime does not
    /// check: its row misbehaves and the exit code is 1, showing that the check reports such a load.
    #[arg(long)]
    self_test: bool,
}

/// What a loading process reports.
#[derive(Serialize, Deserialize)]
enum Loaded {
    /// The loader was built, and this is what it did with the artifact.
    Ran(EngineRun),
    /// wasmtime refused to build a loader so configured.
    NoLoader(String),
}

/// What one load came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "verdict", content = "detail")]
pub enum Verdict {
    /// The loader, or the artifact, was refused with this error.
    Refused(String),
    /// The artifact loaded and every step agreed with the faithful load.
    Agreed,
    /// The artifact loaded and then behaved differently, or the load killed its process: a finding.
    Misbehaved(String),
}

impl Verdict {
    fn name(&self) -> &'static str {
        match self {
            Verdict::Refused(_) => "refused",
            Verdict::Agreed => "accepted and agreed",
            Verdict::Misbehaved(_) => "MISBEHAVED",
        }
    }
}

#[derive(Serialize)]
struct Row {
    setting: String,
    #[serde(flatten)]
    verdict: Verdict,
}

pub fn run(args: Args) -> anyhow::Result<Conclusion> {
    let reference = match load_in_child(None) {
        Ok(Loaded::Ran(run)) => run,
        Ok(Loaded::NoLoader(why)) => anyhow::bail!("lockstep's own wasmtime-aot is refused: {why}"),
        Err(why) => anyhow::bail!("loading the probe faithfully failed: {why}"),
    };
    let self_test = args.self_test.then_some(Setting::SELF_TEST);
    let rows: Vec<Row> = Setting::all()
        .into_iter()
        .chain(self_test)
        .map(|setting| Row {
            setting: setting.to_string(),
            verdict: judge(&reference, load_in_child(Some(setting))),
        })
        .collect();
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&rows)?),
        false => print_table(&rows),
    }
    let misbehaved = rows
        .iter()
        .any(|row| matches!(row.verdict, Verdict::Misbehaved(_)));
    Ok(match misbehaved {
        true => Conclusion::Diverge,
        false => Conclusion::Agree,
    })
}

fn print_table(rows: &[Row]) {
    let width = rows.iter().map(|row| row.setting.chars().count()).max();
    let width = width.unwrap_or(0);
    println!("{:width$}  result", "setting");
    for row in rows {
        let detail = match &row.verdict {
            Verdict::Refused(why) | Verdict::Misbehaved(why) => format!(": {why}"),
            Verdict::Agreed => String::new(),
        };
        println!("{:width$}  {}{detail}", row.setting, row.verdict.name());
    }
}

/// The child's side: load the probe once, faithfully or under `setting`, and print what happened.
pub fn serve(setting: Option<&str>) -> anyhow::Result<Conclusion> {
    let engine = match setting {
        None => Ok(oracles::wasmtime::Wasmtime::new(
            oracles::wasmtime::aot::TIER,
            oracles::Watchdog::InEngine,
        )),
        Some(name) => Setting::named(name)
            .ok_or_else(|| anyhow::anyhow!("no setting `{name}`"))?
            .engine(),
    };
    let loaded = match engine {
        Ok(engine) => Loaded::Ran(run_probe(&engine)),
        Err(why) => Loaded::NoLoader(format!("{why:#}")),
    };
    println!("{}", serde_json::to_string(&loaded)?);
    Ok(Conclusion::Agree)
}

fn run_probe(engine: &dyn Engine) -> EngineRun {
    differential::run_engine(
        engine,
        &probe(),
        &invocations(),
        &Limits::default(),
        &mut |_| {},
    )
}

/// One load in a child process of its own: a crash or a hang there is the load's.
fn load_in_child(setting: Option<Setting>) -> Result<Loaded, String> {
    let mut command = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
    command.arg(LOAD_SUBCOMMAND).env(
        oracles::tempfiles::RUN_FOLDER_ENV,
        oracles::tempfiles::parent_folder(),
    );
    if let Some(setting) = setting {
        command.arg(setting.to_string());
    }
    let mut child = Child::spawn(&mut command, LINE_LIMIT).map_err(|e| e.to_string())?;
    let line = child
        .receive(Instant::now() + LOAD_TIME)
        .map_err(|silence| match silence {
            Silence::Ended(ending) => format!("the loading process ended: {ending}"),
            other => format!("the loading process {other}"),
        })?;
    child.kill();
    serde_json::from_slice(&line).map_err(|e| format!("an unreadable answer: {e}"))
}

/// What a load came to, against the faithful load `reference`.
fn judge(reference: &EngineRun, loaded: Result<Loaded, String>) -> Verdict {
    let run = match loaded {
        Ok(Loaded::Ran(run)) => run,
        Ok(Loaded::NoLoader(why)) => return Verdict::Refused(format!("no such loader: {why}")),
        Err(why) => return Verdict::Misbehaved(why),
    };
    if let Some(Outcome::Invalid(why) | Outcome::Unsupported(why)) =
        run.observations.first().map(|o| &o.outcome)
    {
        return Verdict::Refused(first_line(why));
    }
    let labels = ["compile".to_string(), "instantiate".to_string()];
    let labels = labels.into_iter().chain(
        invocations()
            .iter()
            .map(differential::label)
            .collect::<Vec<_>>(),
    );
    for (label, (faithful, loaded)) in
        labels.zip(reference.observations.iter().zip(&run.observations))
    {
        let pair = [named("faithful", faithful), named("loaded", loaded)];
        if !matches!(oracles::compare::compare(&pair, false), StepVerdict::Agree) {
            return Verdict::Misbehaved(difference(&label, faithful, loaded));
        }
    }
    Verdict::Agreed
}

/// How the step `label` went differently when loaded than when loaded faithfully.
fn difference(label: &str, faithful: &Observation, loaded: &Observation) -> String {
    if loaded.outcome != faithful.outcome {
        return format!(
            "{label}: {} when loaded, {} when loaded faithfully",
            loaded.outcome, faithful.outcome
        );
    }
    let memories = |observation: &Observation| {
        let state = observation.state.as_ref();
        state.map(|state| state.memories.clone())
    };
    let what = match memories(loaded) == memories(faithful) {
        true => "globals or tables",
        false => "memory",
    };
    format!(
        "{label}: {}, but the state after it differs ({what})",
        loaded.outcome
    )
}

fn named(engine: &str, observation: &Observation) -> Observation {
    Observation {
        engine: engine.to_string(),
        ..observation.clone()
    }
}

/// wasmtime's error chain, debug-printed, starts with its summary line.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

fn probe() -> Vec<u8> {
    let buffer = wast::parser::ParseBuffer::new(PROBE).expect("the probe lexes");
    let mut module: wast::Wat = wast::parser::parse(&buffer).expect("the probe parses");
    module.encode().expect("the probe encodes")
}

/// The probe's calls: edge values for every export, traps included, and memory
/// growth between accesses near the old and the new end of memory.
fn invocations() -> Vec<Invocation> {
    use Value::{F32, F64, I32, I64};
    let calls: [(&str, &[Value]); 22] = [
        ("popcnt", &[I64(0x0123_4567_89ab_cdef)]),
        ("clz", &[I32(0x8000)]),
        ("clz", &[I32(0)]),
        ("ctz", &[I64(1 << 40)]),
        ("ctz", &[I64(0)]),
        ("ceil", &[F32((-1.5f32).to_bits())]),
        ("nearest", &[F64(2.5f64.to_bits())]),
        ("nearest", &[F64((-0.5f64).to_bits())]),
        ("trunc-sat", &[F64(1e20f64.to_bits())]),
        ("trunc-sat", &[F64(f64::NAN.to_bits())]),
        ("div", &[I32(7), I32(-2)]),
        ("div", &[I32(1), I32(0)]),
        ("div", &[I32(i32::MIN), I32(-1)]),
        ("simd", &[I32(0)]),
        ("store", &[I32(65532), I32(0x1122_3344)]),
        ("load", &[I32(65532)]),
        ("load", &[I32(65533)]),
        ("grow", &[I32(1)]),
        ("load", &[I32(131068)]),
        ("simd", &[I32(131064)]),
        ("grow", &[I32(5)]),
        ("load", &[I32(-4)]),
    ];
    calls
        .into_iter()
        .map(|(export, args)| Invocation {
            export: export.to_string(),
            args: args.to_vec(),
            expected: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracles::wasmtime::{Wasmtime, aot};

    fn faithful() -> EngineRun {
        run_probe(&Wasmtime::new(aot::TIER, oracles::Watchdog::InEngine))
    }

    #[test]
    fn a_faithful_load_agrees_with_itself() {
        let reference = faithful();
        assert_eq!(
            judge(&reference, Ok(Loaded::Ran(faithful()))),
            Verdict::Agreed
        );
    }

    /// wasmtime keeps the probe's data segment in the artifact as a memory
    /// image and checks nothing of it: changed on the way, it loads, and the
    /// memory digest after the first call shows the change.
    #[test]
    fn a_load_that_runs_differently_is_a_misbehaviour() {
        let changed = Setting::SELF_TEST.engine().unwrap();
        let verdict = judge(&faithful(), Ok(Loaded::Ran(run_probe(&changed))));
        let Verdict::Misbehaved(what) = verdict else {
            panic!("{verdict:?}");
        };
        assert!(
            what.ends_with("but the state after it differs (memory)"),
            "{what}"
        );
    }

    #[test]
    fn a_load_that_kills_its_process_is_a_misbehaviour() {
        let died = Err("the loading process ended: killed by signal 11 (SIGSEGV)".to_string());
        let verdict = judge(&faithful(), died);
        assert!(matches!(verdict, Verdict::Misbehaved(why) if why.contains("SIGSEGV")));
    }
}
