//! `/admin/broadcast` and `/admin/stats`.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::actors::hub::{Broadcast, Stats};
use crate::http::auth::Admin;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::protocol::fields::Fields;
use crate::protocol::{command, Event};

pub async fn broadcast(
    _: Admin,
    state: web::Data<AppState>,
    notice: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let object = super::object(notice.into_inner())?;
    let body = command::body(Fields(&object).string("body")?)?;
    let frame = Event::Notice { body }.frame();
    let delivered = state.hub.send(Broadcast { frame }).await?;
    Ok(HttpResponse::Ok().json(json!({ "delivered": delivered })))
}

pub async fn stats(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let hub = state.hub.send(Stats).await?;
    let messages_total = state.store.count_messages().await?;
    Ok(HttpResponse::Ok().json(json!({
        "connections": hub.connections,
        "users_online": hub.users_online,
        "rooms_active": hub.rooms_active,
        "messages_total": messages_total,
        "uptime_s": hub.uptime_s,
    })))
}
