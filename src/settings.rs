//! Tunables shared by the actors and the HTTP layer, with the defaults docs/protocol.md names.

use std::time::Duration;

use crate::files::detect::ImageBounds;
use crate::outbound::Outbound;

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
    /// Multi-node mode: how often a node re-reads from the store what it keeps for
    /// authorization (`--authz-sweep-ms`; `actors/hub/authz.rs`).
    pub authz_sweep: Duration,
    pub files: FileSettings,
    /// The TLS setup of every outbound call (webhooks here; JWKS through `JwtSettings`).
    pub outbound: Outbound,
    /// Groups one user may create in an hour (`--groups-per-hour`).
    pub groups_per_hour: u32,
    /// Who can find whom (`--directory`, section 13).
    pub directory: crate::safety::directory::Directory,
}

/// A connection's frame rate limit (docs/protocol.md section 2), enforced by
/// `actors/session/rate_limit.rs`.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
    /// Over the limit this long without a pause, the connection is closed (1008).
    pub abuse_after: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 50.0,
            burst: 200.0,
            abuse_after: Duration::from_secs(10),
        }
    }
}

/// Limits on uploads (docs/protocol.md section 9, docs/files.md).
#[derive(Clone, Debug)]
pub struct FileSettings {
    /// An upload larger than this gets 413 `too_large` and nothing is kept.
    pub max_bytes: usize,
    pub image: ImageBounds,
    /// Uploads one user may make a minute, and in a burst.
    pub uploads_per_minute: u32,
    pub upload_burst: u32,
    /// Uploads' bytes held in memory at once, counted in units of `max_bytes` (16: at most
    /// 16 × `max_bytes`); an upload that needs more waits a little, then gets 503.
    pub concurrent_uploads: usize,
    /// Uploads one user may have in progress at once; one more gets 429.
    pub uploads_at_once: usize,
    /// An upload whose body sends nothing for this long gets 408.
    pub upload_idle: Duration,
    /// An upload whose body is not all in after this long gets 408.
    pub upload_deadline: Duration,
    /// Images decoded at once (for thumbnails), on blocking threads.
    pub concurrent_decodes: usize,
    /// How often uploads no message refers to are looked for.
    pub sweep_every: Duration,
    /// How long an upload may wait for a message to carry it.
    pub keep_unreferenced: Duration,
    /// Per user: uploads no message carries yet, how many and how many bytes, and bytes
    /// uploaded in any 24 hours (docs/files.md, Quotas).
    pub max_unattached_files: i64,
    pub max_unattached_bytes: i64,
    pub max_bytes_per_day: i64,
}

impl Default for FileSettings {
    fn default() -> Self {
        FileSettings {
            max_bytes: 10 * 1024 * 1024,
            image: ImageBounds::default(),
            uploads_per_minute: 30,
            upload_burst: 10,
            concurrent_uploads: 16,
            uploads_at_once: 4,
            upload_idle: Duration::from_secs(10),
            upload_deadline: Duration::from_secs(120),
            concurrent_decodes: 2,
            sweep_every: Duration::from_secs(600),
            keep_unreferenced: Duration::from_secs(24 * 3600),
            max_unattached_files: 200,
            max_unattached_bytes: 200 * 1024 * 1024,
            max_bytes_per_day: 1024 * 1024 * 1024,
        }
    }
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
            authz_sweep: Duration::from_secs(2),
            files: FileSettings::default(),
            outbound: Outbound::default(),
            groups_per_hour: 30,
            directory: Default::default(),
        }
    }
}
