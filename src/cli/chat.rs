//! `palaver chat --token TOKEN`: a terminal client that needs nothing but this binary. Each
//! line read from stdin is sent as one text frame; each frame the server sends is printed as
//! one line on stdout. At the end of stdin it waits for the reply to every line it sent
//! (every frame gets exactly one `ok` or `error`), prints the events that come within
//! `--linger-ms`, then closes the connection normally (1000).

use std::time::Duration;

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;

use super::args::ChatArgs;
use super::CliError;

/// Lines read ahead of the connection; stdin waits when they are all unsent.
const STDIN_QUEUE: usize = 64;
/// Longest frame this client reads (the server's own limit for what it sends is lower).
const MAX_FRAME: usize = 16 * 1024 * 1024;

pub fn run(args: &ChatArgs) -> Result<(), CliError> {
    let system = actix_rt::System::new();
    system.block_on(chat(args))
}

async fn chat(args: &ChatArgs) -> Result<(), CliError> {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let (response, socket) = client
        .ws(args.url.as_str())
        .bearer_auth(&args.token)
        .max_frame_size(MAX_FRAME)
        .connect()
        .await
        .map_err(|err| match err {
            awc::error::WsClientError::InvalidResponseStatus(status) => CliError::Invalid(format!(
                "{} refused the connection: HTTP {status}",
                args.url
            )),
            other => CliError::Invalid(format!("cannot connect to {}: {other}", args.url)),
        })?;
    log::debug!("connected: {}", response.status());
    let (mut sink, mut stream) = socket.split();

    let (lines_tx, mut lines) = mpsc::channel::<String>(STDIN_QUEUE);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });

    let mut sent = 0u64;
    let mut replies = 0u64;
    let mut stdin_open = true;
    let linger = tokio::time::sleep(Duration::from_secs(u64::MAX / 4));
    tokio::pin!(linger);
    let mut lingering = false;
    loop {
        if !stdin_open && replies >= sent && !lingering {
            lingering = true;
            linger
                .as_mut()
                .reset(tokio::time::Instant::now() + Duration::from_millis(args.linger_ms));
        }
        tokio::select! {
            line = lines.recv(), if stdin_open => match line {
                Some(line) => {
                    sink.send(ws::Message::Text(line.into()))
                        .await
                        .map_err(|err| CliError::Invalid(format!("cannot send: {err}")))?;
                    sent += 1;
                }
                None => stdin_open = false,
            },
            frame = stream.next() => match frame {
                Some(Ok(ws::Frame::Text(bytes))) => {
                    let text = String::from_utf8_lossy(&bytes);
                    if is_reply(&text) {
                        replies += 1;
                    }
                    super::print(&[text.into_owned()])?;
                }
                Some(Ok(ws::Frame::Ping(payload))) => {
                    let _ = sink.send(ws::Message::Pong(payload)).await;
                }
                Some(Ok(ws::Frame::Close(reason))) => {
                    let shown = reason.map_or_else(
                        || "no code".to_string(),
                        |reason| match reason.description {
                            Some(text) => format!("{} {text}", u16::from(reason.code)),
                            None => u16::from(reason.code).to_string(),
                        },
                    );
                    eprintln!("palaver: the server closed the connection ({shown})");
                    return Ok(());
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => {
                    return Err(CliError::Invalid(format!("the connection failed: {err}")));
                }
                None => return Ok(()),
            },
            _ = &mut linger, if lingering => break,
        }
    }
    let _ = sink
        .send(ws::Message::Close(Some(ws::CloseCode::Normal.into())))
        .await;
    // Wait briefly for the server's close so that it sees a clean end.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(frame)) = stream.next().await {
            if matches!(frame, ws::Frame::Close(_)) {
                break;
            }
        }
    })
    .await;
    Ok(())
}

/// Replies (`ok`, `error`) answer one line each; everything else is an event or the hello.
fn is_reply(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(frame) => matches!(
            frame.get("type").and_then(Value::as_str),
            Some("ok") | Some("error")
        ),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replies_are_ok_and_error_frames() {
        assert!(super::is_reply(r#"{"type":"ok","id":1,"data":{}}"#));
        assert!(super::is_reply(
            r#"{"type":"error","id":null,"code":"bad_request","message":"x"}"#
        ));
        assert!(!super::is_reply(r#"{"type":"message","message":{}}"#));
        assert!(!super::is_reply("nope"));
    }
}
