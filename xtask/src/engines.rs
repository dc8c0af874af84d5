//! `cargo xtask engines`: every engine with its version and the proposals it runs.

use crate::Conclusion;
use oracles::features;
use serde::Serialize;

#[derive(Serialize)]
struct EngineInfo {
    id: &'static str,
    version: String,
    proposals: Vec<&'static str>,
}

pub fn run(json: bool) -> anyhow::Result<Conclusion> {
    let infos: Vec<EngineInfo> = crate::select_engines(&[])?
        .iter()
        .map(|engine| EngineInfo {
            id: engine.id(),
            version: engine.version(),
            proposals: features::names(engine.features()),
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&infos)?);
    } else {
        let id_width = infos.iter().map(|i| i.id.len()).max().unwrap_or(0);
        let version_width = infos.iter().map(|i| i.version.len()).max().unwrap_or(0);
        for info in &infos {
            println!(
                "{:<id_width$}  {:<version_width$}  {}",
                info.id,
                info.version,
                info.proposals.join(", ")
            );
        }
    }
    Ok(Conclusion::Agree)
}
