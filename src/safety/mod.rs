//! Safety (docs/safety.md): the operator's content rules ([`rules`], with the built-in
//! patterns of [`builtins`]), and why a message is reported ([`report`]).

pub mod builtins;
pub mod report;
pub mod rules;

pub use report::{ReportReason, MAX_NOTE_CHARS};
pub use rules::{Action, AppliesTo, Rule, RuleError, RuleSet, Sender, Verdict};
