//! `GET /files/{id}` and `GET /files/{id}/thumbnail`: the bytes, for the uploader and the
//! members of any room where a message carries the file; for everyone else the same 404 as
//! for an id never issued. The type is the one detected at upload; only raster images are
//! `inline`, everything else an `attachment`. Downloads stream from the store a few chunks at
//! a time and honour a single `Range` (206; 416 when it cannot be met) and `If-None-Match`.

use actix_web::http::header::{
    self, ByteRangeSpec, Charset, ContentDisposition, DispositionParam, DispositionType, EntityTag,
    ExtendedValue, Header, IfNoneMatch, Range,
};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::stream;

use super::caller;
use crate::db::files::CHUNK_BYTES;
use crate::db::models::FileRow;
use crate::db::{Store, StoreError};
use crate::error::ProtoError;
use crate::files::detect::is_raster;
use crate::http::error::ApiError;
use crate::http::error::ErrorBody;
use crate::http::AppState;
use crate::protocol::ids::FileId;

/// Chunks read from the store per step of a download (1 MiB).
const CHUNKS_PER_READ: i64 = 4;

/// Downloaded bytes may not run scripts or load anything, even if opened directly.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; sandbox";

fn no_such_file() -> ApiError {
    ProtoError::not_found("no such file").into()
}

/// The file behind `id`, if the caller may see it; the same 404 otherwise.
async fn visible_file(req: &HttpRequest, state: &AppState, id: &str) -> Result<FileRow, ApiError> {
    let user = caller(req, state).await?;
    let file: FileId = id.parse().map_err(|_| no_such_file())?;
    state
        .store
        .file_for(user.id, file.key())
        .await?
        .ok_or_else(no_such_file)
}

