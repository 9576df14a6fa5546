//! Unit tests of the frame parser (`protocol/command.rs`): what each command yields, typed,
//! and the answer to every mistake docs/protocol.md section 2 lists.

use super::*;
use crate::model::UserId;
use crate::protocol::ids::{FileId, MessageId};

fn code_of(text: &str) -> (ReplyId, ErrorCode) {
    let rejected = parse(text).expect_err(text);
    (rejected.id, rejected.error.code)
}

#[test]
fn parses_send_with_numeric_id_and_ignores_unknown_fields() {
    let frame =
        parse(r#"{"type":"send","id":7,"room":"r_1","body":"hi","template":{"x":1},"zzz":true}"#)
            .expect("valid");
    assert_eq!(frame.id, ReplyId::Number(7.into()));
    assert_eq!(
        frame.command,
        Command::Room {
            room: RoomId(1),
            op: RoomCommand::Send {
                body: "hi".into(),
                client_msg_id: None,
                files: vec![],
                reply_to: None,
                mentions: Vec::new(),
            }
        }
    );
}

#[test]
fn a_send_may_carry_files_and_then_no_body() {
    let key = "0123456789abcdef0123456789abcdef";
    let frame = parse(&format!(
        r#"{{"type":"send","id":1,"room":"r_1","body":"","files":["f_{key}"]}}"#
    ))
    .expect("valid");
    assert_eq!(
        frame.command,
        Command::Room {
            room: RoomId(1),
            op: RoomCommand::Send {
                body: String::new(),
                client_msg_id: None,
                files: vec![FileId::stored(key)],
                reply_to: None,
                mentions: Vec::new(),
            }
        }
    );
    let code = |text: &str| parse(text).err().map(|err| err.error.code);
    let made_up = r#"{"type":"send","id":1,"room":"r_1","body":"","files":["f_nope"]}"#;
    assert_eq!(code(made_up), Some(ErrorCode::NotFound));
    let no_files = r#"{"type":"send","id":1,"room":"r_1","body":"","files":[]}"#;
    assert_eq!(code(no_files), Some(ErrorCode::BadRequest));
    let twice = format!(
        r#"{{"type":"send","id":1,"room":"r_1","body":"x","files":["f_{key}","f_{key}"]}}"#
    );
    assert_eq!(code(&twice), Some(ErrorCode::BadRequest));
    let eleven: Vec<String> = (0..11).map(|n| format!("\"f_{n:032x}\"")).collect();
    let many = format!(
        r#"{{"type":"send","id":1,"room":"r_1","body":"x","files":[{}]}}"#,
        eleven.join(",")
    );
    assert_eq!(code(&many), Some(ErrorCode::BadRequest));
}

#[test]
fn rejects_what_section_two_lists() {
    assert_eq!(code_of("nope"), (ReplyId::None, ErrorCode::BadRequest));
    assert_eq!(code_of("[1]"), (ReplyId::None, ErrorCode::BadRequest));
    assert_eq!(code_of(r#"{"id":1}"#).1, ErrorCode::BadRequest);
    assert_eq!(
        code_of(r#"{"type":"dance","id":"a"}"#),
        (ReplyId::Text("a".into()), ErrorCode::UnknownType)
    );
    assert_eq!(
        code_of(r#"{"type":"ping","id":1.5}"#),
        (ReplyId::None, ErrorCode::BadRequest)
    );
    let long_id = "x".repeat(65);
    assert_eq!(
        code_of(&format!(r#"{{"type":"ping","id":"{long_id}"}}"#)),
        (ReplyId::None, ErrorCode::BadRequest)
    );
    assert_eq!(
        code_of(r#"{"type":"join","room":"r_1","limit":0}"#).1,
        ErrorCode::BadRequest
    );
    assert_eq!(
        code_of(r#"{"type":"join","room":"r_1","limit":201}"#).1,
        ErrorCode::BadRequest
    );
    assert_eq!(
        code_of(r#"{"type":"read","room":"r_1","seq":-1}"#).1,
        ErrorCode::BadRequest
    );
    assert_eq!(
        code_of(r#"{"type":"read","room":"r_1","seq":18446744073709551616}"#).1,
        ErrorCode::BadRequest
    );
    assert_eq!(
        code_of(r#"{"type":"send","room":"r_1","body":""}"#).1,
        ErrorCode::BadRequest
    );
    assert_eq!(
        code_of(r#"{"type":"send","room":5,"body":"x"}"#).1,
        ErrorCode::BadRequest
    );
    let big = "é".repeat(MAX_BODY_CHARS + 1);
    assert_eq!(
        code_of(&format!(r#"{{"type":"send","room":"r_1","body":"{big}"}}"#)).1,
        ErrorCode::TooLarge
    );
}

#[test]
fn refuses_duplicate_keys_and_nul_with_bad_request() {
    assert_eq!(
        code_of(r#"{"type":"ping","type":"send","id":3,"room":"r_1","body":"x"}"#),
        (ReplyId::Number(3.into()), ErrorCode::BadRequest)
    );
    assert_eq!(
        code_of(r#"{"type":"ping","id":1,"id":2}"#),
        (ReplyId::None, ErrorCode::BadRequest)
    );
    assert_eq!(
        code_of(r#"{"type":"send","id":"a","room":"r_1","body":"x","x":{"k":1,"k":2}}"#),
        (ReplyId::Text("a".into()), ErrorCode::BadRequest)
    );
    for frame in [
        r#"{"type":"send","id":4,"room":"r_1","body":"a\u0000b"}"#,
        r#"{"type":"send","id":4,"room":"r_1","body":"x","client_msg_id":"c\u0000"}"#,
        r#"{"type":"create_group","id":4,"name":"g\u0000"}"#,
    ] {
        assert_eq!(
            code_of(frame),
            (ReplyId::Number(4.into()), ErrorCode::BadRequest),
            "{frame}"
        );
    }
}

#[test]
fn users_reads_query_cursor_and_limit() {
    let frame = parse(r#"{"type":"users","id":1}"#).expect("valid");
    assert_eq!(
        frame.command,
        Command::Users {
            query: String::new(),
            after: None,
            limit: DEFAULT_DIRECTORY_PAGE,
        }
    );
    let frame =
        parse(r#"{"type":"users","id":1,"query":"Ém","after":"u_3","limit":50}"#).expect("valid");
    assert_eq!(
        frame.command,
        Command::Users {
            query: "Ém".into(),
            after: Some(UserRef::Id(UserId(3))),
            limit: 50,
        }
    );
    let frame = parse(r#"{"type":"users","after":"mathbot"}"#).expect("valid");
    assert!(matches!(
        frame.command,
        Command::Users { after: Some(UserRef::Handle(ref handle)), .. } if handle == "mathbot"
    ));
    let long = "x".repeat(MAX_QUERY_CHARS + 1);
    for frame in [
        r#"{"type":"users","id":2,"query":5}"#.to_string(),
        r#"{"type":"users","id":2,"query":["a"]}"#.to_string(),
        format!(r#"{{"type":"users","id":2,"query":"{long}"}}"#),
        r#"{"type":"users","id":2,"after":7}"#.to_string(),
        r#"{"type":"users","id":2,"after":""}"#.to_string(),
        r#"{"type":"users","id":2,"after":"u_x"}"#.to_string(),
        r#"{"type":"users","id":2,"limit":0}"#.to_string(),
        r#"{"type":"users","id":2,"limit":51}"#.to_string(),
        r#"{"type":"users","id":2,"limit":"5"}"#.to_string(),
        r#"{"type":"users","id":2,"limit":2.5}"#.to_string(),
    ] {
        assert_eq!(
            code_of(&frame),
            (ReplyId::Number(2.into()), ErrorCode::BadRequest),
            "{frame}"
        );
    }
}

#[test]
fn ids_come_out_typed() {
    let frame = |text: &str| parse(text).expect(text).command;
    assert_eq!(
        frame(r#"{"type":"action","room":"r_3","message":"m_3_12","action":"b1"}"#),
        Command::Room {
            room: RoomId(3),
            op: RoomCommand::Action {
                message: MessageId {
                    room: RoomId(3),
                    seq: 12
                },
                action: "b1".into(),
            }
        }
    );
    assert_eq!(
        frame(r#"{"type":"kick","room":"r_3","user":"u_9"}"#),
        Command::Room {
            room: RoomId(3),
            op: RoomCommand::Kick {
                user: UserRef::Id(UserId(9)),
            }
        }
    );
    assert_eq!(
        frame(r#"{"type":"create_group","name":"g","members":["u_2","mathbot"]}"#),
        Command::CreateGroup {
            name: "g".into(),
            members: vec![UserRef::Id(UserId(2)), UserRef::Handle("mathbot".into())],
            public: false,
        }
    );
}

#[test]
fn non_canonical_ids_are_answered_like_ids_that_name_nothing() {
    let refusal = |text: &str| {
        let rejected = parse(text).expect_err(text);
        (rejected.error.code, rejected.error.message)
    };
    let no_room = (ErrorCode::NotFound, ProtoError::no_such_room().message);
    for room in ["r_0001", "r_+1", "r_01", "r_nope", "r_"] {
        for frame in [
            format!(r#"{{"type":"join","room":"{room}"}}"#),
            format!(r#"{{"type":"send","room":"{room}","body":"x"}}"#),
            format!(r#"{{"type":"history","room":"{room}"}}"#),
            format!(r#"{{"type":"typing","room":"{room}"}}"#),
            format!(r#"{{"type":"kick","room":"{room}","user":"u_2"}}"#),
        ] {
            assert_eq!(refusal(&frame), no_room, "{frame}");
        }
    }
    for user in ["u_007", "u_x", "u_+7"] {
        let no_user = (ErrorCode::NotFound, format!("no such user {user}"));
        for frame in [
            format!(r#"{{"type":"open_direct","user":"{user}"}}"#),
            format!(r#"{{"type":"invite","room":"r_1","user":"{user}"}}"#),
            format!(r#"{{"type":"create_group","name":"g","members":["{user}"]}}"#),
        ] {
            assert_eq!(refusal(&frame), no_user, "{frame}");
        }
    }
    assert_eq!(
        refusal(r#"{"type":"action","room":"r_1","message":"m_01_2","action":"b"}"#),
        (
            ErrorCode::BadRequest,
            r#"message "m_01_2" is not in this room"#.to_string()
        )
    );
    // Another field's mistake is still reported first, as before ids were typed.
    assert_eq!(
        refusal(r#"{"type":"join","room":"r_01","limit":0}"#).0,
        ErrorCode::BadRequest
    );
}

#[test]
fn body_length_counts_code_points() {
    assert!(body(&"é".repeat(MAX_BODY_CHARS)).is_ok());
}
