//! A WebSocket echo server over Palaver's own read side (`palaver::websocket`: the handshake
//! and the frame reader) and write side (the outbox and its socket body), for the Autobahn
//! TestSuite's fuzzing client (`.ci/autobahn`, docs/websocket-conformance.md). Text comes back
//! as text, binary as binary, a ping as a pong, and a close or a broken rule ends the
//! connection the way a chat session ends it (the client's own close code; the violation's
//! code). It is an example, never part of the server: the chat server has no echo route.
//!
//!     cargo run --example autobahn_echo -- 127.0.0.1:9001

use actix_http::body::MessageBody;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;

use palaver::actors::outbox::socket::SocketBody;
use palaver::actors::outbox::Outbox;
use palaver::protocol::CloseCode;
use palaver::websocket::{self, Incoming, Limits};

/// Autobahn's largest message (cases 9.1.6 and 9.2.6) is 16 MiB.
const MAX_MESSAGE: usize = 16 << 20;
/// Frames queued for one connection; the fuzzing client waits for each echo (9.7, 9.8).
const OUTBOUND_QUEUE: usize = 1024;

async fn echo(req: HttpRequest, body: web::Payload) -> Result<HttpResponse, actix_web::Error> {
    let limits = Limits {
        max_message: MAX_MESSAGE,
        max_read: MAX_MESSAGE,
    };
    let (mut response, mut frames) = websocket::accept(&req, body, limits)?;
    let (outbox, drain) = Outbox::new(OUTBOUND_QUEUE);
    actix_web::rt::spawn(async move {
        while let Some(item) = frames.next().await {
            match item {
                Ok(Incoming::Text(text)) => outbox.push(text.into()),
                Ok(Incoming::Binary(bytes)) => outbox.push_binary(bytes),
                Ok(Incoming::Ping(payload)) => outbox.pong(payload),
                Ok(Incoming::Pong) => true,
                Ok(Incoming::TooLarge { bytes, .. }) => {
                    outbox.close(CloseCode::TooBig, &format!("{bytes} bytes"));
                    false
                }
                Ok(Incoming::Close(reason)) => {
                    let code = reason.map_or(CloseCode::Normal, |(code, _)| code);
                    outbox.close_after_queued(code, "");
                    false
                }
                Err(violation) => {
                    outbox.close_after_queued(violation.close_code(), &violation.to_string());
                    false
                }
            };
        }
        // The client went away without a close: nothing more to write.
        outbox.close(CloseCode::Normal, "closing");
    });
    Ok(response
        .message_body(SocketBody::new(drain).boxed())?
        .into())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    println!("autobahn_echo: listening on ws://{address}");
    HttpServer::new(|| App::new().default_service(web::get().to(echo)))
        .workers(1)
        .bind(address)?
        .run()
        .await
}
