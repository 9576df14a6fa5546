//! Everything the store holds about one person, as one JSON document written a piece at a
//! time (`GET /admin/users/{id}/export`, `palaver users export`; docs/operations.md, "A
//! user's data"): their profile, their tokens' and devices' metadata (never a token's
//! secret or hash, never a device's endpoint or keys), their memberships, every message they
//! sent, and every file they uploaded with its bytes (and thumbnail) in base64. At most one
//! page of messages or one stored chunk of a file (256 KiB) is in memory, whatever the size.

use actix_web::web::{self, Bytes};
use actix_web::HttpResponse;
use base64::Engine;
use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use super::Answer;
use crate::error::ProtoError;
use crate::http::auth::Admin;
use crate::http::error::ErrorBody;

use crate::db::export::Profile;
use crate::db::models::{FileRow, MessageKey};
use crate::db::safety::{AuditEntry, Moderation};
use crate::db::{Store, StoreError};
use crate::model::{RoomId, UserId};
use crate::protocol::ids::{TokenId, UserRef};
use crate::protocol::views::{FileView, MessageView, RoomView};

/// What the document says it is; a reader checks it before anything else.
pub const FORMAT: &str = "palaver-user-export/1";
/// Messages read a page at a time.
const MESSAGE_PAGE: i64 = 200;
/// Files listed a page at a time (their bytes are read a chunk at a time).
const FILE_PAGE: i64 = 50;

/// Where the writer is in the document.
enum Stage {
    Head,
    Messages {
        after: MessageKey,
        first: bool,
    },
    Files {
        after: String,
        first: bool,
    },
    Bytes {
        file: FileRow,
        next_chunk: i32,
        carry: Vec<u8>,
        more: Vec<FileRow>,
    },
    Tail,
    Done,
}

/// How much an export holds, for the command line's summary and the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub messages: u64,
    pub files: u64,
    /// Bytes of the files (before base64).
    pub file_bytes: u64,
    /// Bytes of the document written so far.
    pub written: u64,
}

/// The document of one person, written piece by piece with [`UserExport::next`].
pub struct UserExport {
    store: Store,
    profile: Profile,
    stage: Stage,
    pub counts: Counts,
}

impl UserExport {
    /// The export of the person `user_id` (deactivated or not); `None` for a bot, the system
    /// or no one.
    pub async fn start(store: Store, user_id: UserId) -> Result<Option<UserExport>, StoreError> {
        Ok(store.profile(user_id).await?.map(|profile| UserExport {
            store,
            profile,
            stage: Stage::Head,
            counts: Counts::default(),
        }))
    }

    pub fn user_id(&self) -> UserId {
        self.profile.user.id
    }

