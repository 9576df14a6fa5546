//! The clap definitions of the command line, each flag with an environment variable to fall
//! back on: the server's flags (no subcommand) and the subcommands of this folder (`users`,
//! `rooms`, `migrate`, `chat`). A leaf: the server (`src/server.rs`) reads [`ServerArgs`],
//! each subcommand's file its own arguments, and nothing here imports either.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use super::parse::BindAddr;
use super::parse::{parse_bind, parse_burst, parse_metrics_token, parse_rate};

#[derive(Debug, Parser)]
#[command(
    name = "palaver",
    version,
    about = "A real-time chat server: WebSocket rooms, direct chats and bots",
    long_about = "A real-time chat server: WebSocket rooms, direct chats and bots.\n\n\
        Without a subcommand, runs the server. The subcommands work on the database \
        directly (no server needed; they may run while a server runs on the same database).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub server: ServerArgs,
}

/// Admin commands that work on the database directly.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and list users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Create group rooms.
    #[command(subcommand)]
    Rooms(RoomsCommand),
    /// Create or update the database schema and list its migrations.
    Migrate(DatabaseArgs),
    /// Chat from a terminal: send stdin's JSON lines, print the server's frames.
    Chat(ChatArgs),
    /// Copy a live SQLite store, uploads included, to FILE (never overwritten).
    Backup {
        /// Where the copy goes: a new SQLite file.
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Make the SQLite store of --database-url (which must not exist) from a backup.
    Restore {
        /// A file `palaver backup` made.
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

// `palaver users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; prints its id and its token (shown this once: the store keeps a hash).
    Add {
        /// 1 to 64 printable characters, unique.
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users and bots: id, name, kind.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List a user's tokens: id and creation time (never the secret).
    Tokens {
        /// `u_N`.
        user: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Revoke one token of a user (new connections with it are refused).
    Revoke {
        /// `u_N`.
        user: String,
        /// `t_N`, from `palaver users tokens`.
        token: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Deactivate a user: their tokens stop working; their messages stay.
    Deactivate {
        /// `u_N`.
        user: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Write everything the store holds about a person (profile, tokens' and devices'
    /// metadata, memberships, messages, files with their bytes) to FILE as one JSON document
    /// (docs/operations.md, "A user's data"). FILE must not exist.
    Export {
        /// `u_N` (deactivated users too).
        user: String,
        /// Where the document goes.
        file: PathBuf,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

// `palaver rooms …`
#[derive(Debug, Subcommand)]
pub enum RoomsCommand {
    /// Create a group room; prints its id. Members already connected see it in their next
    /// `rooms` (no `room_added` event reaches them: the server is not told).
    Add {
        /// 1 to 100 characters.
        name: String,
        /// The members: user ids, separated by commas (u_2,u_3).
        #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
        members: Vec<String>,
        /// Anyone may join it, not only its members.
        #[arg(long)]
        public: bool,
        /// The user who may kick (made a member too); without one, only admins can.
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

// `palaver chat`
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// A user's token: `pv_…` or a JWT (docs/auth.md).
    #[arg(long, env = "PALAVER_TOKEN", hide_env_values = true)]
    pub token: String,

    /// The server's WebSocket address.
    #[arg(long, env = "PALAVER_URL", default_value = "ws://127.0.0.1:8080/ws")]
    pub url: String,

    /// After the end of stdin and the last reply, how long to keep printing events.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub linger_ms: u64,
}

/// The database a subcommand works on.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://palaver.db")]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on, HOST:PORT; the host may be a name (localhost:8080) or an IP
    /// address ([::1]:8080); port 0 picks a free port.
    #[arg(long, env = "PALAVER_BIND", default_value = "127.0.0.1:8080", value_parser = parse_bind)]
    pub bind: BindAddr,

    /// sqlite://PATH (embedded, the default) or postgres://USER@HOST/DB.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://palaver.db")]
    pub database_url: String,

    /// Token for the admin API; when unset one is generated and logged at start.
    #[arg(long, env = "PALAVER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Token that reads `GET /metrics` and nothing else (for Prometheus); the admin token
    /// reads it too. At least 16 characters.
    #[arg(long, env = "PALAVER_METRICS_TOKEN", hide_env_values = true, value_parser = parse_metrics_token)]
    pub metrics_token: Option<String>,

    /// Folder of bot definitions (JSON) to load at start.
    #[arg(long, env = "PALAVER_BOTS")]
    pub bots: Option<PathBuf>,

    /// Seconds between WebSocket pings.
    #[arg(long, env = "PALAVER_HEARTBEAT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub heartbeat_secs: u64,

    /// Frames a connection may send per second (above 0).
    #[arg(long, env = "PALAVER_RATE", default_value_t = 50.0, value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: f64,

    /// Frames a connection may send in a burst (at least 1).
    #[arg(long, env = "PALAVER_BURST", default_value_t = 200.0, value_parser = parse_burst, allow_negative_numbers = true)]
    pub burst: f64,

    /// Frames queued for a connection before it is closed with 4002.
    #[arg(long, env = "PALAVER_OUTBOUND_QUEUE", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub outbound_queue: u32,

    /// Multi-node mode: redis://HOST:PORT of the Redis this node shares with the other
    /// nodes (needs a postgres:// --database-url; see docs/scale-out.md).
    #[arg(long, env = "PALAVER_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// This node's name in logs, metrics and the cluster (default: generated). Letters,
    /// digits, `-` and `_`, at most 64.
    #[arg(long, env = "PALAVER_NODE_ID")]
    pub node_id: Option<String>,

    /// Multi-node mode: milliseconds between checks that the connection this node listens to
    /// Redis on is alive; a check not answered within 2 s reconnects (docs/scale-out.md).
    #[arg(long, env = "PALAVER_REDIS_PING_MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub redis_ping_ms: u64,

    /// Multi-node mode: milliseconds between re-reads, from the store, of what this node
    /// keeps in memory for authorization (room members, token validity, deactivation): a
    /// change made on another node takes effect here within this, Redis or not
    /// (docs/scale-out.md).
    #[arg(long, env = "PALAVER_AUTHZ_SWEEP_MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub authz_sweep_ms: u64,

    /// HTTP worker threads: the WebSocket sessions and the HTTP API (default: one per core).
    /// Sets nothing else; the rooms and bots have --room-threads.
    #[arg(long, env = "PALAVER_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,

    /// Threads the room and bot actors are spread over (default: one per core), apart from
    /// the HTTP workers.
    #[arg(long, env = "PALAVER_ROOM_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub room_threads: Option<u16>,

    /// Largest upload, in bytes; a larger one gets 413 and nothing is kept.
    #[arg(long, env = "PALAVER_MAX_FILE_BYTES", default_value_t = 10 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1024 * 1024 * 1024))]
    pub max_file_bytes: u64,

    /// Largest image (width × height) decoded for a thumbnail; a larger one is refused.
    #[arg(long, env = "PALAVER_MAX_IMAGE_PIXELS", default_value_t = 50_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_image_pixels: u64,

    /// Uploads one user may make a minute.
    #[arg(long, env = "PALAVER_UPLOADS_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub uploads_per_minute: u32,

    /// Uploads one user may make in a burst.
    #[arg(long, env = "PALAVER_UPLOAD_BURST", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub upload_burst: u32,

    /// Uploads one user may have in progress at once; one more gets 429.
    #[arg(long, env = "PALAVER_UPLOADS_AT_ONCE", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub uploads_at_once: u32,

    /// Seconds an upload's body may send nothing before it gets 408.
    #[arg(long, env = "PALAVER_UPLOAD_IDLE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub upload_idle_secs: u64,

    /// Seconds an upload's whole body may take before it gets 408.
    #[arg(long, env = "PALAVER_UPLOAD_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub upload_secs: u64,

    /// Uploads one user may keep that no message carries yet (quota; 413 past it).
    #[arg(long, env = "PALAVER_MAX_UNATTACHED_UPLOADS", default_value_t = 200, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub max_unattached_uploads: i64,

    /// Bytes of uploads one user may keep that no message carries yet (quota; 413 past it).
    #[arg(long, env = "PALAVER_MAX_UNATTACHED_UPLOAD_BYTES", default_value_t = 200 * 1024 * 1024, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_unattached_upload_bytes: i64,

    /// Bytes one user may upload in any 24 hours (quota; 429 past it, with Retry-After).
    #[arg(long, env = "PALAVER_MAX_UPLOAD_BYTES_PER_DAY", default_value_t = 1024 * 1024 * 1024, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_upload_bytes_per_day: i64,

    /// Groups one user may create in an hour (counted in the store, on every node).
    #[arg(long, env = "PALAVER_GROUPS_PER_HOUR", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub groups_per_hour: u32,

    /// Who can find whom (docs/safety.md, "Who can find whom"): `all` (every person and bot),
    /// `shared` (people who share a room with the caller, and bots) or `none` (bots only).
    /// Sets whom `users` lists and whom `open_direct`, `create_group` and `invite` may name.
    #[arg(long, env = "PALAVER_DIRECTORY", default_value = "all")]
    pub directory: crate::safety::directory::Directory,

    /// Most groups one user may be a member of; whoever adds them to one more is refused.
    #[arg(long, env = "PALAVER_MAX_GROUPS_PER_USER", default_value_t = crate::db::MAX_GROUPS_PER_USER, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub max_groups_per_user: i64,

    /// SQLite only: `full` fsyncs every commit before it is acknowledged (an acked message
    /// survives a power loss); `normal` only at checkpoints (survives `kill -9`, faster).
    #[arg(long, env = "PALAVER_SQLITE_SYNCHRONOUS", default_value = "full")]
    pub sqlite_synchronous: crate::db::backend::SqliteSync,

    /// Origins whose web pages may open a WebSocket, comma-separated (`https://chat.example.com`).
    /// Upgrades without an `Origin` (non-browser clients) and from the server's own page are
    /// always admitted; others get 403. Off by default: every origin is admitted.
    #[arg(long, env = "PALAVER_ALLOWED_ORIGINS", value_parser = crate::http::allowed_origins::AllowedOrigins::parse)]
    pub allowed_origins: Option<crate::http::allowed_origins::AllowedOrigins>,

    /// Delete messages older than this many days, and the files only they carried, in small
    /// batches in the background (docs/operations.md, "Retention"). Off by default.
    #[arg(long, env = "PALAVER_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: Option<u32>,

    /// Seconds between rounds of --retention-days (the first within a minute of the start).
    #[arg(long, env = "PALAVER_RETENTION_SWEEP_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub retention_sweep_secs: u64,

    /// Seconds between looks for uploads no message has carried for a day (they are deleted).
    #[arg(long, env = "PALAVER_FILE_SWEEP_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub file_sweep_secs: u64,

    /// WebSocket connections one user may hold on this node; one more gets 503.
    #[arg(long, env = "PALAVER_MAX_CONNECTIONS_PER_USER", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections_per_user: u32,

    /// WebSocket connections one client address may hold on this node; one more gets 503.
    /// Behind a proxy the address is the one --trusted-proxies vouch for.
    #[arg(long, env = "PALAVER_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub max_connections_per_address: u32,

    /// WebSocket connections this node holds in all; one more gets 503 (default: three
    /// quarters of the open-files limit, which the server raises to its hard limit at start).
    #[arg(long, env = "PALAVER_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub max_connections: Option<u32>,

    /// Proxies whose `X-Forwarded-For` names the client (addresses or networks,
    /// comma-separated: `127.0.0.1,10.0.0.0/8`). Without it the header is ignored and the
    /// client is the TCP peer.
    #[arg(long, env = "PALAVER_TRUSTED_PROXIES", value_parser = crate::http::client_addr::TrustedProxies::parse)]
    pub trusted_proxies: Option<crate::http::client_addr::TrustedProxies>,

    /// PEM file of certificate authorities trusted for outbound https:// calls (JWKS,
    /// webhooks) besides the platform's (docs/operations.md).
    #[arg(long = "extra-ca", env = "PALAVER_EXTRA_CA", value_name = "FILE")]
    pub extra_ca: Option<PathBuf>,

    /// Sign-in with JWTs signed by your backend (docs/auth.md).
    #[command(flatten)]
    pub jwt: JwtArgs,

    /// Notifications for people who are not connected (docs/notifications.md).
    #[command(flatten)]
    pub push: super::push_args::PushArgs,
}

/// JWT sign-in: one key source at most, and optional issuer and audience checks.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// Shared secret of HS256 JWTs (at least 16 bytes).
    #[arg(long = "jwt-secret", env = "PALAVER_JWT_SECRET", hide_env_values = true,
          conflicts_with_all = ["public_key", "jwks_url"])]
    pub secret: Option<String>,

    /// PEM file of the RSA (RS256) or EC P-256 (ES256) public key JWTs are signed with.
    #[arg(
        long = "jwt-public-key",
        env = "PALAVER_JWT_PUBLIC_KEY",
        conflicts_with = "jwks_url"
    )]
    pub public_key: Option<PathBuf>,

    /// https:// (or http://) URL of a JWKS (RS256/ES256 keys), fetched on first use and
    /// cached 10 minutes.
    #[arg(long = "jwt-jwks-url", env = "PALAVER_JWT_JWKS_URL")]
    pub jwks_url: Option<String>,

    /// Time-out of one JWKS fetch, in milliseconds.
    #[arg(long = "jwt-jwks-timeout-ms", env = "PALAVER_JWT_JWKS_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub jwks_timeout_ms: u64,

    /// Accept only JWTs whose `iss` is this.
    #[arg(long = "jwt-issuer", env = "PALAVER_JWT_ISSUER")]
    pub issuer: Option<String>,

    /// Accept only JWTs whose `aud` includes this.
    #[arg(long = "jwt-audience", env = "PALAVER_JWT_AUDIENCE")]
    pub audience: Option<String>,
}

impl JwtArgs {
    /// The settings of JWT sign-in; a JWKS is fetched through `outbound`.
    pub fn settings(&self, outbound: crate::outbound::Outbound) -> crate::http::jwt::JwtSettings {
        crate::http::jwt::JwtSettings {
            secret: self.secret.clone(),
            public_key: self.public_key.clone(),
            jwks_url: self.jwks_url.clone(),
            jwks_timeout: std::time::Duration::from_millis(self.jwks_timeout_ms),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            outbound,
        }
    }
}
