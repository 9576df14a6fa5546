//! A client's text frame → `Command` (src/protocol/command.rs), as the session reads it,
//! and the strict JSON reading under it (src/protocol/json.rs). Checks, for every input:
//! - the id peeked for a frame that is not run (rate limit) is the id the parser echoes;
//! - a frame that parses is within the protocol's bounds (docs/protocol.md section 4), and
//!   the command written back as JSON parses to the same frame;
//! - a refused frame gets a code a parse error can have and a short message;
//! - the strict JSON reading accepts only what serde_json accepts, reads it the same, and
//!   reads bytes as it reads text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palaver::conversation::emoji::MAX_EMOJI_CODE_POINTS;
use palaver::conversation::query::{MAX_QUERY_CODE_POINTS, MIN_QUERY_CODE_POINTS};
use palaver::conversation::MAX_MENTIONS;
use palaver::error::ErrorCode;
use palaver::protocol::command::{
    self, ClientFrame, Command, MAX_BODY_CHARS, MAX_DIRECTORY_PAGE, MAX_GROUP_MEMBERS,
    MAX_MESSAGE_FILES, MAX_PAGE, MAX_QUERY_CHARS,
};
use palaver::protocol::conversation::{MAX_CHANGES_PAGE, MAX_SEARCH_PAGE};
use palaver::protocol::fields::MAX_ID_CHARS;
use palaver::protocol::ids::UserRef;
use palaver::model::names::MAX_NAME_CHARS;
use palaver::protocol::{json, ReplyId, RoomCommand};
use palaver::safety::roles::{Role, MAX_MUTE_MINUTES};
use serde_json::{json, Map, Value};

/// Longest error message a parse error may have, in characters: every message names at
/// most a field and an id (64 characters, escaped), never a whole value the client sent.
const MAX_MESSAGE_CHARS: usize = 800;

fuzz_target!(|data: &[u8]| {
    strict_json(data);
    // The WebSocket reader hands the session only valid UTF-8 (else 1007).
    if let Ok(text) = std::str::from_utf8(data) {
        frame(text);
    }
});

fn frame(text: &str) {
    let parsed = command::parse(text);
    let id = match &parsed {
        Ok(frame) => &frame.id,
        Err(rejected) => &rejected.id,
    };
    assert_eq!(&command::peek_id(text), id, "peek_id disagrees with parse");
    if let ReplyId::Text(id) = id {
        assert!(id.chars().count() <= MAX_ID_CHARS, "echoed id too long");
    }
    match parsed {
        Ok(frame) => {
            within_bounds(&frame.command);
            let written = write(&frame).to_string();
            assert_eq!(
                command::parse(&written).as_ref(),
                Ok(&frame),
                "{text:?} parsed as {frame:?}, written back as {written:?}"
            );
        }
        Err(rejected) => {
            let error = rejected.error;
            assert!(
                matches!(
                    error.code,
                    ErrorCode::BadRequest
                        | ErrorCode::UnknownType
                        | ErrorCode::NotFound
                        | ErrorCode::TooLarge
                ),
                "{text:?}: a parse error answered {:?}",
                error.code
            );
            assert!(!error.message.is_empty(), "{text:?}: an empty message");
            let chars = error.message.chars().count();
            assert!(
                chars <= MAX_MESSAGE_CHARS,
                "{text:?}: an error message of {chars} characters: {:?}",
                error.message
            );
            assert_eq!(error.retry_after_ms, None);
        }
    }
}

/// What section 4 promises about a command the server runs.
fn within_bounds(command: &Command) {
    let id = |text: &str| {
        let chars = text.chars().count();
        assert!((1..=MAX_ID_CHARS).contains(&chars), "id {text:?}");
        no_nul(text);
    };
    let user = |user: &UserRef| {
        if let UserRef::Handle(handle) = user {
            id(handle);
            assert!(!handle.starts_with("u_"), "handle {handle:?}");
        }
    };
    match command {
        Command::Ping | Command::Rooms { page: None } => {}
        Command::Rooms { page: Some(page) } => {
            assert!((1..=palaver::protocol::command::MAX_ROOMS_PAGE).contains(&page.limit));
        }
        Command::CreateGroup { name, members, .. } => {
            assert_eq!(name.trim(), name, "name not trimmed");
            assert!((1..=MAX_NAME_CHARS).contains(&name.chars().count()));
            no_nul(name);
            assert!(members.len() <= MAX_GROUP_MEMBERS);
            members.iter().for_each(user);
        }
        Command::OpenDirect { user: who }
        | Command::LeaveGroups { owner: who }
        | Command::Block { user: who, .. } => user(who),
        Command::Blocks => {}
        Command::OpenBot { bot } => id(bot),
        Command::Room { room, op } => {
            assert!(room.0 >= 0);
            room_within_bounds(op, &id, &user);
        }
        Command::Users {
            query,
            after,
            limit,
        } => {
            assert!(query.chars().count() <= MAX_QUERY_CHARS);
            no_nul(query);
            if let Some(after) = after {
                user(after);
            }
            assert!((1..=MAX_DIRECTORY_PAGE).contains(limit));
        }
        Command::Report {
            room,
            message,
            reason,
            note,
        } => {
            assert!(room.0 >= 0);
            assert!(
                message.room.0 >= 0 && message.seq >= 0,
                "message id {message}"
            );
            assert!(
                *reason != palaver::safety::ReportReason::Rule,
                "a user cannot send `rule`"
            );
            if let Some(note) = note {
                assert!(note.chars().count() <= palaver::safety::MAX_NOTE_CHARS);
            }
        }
        Command::Search(search) => {
            let chars = search.text.chars().count();
            assert!((MIN_QUERY_CODE_POINTS..=MAX_QUERY_CODE_POINTS).contains(&chars));
            assert!(!search.query.words().is_empty());
            assert!(search.before_seq.is_none() || search.room.is_some());
            assert!((1..=MAX_SEARCH_PAGE).contains(&search.limit));
        }
    }
}

