//! The frames the soak speaks (`send` with `client_msg_id`, `join` with `after_seq`,
//! forward paging with `history`, `ping`), and an owned parse of the server's frames:
//! replies matched by their integer `id`, and the messages of events, pages and acks.

use anyhow::{Context, Result};
use serde::Deserialize;

/// Largest page the protocol allows (`join` and `history` `limit`).
pub const PAGE: u64 = 200;

pub fn send(id: u64, room: u64, body: &str, client_msg_id: &str) -> String {
    format!(
        r#"{{"type":"send","id":{id},"room":"r_{room}","body":"{body}","client_msg_id":"{client_msg_id}"}}"#
    )
}

pub fn join(id: u64, room: u64, after_seq: u64) -> String {
    format!(
        r#"{{"type":"join","id":{id},"room":"r_{room}","after_seq":{after_seq},"limit":{PAGE}}}"#
    )
}

pub fn history(id: u64, room: u64, before_seq: u64) -> String {
    format!(
        r#"{{"type":"history","id":{id},"room":"r_{room}","before_seq":{before_seq},"limit":{PAGE}}}"#
    )
}

pub fn ping(id: u64) -> String {
    format!(r#"{{"type":"ping","id":{id}}}"#)
}

/// A server frame, as much of it as the soak reads.
#[derive(Deserialize)]
pub struct ServerFrame {
    #[serde(rename = "type")]
    pub kind: String,
    /// The echoed `id` of a reply (the soak only sends integers).
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    #[serde(default)]
    pub data: Option<Data>,
    /// The Message of a `message` event; the sentence of an `error`.
    #[serde(default)]
    message: Option<MessageField>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MessageField {
    Message(Message),
    Other(serde::de::IgnoredAny),
}

impl ServerFrame {
    /// The Message of a `message` event.
    pub fn message(&self) -> Option<&Message> {
        match &self.message {
            Some(MessageField::Message(message)) => Some(message),
            _ => None,
        }
    }
}

/// The `data` of an `ok`: a send's message, or a page's messages.
#[derive(Deserialize, Default)]
pub struct Data {
    #[serde(default)]
    pub message: Option<Message>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Deserialize)]
pub struct Message {
    pub room: String,
    pub seq: u64,
    #[serde(default)]
    pub client_msg_id: Option<String>,
}

pub fn parse(text: &str) -> Result<ServerFrame> {
    serde_json::from_str(text)
        .with_context(|| format!("unreadable frame from the server: {text:.200}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_ack_a_page_and_an_event() {
        let ack = r#"{"type":"ok","id":5,"data":{"message":{"action":null,"body":"hi","client_msg_id":"s1-2","files":[],"id":"m_1_1","room":"r_1","sender":{"id":"u_2","kind":"user","name":"amy"},"seq":1,"template":null,"ts":"2026-12-01T09:49:24.391Z"}}}"#;
        let frame = parse(ack).ok();
        let message = frame
            .as_ref()
            .and_then(|f| f.data.as_ref())
            .and_then(|d| d.message.as_ref());
        assert_eq!(frame.as_ref().and_then(|f| f.id), Some(5));
        assert_eq!(
            message.map(|m| (m.seq, m.client_msg_id.as_deref())),
            Some((1, Some("s1-2")))
        );
        let page = r#"{"type":"ok","id":2,"data":{"has_more":true,"members":[],"messages":[{"room":"r_1","seq":4,"client_msg_id":null}],"room":{"id":"r_1"}}}"#;
        let data = parse(page).ok().and_then(|f| f.data);
        assert_eq!(
            data.as_ref().map(|d| (d.has_more, d.messages.len())),
            Some((true, 1))
        );
        let error = r#"{"type":"error","id":9,"code":"unavailable","message":"the store could not commit; nothing was stored, retry"}"#;
        assert_eq!(
            parse(error).ok().and_then(|f| f.code).as_deref(),
            Some("unavailable")
        );
        let event = r#"{"type":"message","message":{"id":"m_1_1","room":"r_1","seq":7,"client_msg_id":"s0-1","body":"x"}}"#;
        assert_eq!(
            parse(event).ok().and_then(|f| f.message().map(|m| m.seq)),
            Some(7)
        );
        assert!(send(1, 2, "b", "s0-1").contains(r#""client_msg_id":"s0-1""#));
        assert!(join(3, 2, 17).contains(r#""after_seq":17"#));
    }
}
