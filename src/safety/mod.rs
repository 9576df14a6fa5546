//! Safety (docs/safety.md): the operator's content rules ([`rules`], with the built-in
//! patterns of [`builtins`]), why a message is reported ([`report`]), and who in a group may
//! moderate whom ([`roles`]).

pub mod builtins;
pub mod report;
pub mod roles;
pub mod rules;

pub use report::{ReportReason, MAX_NOTE_CHARS};
pub use roles::{Act, Denied, MuteMinutes, Role};
pub use rules::{Action, AppliesTo, Rule, RuleError, RuleSet, Sender, Verdict};
