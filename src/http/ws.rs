//! `GET /ws`: authenticates the token, takes a place under the connection caps (refused
//! with 503 naming the cap), upgrades, and starts the connection's session actor; the
//! response body writes its outbox to the socket and holds the place until it ends.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix::{Actor, AsyncContext};
use actix_http::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::{client_token, sign_in, SignedIn};
use super::error::ApiError;
use super::AppState;
use crate::actors::hub::Hub;
use crate::actors::messages::Closed;
use crate::actors::outbox::socket::SocketBody;
use crate::actors::outbox::Outbox;
use crate::actors::session::Session;
use crate::error::{ErrorCode, ProtoError};
use crate::limits::connections::Slot;
use crate::metrics::METRICS;
use crate::websocket::{self, Limits};

/// Refuses, with 403, an upgrade from a web page `--allowed-origins` does not list.
fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), ApiError> {
    let Some(allowed) = &state.allowed_origins else {
        return Ok(());
    };
    let header = |name| req.headers().get(name).map(|value| value.to_str());
    let origin = match header(actix_web::http::header::ORIGIN) {
        None => None,
        Some(Ok(origin)) => Some(origin),
        Some(Err(_)) => Some(""),
    };
    let host = header(actix_web::http::header::HOST).and_then(Result::ok);
    if allowed.admits(origin, host) {
        return Ok(());
    }
    log::debug!("WebSocket upgrade from origin {origin:?} refused (--allowed-origins)");
    Err(ApiError(ProtoError::new(
        ErrorCode::Forbidden,
        format!(
            "origin {:?} may not open a WebSocket here: the server's --allowed-origins does not list it",
            origin.unwrap_or_default()
        ),
    )))
}

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    check_origin(&req, &state)?;
    let token = client_token(&req).ok_or_else(ApiError::unauthorized)?;
    let SignedIn { user, token_id } = sign_in(&state, &token).await?;
    let address = super::client_addr::client_ip(&req, &state.trusted_proxies);
    let slot = state
        .connections
        .admit(user.id, address)
        .map_err(|refused| {
            log::info!(
                "{} from {address:?}: connection refused: {refused}",
                user.id
            );
            METRICS
                .connections_refused
                .with_label_values(&[refused.cap()])
                .inc();
            ApiError(ProtoError {
                retry_after_ms: Some(RETRY_AFTER_MS),
                ..ProtoError::unavailable(refused.to_string())
            })
        })?;
    let settings = state.settings.clone();
    let limits = Limits {
        max_message: settings.max_frame_bytes,
        max_read: settings.max_read_bytes,
    };
    let (mut response, stream) = websocket::accept(&req, body, limits)?;
    let (outbox, drain) = Outbox::new(settings.outbound_queue);
    let key = Session::new_key();
    log::debug!("session {key}: {} connected", user.id);
    let (hub, store) = (Hub::session_supervisor(&state.hub), state.store.clone());
    let closing = outbox.clone();
    let session = Session::create(move |ctx| {
        ctx.add_stream(stream);
        Session::new(key, user, token_id, outbox, hub, store, settings)
    });
    // A close asked for by anyone (a room on overflow, the hub, the session itself) or the
    // socket going away stops the session at once, even while the socket is blocked.
    closing.when_closed(move || session.do_send(Closed));
    let body = Holding {
        body: SocketBody::new(drain).boxed(),
        _slot: slot,
    };
    Ok(response.message_body(body.boxed())?.into())
}

/// What a refused connection is told to wait before it tries again.
const RETRY_AFTER_MS: u64 = 5_000;

/// The socket's body, holding the connection's place under the caps until it ends (the
/// dispatcher drops it when the connection closes).
struct Holding {
    body: BoxBody,
    _slot: Slot,
}

impl MessageBody for Holding {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}
