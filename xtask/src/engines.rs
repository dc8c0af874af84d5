//! `cargo xtask engines`: every tier of the registry and every bundled external engine, with its
//! class, version and the proposals it runs.

use crate::Conclusion;
use oracles::external::{self, Externals};
use oracles::tiers::{self, Start};
use oracles::{EngineChoice, Engines, Watchdog, features};
use serde::Serialize;

#[derive(Serialize)]
struct EngineInfo {
    id: String,
    /// How the tier executes code (`compilers`, `interpreters`, ...), or `external`.
    class: &'static str,
    /// What a process pays before code runs: `compile` or `load-artifact`; empty for external engines.
    start: &'static str,
    /// Whether the engine runs when no `--engine` is given.
    default: bool,
    version: String,
    proposals: Vec<&'static str>,
    /// Why the engine cannot run on this machine (an external engine's runtime or binaryen.js is missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
    /// What the engine runs on and why (the Node.js of `v8`).
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<String>,
}

pub fn run(json: bool) -> anyhow::Result<Conclusion> {
    let engines = Engines::new(Watchdog::InEngine, Externals::default());
    let built_in = tiers::TIERS.iter().map(EngineChoice::Tier);
    let bundled = external::BUNDLED.iter().map(|id| EngineChoice::Bundled(id));
    let infos: Vec<EngineInfo> = built_in
        .chain(bundled)
        .map(|choice| info(&engines, &choice))
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&infos)?);
    } else {
        let id_width = infos.iter().map(|i| i.id.len()).max().unwrap_or(0);
        let version_width = infos.iter().map(|i| i.version.len()).max().unwrap_or(0);
        for info in &infos {
            let proposals = match &info.unavailable {
                Some(why) => format!("unavailable: {why}"),
                None => info.proposals.join(", "),
            };
            println!(
                "{:<id_width$}  {:<version_width$}  {:<18}  {proposals}",
                info.id, info.version, info.class
            );
            if let Some(runtime) = &info.runtime {
                println!("{:<id_width$}  runs on {runtime}", "");
            }
        }
    }
    Ok(Conclusion::Agree)
}

fn info(engines: &Engines, choice: &EngineChoice) -> EngineInfo {
    let (class, start, default) = match choice {
        EngineChoice::Tier(tier) => (tier.class.name(), start_name(tier.start), tier.default),
        _ => ("external", "", false),
    };
    let mut info = EngineInfo {
        id: choice.id().to_string(),
        class,
        start,
        default,
        version: String::new(),
        proposals: Vec::new(),
        unavailable: None,
        runtime: external::runtime(choice.id()),
    };
    match engines.engine(choice) {
        Ok(engine) => {
            info.version = engine.version();
            info.proposals = features::names(engine.features());
        }
        Err(why) => info.unavailable = Some(why),
    }
    info
}

fn start_name(start: Start) -> &'static str {
    match start {
        Start::Compile => "compile",
        Start::LoadArtifact => "load-artifact",
    }
}
