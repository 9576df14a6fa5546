//! Tunables shared by the actors and the HTTP layer, with the defaults docs/protocol.md names.

use std::time::Duration;

use crate::actors::session::rate_limit::RateLimit;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Ping interval; a connection silent for three of these is closed.
    pub heartbeat: Duration,
    /// A text frame larger than this gets `too_large` and is not read further.
    pub max_frame_bytes: usize,
    /// A frame larger than this cannot be read at all: the connection is closed with 1009.
    pub max_read_bytes: usize,
    pub rate_limit: RateLimit,
    /// Frames queued for one connection before it is closed with 4002.
    pub outbound_queue: usize,
    /// Sends waiting in one room for the store before new ones get `unavailable`.
    pub room_pending: usize,
    /// A room with no joined connection stops after this long.
    pub room_idle: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            heartbeat: Duration::from_secs(10),
            max_frame_bytes: 64 * 1024,
            max_read_bytes: 1024 * 1024,
            rate_limit: RateLimit::default(),
            outbound_queue: 1024,
            room_pending: 4096,
            room_idle: Duration::from_secs(60),
        }
    }
}
