//! Loads bot definitions at start: from the `--bots` folder (every `*.json`), or the demo
//! bot when no folder is given; stores them and starts every stored bot.

use std::path::Path;
use std::sync::Arc;

use actix::Addr;
use serde_json::Value;

use super::definition::Definition;
use crate::actors::hub::{Hub, InstallBot};
use crate::db::Store;

/// Reads and checks every definition in `dir`; an error names the file and the place.
pub fn read_dir(dir: &Path) -> Result<Vec<Definition>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|err| format!("--bots {}: {err}", dir.display()))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths.iter().map(|path| read_file(path)).collect()
}

fn read_file(path: &Path) -> Result<Definition, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    parse(&text).map_err(|err| format!("{}: {err}", path.display()))
}

pub fn parse(text: &str) -> Result<Definition, String> {
    let value: Value = serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
    Definition::from_json(&value)
}

/// The definitions to load: the folder's, or the demo bot.
pub fn initial(dir: Option<&Path>) -> Result<Vec<Definition>, String> {
    match dir {
        Some(dir) => read_dir(dir),
        None => parse(super::DEMO_BOT).map(|demo| vec![demo]),
    }
}

/// Stores `definitions`, then starts every stored bot (including those added earlier
/// through the admin API).
pub async fn install(
    store: &Store,
    hub: &Addr<Hub>,
    definitions: Vec<Definition>,
) -> Result<usize, String> {
    for definition in &definitions {
        let document =
            serde_json::to_string(&definition.document).map_err(|err| err.to_string())?;
        store
            .put_bot(definition.id(), &definition.document.name, document)
            .await
            .map_err(|err| format!("bot {}: {err}", definition.id()))?;
    }
    let stored = store.bots().await.map_err(|err| err.to_string())?;
    let mut started = 0;
    for (document, user) in stored {
        match parse(&document) {
            Ok(definition) => {
                hub.do_send(InstallBot {
                    definition: Arc::new(definition),
                    user,
                });
                started += 1;
            }
            Err(err) => log::warn!(
                "stored bot {:?} is not valid and stays off: {err}",
                user.handle
            ),
        }
    }
    Ok(started)
}
