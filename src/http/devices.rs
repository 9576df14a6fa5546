//! `/devices` and `/push/vapid` (docs/protocol.md section 12): a user registers, lists and
//! deletes the devices their notifications go to, with their token as for `/files`
//! (`Authorization: Bearer` or `?token=`); `GET /push/vapid` answers the server's VAPID
//! public key to anyone (a browser needs it to subscribe).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::auth::{client_token, sign_in};
use super::error::ApiError;
use super::json_body::{CheckedBody, Json};
use super::AppState;
use crate::db::devices::{DeviceRow, Registered};
use crate::db::models::UserRow;
use crate::error::ProtoError;
use crate::notify::device::{DeviceKind, Registration};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/push/vapid", web::get().to(vapid))
        .route("/devices", web::post().to(register))
        .route("/devices", web::get().to(list))
        .route("/devices/{id}", web::delete().to(remove));
}

/// What this node can deliver to (from its flags).
#[derive(Clone, Debug, Default)]
pub struct PushOffer {
    /// The VAPID public key (uncompressed P-256, base64url).
    pub vapid_public_key: String,
    /// `--push-insecure-endpoints`.
    pub insecure_endpoints: bool,
    pub fcm: bool,
    pub apns: bool,
}

/// A device on the wire: `{"id":"d_…","kind":"webpush","created":"…"}` (never its endpoint,
/// token or keys); also in `GET /admin/users/{id}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// `d_N`.
    id: String,
    /// `webpush`, `fcm` or `apns`.
    #[schema(value_type = String)]
    kind: DeviceKind,
    /// When it was registered: RFC 3339 UTC with milliseconds.
    created: String,
}

impl DeviceView {
    pub fn of(row: &DeviceRow) -> Result<DeviceView, ApiError> {
        Ok(DeviceView {
            id: format!("d_{}", row.id),
            kind: row.kind()?,
            created: crate::clock::rfc3339_ms(row.created_ms),
        })
    }
}

async fn caller(req: &HttpRequest, state: &AppState) -> Result<UserRow, ApiError> {
    let token = client_token(req).ok_or_else(ApiError::unauthorized)?;
    Ok(sign_in(state, &token).await?.user)
}

async fn vapid(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "public_key": state.push.vapid_public_key }))
}

/// `POST /devices` body: `kind`, then what that kind needs.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceBody {
    kind: String,
    endpoint: Option<String>,
    keys: Option<DeviceKeys>,
    token: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeviceKeys {
    p256dh: String,
    auth: String,
}

impl CheckedBody for DeviceBody {
    type Checked = DeviceBody;

    /// Checked with what the node offers, in [`registration`].
    fn check(self) -> Result<DeviceBody, ProtoError> {
        Ok(self)
    }
}

/// Reads a registration body: the kind, then what that kind needs.
fn registration(body: DeviceBody, offer: &PushOffer) -> Result<Registration, ProtoError> {
    let kind = DeviceKind::parse(&body.kind).ok_or_else(|| {
        ProtoError::bad_request("field `kind` must be \"webpush\", \"fcm\" or \"apns\"")
    })?;
    let refused = |err: crate::notify::device::Refusal| ProtoError::bad_request(err.to_string());
    let missing = |name: &str| ProtoError::bad_request(format!("missing field `{name}`"));
    match kind {
        DeviceKind::Webpush => {
            let endpoint = body.endpoint.ok_or_else(|| missing("endpoint"))?;
            let keys = body.keys.ok_or_else(|| {
                ProtoError::bad_request("field `keys` must be an object with `p256dh` and `auth`")
            })?;
            Registration::web_push(
                &endpoint,
                &keys.p256dh,
                &keys.auth,
                offer.insecure_endpoints,
            )
            .map_err(refused)
        }
        DeviceKind::Fcm | DeviceKind::Apns => {
            let configured = match kind {
                DeviceKind::Fcm => offer.fcm,
                _ => offer.apns,
            };
            if !configured {
                return Err(ProtoError::bad_request(format!(
                    "{} is not configured on this server: it cannot deliver to such a device",
                    kind.as_str()
                )));
            }
            Registration::token(kind, &body.token.ok_or_else(|| missing("token"))?).map_err(refused)
        }
    }
}

async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<DeviceBody>,
) -> Result<HttpResponse, ApiError> {
    let user = caller(&req, &state).await?;
    let registration = registration(body.into_inner(), &state.push)?;
    let (status, row) = match state.store.register_device(user.id, registration).await? {
        Registered::New(row) => (actix_web::http::StatusCode::CREATED, row),
        Registered::Again(row) => (actix_web::http::StatusCode::OK, row),
    };
    Ok(HttpResponse::build(status).json(json!({ "device": DeviceView::of(&row)? })))
}

async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let user = caller(&req, &state).await?;
    let devices = state
        .store
        .devices_of(user.id)
        .await?
        .iter()
        .map(DeviceView::of)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(json!({ "devices": devices })))
}

async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = caller(&req, &state).await?;
    let not_found = || ApiError(ProtoError::not_found("no such device"));
    let device_id = id
        .strip_prefix("d_")
        .and_then(|digits| digits.parse::<i64>().ok())
        // Only the id as this server writes it: `d_01` names nothing.
        .filter(|device| *device > 0 && format!("d_{device}") == *id)
        .ok_or_else(not_found)?;
    state
        .store
        .delete_device(user.id, device_id)
        .await
        .map_err(|err| match err {
            crate::db::StoreError::NotFound(_) => not_found(),
            other => other.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}
