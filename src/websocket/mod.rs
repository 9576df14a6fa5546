//! The server's WebSocket read side: the bytes of an upgraded connection become messages
//! (`reader`, a pure state machine with every RFC 6455 check; `utf8`, text checked as it
//! comes) through a stream a session
//! actor reads (`stream`). The write side is the connection's outbox
//! (`actors::outbox::socket`, the response body).

#[cfg(test)]
pub(crate) mod client_frame;
pub mod reader;
pub mod stream;
pub mod utf8;

pub use reader::{Incoming, Limits, Reader, Violation};
pub use stream::FrameStream;

use actix_http::ResponseBuilder;
use actix_web::{web, HttpRequest};

/// Checks the upgrade request and answers the `101 Switching Protocols` response to give a
/// body (the write side), and the read side over `body` with `limits`.
pub fn accept(
    req: &HttpRequest,
    body: web::Payload,
    limits: Limits,
) -> Result<(ResponseBuilder, FrameStream), actix_web::Error> {
    let response = actix_http::ws::handshake(req.head())?;
    Ok((response, FrameStream::new(body.into_inner(), limits)))
}
