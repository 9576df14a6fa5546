//! Request bodies of the admin API: `application/json`, at most [`MAX_JSON_BODY`] bytes,
//! read with the strict parser (`protocol::json`: no key twice, no U+0000), so that a body
//! the admin API takes is one either backend can store; then read by serde into the body's
//! type (a mistake names its place: `members[2]: invalid type…`) and checked once
//! ([`CheckedBody`]). The handler gets the checked value ([`Json`]); the OpenAPI document
//! shows the body's type (`http/admin/inputs.rs`). Every failure is an [`ApiError`].

use std::borrow::Cow;
use std::marker::PhantomData;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use super::error::ApiError;
use crate::error::ProtoError;
use crate::protocol::fields::MAX_ID_CHARS;
use crate::protocol::ids::{InvalidId, UserRef};
use crate::protocol::json;

/// Largest JSON body the admin API reads.
pub const MAX_JSON_BODY: usize = 256 * 1024;

/// A request body as JSON (`Self`, which the OpenAPI document shows), and what checking it
/// gives the handler: the one place its values are checked (400, or 413 for a text too long).
pub trait CheckedBody: DeserializeOwned + ToSchema + 'static {
    type Checked;

    fn check(self) -> Result<Self::Checked, ProtoError>;
}

/// The checked value of a `B` body.
pub struct Json<B: CheckedBody>(pub B::Checked, PhantomData<B>);

impl<B: CheckedBody> Json<B> {
    pub fn into_inner(self) -> B::Checked {
        self.0
    }
}

impl<B: CheckedBody> FromRequest for Json<B> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let kind = req.content_type().to_ascii_lowercase();
        let is_json = kind == "application/json" || kind.ends_with("+json");
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(bad_request(
                    "the body must be JSON, sent with Content-Type: application/json",
                ));
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk
                    .map_err(|err| bad_request(format!("the body could not be read: {err}")))?;
                if body.len() + chunk.len() > MAX_JSON_BODY {
                    return Err(ApiError(ProtoError::too_large(format!(
                        "the body is over {MAX_JSON_BODY} bytes"
                    )))
                    .into());
                }
                body.extend_from_slice(&chunk);
            }
            let value = json::parse_slice(&body).map_err(|err| bad_request(err.to_string()))?;
            if !value.is_object() {
                return Err(bad_request("the body must be a JSON object"));
            }
            let body: B = serde_path_to_error::deserialize(value)
                .map_err(|err| bad_request(err.to_string()))?;
            let checked = body.check().map_err(ApiError)?;
            Ok(Json(checked, PhantomData))
        })
    }
}

fn bad_request(message: impl Into<String>) -> actix_web::Error {
    ApiError(ProtoError::bad_request(message)).into()
}

/// A user as a body names them (`u_N`, or a bot's id): a string of 1 to 64 characters.
/// Text that is no user reference (`u_007`) names nobody, and is answered where the user is
/// looked up, like an id nobody has ([`NamedUser::user`]), never as a malformed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedUser(Result<UserRef, InvalidId>);

impl NamedUser {
    /// The reference, or the `not_found` answer for text that names nobody.
    pub fn user(&self) -> Result<&UserRef, ProtoError> {
        self.0
            .as_ref()
            .map_err(|invalid| ProtoError::not_found(invalid.to_string()))
    }
}

impl<'de> Deserialize<'de> for NamedUser {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let chars = text.chars().count();
        if chars == 0 || chars > MAX_ID_CHARS {
            return Err(de::Error::custom(format!(
                "a user id is 1 to {MAX_ID_CHARS} characters"
            )));
        }
        Ok(NamedUser(text.parse()))
    }
}

/// Described as the [`UserRef`] it names.
impl PartialSchema for NamedUser {
    fn schema() -> RefOr<Schema> {
        UserRef::schema()
    }
}

impl ToSchema for NamedUser {
    fn name() -> Cow<'static, str> {
        UserRef::name()
    }
}

#[cfg(test)]
mod tests {
    use crate::model::UserId;
    use serde_json::Value;

    use super::*;

    #[test]
    fn a_named_user_that_is_no_reference_names_nobody() {
        let named: NamedUser = serde_json::from_value(Value::from("u_7")).expect("u_7");
        assert_eq!(named.user(), Ok(&UserRef::Id(UserId(7))));
        let named: NamedUser = serde_json::from_value(Value::from("u_007")).expect("u_007");
        let answer = named.user().expect_err("names nobody");
        assert_eq!(answer, ProtoError::no_such_user());
        for malformed in [Value::from(""), Value::from("x".repeat(65)), Value::from(7)] {
            assert!(serde_json::from_value::<NamedUser>(malformed.clone()).is_err());
        }
    }
}
