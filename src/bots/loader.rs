//! Reads bot definitions: from the `--bots` folder (every `*.json`), or the demo bot when
//! no folder is given. Storing and starting them is the server's wiring (`server.rs`).

use std::path::Path;

use serde_json::Value;

use super::definition::Definition;

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
    let value: Value = crate::protocol::json::parse(text).map_err(|err| err.to_string())?;
    Definition::from_json(&value)
}

/// The definitions to load: the folder's, or the demo bot.
pub fn initial(dir: Option<&Path>) -> Result<Vec<Definition>, String> {
    match dir {
        Some(dir) => read_dir(dir),
        None => parse(super::DEMO_BOT).map(|demo| vec![demo]),
    }
}
