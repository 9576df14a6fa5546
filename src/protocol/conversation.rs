//! The fields and commands of section 11 as the parser reads them: `send`'s `reply_to` and
//! `mentions`; the room commands `edit`, `delete`, `react` and `changes`; and `search`,
//! which is not addressed to one room. Called from `room_command.rs` and `command.rs`.

use super::fields::Fields;
use super::ids::{MessageId, RoomId};
use super::post_fields::{body, mentions};
use super::room_command::RoomCommand;
use crate::conversation::{Emoji, SearchCursor, SearchQuery};
use crate::error::ProtoError;

/// Page sizes of `changes`.
pub const DEFAULT_CHANGES_PAGE: i64 = 50;
pub const MAX_CHANGES_PAGE: i64 = crate::db::conversation::MAX_CHANGES_PAGE;
/// Page sizes of `search`.
pub const DEFAULT_SEARCH_PAGE: i64 = 20;
pub const MAX_SEARCH_PAGE: i64 = crate::db::conversation::MAX_SEARCH_PAGE;

/// A `search`: its room (optional) travels inside, as no room runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// The query as the client wrote it.
    pub text: String,
    pub query: SearchQuery,
    pub room: Option<RoomId>,
    pub before_seq: Option<i64>,
    pub after: Option<SearchCursor>,
    pub limit: i64,
}

/// The room command of section 11 of type `kind`, or `None` when `kind` is not one.
pub(super) fn parse_room(
    kind: &str,
    fields: &Fields,
) -> Result<Option<(RoomId, RoomCommand)>, ProtoError> {
    let room = || fields.id("room");
    let parsed = match kind {
        "edit" => {
            let room = room()?;
            let message = fields.id("message")?;
            let text = body(fields.string("body")?)?;
            // Absent keeps the mentions, `[]` clears them.
            let mentions = match fields.has("mentions") {
                false => None,
                true => Some(mentions(fields)?),
            };
            let edit = RoomCommand::Edit {
                message: message_id(message)?,
                body: text,
                mentions,
            };
            (room_id(room)?, edit)
        }
        "delete" => {
            let room = room()?;
            let message = fields.id("message")?;
            let delete = RoomCommand::Delete {
                message: message_id(message)?,
            };
            (room_id(room)?, delete)
        }
        "react" => {
            let room = room()?;
            let message = fields.id("message")?;
            let emoji = Emoji::parse(fields.string("emoji")?)
                .map_err(|err| ProtoError::bad_request(format!("field `emoji`: {err}")))?;
            let on = fields.bool_or("on", true)?;
            let react = RoomCommand::React {
                message: message_id(message)?,
                emoji,
                on,
            };
            (room_id(room)?, react)
        }
        "changes" => {
            let room = room()?;
            let after_rev = fields.seq("after_rev")?;
            let limit = fields.limit("limit", DEFAULT_CHANGES_PAGE, MAX_CHANGES_PAGE)?;
            (room_id(room)?, RoomCommand::Changes { after_rev, limit })
        }
        _ => return Ok(None),
    };
    Ok(Some(parsed))
}

/// `search`.
pub(super) fn parse_search(fields: &Fields) -> Result<Search, ProtoError> {
    let text = fields.string("query")?;
    let query = SearchQuery::parse(text)
        .map_err(|err| ProtoError::bad_request(format!("field `query`: {err}")))?;
    let room = fields.opt_id("room")?;
    let before_seq = fields.opt_seq("before_seq")?;
    if before_seq.is_some() && room.is_none() {
        return Err(ProtoError::bad_request(
            "field `before_seq` needs `room`: seqs are per room",
        ));
    }
    let after = match fields.opt_string("after")? {
        None => None,
        Some(text) => Some(text.parse().map_err(|_| {
            ProtoError::bad_request("field `after` must be the `next` of an earlier `search` page")
        })?),
    };
    let limit = fields.limit("limit", DEFAULT_SEARCH_PAGE, MAX_SEARCH_PAGE)?;
    let room = room.map(room_id).transpose()?;
    Ok(Search {
        text: text.to_string(),
        query,
        room,
        before_seq,
        after,
        limit,
    })
}

fn room_id(text: &str) -> Result<RoomId, ProtoError> {
    text.parse().map_err(|_| ProtoError::no_such_room())
}