/// Download a file's bytes.
#[utoipa::path(
    get,
    path = "/files/{id}",
    tag = "files",
    params(
        ("id" = String, Path, description = "`f_…`"),
        ("token" = Option<String>, Query, description = "The user's token, for `<img src>` and links"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=0-1023`"),
    ),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The bytes, typed as detected at upload; `inline` for JPEG, PNG, GIF and WebP, `attachment` otherwise", content_type = "application/octet-stream"),
        (status = 206, description = "The requested range (`Content-Range`)", content_type = "application/octet-stream"),
        (status = 304, description = "Not modified (`If-None-Match` matched the `ETag`)"),
        (status = 401, description = "unauthorized: no token, or an unknown one", body = ErrorBody),
        (status = 404, description = "not_found: no such file, or not one the caller may see (the same answer)", body = ErrorBody),
        (status = 416, description = "The range is outside the file (`Content-Range: bytes */SIZE`)"),
    ),
)]
pub async fn file(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let file = visible_file(&req, &state, &id).await?;
    let etag = EntityTag::new_strong(file.sha256.clone());
    let mut response = HttpResponse::Ok();
    describe(&mut response, &file.name, &file.mime, &etag);
    response.insert_header((header::ACCEPT_RANGES, "bytes"));
    if not_modified(&req, &etag) {
        return Ok(response.status(StatusCode::NOT_MODIFIED).finish());
    }
    let size = u64::try_from(file.size).unwrap_or(0);
    let (start, end) = match requested_range(&req, size) {
        Requested::Whole => (0, size),
        Requested::Part(first, last) => {
            response.status(StatusCode::PARTIAL_CONTENT);
            response.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {first}-{last}/{size}"),
            ));
            (first, last + 1)
        }
        Requested::Unsatisfiable => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish());
        }
    };
    let reader = Reader {
        store: state.store.clone(),
        key: file.id,
        next: start,
        end,
    };
    Ok(response
        .no_chunking(end - start)
        .streaming(stream::try_unfold(reader, Reader::step)))
}

/// Download a raster image's thumbnail (at most 320 px on its longer side).
#[utoipa::path(
    get,
    path = "/files/{id}/thumbnail",
    tag = "files",
    params(
        ("id" = String, Path, description = "`f_…`"),
        ("token" = Option<String>, Query, description = "The user's token, for `<img src>`"),
    ),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "A JPEG, or a PNG for images with transparency", content_type = "image/jpeg"),
        (status = 401, description = "unauthorized: no token, or an unknown one", body = ErrorBody),
        (status = 404, description = "not_found: no such file, not one the caller may see, or one without a thumbnail", body = ErrorBody),
    ),
)]
pub async fn thumbnail(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let file = visible_file(&req, &state, &id).await?;
    let Some(mime) = &file.thumbnail_mime else {
        return Err(ProtoError::not_found("this file has no thumbnail").into());
    };
    let etag = EntityTag::new_strong(format!("{}-thumbnail", file.sha256));
    let mut response = HttpResponse::Ok();
    describe(&mut response, &file.name, mime, &etag);
    if not_modified(&req, &etag) {
        return Ok(response.status(StatusCode::NOT_MODIFIED).finish());
    }
    let bytes = state
        .store
        .file_thumbnail(&file.id)
        .await?
        .ok_or_else(no_such_file)?;
    Ok(response.body(bytes))
}

/// The headers that say what the bytes are and how a browser may show them.
fn describe(response: &mut HttpResponseBuilder, name: &str, mime: &str, etag: &EntityTag) {
    let disposition = if is_raster(mime) {
        DispositionType::Inline
    } else {
        DispositionType::Attachment
    };
    response
        .insert_header((header::CONTENT_TYPE, mime.to_string()))
        .insert_header(ContentDisposition {
            disposition,
            parameters: vec![
                DispositionParam::Filename(ascii_fallback(name)),
                DispositionParam::FilenameExt(ExtendedValue {
                    charset: Charset::Ext("UTF-8".into()),
                    language_tag: None,
                    value: name.as_bytes().to_vec(),
                }),
            ],
        })
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header(header::ETag(etag.clone()));
}

/// The name for clients that do not read `filename*`: ASCII, without quotes or backslashes.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect()
}

fn not_modified(req: &HttpRequest, etag: &EntityTag) -> bool {
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|tag| tag.weak_eq(etag)),
        Err(_) => false,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Requested {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    Unsatisfiable,
}

/// What a `Range` header asks for. A header that does not parse, several ranges, or a unit
/// other than bytes get the whole file (RFC 9110 lets a server ignore `Range`).
fn requested_range(req: &HttpRequest, size: u64) -> Requested {
    let Some(value) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Requested::Whole;
    };
    match value.parse::<Range>() {
        Ok(Range::Bytes(specs)) => match specs.as_slice() {
            [spec] => part(spec, size),
            _ => Requested::Whole,
        },
        _ => Requested::Whole,
    }
}

fn part(spec: &ByteRangeSpec, size: u64) -> Requested {
    match spec.to_satisfiable_range(size) {
        Some((first, last)) => Requested::Part(first, last),
        None => Requested::Unsatisfiable,
    }
}

/// Where a download is: the next byte to send and the end (exclusive).
struct Reader {
    store: Store,
    key: String,
    next: u64,
    end: u64,
}

impl Reader {
    /// Reads the next few chunks and yields the part of them the download wants.
    async fn step(mut self) -> Result<Option<(Bytes, Reader)>, StoreError> {
        if self.next >= self.end {
            return Ok(None);
        }
        let chunk = CHUNK_BYTES as u64;
        let first = self.next / chunk;
        let last = ((self.end - 1) / chunk).min(first + CHUNKS_PER_READ as u64 - 1);
        let index = |n: u64| i32::try_from(n).map_err(|_| StoreError::NotFound("file chunk"));
        let chunks = self
            .store
            .file_chunks(&self.key, index(first)?, index(last)?)
            .await?;
        let mut out = Vec::with_capacity(((last - first + 1) * chunk) as usize);
        for (idx, data) in chunks {
            let base = u64::try_from(idx).unwrap_or(0) * chunk;
            let from = self.next.saturating_sub(base) as usize;
            let to = (self.end.saturating_sub(base) as usize).min(data.len());
            if base + from as u64 != self.next + out.len() as u64 || from >= to {
                // A chunk missing: the file was deleted while it was being sent.
                break;
            }
            out.extend_from_slice(&data[from..to]);
        }
        if out.is_empty() {
            return Err(StoreError::NotFound("file chunk"));
        }
        self.next += out.len() as u64;
        Ok(Some((Bytes::from(out), self)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_range_is_served_and_others_are_not() {
        let size = 1000;
        let req = |range: &str| {
            actix_web::test::TestRequest::default()
                .insert_header((header::RANGE, range))
                .to_http_request()
        };
        assert_eq!(
            requested_range(&req("bytes=0-99"), size),
            Requested::Part(0, 99)
        );
        assert_eq!(
            requested_range(&req("bytes=900-"), size),
            Requested::Part(900, 999)
        );
        assert_eq!(
            requested_range(&req("bytes=-10"), size),
            Requested::Part(990, 999)
        );
        assert_eq!(
            requested_range(&req("bytes=990-5000"), size),
            Requested::Part(990, 999)
        );
        assert_eq!(
            requested_range(&req("bytes=1000-"), size),
            Requested::Unsatisfiable
        );
        assert_eq!(
            requested_range(&req("bytes=0-1,5-9"), size),
            Requested::Whole
        );
        assert_eq!(requested_range(&req("lines=1-2"), size), Requested::Whole);
        assert_eq!(requested_range(&req("nonsense"), size), Requested::Whole);
    }

    #[test]
    fn names_fall_back_to_ascii() {
        assert_eq!(ascii_fallback("Übung \"3\".pdf"), "_bung _3_.pdf");
    }
}
