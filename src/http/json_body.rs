//! Request bodies of the admin API: `application/json`, at most [`MAX_JSON_BODY`] bytes,
//! read with the strict parser (`protocol::json`: no key twice, no U+0000), so that a body
//! the admin API takes is one either backend can store. Every failure is an [`ApiError`].

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde_json::Value;

use super::error::ApiError;
use crate::error::ProtoError;
use crate::protocol::json;

/// Largest JSON body the admin API reads.
pub const MAX_JSON_BODY: usize = 256 * 1024;

/// A JSON request body, parsed strictly.
pub struct JsonBody(pub Value);

impl JsonBody {
    pub fn into_inner(self) -> Value {
        self.0
    }
}

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = req.content_type().to_ascii_lowercase();
        let is_json = kind == "application/json" || kind.ends_with("+json");
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError(ProtoError::bad_request(
                    "the body must be JSON, sent with Content-Type: application/json",
                ))
                .into());
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|err| {
                    ApiError(ProtoError::bad_request(format!(
                        "the body could not be read: {err}"
                    )))
                })?;
                if body.len() + chunk.len() > MAX_JSON_BODY {
                    return Err(ApiError(ProtoError::too_large(format!(
                        "the body is over {MAX_JSON_BODY} bytes"
                    )))
                    .into());
                }
                body.extend_from_slice(&chunk);
            }
            json::parse_slice(&body)
                .map(JsonBody)
                .map_err(|err| ApiError(ProtoError::bad_request(format!("{err}"))).into())
        })
    }
}
