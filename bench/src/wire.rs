//! The few protocol frames the load generator speaks, and a borrowed parse of what the
//! server sends (only the fields measured: `type`, `id`, and a message's room, seq, body).

use std::borrow::Cow;

use anyhow::{anyhow, Context, Result};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A server frame, as much of it as the benchmark reads.
#[derive(Deserialize)]
pub struct Incoming<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Cow<'a, str>,
    /// A Message in `message` events; a text in `error` frames.
    #[serde(default, borrow)]
    message: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
}

impl<'a> Incoming<'a> {
    /// The Message of a `message` event.
    pub fn message(&self) -> Result<MessageRef<'a>> {
        let raw = self
            .message
            .ok_or_else(|| anyhow!("a message event without a message"))?;
        serde_json::from_str(raw.get()).context("unreadable message")
    }
}

/// The measured fields of a `message` event's Message.
#[derive(Deserialize)]
pub struct MessageRef<'a> {
    #[serde(borrow)]
    pub room: Cow<'a, str>,
    pub seq: u64,
    #[serde(borrow)]
    pub body: Cow<'a, str>,
}

pub fn parse(text: &str) -> Result<Incoming<'_>> {
    serde_json::from_str(text).context("unreadable frame from the server")
}

/// `r_N` to N.
pub fn room_number(id: &str) -> Result<u64> {
    id.strip_prefix("r_")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("odd room id {id:?}"))
}

/// The send time (microseconds since the run's epoch) that a benchmark body carries.
pub fn body_time(body: &str) -> Result<u64> {
    body.strip_prefix('t')
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("not a benchmark body: {body:?}"))
}

/// A message body carrying the send time, padded to `size` bytes.
pub fn body(sent_us: u64, size: usize) -> String {
    let mut body = format!("t{sent_us}");
    if body.len() < size {
        body.push(' ');
        body.extend(std::iter::repeat_n('x', size - body.len()));
    }
    body
}

pub fn send(id: u64, room: u64, body: &str) -> String {
    format!(r#"{{"type":"send","id":{id},"room":"r_{room}","body":"{body}"}}"#)
}

pub fn join(room: u64) -> String {
    format!(r#"{{"type":"join","id":"j","room":"r_{room}","limit":1}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_their_send_time() {
        let text = body(1234, 40);
        assert_eq!(text.len(), 40);
        assert_eq!(body_time(&text).ok(), Some(1234));
        assert_eq!(body_time(&body(7, 0)).ok(), Some(7));
    }

    #[test]
    fn reads_a_message_event() {
        let frame = r#"{"type":"message","message":{"id":"m_3_9","room":"r_3","seq":9,
            "ts":"2026-11-24T09:15:02.123Z","sender":{"id":"u_2","name":"a","kind":"user"},
            "body":"t55","template":null,"client_msg_id":null,"action":null}}"#;
        let parsed = parse(frame).ok();
        let message = parsed.as_ref().and_then(|f| f.message().ok());
        assert_eq!(message.as_ref().map(|m| m.seq), Some(9));
        assert_eq!(
            message.as_ref().and_then(|m| room_number(&m.room).ok()),
            Some(3)
        );
    }
}

#[cfg(test)]
mod error_tests {
    #[test]
    fn reads_an_error_frame() {
        let frame = r#"{"type":"error","id":7,"code":"not_found","message":"no such room"}"#;
        let parsed = super::parse(frame).ok();
        assert_eq!(parsed.and_then(|f| f.code).as_deref(), Some("not_found"));
    }
}
