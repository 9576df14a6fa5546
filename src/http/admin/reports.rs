//! `/admin/reports`: reports of messages, made by members or by `flag` content rules, each
//! with the message as it was when reported; and resolving one: dismiss it, delete the
//! message, or deactivate its sender, each in one transaction with the report's new state
//! and the audit entries (docs/safety.md).

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::disconnect::close_revoked;
use super::{next_cursor, Answer, PageQuery};
use crate::db::conversation::{ConversationError, Deleter};
use crate::db::models::UserKind;
use crate::db::safety::{
    AuditEntry, Moderation, ReportRow, ReportStatus, Resolution, ResolveAction,
};
use crate::db::StoreError;
use crate::error::{ErrorCode, ProtoError};
use crate::http::auth::Admin;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json_body::{CheckedBody, Json};
use crate::http::AppState;
use crate::model::MessageId;
use crate::protocol::views::UserView;
use crate::safety::MAX_NOTE_CHARS;

/// `?status=open|resolved&limit=&after=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `open` or `resolved`; both when absent.
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// Continue after this report (the previous page's `next`).
    pub after: Option<String>,
}

/// A report: the message as it was when reported.
#[derive(Serialize, ToSchema)]
pub struct ReportView {
    /// `rp_N`.
    pub id: String,
    /// `open` or `resolved`.
    pub status: String,
    /// `spam`, `abuse`, `sexual`, `self_harm`, `other`, or `rule` (a content rule).
    pub reason: String,
    pub note: Option<String>,
    /// Null for a report made by a content rule.
    pub reporter: Option<UserView>,
    /// `r_N`.
    pub room: String,
    /// The Message as reported.
    #[schema(value_type = Object)]
    pub message: serde_json::Value,
    /// RFC 3339 UTC with milliseconds.
    pub created: String,
    /// Null while open.
    #[schema(value_type = Option<Object>)]
    pub resolution: Option<serde_json::Value>,
}

/// A page of reports, oldest first.
#[derive(Serialize, ToSchema)]
pub struct ReportPage {
    /// The cursor of the next page (`after`); null on the last page.
    pub next: Option<String>,
    pub reports: Vec<ReportView>,
}

/// One report.
#[derive(Serialize, ToSchema)]
pub struct ReportBody {
    pub report: ReportView,
}

/// What to do with a report.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolveChoice {
    /// Nothing is wrong: close it.
    Dismiss,
    /// Delete the message (it becomes a tombstone for everyone).
    DeleteMessage,
    /// Deactivate the message's sender (a person): their tokens stop working and their
    /// connections close with 4001.
    DeactivateSender,
}

/// `POST /admin/reports/{id}/resolve` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub action: ResolveChoice,
    /// At most 1,000 code points.
    pub note: Option<String>,
}

impl CheckedBody for Resolve {
    type Checked = (ResolveAction, Option<String>);

    fn check(self) -> Result<(ResolveAction, Option<String>), ProtoError> {
        if let Some(note) = &self.note {
            if note.chars().count() > MAX_NOTE_CHARS {
                return Err(ProtoError::bad_request(format!(
                    "note: at most {MAX_NOTE_CHARS} characters"
                )));
            }
        }
        let action = match self.action {
            ResolveChoice::Dismiss => ResolveAction::Dismiss,
            ResolveChoice::DeleteMessage => ResolveAction::DeleteMessage,
            ResolveChoice::DeactivateSender => ResolveAction::DeactivateSender,
        };
        Ok((action, self.note))
    }
}

/// `rp_N` as its number.
pub fn parse_report_id(text: &str) -> Option<i64> {
    let digits = text.strip_prefix("rp_")?;
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

async fn view(state: &AppState, row: ReportRow) -> Result<ReportView, ApiError> {
    let reporter = match row.reporter_id {
        Some(id) => state
            .store
            .user(id)
            .await?
            .map(|user| UserView::sender(&user)),
        None => None,
    };
    let parse = |text: &str| {
        serde_json::from_str::<serde_json::Value>(text).map_err(|err| {
            ProtoError::internal(format!("report rp_{} is not readable: {err}", row.id))
        })
    };
    Ok(ReportView {
        id: format!("rp_{}", row.id),
        message: parse(&row.message)?,
        resolution: row.resolution.as_deref().map(parse).transpose()?,
        status: row.status,
        reason: row.reason,
        note: row.note,
        reporter,
        room: row.room_id.to_string(),
        created: crate::clock::rfc3339_ms(row.created_ms),
    })
}

/// Reports, oldest first.
#[utoipa::path(
    get,
    operation_id = "reports_list",
    path = "/admin/reports",
    tag = "safety",
    responses(
        (status = 200, description = "A page of reports", body = ReportPage),
        (status = 400, description = "bad_request: `status` not open or resolved, `limit` out of range or `after` not a report id", body = ErrorBody),
    ),
)]
pub async fn list(Admin(state): Admin, query: web::Query<ReportQuery>) -> Answer {
    let status =
        match query.status.as_deref() {
            None => None,
            Some(text) => Some(ReportStatus::parse(text).ok_or_else(|| {
                ProtoError::bad_request("`status` must be \"open\" or \"resolved\"")
            })?),
        };
    let page = PageQuery {
        limit: query.limit,
        after: query.after.clone(),
    };
    let limit = page.limit()?;
    let after = page.after(parse_report_id)?;
    let mut rows = state.store.reports(status, after, limit).await?;
    let next = next_cursor(&mut rows, limit, |row| format!("rp_{}", row.id));
    let mut reports = Vec::with_capacity(rows.len());
    for row in rows {
        reports.push(view(&state, row).await?);
    }
    Ok(HttpResponse::Ok().json(ReportPage { next, reports }))
}

