//! Safety (docs/safety.md): the operator's content rules ([`rules`], with the built-in
//! patterns of [`builtins`]), why a message is reported ([`report`]), who hides whom in a
//! room ([`blocks`]), who can find whom ([`directory`]), and who in a group may moderate
//! whom ([`roles`]).

pub mod blocks;
pub mod builtins;
pub mod directory;
pub mod report;
pub mod roles;
pub mod rules;

pub use report::{ReportReason, MAX_NOTE_CHARS};
pub use roles::{Act, Denied, MuteMinutes, Role};
pub use rules::{Action, AppliesTo, Rule, RuleError, RuleSet, Sender, Verdict};
