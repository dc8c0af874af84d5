//! `cargo xtask engines`: every engine with its version and the proposals it runs.

use crate::Conclusion;
use oracles::features;
use serde::Serialize;

#[derive(Serialize)]
struct EngineInfo {
    id: &'static str,
    version: String,
    proposals: Vec<&'static str>,
    /// Why an external engine cannot run on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    unavailable: Option<String>,
}

pub fn run(json: bool) -> anyhow::Result<Conclusion> {
    let built_in = crate::select_engines(&[])?.into_iter().map(Ok);
    let external = oracles::external::BUNDLED.iter().map(|id| {
        oracles::external::engine(id)
            .expect("bundled")
            .map_err(|why| (*id, why))
    });
    let infos: Vec<EngineInfo> = built_in
        .chain(external)
        .map(|engine| match engine {
            Ok(engine) => EngineInfo {
                id: engine.id(),
                version: engine.version(),
                proposals: features::names(engine.features()),
                unavailable: None,
            },
            Err((id, why)) => EngineInfo {
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
