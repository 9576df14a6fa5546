//! Sending notifications, apart from rooms and sessions (docs/notifications.md): one
//! [`sender::Sender`] task per node, on its own thread at a lower priority (`thread`),
//! composes what the store holds as due and hands each delivery to its provider, a bounded
//! number at a time per provider, retrying with back-off until the TTL. What is decided, and when it is due, is `crate::notify`'s; what is stored,
//! claimed and leased is `crate::db::push_queue`'s.

pub mod apns;
pub mod fcm;
pub mod jwt_cache;
pub mod provider;
pub mod retry;
pub mod sender;
pub mod thread;
pub mod vapid;
pub mod webpush;

use std::time::Duration;

use crate::notify::Preview;

/// The flags of notifications, as the sender needs them.
#[derive(Clone, Debug)]
pub struct PushSettings {
    /// `--push-coalesce-ms`.
    pub coalesce: Duration,
    /// `--push-preview`.
    pub preview: Preview,
    /// `--push-ttl`: how long a notification is tried before it is given up.
    pub ttl: Duration,
    /// `--push-insecure-endpoints`: `http://` Web Push endpoints are taken.
    pub insecure_endpoints: bool,
    /// `--push-timeout-ms`: one request to a provider.
    pub timeout: Duration,
    /// `--push-concurrency`: requests in flight per provider.
    pub concurrency: usize,
    /// `--vapid-subject`: the `sub` of the VAPID JWT (`mailto:` or `https:`).
    pub vapid_subject: String,
}

impl Default for PushSettings {
    fn default() -> Self {
        PushSettings {
            coalesce: Duration::from_millis(2000),
            preview: Preview::Full,
            ttl: Duration::from_secs(86_400),
            insecure_endpoints: false,
            timeout: Duration::from_secs(10),
            concurrency: 32,
            vapid_subject: "mailto:admin@localhost".into(),
        }
    }
}

impl PushSettings {
    /// How long a node holds a delivery it claimed: the request's time-out and a margin.
    /// Past it (the node died), another node sends it.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(1)
    }
}