/// Resolves an open report; audited as `resolve` (with `delete` or `deactivate` for what
/// it did), in the transaction of the change.
#[utoipa::path(
    post,
    operation_id = "reports_resolve",
    path = "/admin/reports/{id}/resolve",
    tag = "safety",
    responses(
        (status = 200, description = "Resolved", body = ReportBody),
        (status = 400, description = "bad_request: an unknown action, a note over 1,000 characters; `deactivate_sender` of a bot's or the system's message", body = ErrorBody),
        (status = 404, description = "not_found: no such report", body = ErrorBody),
        (status = 409, description = "conflict: the report is resolved already, or the sender is deactivated already", body = ErrorBody),
    ),
)]
pub async fn resolve(Admin(state): Admin, id: web::Path<String>, body: Json<Resolve>) -> Answer {
    let (action, note) = body.into_inner();
    let report_id = parse_report_id(&id).ok_or_else(|| ProtoError::not_found("no such report"))?;
    let row = match state.store.report(report_id).await {
        Err(StoreError::NotFound(_)) => return Err(ProtoError::not_found("no such report").into()),
        found => found?,
    };
    let resolved_already =
        || ProtoError::new(ErrorCode::Conflict, "the report is resolved already");
    if row.status != ReportStatus::Open.as_str() {
        return Err(resolved_already().into());
    }
    let resolution = Resolution {
        action: action.as_str().to_string(),
        note: note.clone(),
        at: crate::clock::rfc3339_ms(crate::clock::now_ms()),
    };
    let resolution =
        serde_json::to_string(&resolution).map_err(|err| ProtoError::internal(err.to_string()))?;
    let message = MessageId {
        room: row.room_id,
        seq: row.seq,
    }
    .to_string();
    let audit = AuditEntry::admin("resolve")
        .room(row.room_id)
        .target(format!("rp_{report_id}"))
        .detail(serde_json::json!({
            "action": action.as_str(),
            "note": note,
            "message": message,
        }));
    let moderation = Moderation::audit(audit).resolving(report_id, resolution);
    match action {
        ResolveAction::Dismiss => match state.store.record_moderation(moderation).await {
            Err(StoreError::NotFound(_)) => return Err(resolved_already().into()),
            done => done?,
        },
        ResolveAction::DeleteMessage => {
            let delete = AuditEntry::admin("delete")
                .room(row.room_id)
                .target(message.clone())
                .detail(serde_json::json!({ "report": format!("rp_{report_id}") }));
            let moderation = moderation.and(delete);
            let deleted = state
                .store
                .delete_message_with(row.room_id, row.seq, Deleter::Admin, Some(moderation))
                .await;
            match deleted {
                Ok(_) => {}
                Err(ConversationError::Store(StoreError::NotFound("row"))) => {
                    return Err(resolved_already().into())
                }
                Err(ConversationError::NotFound(what)) => {
                    return Err(ProtoError::new(
                        ErrorCode::Conflict,
                        format!("the {what} is gone (its room was removed); dismiss the report"),
                    )
                    .into())
                }
                Err(ConversationError::Store(err)) => return Err(err.into()),
                Err(err) => return Err(ProtoError::internal(err.to_string()).into()),
            }
        }
        ResolveAction::DeactivateSender => {
            let sender = state.store.user(row.sender_id).await?;
            if sender.as_ref().map(|user| user.kind) != Some(UserKind::User) {
                return Err(ProtoError::bad_request(
                    "the message was sent by a bot or the system, not a person: delete it instead",
                )
                .into());
            }
            let deactivate = AuditEntry::admin("deactivate")
                .target(row.sender_id.to_string())
                .detail(serde_json::json!({ "report": format!("rp_{report_id}") }));
            let moderation = moderation.and(deactivate);
            match state
                .store
                .deactivate_user_with(row.sender_id, moderation)
                .await
            {
                Err(StoreError::NotFound("user")) => {
                    return Err(ProtoError::new(
                        ErrorCode::Conflict,
                        "the sender is deactivated already; dismiss the report",
                    )
                    .into())
                }
                Err(StoreError::NotFound(_)) => return Err(resolved_already().into()),
                done => done?,
            }
            close_revoked(&state, row.sender_id, None, "your account was deactivated").await?;
        }
    }
    log::info!("admin: resolved report rp_{report_id}: {}", action.as_str());
    let row = state.store.report(report_id).await?;
    Ok(HttpResponse::Ok().json(ReportBody {
        report: view(&state, row).await?,
    }))
}
