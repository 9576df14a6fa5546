//! `GET /healthz`: whether the store can commit, for load balancers and process managers.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

/// Whether the store can commit (no token needed): a one-row write succeeds and no batch of
/// messages failed in the last 10 s without a commit since (a full disk, a lost database).
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "`{\"status\":\"ok\"}`"),
        (status = 503, description = "`{\"status\":\"unavailable\",\"reason\":…}`: the store cannot commit"),
    ),
)]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.can_commit().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok" })),
        Err(err) => {
            log::warn!("health check: {err}");
            HttpResponse::ServiceUnavailable()
                // The store's own words stay in the log: no token is needed here.
                .json(json!({ "status": "unavailable", "reason": "the store cannot commit" }))
        }
    }
}