/// What section 4 promises about a room command the server runs.
fn room_within_bounds(op: &RoomCommand, id: &dyn Fn(&str), user: &dyn Fn(&UserRef)) {
    match op {
        RoomCommand::Invite { user: who } | RoomCommand::Kick { user: who } => user(who),
        RoomCommand::Join { after_seq, limit } => {
            assert!(after_seq.is_none_or(|seq| seq >= 0));
            assert!((1..=MAX_PAGE).contains(limit));
        }
        RoomCommand::History { before_seq, limit } => {
            assert!(before_seq.is_none_or(|seq| seq >= 0));
            assert!((1..=MAX_PAGE).contains(limit));
        }
        RoomCommand::Leave { .. } | RoomCommand::Typing | RoomCommand::Notify { .. } => {}
        RoomCommand::Send {
            body,
            client_msg_id,
            files,
            reply_to,
            mentions,
        } => {
            assert!(reply_to.is_none_or(|message| message.room.0 >= 0 && message.seq >= 0));
            assert!(mentions.len() <= MAX_MENTIONS);
            for (index, mention) in mentions.iter().enumerate() {
                assert!(!mentions[..index].contains(mention), "a mention twice");
            }
            let chars = body.chars().count();
            assert!(chars <= MAX_BODY_CHARS);
            assert!(chars > 0 || !files.is_empty(), "an empty send");
            no_nul(body);
            if let Some(client_msg_id) = client_msg_id {
                id(client_msg_id);
            }
            assert!(files.len() <= MAX_MESSAGE_FILES);
            for (index, file) in files.iter().enumerate() {
                let id = file.to_string();
                let key = id.strip_prefix("f_").unwrap_or_default();
                assert!(
                    key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{id}"
                );
                assert!(!files[..index].contains(file), "a file twice");
            }
        }
        RoomCommand::Read { seq } => assert!(*seq >= 0),
        RoomCommand::Action { message, action } => {
            id(action);
            assert!(message.room.0 >= 0 && message.seq >= 0);
        }
        RoomCommand::Edit { body, mentions, .. } => {
            let chars = body.chars().count();
            assert!(chars > 0 && chars <= MAX_BODY_CHARS);
            no_nul(body);
            assert!(mentions
                .as_ref()
                .is_none_or(|users| users.len() <= MAX_MENTIONS));
        }
        RoomCommand::Delete { .. } => {}
        RoomCommand::React { emoji, .. } => {
            let chars = emoji.as_str().chars().count();
            assert!(chars > 0 && chars <= MAX_EMOJI_CODE_POINTS);
        }
        RoomCommand::Changes { after_rev, limit } => {
            assert!(*after_rev >= 0);
            assert!((1..=MAX_CHANGES_PAGE).contains(limit));
        }
        RoomCommand::SetRole { user: who, role } => {
            user(who);
            assert!(matches!(role, Role::Moderator | Role::Member), "{role}");
        }
        RoomCommand::Mute { user: who, minutes } => {
            user(who);
            assert!(minutes.get() <= MAX_MUTE_MINUTES);
        }
        RoomCommand::Ban { user: who, .. } => user(who),
    }
}

fn no_nul(text: &str) {
    assert!(!text.contains('\0'), "a NUL in {text:?}");
}

