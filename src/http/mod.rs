//! The HTTP face of the server: the WebSocket upgrade, the admin API and health.

pub mod admin;
pub mod allowed_origins;
pub mod auth;
pub mod client_addr;
pub mod devices;
pub mod error;
pub mod files;
pub mod health;
pub mod json_body;
pub mod jwks;
pub mod jwt;
pub mod metrics;
#[path = "web.rs"]
pub mod web_client;
pub mod ws;

use std::sync::Arc;

use actix::Addr;
use actix_web::web;

use crate::actors::hub::Hub;
use crate::actors::presence::Presence;
use crate::cluster::Bus;
use crate::db::models::UserRow;
use crate::db::Store;
use crate::settings::Settings;

/// What every handler can reach.
pub struct AppState {
    pub store: Store,
    pub hub: Addr<Hub>,
    pub presence: Presence,
    /// Multi-node mode: the bus, whose Redis holds the other nodes' live connections.
    pub bus: Option<Bus>,
    pub settings: Arc<Settings>,
    pub admin_token: String,
    /// Reads `/metrics` and nothing else (`--metrics-token`).
    pub metrics_token: Option<String>,
    /// The sender of admin posts.
    pub system_user: UserRow,
    /// Upload rate limits and turns.
    pub uploads: files::Uploads,
    /// Verifies JWTs from an existing backend; `None`: only `pv_` tokens sign in.
    pub jwt: Option<jwt::JwtVerifier>,
    /// Web pages that may open a WebSocket (`--allowed-origins`); `None`: every origin.
    pub allowed_origins: Option<allowed_origins::AllowedOrigins>,
    /// WebSocket connections per user, per client address and in all.
    pub connections: Arc<crate::limits::connections::ConnectionLimits>,
    /// Proxies whose `X-Forwarded-For` names the client (`--trusted-proxies`).
    pub trusted_proxies: client_addr::TrustedProxies,
    /// What notifications this node can deliver (`/devices`, `/push/vapid`).
    pub push: devices::PushOffer,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .route("/ws", web::get().to(ws::upgrade))
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(metrics::metrics))
        .configure(files::routes)
        .configure(devices::routes)
        // Before the admin API's scope: `/admin/` itself is the moderators' page.
        .configure(web_client::routes)
        .configure(admin::routes);
}
