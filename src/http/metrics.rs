//! `GET /metrics`: Prometheus text for operators (admin token required).

use actix_web::{web, HttpResponse};

use super::auth::Admin;
use super::error::ApiError;
use super::AppState;
use crate::actors::hub::Stats;
use crate::error::ProtoError;
use crate::metrics::METRICS;

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "Prometheus text: connections, users online, rooms, messages stored and delivered, frames, errors and closes by code, ack, commit and webhook latency", content_type = "text/plain"),
        (status = 401, description = "unauthorized: the admin token is missing or wrong"),
    ),
)]
pub async fn metrics(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let stats = state.hub.send(Stats).await?;
    METRICS.users_online.set(stats.users_online as i64);
    METRICS.rooms_active.set(stats.rooms_active as i64);
    let text = METRICS
        .render()
        .map_err(|err| ProtoError::internal(format!("the metrics cannot be written: {err}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