/// The frame a client would write for this command.
fn write(frame: &ClientFrame) -> Value {
    let mut object = Map::new();
    object.insert("type".into(), frame.command.name().into());
    match &frame.id {
        ReplyId::None => {}
        ReplyId::Text(text) => {
            object.insert("id".into(), text.as_str().into());
        }
        ReplyId::Number(number) => {
            object.insert("id".into(), Value::Number(number.clone()));
        }
    }
    let fields = match &frame.command {
        Command::Ping | Command::Rooms { page: None } => json!({}),
        Command::Rooms { page: Some(page) } => match page.after {
            Some(after) => json!({"limit": page.limit, "after": after.to_string()}),
            None => json!({"limit": page.limit}),
        },
        Command::CreateGroup {
            name,
            members,
            public,
        } => json!({
            "name": name,
            "members": members.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "public": public,
        }),
        Command::OpenDirect { user } => json!({ "user": user.to_string() }),
        Command::Block { user, on } => json!({ "user": user.to_string(), "on": on }),
        Command::Blocks => json!({}),
        Command::OpenBot { bot } => json!({ "bot": bot }),
        Command::Room { room, op } => {
            let mut fields = room_fields(op);
            fields["room"] = room.to_string().into();
            fields
        }
        Command::LeaveGroups { owner } => json!({ "owner": owner.to_string() }),
        Command::Users {
            query,
            after,
            limit,
        } => json!({
            "query": query,
            "after": after.as_ref().map(ToString::to_string),
            "limit": limit,
        }),
        Command::Report {
            room,
            message,
            reason,
            note,
        } => json!({
            "room": room.to_string(),
            "message": message.to_string(),
            "reason": reason.as_str(),
            "note": note,
        }),
        Command::Search(search) => json!({
            "query": search.text,
            "room": search.room.map(|room| room.to_string()),
            "before_seq": search.before_seq,
            "after": search.after.map(|cursor| cursor.to_string()),
            "limit": search.limit,
        }),
    };
    let Value::Object(fields) = fields else {
        unreachable!("every command's fields are an object");
    };
    object.extend(fields);
    Value::Object(object)
}

/// The fields of a room command as a client would write them, but its room.
fn room_fields(op: &RoomCommand) -> Value {
    match op {
        RoomCommand::Join { after_seq, limit } => json!({ "after_seq": after_seq, "limit": limit }),
        RoomCommand::Leave { forget } => json!({ "forget": forget }),
        RoomCommand::Send {
            body,
            client_msg_id,
            files,
            reply_to,
            mentions,
        } => json!({
            "body": body,
            "client_msg_id": client_msg_id,
            "files": files.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "reply_to": reply_to.as_ref().map(ToString::to_string),
            "mentions": mentions.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }),
        RoomCommand::Edit {
            message,
            body,
            mentions,
        } => json!({
            "message": message.to_string(),
            "body": body,
            "mentions": mentions
                .as_ref()
                .map(|users| users.iter().map(ToString::to_string).collect::<Vec<_>>()),
        }),
        RoomCommand::Delete { message } => json!({ "message": message.to_string() }),
        RoomCommand::React { message, emoji, on } => {
            json!({ "message": message.to_string(), "emoji": emoji.as_str(), "on": on })
        }
        RoomCommand::Changes { after_rev, limit } => {
            json!({ "after_rev": after_rev, "limit": limit })
        }
        RoomCommand::History { before_seq, limit } => {
            json!({ "before_seq": before_seq, "limit": limit })
        }
        RoomCommand::Read { seq } => json!({ "seq": seq }),
        RoomCommand::Typing => json!({}),
        RoomCommand::Notify { level } => json!({ "level": level.as_str() }),
        RoomCommand::Action { message, action } => {
            json!({ "message": message.to_string(), "action": action })
        }
        RoomCommand::Invite { user } | RoomCommand::Kick { user } => {
            json!({ "user": user.to_string() })
        }
        RoomCommand::SetRole { user, role } => {
            json!({ "user": user.to_string(), "role": role.as_str() })
        }
        RoomCommand::Mute { user, minutes } => {
            json!({ "user": user.to_string(), "minutes": minutes.get() })
        }
        RoomCommand::Ban { user, on } => json!({ "user": user.to_string(), "on": on }),
    }
}

/// The strict reading against serde_json's own, on the same bytes.
fn strict_json(data: &[u8]) {
    let strict = json::parse_slice(data);
    let lenient = serde_json::from_slice::<Value>(data);
    match (&strict, &lenient) {
        (Ok(strict), Ok(lenient)) => assert_eq!(strict, lenient, "read differently"),
        (Ok(_), Err(err)) => panic!("strict accepted what serde_json refuses: {err}"),
        (Err(json::JsonError::Syntax(err)), Ok(_)) => {
            panic!("strict calls valid JSON a syntax error: {err}")
        }
        // A duplicate key or a NUL, in valid JSON or before a later syntax error.
        (Err(_), _) => {}
    }
    match std::str::from_utf8(data) {
        Ok(text) => assert_eq!(json::parse(text), strict, "text and bytes read differently"),
        Err(_) => assert!(strict.is_err(), "strict accepted invalid UTF-8"),
    }
}
