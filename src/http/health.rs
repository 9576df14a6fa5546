//! `GET /healthz`: whether the store answers, for load balancers and process managers.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

/// Whether the store answers (no token needed).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "`{\"status\":\"ok\"}`"),
        (status = 503, description = "`{\"status\":\"unavailable\"}`: the store is down"),
    ),
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok" })),
        Err(err) => {
            log::warn!("health check: {err}");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
        }
    }
}
