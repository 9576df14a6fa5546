//! `GET /healthz`: whether the store answers, for load balancers and process managers.

use actix_web::{web, HttpResponse};
use serde_json::json;

use super::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ok" })),
        Err(err) => {
            log::warn!("health check: {err}");
            HttpResponse::ServiceUnavailable().json(json!({ "status": "unavailable" }))
        }
    }
}