    /// The next piece of the document; `None` once it is complete. After an error the
    /// document is incomplete (not valid JSON) and must not be taken as an export.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let piece = match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Head => {
                let head = self.head().await?;
                self.stage = Stage::Messages {
                    after: (RoomId(0), 0),
                    first: true,
                };
                head
            }
            Stage::Messages { after, first } => self.messages(after, first).await?,
            Stage::Files { after, first } => self.files(&after, first).await?,
            Stage::Bytes {
                file,
                next_chunk,
                carry,
                more,
            } => self.bytes(file, next_chunk, carry, more).await?,
            Stage::Tail => {
                self.stage = Stage::Done;
                b"]}\n".to_vec()
            }
            Stage::Done => return Ok(None),
        };
        self.counts.written += piece.len() as u64;
        Ok(Some(piece))
    }

    /// The document up to the opening of `messages`: what fits in memory by nature.
    async fn head(&self) -> Result<Vec<u8>, StoreError> {
        let store = &self.store;
        let user = &self.profile.user;
        let tokens: Vec<Value> = store
            .tokens_of(user.id)
            .await?
            .into_iter()
            .map(|(id, created)| json!({"id": TokenId(id).to_string(), "created": ts(created)}))
            .collect();
        let devices: Vec<Value> = store
            .devices_of(user.id)
            .await?
            .iter()
            .map(|device| json!({"id": device.id, "kind": device.kind, "created": ts(device.created_ms)}))
            .collect();
        let joined = store.joined_times(user.id).await?;
        let memberships: Vec<Value> = store
            .rooms_of(user.id)
            .await?
            .iter()
            .map(|summary| {
                let joined = joined
                    .iter()
                    .find(|(room, _)| *room == summary.room.id)
                    .map(|(_, ms)| ts(*ms));
                json!({"room": RoomView::from_summary(summary), "joined": joined})
            })
            .collect();
        let head = json!({
            "format": FORMAT,
            "exported": ts(crate::clock::now_ms()),
            "user": {
                "id": user.id.to_string(),
                "name": user.name,
                "kind": user.kind.as_str(),
                "created": ts(user.created_ms),
                "external_id": self.profile.external_sub,
                "deactivated": self.profile.deactivated_ms.map(ts),
            },
            "tokens": tokens,
            "devices": devices,
            "memberships": memberships,
        });
        // The head without its closing brace, then the arrays written piece by piece.
        let mut text = to_vec(&head)?;
        text.pop();
        text.extend_from_slice(b",\"messages\":[");
        Ok(text)
    }

    async fn messages(&mut self, after: MessageKey, first: bool) -> Result<Vec<u8>, StoreError> {
        let page = self
            .store
            .messages_of_sender(self.profile.user.id, after, MESSAGE_PAGE)
            .await?;
        let Some(last) = page.last() else {
            self.stage = Stage::Files {
                after: String::new(),
                first: true,
            };
            return Ok(b"],\"files\":[".to_vec());
        };
        let next = (last.row.room_id, last.row.seq);
        let mut text = Vec::new();
        for (index, message) in page.iter().enumerate() {
            if !(first && index == 0) {
                text.push(b',');
            }
            text.extend(to_vec(&MessageView::from_stored(message))?);
        }
        self.counts.messages += page.len() as u64;
        self.stage = Stage::Messages {
            after: next,
            first: false,
        };
        Ok(text)
    }

    /// The next page of files: opens the first one's entry, the rest wait in `more`.
    async fn files(&mut self, after: &str, first: bool) -> Result<Vec<u8>, StoreError> {
        let mut page = self
            .store
            .files_of_uploader(self.profile.user.id, after, FILE_PAGE)
            .await?;
        if page.is_empty() {
            self.stage = Stage::Tail;
            return Ok(Vec::new());
        }
        page.reverse();
        self.open_file(page, first).await
    }

    /// Opens the entry of the last file of `more` (a page in reverse): everything but its
    /// bytes, which follow a chunk at a time.
    async fn open_file(
        &mut self,
        mut more: Vec<FileRow>,
        first: bool,
    ) -> Result<Vec<u8>, StoreError> {
        let Some(file) = more.pop() else {
            return Err(StoreError::Unavailable("no file to export".into()));
        };
        let thumbnail = match file.thumbnail_mime {
            Some(_) => self
                .store
                .file_thumbnail(&file.id)
                .await?
                .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
            None => None,
        };
        let entry = json!({
            "file": FileView::from_row(&file),
            "uploaded": ts(file.created_ms),
            "sha256": file.sha256,
            "thumbnail_mime": file.thumbnail_mime,
            "thumbnail_base64": thumbnail,
        });
        let mut text = if first { Vec::new() } else { b",".to_vec() };
        let mut entry = to_vec(&entry)?;
        entry.pop();
        text.extend(entry);
        text.extend_from_slice(b",\"data_base64\":\"");
        self.counts.files += 1;
        self.stage = Stage::Bytes {
            file,
            next_chunk: 0,
            carry: Vec::new(),
            more,
        };
        Ok(text)
    }

    /// The next stored chunk of a file in base64 (bytes that do not fill a group of three
    /// wait for the next chunk), or the end of its entry.
    async fn bytes(
        &mut self,
        file: FileRow,
        next_chunk: i32,
        mut carry: Vec<u8>,
        more: Vec<FileRow>,
    ) -> Result<Vec<u8>, StoreError> {
        let chunk = self
            .store
            .file_chunks(&file.id, next_chunk, next_chunk)
            .await?
            .pop();
        let Some((_, data)) = chunk else {
            let mut text = base64::engine::general_purpose::STANDARD
                .encode(&carry)
                .into_bytes();
            text.extend_from_slice(b"\"}");
            let after = file.id.clone();
            if more.is_empty() {
                self.stage = Stage::Files {
                    after,
                    first: false,
                };
            } else {
                text.extend(self.open_file(more, false).await?);
            }
            return Ok(text);
        };
        self.counts.file_bytes += data.len() as u64;
        carry.extend_from_slice(&data);
        let whole = carry.len() / 3 * 3;
        let text = base64::engine::general_purpose::STANDARD
            .encode(&carry[..whole])
            .into_bytes();
        carry.drain(..whole);
        self.stage = Stage::Bytes {
            file,
            next_chunk: next_chunk + 1,
            carry,
            more,
        };
        Ok(text)
    }
}

