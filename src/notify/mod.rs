//! Notifications for people who are not connected (docs/notifications.md), as pure rules with
//! no actor, store or network in them: who is notified for a committed message
//! ([`decide`]), how one user's notifications of one room are coalesced and what a read
//! cancels ([`window`]), and what is sent ([`payload`]; [`alert`], the title and line a
//! phone shows). The room decides with [`decide`] when
//! it hands a post to the store, the store keeps what was decided in the message's own
//! transaction, and the sender (`crate::push`) composes and delivers with the other two.

pub mod alert;
pub mod decide;
pub mod device;
pub mod payload;
pub mod window;

#[cfg(test)]
mod properties;

pub use decide::{recipients, Candidate, Level, Notable};
pub use payload::{Payload, Preview};
pub use window::{Fold, Queue, Take};
