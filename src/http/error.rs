//! Errors of the HTTP API: `{"error":{"code":…,"message":…}}` with the status that goes
//! with the code (docs/protocol.md section 7).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::StoreError;
use crate::error::{ErrorCode, ProtoError};

/// An error answer: `{"error":{"code":"not_found","message":"no such room"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A code of docs/protocol.md section 2 (`bad_request`, `not_found`, `conflict`, …).
    pub code: String,
    pub message: String,
    /// With `rate_limited`: milliseconds to wait before trying again (also `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl From<&ProtoError> for ErrorBody {
    fn from(err: &ProtoError) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: err.code.as_str().to_string(),
                message: err.message.clone(),
                retry_after_ms: err.retry_after_ms,
            },
        }
    }
}

/// An empty object, `{}`.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

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
        if let Some(retry_after_ms) = self.0.retry_after_ms {
            response.insert_header((
                actix_web::http::header::RETRY_AFTER,
                retry_after_ms.div_ceil(1000).to_string(),
            ));
        }
        response.json(ErrorBody::from(&self.0))
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

impl From<crate::db::conversation::ConversationError> for ApiError {
    fn from(err: crate::db::conversation::ConversationError) -> Self {
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