/// A message id a change names; one that is not canonical names no message.
fn message_id(text: &str) -> Result<MessageId, ProtoError> {
    text.parse()
        .map_err(|_| ProtoError::not_found("no such message"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::ErrorCode;
    use crate::protocol::command::{parse, Command};
    use crate::protocol::ids::UserId;

    fn command(value: serde_json::Value) -> Result<Command, ErrorCode> {
        parse(&value.to_string())
            .map(|frame| frame.command)
            .map_err(|rejected| rejected.error.code)
    }

    fn room_op(value: serde_json::Value) -> RoomCommand {
        match command(value) {
            Ok(Command::Room { op, .. }) => op,
            other => panic!("not a room command: {other:?}"),
        }
    }

    #[test]
    fn send_takes_a_reply_and_distinct_mentions() {
        let op = room_op(json!({"type":"send","room":"r_1","body":"hi",
            "reply_to":"m_1_4","mentions":["u_3","u_2","u_3"]}));
        let RoomCommand::Send {
            reply_to, mentions, ..
        } = op
        else {
            panic!("not a send: {op:?}");
        };
        assert_eq!(
            reply_to,
            Some(MessageId {
                room: RoomId(1),
                seq: 4
            })
        );
        assert_eq!(mentions, vec![UserId(3), UserId(2)]);
        let too_many: Vec<String> = (0..21).map(|n| format!("u_{n}")).collect();
        let refused = [
            (json!({"mentions": too_many}), ErrorCode::BadRequest),
            (json!({"mentions": ["mathbot"]}), ErrorCode::BadRequest),
            (json!({"mentions": "u_1"}), ErrorCode::BadRequest),
            (json!({"reply_to": "m_x"}), ErrorCode::NotFound),
            (json!({"reply_to": 4}), ErrorCode::BadRequest),
        ];
        for (extra, code) in refused {
            let mut frame = json!({"type":"send","room":"r_1","body":"hi"});
            for (key, value) in extra.as_object().expect("object") {
                frame[key] = value.clone();
            }
            assert_eq!(command(frame.clone()).err(), Some(code), "{frame}");
        }
    }

    #[test]
    fn edit_keeps_mentions_when_absent_and_clears_them_when_empty() {
        let edit = |extra: serde_json::Value| {
            let mut frame = json!({"type":"edit","room":"r_1","message":"m_1_2","body":"x"});
            for (key, value) in extra.as_object().expect("object") {
                frame[key] = value.clone();
            }
            room_op(frame)
        };
        let message = MessageId {
            room: RoomId(1),
            seq: 2,
        };
        assert_eq!(
            edit(json!({})),
            RoomCommand::Edit {
                message,
                body: "x".into(),
                mentions: None
            }
        );
        assert_eq!(
            edit(json!({"mentions": null})),
            RoomCommand::Edit {
                message,
                body: "x".into(),
                mentions: None
            }
        );
        assert_eq!(
            edit(json!({"mentions": []})),
            RoomCommand::Edit {
                message,
                body: "x".into(),
                mentions: Some(Vec::new())
            }
        );
        let body = |text: String| json!({"type":"edit","room":"r_1","message":"m_1_2","body":text});
        assert_eq!(
            command(body(String::new())).err(),
            Some(ErrorCode::BadRequest)
        );
        assert_eq!(
            command(body("x".repeat(4001))).err(),
            Some(ErrorCode::TooLarge)
        );
    }

    #[test]
    fn react_changes_and_search_check_their_fields() {
        assert_eq!(
            room_op(json!({"type":"react","room":"r_1","message":"m_1_2","emoji":"👍"})),
            RoomCommand::React {
                message: MessageId {
                    room: RoomId(1),
                    seq: 2
                },
                emoji: Emoji::parse("👍").expect("emoji"),
                on: true,
            }
        );
        assert_eq!(
            room_op(json!({"type":"changes","room":"r_1","after_rev":3})),
            RoomCommand::Changes {
                after_rev: 3,
                limit: DEFAULT_CHANGES_PAGE
            }
        );
        let refused = [
            json!({"type":"react","room":"r_1","message":"m_1_2","emoji":" "}),
            json!({"type":"react","room":"r_1","message":"m_1_2","emoji":"12345678901234567"}),
            json!({"type":"react","room":"r_1","message":"m_1_2","emoji":"👍","on":1}),
            json!({"type":"changes","room":"r_1","after_rev":-1}),
            json!({"type":"changes","room":"r_1","after_rev":0,"limit":201}),
            json!({"type":"search","query":"a"}),
            json!({"type":"search","query":"ab","limit":51}),
            json!({"type":"search","query":"ab","before_seq":2}),
            json!({"type":"search","query":"ab","after":"1.2"}),
        ];
        for frame in refused {
            assert_eq!(
                command(frame.clone()).err(),
                Some(ErrorCode::BadRequest),
                "{frame}"
            );
        }
        let Ok(Command::Search(search)) = command(
            json!({"type":"search","query":"넓이","room":"r_2","before_seq":9,"after":"5.2.7"}),
        ) else {
            panic!("a search");
        };
        assert_eq!(search.room, Some(RoomId(2)));
        assert_eq!(search.before_seq, Some(9));
        assert_eq!(
            search.after.map(|cursor| cursor.to_string()),
            Some("5.2.7".into())
        );
        assert_eq!(search.limit, DEFAULT_SEARCH_PAGE);
    }
}
