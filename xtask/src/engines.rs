//! `cargo xtask engines`: every engine with its version and the proposals it runs.

use crate::Conclusion;
use oracles::features;
use serde::Serialize;

#[derive(Serialize)]
struct EngineInfo {
    id: &'static str,
    version: String,
    proposals: Vec<&'static str>,
    /// Why the engine cannot run on this machine (an external engine's runtime or binaryen.js is missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
}

pub fn run(json: bool) -> anyhow::Result<Conclusion> {
    let ids = oracles::ENGINE_IDS
        .iter()
        .chain(oracles::external::BUNDLED)
        .copied();
    let infos: Vec<EngineInfo> = ids
        .map(|id| match oracles::unavailable(id) {
            None => {
                let engine = oracles::engine(id).expect("a built-in or bundled engine");
                EngineInfo {
                    id: engine.id(),
                    version: engine.version(),
                    proposals: features::names(engine.features()),
                    unavailable: None,
                }
            }
            Some(why) => EngineInfo {
                id,
                version: String::new(),
                proposals: Vec::new(),
                unavailable: Some(why),
            },
        })
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
                "{:<id_width$}  {:<version_width$}  {proposals}",
                info.id, info.version
            );
        }
    }
    Ok(Conclusion::Agree)
}
