//! `GET /admin/audit`: the audit log, newest first: every moderation action, written in the
//! transaction of the change it records (docs/safety.md).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::{next_cursor, Answer, PageQuery};
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::error::ErrorBody;

/// One action.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    /// `au_N`.
    pub id: String,
    /// RFC 3339 UTC with milliseconds.
    pub at: String,
    /// `u_N` (a group's owner or moderator), or `admin` (the admin API).
    pub actor: String,
    /// `kick`, `deactivate`, `resolve`, `delete`, `rules`, …
    pub action: String,
    /// `r_N`, or null.
    pub room: Option<String>,
    /// The user (`u_N`), message (`m_R_S`) or report (`rp_N`) acted on, or null.
    pub target: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A page of the audit log, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditView>,
    /// The cursor of the next (older) page (`after`); null on the last page.
    pub next: Option<String>,
}

fn parse_audit_id(text: &str) -> Option<i64> {
    let digits = text.strip_prefix("au_")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    operation_id = "audit_list",
    path = "/admin/audit",
    tag = "safety",
    responses(
        (status = 200, description = "A page of entries, newest first", body = AuditPage),
        (status = 400, description = "bad_request: `limit` out of range or `after` not an entry id", body = ErrorBody),
    ),
)]
pub async fn list(Admin(state): Admin, query: web::Query<PageQuery>) -> Answer {
    let limit = query.limit()?;
    let before = query.after(parse_audit_id)?;
    let mut rows = state.store.audit_entries(before, limit).await?;
    let next = next_cursor(&mut rows, limit, |row| format!("au_{}", row.id));
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let detail = serde_json::from_str(&row.detail).map_err(|err| {
            ProtoError::internal(format!("audit entry au_{} is not readable: {err}", row.id))
        })?;
        entries.push(AuditView {
            id: format!("au_{}", row.id),
            at: crate::clock::rfc3339_ms(row.at_ms),
            actor: row
                .actor_id
                .map_or_else(|| "admin".to_string(), |id| id.to_string()),
            action: row.action,
            room: row.room_id.map(|id| id.to_string()),
            target: row.target,
            detail,
        });
    }
    Ok(HttpResponse::Ok().json(AuditPage { entries, next }))
}