fn ts(ms: i64) -> String {
    crate::clock::rfc3339_ms(ms)
}

fn to_vec(value: &impl Serialize) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value)
        .map_err(|err| StoreError::Corrupt(format!("cannot write the export: {err}")))
}

/// Everything the store holds about a person, as one JSON document (docs/operations.md,
/// "A user's data"), streamed: `format`, `exported`, `user` (with `external_id` and
/// `deactivated`), `tokens` (ids and creation times), `devices` (ids, kinds, creation times),
/// `memberships` (each room as they see it, and when they joined), `messages` (every message
/// they sent, oldest room first, in seq order) and `files` (each upload's File object,
/// `sha256`, `thumbnail_base64` and `data_base64`). A store failure after the first bytes
/// cuts the document short: a reader that cannot parse it has no export.
#[utoipa::path(
    get,
    operation_id = "users_export",
    path = "/admin/users/{id}/export",
    tag = "users",
    responses(
        (status = 200, description = "The document (Content-Disposition: attachment)", body = Object, content_type = "application/json"),
        (status = 404, description = "not_found: no such person (a bot or the system has none; a deactivated user has one)", body = ErrorBody),
    ),
)]
pub async fn export(Admin(state): Admin, id: web::Path<UserRef>) -> Answer {
    let not_found = ProtoError::no_such_user;
    let UserRef::Id(user_id) = id.into_inner() else {
        return Err(not_found().into());
    };
    let mut export = UserExport::start(state.store.clone(), user_id)
        .await?
        .ok_or_else(not_found)?;
    // The head is read before the answer starts: a store that cannot answer is a 503.
    let head = export.next().await?.unwrap_or_default();
    // Who was exported, and when, is in the audit log before a byte of it goes out.
    let audit = AuditEntry::admin("export").target(user_id.to_string());
    state
        .store
        .record_moderation(Moderation::audit(audit))
        .await?;
    log::info!("admin: exporting {user_id}");
    let rest = stream::unfold(Some(export), |export| async move {
        let mut export = export?;
        match export.next().await {
            Ok(Some(piece)) => Some((Ok(Bytes::from(piece)), Some(export))),
            Ok(None) => {
                let counts = export.counts;
                log::info!(
                    "admin: exported {}: {} messages, {} files ({} bytes), {} bytes written",
                    export.user_id(),
                    counts.messages,
                    counts.files,
                    counts.file_bytes,
                    counts.written
                );
                None
            }
            Err(err) => {
                log::warn!(
                    "admin: the export of {} stopped after {} bytes: {err}",
                    export.user_id(),
                    export.counts.written
                );
                Some((
                    Err(actix_web::error::ErrorServiceUnavailable(err.to_string())),
                    None,
                ))
            }
        }
    });
    let first = stream::once(async move { Ok::<_, actix_web::Error>(Bytes::from(head)) });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{user_id}-export.json\""),
        ))
        .streaming(first.chain(rest)))
}
