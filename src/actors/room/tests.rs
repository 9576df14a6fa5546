//! Actor-level tests of a room: seq and delivery order, membership, relay rules, and a
//! crash that is contained and restarted from the store.

use actix::prelude::*;
use serde_json::{json, Value};

use super::{Crash, Room};
use crate::actors::messages::{AdminOp, Caller, Origin, Post, Reply, ToRoom};
use crate::actors::outbox::OutboxDrain;
use crate::actors::testing::Fixture;
use crate::error::ErrorCode;
use crate::protocol::ids::{RoomId, UserRef};
use crate::protocol::ReplyId;
use crate::protocol::RoomCommand;

async fn ask(
    room: &Addr<Room>,
    caller: &Caller,
    command: RoomCommand,
) -> Result<Reply, crate::error::ProtoError> {
    let origin = Origin::request(
        caller.clone(),
        ReplyId::Number(1.into()),
        command.name(),
        RoomId(0),
    );
    room.send(ToRoom { origin, command })
        .await
        .expect("room answers")
}

async fn join(room: &Addr<Room>, caller: &Caller) {
    let reply = ask(
        room,
        caller,
        RoomCommand::Join {
            after_seq: None,
            limit: 50,
        },
    )
    .await;
    assert!(matches!(reply, Ok(Reply::Written)), "{reply:?}");
}

/// Hands a post to the room, as a session does; the room answers into the caller's outbox.
async fn say(room: &Addr<Room>, caller: &Caller, command: RoomCommand) {
    let origin = Origin::post(
        caller.clone(),
        ReplyId::Number(1.into()),
        command.name(),
        RoomId(0),
    );
    let reply = room.send(ToRoom { origin, command }).await;
    assert!(matches!(reply, Ok(Ok(Reply::Written))), "the room takes it");
}

/// A send that is answered `ok` (events of joined rooms before it are skipped).
async fn sent(room: &Addr<Room>, caller: &Caller, out: &mut OutboxDrain, body: &str) {
    say(room, caller, send(body)).await;
    loop {
        let frame = out.next_json().await;
        match frame["type"].as_str() {
            Some("ok") => return,
            Some("error") => panic!("the send failed: {frame}"),
            _ => continue,
        }
    }
}

/// A send that fails: its error as the connection sees it, `(code, message)`. The room
/// writes a send's answer itself, errors too.
async fn failed_send(
    room: &Addr<Room>,
    caller: &Caller,
    out: &mut OutboxDrain,
) -> (String, String) {
    say(room, caller, send("hi")).await;
    let frame = out.next_json().await;
    assert_eq!(frame["type"], "error", "{frame}");
    (
        frame["code"].as_str().unwrap_or_default().to_string(),
        frame["message"].as_str().unwrap_or_default().to_string(),
    )
}

fn send(body: &str) -> RoomCommand {
    RoomCommand::Send {
        body: body.into(),
        client_msg_id: None,
        files: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
    }
}

#[actix_rt::test]
async fn sends_get_consecutive_seq_and_reach_every_joined_connection_in_order() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bob = fixture.user("bob").await;
    let id = fixture.group(&amy, &[&bob], false).await;
    let room = fixture.room(id).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    let (bob_conn, mut bob_out) = fixture.connection(&bob, "s_bob");
    join(&room, &amy_conn).await;
    join(&room, &bob_conn).await;
    assert_eq!(amy_out.next_json().await["type"], "ok");
    assert_eq!(bob_out.next_json().await["type"], "ok");

    let sends: Vec<_> = (0..20)
        .map(|n| {
            let caller = if n % 2 == 0 { &amy_conn } else { &bob_conn };
            say(&room, caller, send(&format!("m{n}")))
        })
        .collect();
    futures_util::future::join_all(sends).await;
    let (mut seen, mut oks) = (Vec::new(), 0);
    while seen.len() < 20 {
        let frame = bob_out.next_json().await;
        match frame["type"].as_str() {
            Some("message") => seen.push(frame["message"]["seq"].as_i64().expect("seq")),
            Some("ok") => oks += 1,
            _ => panic!("unexpected {frame}"),
        }
    }
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
    assert_eq!(oks, 10, "each of bob's sends answered before its event");
}

#[actix_rt::test]
async fn the_sender_gets_its_ok_before_its_own_message_event() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let id = fixture.group(&amy, &[], false).await;
    let room = fixture.room(id).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    join(&room, &amy_conn).await;
    amy_out.next_json().await;
    say(&room, &amy_conn, send("hello")).await;
    let ok = amy_out.next_json().await;
    assert_eq!(ok["type"], "ok");
    assert_eq!(ok["id"], 1);
    assert_eq!(ok["data"]["message"]["seq"], 1);
    let event = amy_out.next_json().await;
    assert_eq!(event["type"], "message");
    assert_eq!(event["message"], ok["data"]["message"]);
}

