//! `GET /metrics`: Prometheus text for operators (the metrics token or the admin token).

use actix_web::{web, HttpResponse};

use super::auth::MetricsReader;
use super::error::ApiError;
use super::AppState;
use crate::actors::hub::Stats;
use crate::error::ProtoError;
use crate::error::{Answered, Mailbox};
use crate::metrics::METRICS;

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses(
        (status = 200, description = "Prometheus text: connections, users online, rooms, messages stored and delivered, frames, errors and closes by code, ack, commit and webhook latency", content_type = "text/plain"),
        (status = 401, description = "unauthorized: neither the metrics token (--metrics-token) nor the admin token was given"),
    ),
)]
pub async fn metrics(
    _: MetricsReader,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let stats = state.hub.send(Stats).await.answered_by(Mailbox::Hub)?;
    METRICS.users_online.set(stats.users_online as i64);
    METRICS.rooms_active.set(stats.rooms_active as i64);
    let text = METRICS
        .render()
        .map_err(|err| ProtoError::internal(format!("the metrics cannot be written: {err}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
