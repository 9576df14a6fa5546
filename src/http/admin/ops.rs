//! `/admin/broadcast` and `/admin/stats`, counted across every node.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::ToSchema;

use super::requests::BroadcastNotice;
use super::{live, Answer};
use crate::actors::hub::{Broadcast, Stats};
use crate::error::{Answered, Mailbox};
use crate::http::auth::Admin;
use crate::http::error::ErrorBody;
use crate::http::json_body::Json;
use crate::protocol::Event;

#[derive(Serialize, ToSchema)]
pub struct Delivered {
    /// Connections the `notice` was queued for: this node's, and the other nodes' live
    /// connections (docs/scale-out.md).
    pub delivered: u64,
}

/// The cluster's figures (docs/scale-out.md says how fresh each is).
#[derive(Serialize, ToSchema)]
pub struct ServerStats {
    /// Open connections on every node.
    pub connections: u64,
    /// Users with a connection on any node, each counted once.
    pub users_online: usize,
    /// Room actors running on every node (the others' as of their last heartbeat).
    pub rooms_active: usize,
    pub messages_total: i64,
    /// This node's.
    pub uptime_s: u64,
}

/// Send a `notice` event to every connection on every node.
#[utoipa::path(
    post,
    operation_id = "ops_broadcast",
    path = "/admin/broadcast",
    tag = "ops",
    responses(
        (status = 200, description = "Sent", body = Delivered),
        (status = 400, description = "bad_request: no body", body = ErrorBody),
        (status = 413, description = "too_large: a body over 4,000 characters", body = ErrorBody),
    ),
)]
pub async fn broadcast(Admin(state): Admin, notice: Json<BroadcastNotice>) -> Answer {
    let body = notice.into_inner();
    // Read first: without the other nodes' counts nothing is sent (503).
    let elsewhere = live::counts(&state).await?.connections_elsewhere();
    let frame = Event::Notice { body }.frame();
    let here = state
        .hub
        .send(Broadcast { frame })
        .await
        .answered_by(Mailbox::Hub)?;
    Ok(HttpResponse::Ok().json(Delivered {
        delivered: here as u64 + elsewhere,
    }))
}

/// Connections, users online, active rooms, stored messages and uptime.
#[utoipa::path(
    get,
    operation_id = "ops_stats",
    path = "/admin/stats",
    tag = "ops",
    responses((status = 200, description = "The figures", body = ServerStats)),
)]
pub async fn stats(Admin(state): Admin) -> Answer {
    let hub = state.hub.send(Stats).await.answered_by(Mailbox::Hub)?;
    let messages_total = state.store.count_messages().await?;
    let live = live::counts(&state).await?;
    Ok(HttpResponse::Ok().json(ServerStats {
        connections: live.connections(),
        users_online: live.users_online(),
        rooms_active: hub.rooms_active,
        messages_total,
        uptime_s: hub.uptime_s,
    }))
}
