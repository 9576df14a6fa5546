//! The actor hierarchy: a [`hub::Hub`] supervises rooms and knows every user's
//! connections; a [`room::Room`] owns one room's members and message order; a
//! [`session::Session`] is one WebSocket connection.

use std::sync::Arc;

use crate::db::models::UserRow;

pub mod bot;
pub mod hub;
pub mod presence;
pub mod room;
pub mod session;
#[cfg(test)]
pub mod testing;

pub use session::outbox::{self, Outbox};

/// A connection's id (`s_…`), shared by every actor that refers to it.
pub type SessionKey = Arc<str>;

/// The connection a command came from: who sent it, where its replies go, and when the
/// command was read (for the ack latency metric).
#[derive(Clone)]
pub struct Caller {
    pub session: SessionKey,
    pub user: UserRow,
    pub outbox: Outbox,
    pub received: std::time::Instant,
}
