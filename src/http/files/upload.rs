//! `POST /files?name=NAME`: the body is the file. It is read chunk by chunk against the
//! size limit (an upload over it is refused the moment it passes the limit, never held
//! whole), within an idle and a whole-body deadline (408), taking the memory it holds from
//! a budget shared by all uploads (503 when it runs out), with at most a few uploads per
//! user at once (429); then typed from its bytes, given a thumbnail on a blocking thread when
//! it is an image, committed with its bytes, and only then answered 201 `{"file":File}`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use governor::clock::{Clock, DefaultClock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::{caller, Uploads};
use crate::db::files::NewFile;
use crate::db::models::FileRow;
use crate::error::{ErrorCode, ProtoError};
use crate::files::detect::{self, Inspected};
use crate::http::error::ApiError;
use crate::http::error::ErrorBody;
use crate::http::AppState;
use crate::metrics::METRICS;
use crate::model::UserId;
use crate::protocol::ids::FileId;
use crate::protocol::views::FileView;

/// The longest file name, in code points.
pub const MAX_NAME_CHARS: usize = 255;
/// How long an upload waits for memory to hold its next bytes before it gets 503.
const MEMORY_WAIT: Duration = Duration::from_secs(10);
/// What an upload refused for lack of memory or of a slot is told to wait.
const RETRY_AFTER_MS: u64 = 1_000;

#[derive(Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The file's name as the user knows it, 1 to 255 code points, no control characters.
    pub name: Option<String>,
    /// The user's token, when the request cannot carry `Authorization: Bearer`.
    pub token: Option<String>,
}

/// `{"file":File}`
#[derive(Serialize, ToSchema)]
pub struct FileBody {
    pub file: FileView,
}

/// Upload a file.
#[utoipa::path(
    post,
    path = "/files",
    tag = "files",
    params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The raw bytes; the declared Content-Type is ignored"),
    security(("user_token" = [])),
    responses(
        (status = 201, description = "Stored", body = FileBody),
        (status = 400, description = "bad_request: an empty body, or a missing or bad name", body = ErrorBody),
        (status = 401, description = "unauthorized: no token, or an unknown one", body = ErrorBody),
        (status = 408, description = "timeout: the body stopped coming (nothing for 10 s by default), or was not all in within 120 s; nothing is kept", body = ErrorBody),
        (status = 413, description = "too_large: over the size limit (10 MiB by default), an image with too many pixels, or over the quota of uploads no message carries (the message names it); nothing is kept", body = ErrorBody),
        (status = 429, description = "rate_limited: too many uploads a minute, too many of this user's at once, or over the bytes a day quota (the message names it); `Retry-After` says when to retry", body = ErrorBody),
        (status = 503, description = "unavailable: the store could not commit, or uploads hold all the memory they may; nothing is kept", body = ErrorBody),
    ),
)]
pub async fn upload(
    req: HttpRequest,
    mut body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = caller(&req, &state).await?;
    let query = web::Query::<UploadQuery>::from_query(req.query_string())
        .map_err(|err| ProtoError::bad_request(format!("bad query: {err}")))?;
    let name = file_name(query.name.as_deref())?;
    let uploads = &state.uploads;
    check_rate(uploads, user.id)?;
    let max = uploads.settings.max_bytes;
    if declared_length(&req).is_some_and(|length| length > max as u64) {
        return Err(over_limit(max).into());
    }
    // Refused before the body is read when the quota is already used up.
    let declared = declared_length(&req).map_or(1, |length| length.max(1) as i64);
    check_quota(&state, user.id, declared).await?;

    let _slot = uploads.slot(user.id).ok_or_else(|| {
        refused("user_slots");
        ProtoError {
            retry_after_ms: Some(RETRY_AFTER_MS),
            ..ProtoError::new(
                ErrorCode::RateLimited,
                format!(
                    "you have {} uploads in progress, the most at once; wait for one to finish",
                    uploads.settings.uploads_at_once
                ),
            )
        }
    })?;
    let Body {
        bytes,
        sha256,
        memory: _memory,
    } = read_body(&mut body, uploads).await?;
    if bytes.is_empty() {
        return Err(ProtoError::bad_request("the body is empty: send the file's bytes").into());
    }
    let (bytes, inspected) = {
        let _decoding = uploads
            .decoding
            .acquire()
            .await
            .map_err(|_| ProtoError::unavailable("the server is stopping"))?;
        let bounds = uploads.settings.image;
        web::block(move || {
            let inspected = detect::inspect(&bytes, bounds);
            (bytes, inspected)
        })
        .await
        .map_err(|err| ProtoError::internal(format!("inspecting the upload failed: {err}")))?
    };
    let Inspected {
        mime,
        dimensions,
        thumbnail,
    } = inspected.map_err(|refused| ProtoError::too_large(refused.to_string()))?;

    let size = bytes.len() as i64;
    check_quota(&state, user.id, size).await?;
    let (thumbnail_mime, thumbnail) = match thumbnail {
        Some(thumbnail) => (Some(thumbnail.mime.to_string()), Some(thumbnail.bytes)),
        None => (None, None),
    };
    let row = FileRow {
        id: FileId::random().into_key(),
        uploader_id: user.id,
        name,
        mime,
        size,
        sha256,
        width: dimensions.and_then(|(width, _)| i32::try_from(width).ok()),
        height: dimensions.and_then(|(_, height)| i32::try_from(height).ok()),
        thumbnail_mime,
        created_ms: crate::clock::now_ms(),
    };
    let view = FileView::from_row(&row);
    state
        .store
        .insert_file(NewFile {
            row,
            bytes,
            thumbnail,
        })
        .await
        .inspect_err(|err| log::warn!("{}: an upload was not stored: {err}", user.id))?;
    METRICS.files_uploaded.inc();
    METRICS.file_bytes_stored.inc_by(size as u64);
    Ok(HttpResponse::Created().json(FileBody { file: view }))
}

