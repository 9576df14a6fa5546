//! Bots as data: definitions, the script engine and the webhook call. The actor that runs
//! a bot is in `actors::bot`.

pub mod definition;
pub mod loader;
pub mod script;
pub mod webhook;

pub use definition::Definition;

/// The demo bot, loaded when no `--bots` folder is given.
pub const DEMO_BOT: &str = include_str!("../../bots/mathbot.json");
