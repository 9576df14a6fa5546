//! The server's WebSocket read side: the bytes of an upgraded connection become messages
//! (`reader`, a pure state machine with every RFC 6455 check) through a stream a session
//! actor reads (`stream`). The write side is `actix_ws::Session`, driven by the outbox.

#[cfg(test)]
pub(crate) mod client_frame;
pub mod reader;
pub mod stream;

pub use reader::{Incoming, Limits, Reader, Violation};
pub use stream::FrameStream;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

/// Answers the upgrade request: the response to return, the write side, and the read side
/// over `body` with `limits`. actix-ws does the handshake and the writing; its own reader
/// (which buffers a whole declared frame before checking its size) gets an empty payload.
pub async fn accept(
    req: &HttpRequest,
    body: web::Payload,
    limits: Limits,
) -> Result<(HttpResponse, actix_ws::Session, FrameStream), actix_web::Error> {
    let empty = web::Payload::from_request(req, &mut Payload::None).await?;
    let (response, session, _unused) = actix_ws::handle(req, empty)?;
    Ok((
        response,
        session,
        FrameStream::new(body.into_inner(), limits),
    ))
}