#[actix_rt::test]
async fn a_repeated_client_msg_id_returns_the_first_message_and_delivers_nothing() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let id = fixture.group(&amy, &[], false).await;
    let room = fixture.room(id).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    let first = RoomCommand::Send {
        body: "one".into(),
        client_msg_id: Some("c-1".into()),
        files: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
    };
    let again = RoomCommand::Send {
        body: "two".into(),
        client_msg_id: Some("c-1".into()),
        files: Vec::new(),
        reply_to: None,
        mentions: Vec::new(),
    };
    say(&room, &amy_conn, first).await;
    let first_ok = amy_out.next_json().await;
    say(&room, &amy_conn, again).await;
    let again_ok = amy_out.next_json().await;
    assert_eq!(again_ok["data"]["message"], first_ok["data"]["message"]);
    assert_eq!(amy_out.pending(), 0, "no event for a duplicate");
    let page = fixture.store.messages_after(id, 0, 10).await.expect("page");
    assert_eq!(page.messages.len(), 1);
}

#[actix_rt::test]
async fn membership_rules_hold() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bob = fixture.user("bob").await;
    let eve = fixture.user("eve").await;
    let private = fixture.group(&amy, &[&bob], false).await;
    let public = fixture.group(&amy, &[], true).await;
    let private_room = fixture.room(private).await;
    let public_room = fixture.room(public).await;
    let missing_room = fixture.room(RoomId(9999)).await;
    let (eve_conn, mut eve_out) = fixture.connection(&eve, "s_eve");
    let (bob_conn, _bob_out) = fixture.connection(&bob, "s_bob");
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");

    let hidden = failed_send(&private_room, &eve_conn, &mut eve_out).await;
    let missing = failed_send(&missing_room, &eve_conn, &mut eve_out).await;
    assert_eq!(hidden, missing, "a private room looks exactly like no room");
    assert_eq!(hidden.0, "not_found");

    let outsider = failed_send(&public_room, &eve_conn, &mut eve_out).await;
    assert_eq!(outsider.0, "forbidden");
    join(&public_room, &amy_conn).await;
    amy_out.next_json().await;
    join(&public_room, &eve_conn).await;
    assert_eq!(eve_out.next_json().await["type"], "ok");
    let joined = amy_out.next_json().await;
    assert_eq!(joined["type"], "member_joined");
    sent(&public_room, &eve_conn, &mut eve_out, "now a member").await;

    let kick = ask(
        &private_room,
        &bob_conn,
        RoomCommand::Kick {
            user: UserRef::Id(amy.id),
        },
    )
    .await
    .expect_err("not owner");
    assert_eq!(kick.code, ErrorCode::Forbidden);
    let invite = ask(
        &private_room,
        &eve_conn,
        RoomCommand::Invite {
            user: UserRef::Id(eve.id),
        },
    )
    .await
    .expect_err("hidden");
    assert_eq!(invite.code, ErrorCode::NotFound);
    ask(
        &private_room,
        &bob_conn,
        RoomCommand::Invite {
            user: UserRef::Id(eve.id),
        },
    )
    .await
    .expect("member invites");
    sent(&private_room, &eve_conn, &mut eve_out, "invited").await;
    ask(
        &private_room,
        &amy_conn,
        RoomCommand::Kick {
            user: UserRef::Id(eve.id),
        },
    )
    .await
    .expect("owner kicks");
    while eve_out.pending() > 0 {
        eve_out.next_json().await;
    }
    let after = failed_send(&private_room, &eve_conn, &mut eve_out).await;
    assert_eq!(after.0, "not_found");
}

#[actix_rt::test]
async fn read_positions_move_forward_only_and_are_checked() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bob = fixture.user("bob").await;
    let id = fixture.group(&amy, &[&bob], false).await;
    let room = fixture.room(id).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    let (bob_conn, _) = fixture.connection(&bob, "s_bob");
    for n in 0..3 {
        sent(&room, &amy_conn, &mut amy_out, &format!("m{n}")).await;
    }
    let read = |seq| ask(&room, &bob_conn, RoomCommand::Read { seq });
    let data = |reply: Reply| match reply {
        Reply::Data(data) => data,
        Reply::Written => Value::Null,
    };
    assert_eq!(data(read(2).await.expect("read")), json!({"read_seq": 2}));
    assert_eq!(
        data(read(1).await.expect("read")),
        json!({"read_seq": 2}),
        "never backwards"
    );
    let past = read(4).await.expect_err("past the end");
    assert_eq!(past.code, ErrorCode::BadRequest);
}

