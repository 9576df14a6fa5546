//! `/files` (docs/protocol.md section 9): `POST /files` uploads, `GET /files/{id}` and
//! `GET /files/{id}/thumbnail` download, each with a user's token in
//! `Authorization: Bearer` or `?token=` (for `<img src>`). Every answer, errors included,
//! carries `X-Content-Type-Options: nosniff` and `Cache-Control: private`.

pub mod download;
pub mod upload;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::Semaphore;

use super::auth::{client_token, sign_in};
use super::error::ApiError;
use super::AppState;
use crate::db::models::UserRow;
use crate::model::UserId;
use crate::settings::FileSettings;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/files")
            .wrap(
                DefaultHeaders::new()
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::CACHE_CONTROL, "private")),
            )
            .route("", web::post().to(upload::upload))
            .route("/{id}", web::get().to(download::file))
            .route("/{id}/thumbnail", web::get().to(download::thumbnail)),
    );
}

/// Per-user upload rate limits and slots, the memory uploads may hold, and the turns that
/// bound image decoding.
pub struct Uploads {
    settings: FileSettings,
    per_user: DefaultKeyedRateLimiter<UserId>,
    /// Bytes uploads may hold in memory, all together: an upload takes them as its body
    /// grows, so one that stalls holds only what it sent.
    memory: Arc<Semaphore>,
    /// Uploads in progress, per user.
    in_progress: Arc<Mutex<HashMap<UserId, usize>>>,
    /// A turn to decode an image.
    decoding: Semaphore,
}

/// Users whose rate-limit state is kept before idle ones are forgotten.
const TRACKED_USERS: usize = 10_000;

impl Uploads {
    pub fn new(settings: &FileSettings) -> Uploads {
        let per_minute = NonZeroU32::new(settings.uploads_per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(settings.upload_burst).unwrap_or(NonZeroU32::MIN);
        let memory = settings
            .max_bytes
            .saturating_mul(settings.concurrent_uploads.max(1))
            .min(Semaphore::MAX_PERMITS);
        Uploads {
            settings: settings.clone(),
            per_user: DefaultKeyedRateLimiter::keyed(
                Quota::per_minute(per_minute).allow_burst(burst),
            ),
            memory: Arc::new(Semaphore::new(memory)),
            in_progress: Arc::default(),
            decoding: Semaphore::new(settings.concurrent_decodes.max(1)),
        }
    }

    /// A place for one more upload of `user`, or `None` when they have as many in progress
    /// as they may.
    fn slot(&self, user: UserId) -> Option<UploadSlot> {
        let mut in_progress = lock(&self.in_progress);
        let count = in_progress.entry(user).or_default();
        if *count >= self.settings.uploads_at_once.max(1) {
            return None;
        }
        *count += 1;
        Some(UploadSlot {
            in_progress: self.in_progress.clone(),
            user,
        })
    }
}

fn lock(map: &Mutex<HashMap<UserId, usize>>) -> MutexGuard<'_, HashMap<UserId, usize>> {
    // Plain counts changed in one step: a panic elsewhere cannot tear them.
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One upload in progress; dropping it (the request ended, however) frees the place.
struct UploadSlot {
    in_progress: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut in_progress = lock(&self.in_progress);
        if let Some(count) = in_progress.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                in_progress.remove(&self.user);
            }
        }
    }
}

/// The user whose token (`pv_…` or a JWT) the request carries; 401 without one.
async fn caller(req: &HttpRequest, state: &AppState) -> Result<UserRow, ApiError> {
    let token = client_token(req).ok_or_else(ApiError::unauthorized)?;
    Ok(sign_in(state, &token).await?.user)
}
