//! Safety (docs/safety.md): the operator's content rules ([`rules`], with the built-in
//! patterns of [`builtins`]) and the one check every post goes through ([`check`]).

pub mod builtins;
pub mod rules;

pub use rules::{Action, AppliesTo, Rule, RuleError, RuleSet, Sender, Verdict};