/// An upload's body, read whole, and the memory it holds.
struct Body {
    bytes: Vec<u8>,
    /// Its SHA-256, hex.
    sha256: String,
    memory: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Reads the body within the size limit and the deadlines, taking memory from the budget as
/// it grows (what the vector has allocated, at most the size limit).
async fn read_body(body: &mut web::Payload, uploads: &Uploads) -> Result<Body, ProtoError> {
    let settings = &uploads.settings;
    let max = settings.max_bytes;
    let deadline = tokio::time::Instant::now() + settings.upload_deadline;
    let mut bytes: Vec<u8> = Vec::new();
    let mut memory: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let mut sha256 = Sha256::new();
    loop {
        let idle_until = tokio::time::Instant::now() + settings.upload_idle;
        let Ok(next) = tokio::time::timeout_at(idle_until.min(deadline), body.next()).await else {
            return Err(if idle_until < deadline {
                refused("idle");
                ProtoError::new(
                    ErrorCode::Timeout,
                    format!(
                        "the upload sent nothing for {} s; nothing was kept",
                        settings.upload_idle.as_secs()
                    ),
                )
            } else {
                refused("deadline");
                ProtoError::new(
                    ErrorCode::Timeout,
                    format!(
                        "the upload was not all in within {} s; nothing was kept",
                        settings.upload_deadline.as_secs()
                    ),
                )
            });
        };
        let Some(chunk) = next else { break };
        let chunk =
            chunk.map_err(|err| ProtoError::bad_request(format!("the upload broke off: {err}")))?;
        let needed = bytes.len() + chunk.len();
        if needed > max {
            return Err(over_limit(max));
        }
        if needed > bytes.capacity() {
            // Doubling, as a vector grows, but never past the limit; the memory is taken first.
            let capacity = needed.max(bytes.capacity() * 2).max(64 * 1024).min(max);
            let held = memory.as_ref().map_or(0, |permit| permit.num_permits());
            let more = take_memory(&uploads.memory, capacity.saturating_sub(held)).await?;
            match &mut memory {
                Some(permit) => permit.merge(more),
                None => memory = Some(more),
            }
            bytes.reserve_exact(capacity - bytes.len());
        }
        sha256.update(&chunk);
        bytes.extend_from_slice(&chunk);
    }
    Ok(Body {
        bytes,
        sha256: hex::encode(sha256.finalize()),
        memory,
    })
}

/// `amount` bytes of the uploads' memory, waiting at most [`MEMORY_WAIT`] for them.
async fn take_memory(
    memory: &Arc<tokio::sync::Semaphore>,
    amount: usize,
) -> Result<tokio::sync::OwnedSemaphorePermit, ProtoError> {
    let busy = || {
        refused("busy");
        ProtoError {
            retry_after_ms: Some(RETRY_AFTER_MS),
            ..ProtoError::unavailable(
                "uploads in progress hold all the memory the server gives them; retry",
            )
        }
    };
    let amount = u32::try_from(amount).map_err(|_| busy())?;
    tokio::time::timeout(MEMORY_WAIT, memory.clone().acquire_many_owned(amount))
        .await
        .map_err(|_| busy())?
        .map_err(|_| ProtoError::unavailable("the server is stopping"))
}

/// Counts an upload refused while its body was read, by cause.
fn refused(cause: &str) {
    METRICS.uploads_refused.with_label_values(&[cause]).inc();
}

/// The name as given, if it is one: 1 to 255 code points, not blank, no control characters.
fn file_name(name: Option<&str>) -> Result<String, ProtoError> {
    let name =
        name.ok_or_else(|| ProtoError::bad_request("name is required: POST /files?name=NAME"))?;
    if name.trim().is_empty() {
        return Err(ProtoError::bad_request("name must not be blank"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(ProtoError::bad_request(format!(
            "name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ProtoError::bad_request(
            "name must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

fn check_rate(uploads: &Uploads, user: UserId) -> Result<(), ProtoError> {
    if uploads.per_user.len() > super::TRACKED_USERS {
        uploads.per_user.retain_recent();
    }
    uploads.per_user.check_key(&user).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        let retry_after_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        ProtoError {
            retry_after_ms: Some(retry_after_ms),
            ..ProtoError::new(ErrorCode::RateLimited, "too many uploads; slow down")
        }
    })
}

/// The user's quotas with an upload of `size` bytes more: uploads no message carries (how
/// many, how many bytes: 413) and bytes a day (429 until the oldest of the day's uploads is
/// a day old). Counted in the store, so on every node; uploads made at the same moment may
/// pass it by what they hold together.
async fn check_quota(state: &AppState, user: UserId, size: i64) -> Result<(), ProtoError> {
    const DAY_MS: i64 = 24 * 3_600_000;
    let settings = &state.uploads.settings;
    let now = crate::clock::now_ms();
    let usage = state.store.upload_usage(user, now - DAY_MS).await?;
    if usage.unattached_files >= settings.max_unattached_files {
        return Err(ProtoError::too_large(format!(
            "quota: you keep {} uploads that no message carries, the most allowed \
             (--max-unattached-uploads); send them, or wait a day for them to go",
            usage.unattached_files
        )));
    }
    if usage.unattached_bytes.saturating_add(size) > settings.max_unattached_bytes {
        return Err(ProtoError::too_large(format!(
            "quota: uploads that no message carries would take {} bytes, over the {} allowed \
             (--max-unattached-upload-bytes); send them, or wait a day for them to go",
            usage.unattached_bytes.saturating_add(size),
            settings.max_unattached_bytes
        )));
    }
    if usage.recent_bytes.saturating_add(size) > settings.max_bytes_per_day {
        let wait = usage
            .oldest_recent_ms
            .map_or(DAY_MS, |oldest| oldest + DAY_MS - now)
            .max(1);
        return Err(ProtoError::rate_limited_because(
            format!(
                "quota: {} bytes uploaded in 24 hours would pass the {} allowed \
                 (--max-upload-bytes-per-day)",
                usage.recent_bytes.saturating_add(size),
                settings.max_bytes_per_day
            ),
            wait.unsigned_abs(),
        ));
    }
    Ok(())
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn over_limit(max: usize) -> ProtoError {
    ProtoError::too_large(format!(
        "the file is larger than {max} bytes; nothing was kept"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(Some("triangle.jpg")), Ok("triangle.jpg".into()));
        assert_eq!(
            file_name(Some(&"é".repeat(255))).map(|n| n.chars().count()),
            Ok(255)
        );
        for bad in [None, Some(""), Some("   "), Some("a\u{0}b"), Some("a\nb")] {
            assert_eq!(
                file_name(bad).map_err(|err| err.code),
                Err(ErrorCode::BadRequest),
                "{bad:?}"
            );
        }
        assert!(file_name(Some(&"é".repeat(256))).is_err());
    }

    #[test]
    fn the_rate_is_per_user() {
        let uploads = Uploads::new(&crate::settings::FileSettings {
            uploads_per_minute: 1,
            upload_burst: 2,
            ..Default::default()
        });
        assert!(check_rate(&uploads, UserId(1)).is_ok());
        assert!(check_rate(&uploads, UserId(1)).is_ok());
        let refused = check_rate(&uploads, UserId(1)).expect_err("third in a burst of 2");
        assert_eq!(refused.code, ErrorCode::RateLimited);
        assert!(refused
            .retry_after_ms
            .is_some_and(|ms| ms > 1000 && ms <= 60_000));
        assert!(check_rate(&uploads, UserId(2)).is_ok());
    }
}
