//! The store's part for safety (docs/safety.md): the content rules and the compiled copy
//! every node checks posts with ([`content_rules`]), reports of messages ([`reports`]), the
//! audit log ([`audit`]), what a moderation action writes in the transaction of its
//! change ([`moderation`]), and members' roles, mutes and bans in groups ([`standing`]).

pub mod audit;
pub mod content_rules;
pub mod moderation;
pub mod reports;
pub mod standing;

pub use audit::{AuditEntry, AuditRow, NewAudit};
pub use content_rules::LiveRules;
pub use moderation::{Moderate, Moderation};
pub use reports::{NewReport, ReportRow, ReportStatus, Resolution, ResolveAction};
pub use standing::{Sanction, SanctionError, Sanctioned, Standing};
