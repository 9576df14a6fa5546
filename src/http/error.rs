//! Errors of the HTTP API: `{"error":{"code":…,"message":…}}` with the status that goes
//! with the code (docs/protocol.md section 7).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::db::StoreError;
use crate::error::{ErrorCode, ProtoError};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub ProtoError);

impl ApiError {
    pub fn unauthorized() -> ApiError {
        ApiError(ProtoError::new(
            ErrorCode::Unauthorized,
            "missing or unknown token: send Authorization: Bearer TOKEN",
        ))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        crate::metrics::METRICS
            .errors
            .with_label_values(&[self.0.code.as_str()])
            .inc();
        let mut response = HttpResponse::build(self.status_code());
        let mut error = json!({ "code": self.0.code.as_str(), "message": self.0.message });
        if let Some(retry_after_ms) = self.0.retry_after_ms {
            error["retry_after_ms"] = json!(retry_after_ms);
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after_ms.div_ceil(1000).to_string(),
            ));
        }
        response.json(json!({ "error": error }))
    }
}

impl From<ProtoError> for ApiError {
    fn from(err: ProtoError) -> Self {
        ApiError(err)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError(err.into())
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(err: actix::MailboxError) -> Self {
        ApiError(err.into())
    }
}

/// Turns actix-web's own extractor errors (bad query, bad path) into ours.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError(ProtoError::bad_request(format!("{err}"))).into()
}

pub fn path_error(
    err: actix_web::error::PathError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError(ProtoError::bad_request(format!("{err}"))).into()
}