#[actix_rt::test]
async fn a_crashed_room_is_restarted_from_the_store_and_nothing_else_notices() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bob = fixture.user("bob").await;
    let crashing = fixture.group(&amy, &[&bob], false).await;
    let steady = fixture.group(&amy, &[&bob], false).await;
    let room = fixture.room(crashing).await;
    let other = fixture.room(steady).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    let (bob_conn, _) = fixture.connection(&bob, "s_bob");
    join(&room, &amy_conn).await;
    join(&other, &amy_conn).await;
    amy_out.next_json().await;
    amy_out.next_json().await;
    say(&room, &bob_conn, send("before")).await;
    assert_eq!(amy_out.next_json().await["message"]["seq"], 1);

    room.do_send(Crash);
    let mut restarted = room.clone();
    for _ in 0..100 {
        restarted = fixture.room(crashing).await;
        if restarted != room && restarted.connected() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        restarted != room,
        "the hub started a new actor for the room"
    );
    assert!(!room.connected(), "the crashed actor is gone");

    // The joined connection still gets the room's messages, with seq carrying on.
    say(&restarted, &bob_conn, send("after")).await;
    let event = amy_out.next_json().await;
    assert_eq!(event["message"]["seq"], 2);
    assert_eq!(event["message"]["body"], "after");
    // The other room never noticed.
    let same = fixture.room(steady).await;
    assert!(same == other && other.connected());
    say(&other, &bob_conn, send("elsewhere")).await;
    assert_eq!(amy_out.next_json().await["message"]["body"], "elsewhere");
}

#[actix_rt::test]
async fn system_posts_and_deletion() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let system = fixture
        .store
        .user_by_handle("system")
        .await
        .expect("store")
        .expect("system user");
    let id = fixture.group(&amy, &[], false).await;
    let room = fixture.room(id).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    join(&room, &amy_conn).await;
    amy_out.next_json().await;
    let posted = room
        .send(Post {
            sender: system,
            body: "maintenance at noon".into(),
            template: None,
            action: None,
        })
        .await
        .expect("room answers")
        .expect("posted");
    assert_eq!(posted.row.seq, 1);
    let event = amy_out.next_json().await;
    assert_eq!(event["message"]["sender"]["kind"], "system");
    room.send(AdminOp::Delete)
        .await
        .expect("room answers")
        .expect("deleted");
    assert!(fixture.store.room(id).await.expect("store").is_none());
}

#[actix_rt::test]
async fn changes_reach_joined_connections_in_rev_order_across_a_crash() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bob = fixture.user("bob").await;
    let id = fixture.group(&amy, &[&bob], false).await;
    let room = fixture.room(id).await;
    let (amy_conn, mut amy_out) = fixture.connection(&amy, "s_amy");
    let (bob_conn, mut bob_out) = fixture.connection(&bob, "s_bob");
    join(&room, &amy_conn).await;
    amy_out.next_json().await;
    sent(&room, &bob_conn, &mut bob_out, "before").await;
    assert_eq!(amy_out.next_json().await["type"], "message");
    let message = crate::model::MessageId { room: id, seq: 1 };
    let edit = RoomCommand::Edit {
        message,
        body: "after".into(),
        mentions: None,
    };
    assert!(matches!(
        ask(&room, &bob_conn, edit).await,
        Ok(Reply::Written)
    ));
    let ok = bob_out.next_json().await;
    assert_eq!(
        (ok["type"].as_str(), &ok["data"]["message"]["rev"]),
        (Some("ok"), &json!(1))
    );
    let event = amy_out.next_json().await;
    assert_eq!(
        (event["type"].as_str(), &event["rev"]),
        (Some("message_updated"), &json!(1))
    );
    assert_eq!(event["message"]["body"], "after");

    room.do_send(Crash);
    let mut restarted = room.clone();
    for _ in 0..100 {
        restarted = fixture.room(id).await;
        if restarted != room && restarted.connected() {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        restarted != room,
        "the hub started a new actor for the room"
    );
    let react = RoomCommand::React {
        message,
        emoji: crate::conversation::Emoji::parse("👍").expect("emoji"),
        on: true,
    };
    assert!(matches!(
        ask(&restarted, &bob_conn, react).await,
        Ok(Reply::Written)
    ));
    let event = amy_out.next_json().await;
    assert_eq!(
        (event["type"].as_str(), &event["rev"]),
        (Some("message_updated"), &json!(2))
    );
    assert_eq!(
        event["message"]["reactions"],
        json!([{"emoji":"👍","count":1,"me":false}]),
        "amy's own view of bob's reaction"
    );
}
