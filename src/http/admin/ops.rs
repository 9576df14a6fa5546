//! `/admin/broadcast` and `/admin/stats`.

use crate::http::json_body::JsonBody;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::actors::hub::{Broadcast, Stats};
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::error::ErrorBody;
use crate::http::AppState;
use crate::protocol::fields::Fields;
use crate::protocol::{command, Event};

/// `POST /admin/broadcast` body.
#[derive(ToSchema)]
pub struct BroadcastNotice {
    /// Plain text, 1 to 4,000 characters; not stored.
    pub body: String,
}

#[derive(Serialize, ToSchema)]
pub struct Delivered {
    /// Connections the `notice` was queued for.
    pub delivered: usize,
}

#[derive(Serialize, ToSchema)]
pub struct ServerStats {
    pub connections: usize,
    pub users_online: usize,
    pub rooms_active: usize,
    pub messages_total: i64,
    pub uptime_s: u64,
}

/// Send a `notice` event to every connection.
#[utoipa::path(
    post,
    operation_id = "ops_broadcast",
    path = "/admin/broadcast",
    tag = "ops",
    request_body = BroadcastNotice,
    responses(
        (status = 200, description = "Sent", body = Delivered),
        (status = 400, description = "bad_request: no body", body = ErrorBody),
        (status = 413, description = "too_large: a body over 4,000 characters", body = ErrorBody),
    ),
)]
pub async fn broadcast(
    _: Admin,
    state: web::Data<AppState>,
    notice: JsonBody,
) -> Result<HttpResponse, ApiError> {
    let object = super::object(notice.into_inner())?;
    let body = command::body(Fields(&object).string("body")?)?;
    let frame = Event::Notice { body }.frame();
    let delivered = state.hub.send(Broadcast { frame }).await?;
    Ok(HttpResponse::Ok().json(Delivered { delivered }))
}

/// Connections, users online, active rooms, stored messages and uptime.
#[utoipa::path(
    get,
    operation_id = "ops_stats",
    path = "/admin/stats",
    tag = "ops",
    responses((status = 200, description = "The figures", body = ServerStats)),
)]
pub async fn stats(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let hub = state.hub.send(Stats).await?;
    let messages_total = state.store.count_messages().await?;
    Ok(HttpResponse::Ok().json(ServerStats {
        connections: hub.connections,
        users_online: hub.users_online,
        rooms_active: hub.rooms_active,
        messages_total,
        uptime_s: hub.uptime_s,
    }))
}
