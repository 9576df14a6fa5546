//! End-to-end: blocking (docs/protocol.md section 13, "Blocking") on SQLite, PostgreSQL and
//! a two-node cluster (where the blocker and the blocked sit on different nodes): `block` and
//! `blocks`, a direct chat closed for both sides, `open_direct`, `invite` and `create_group`
//! refused either way, a shared group where the blocked user's messages reach the blocker as
//! `blocked` (events, `join`, `history`, `changes`, `last_message`, `message_updated`) while
//! everyone else gets them whole, `typing` and `read` kept from the blocker, `search` leaving
//! them out, a report that keeps the real message, and every refusal of bad input.

mod common;

use common::world::{World, AMY, BOB, CAROL};
use common::{room_id, Backend, Client};
use serde_json::{json, Value};

async fn send(client: &mut Client, room: &str, body: &str) -> Value {
    client
        .ok(json!({"type":"send","room":room,"body":body}))
        .await["message"]
        .clone()
}

/// The next `message` event whose body or id is `id`.
async fn message_event(client: &mut Client, id: &Value) -> Value {
    loop {
        let event = client.event("message").await["message"].clone();
        if &event["id"] == id {
            return event;
        }
    }
}

fn assert_hidden(message: &Value) {
    assert_eq!(message["blocked"], true, "{message}");
    assert_eq!(message["body"], "", "{message}");
    assert_eq!(message["files"], json!([]), "{message}");
    assert_eq!(message["template"], Value::Null, "{message}");
    assert_eq!(message["reactions"], json!([]), "{message}");
}

fn assert_whole(message: &Value, body: &str) {
    assert!(message.get("blocked").is_none(), "{message}");
    assert_eq!(message["body"], body, "{message}");
}

async fn direct_chat_closes_for_both_sides_and_reopens_on_unblock(backend: Backend) {
    let w = World::three(backend).await;
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    let direct = room_id(
        &amy.ok(json!({"type":"open_direct","user":w.ids[BOB]}))
            .await,
    );
    amy.ok(json!({"type":"join","room":direct})).await;
    bob.ok(json!({"type":"join","room":direct})).await;
    send(&mut bob, &direct, "hello").await;

    // Bad input changes nothing.
    let bot = amy.ok(json!({"type":"users","query":"Mathbot"})).await["users"][0]["id"].clone();
    assert_eq!(
        amy.error(json!({"type":"block","user":w.ids[AMY]})).await,
        "bad_request",
        "oneself"
    );
    assert_eq!(
        amy.error(json!({"type":"block","user":bot})).await,
        "bad_request",
        "a bot"
    );
    assert_eq!(
        amy.error(json!({"type":"block","user":"u_999999"})).await,
        "not_found"
    );
    assert_eq!(
        amy.error(json!({"type":"block","user":"bob"})).await,
        "not_found",
        "a name, not an id"
    );
    assert_eq!(amy.error(json!({"type":"block"})).await, "bad_request");
    assert_eq!(
        amy.error(json!({"type":"block","user":w.ids[BOB],"on":"yes"}))
            .await,
        "bad_request"
    );
    assert_eq!(
        amy.ok(json!({"type":"blocks"})).await,
        json!({"users":[]}),
        "nothing was blocked by bad input"
    );
    send(&mut amy, &direct, "still open").await;

    amy.ok(json!({"type":"block","user":w.ids[BOB]})).await;
    amy.ok(json!({"type":"block","user":w.ids[BOB],"on":true}))
        .await;
    let blocks = amy.ok(json!({"type":"blocks"})).await;
    assert_eq!(
        blocks["users"].as_array().map(Vec::len),
        Some(1),
        "{blocks}"
    );
    assert_eq!(blocks["users"][0]["id"], w.ids[BOB].as_str());
    assert_eq!(blocks["users"][0]["name"], "bob");
    assert_eq!(
        bob.ok(json!({"type":"blocks"})).await,
        json!({"users":[]}),
        "a block is the blocker's own"
    );

    let stored = w.server.all_messages(&direct).await.len();
    for client in [&mut amy, &mut bob] {
        assert_eq!(
            client
                .error(json!({"type":"send","room":direct,"body":"hi"}))
                .await,
            "forbidden"
        );
    }
    assert_eq!(
        amy.error(json!({"type":"open_direct","user":w.ids[BOB]}))
            .await,
        "forbidden"
    );
    assert_eq!(
        bob.error(json!({"type":"open_direct","user":w.ids[AMY]}))
            .await,
        "forbidden"
    );
    assert_eq!(
        w.server.all_messages(&direct).await.len(),
        stored,
        "nothing was stored"
    );

    // Unblocking lets both write again.
    amy.ok(json!({"type":"block","user":w.ids[BOB],"on":false}))
        .await;
    assert_eq!(amy.ok(json!({"type":"blocks"})).await, json!({"users":[]}));
    send(&mut bob, &direct, "hello again").await;
    send(&mut amy, &direct, "hi").await;
    amy.ok(json!({"type":"open_direct","user":w.ids[BOB]}))
        .await;
}
on_every_deployment!(direct_chat_closes_for_both_sides_and_reopens_on_unblock);

async fn neither_side_of_a_block_brings_the_other_into_a_group(backend: Backend) {
    let w = World::three(backend).await;
    let (mut amy, mut bob) = (w.connect(AMY).await, w.connect(BOB).await);
    bob.ok(json!({"type":"block","user":w.ids[AMY]})).await;
    let amys = room_id(
        &amy.ok(json!({"type":"create_group","name":"amy's","members":[w.ids[CAROL]]}))
            .await,
    );
    let bobs = room_id(
        &bob.ok(json!({"type":"create_group","name":"bob's","members":[w.ids[CAROL]]}))
            .await,
    );
    assert_eq!(
        amy.error(json!({"type":"invite","room":amys,"user":w.ids[BOB]}))
            .await,
        "forbidden",
        "the blocked one cannot invite the blocker"
    );
    assert_eq!(
        bob.error(json!({"type":"invite","room":bobs,"user":w.ids[AMY]}))
            .await,
        "forbidden",
        "the blocker cannot invite the blocked one"
    );
    assert_eq!(
        amy.error(json!({"type":"create_group","name":"x","members":[w.ids[BOB]]}))
            .await,
        "forbidden"
    );
    let rooms = |value: Value| value["rooms"].as_array().map(Vec::len);
    assert_eq!(
        rooms(amy.ok(json!({"type":"rooms"})).await),
        Some(1),
        "no group was made"
    );
    let members = |room: &str| {
        let server = &w.server;
        let room = room.to_string();
        async move {
            let (status, body) = server
                .admin("GET", &format!("/admin/rooms/{room}"), None)
                .await;
            assert_eq!(status, 200, "{body}");
            body["room"]["members_count"].clone()
        }
    };
    assert_eq!(members(&amys).await, 2);
    assert_eq!(members(&bobs).await, 2);
    // Others may still invite either of them.
    let mut carol = w.connect(CAROL).await;
    carol
        .ok(json!({"type":"invite","room":amys,"user":w.ids[BOB]}))
        .await;
    assert_eq!(members(&amys).await, 3);
}
on_every_deployment!(neither_side_of_a_block_brings_the_other_into_a_group);

async fn in_a_shared_group_the_blocked_users_messages_reach_the_blocker_hidden(backend: Backend) {
    let w = World::three(backend).await;
    let mut amy = w.connect(AMY).await;
    let mut bob = w.connect(BOB).await;
    let mut carol = w.connect(CAROL).await;
    let room = room_id(
        &amy.ok(
            json!({"type":"create_group","name":"algebra","members":[w.ids[BOB], w.ids[CAROL]]}),
        )
        .await,
    );
    for client in [&mut amy, &mut bob, &mut carol] {
        client.ok(json!({"type":"join","room":room})).await;
    }
    let before = send(&mut bob, &room, "before the block").await;
    message_event(&mut amy, &before["id"]).await;

    amy.ok(json!({"type":"block","user":w.ids[BOB]})).await;

    // A new message: hidden for amy, whole for carol; seq stays gapless.
    let after = send(&mut bob, &room, "after the block").await;
    let seen = message_event(&mut amy, &after["id"]).await;
    assert_hidden(&seen);
    assert_eq!(seen["seq"], after["seq"]);
    assert_eq!(seen["sender"]["id"], w.ids[BOB].as_str());
    assert_whole(
        &message_event(&mut carol, &after["id"]).await,
        "after the block",
    );
    // bob still sees amy's messages: the block is amy's own.
    let from_amy = send(&mut amy, &room, "from amy").await;
    assert_whole(&message_event(&mut bob, &from_amy["id"]).await, "from amy");

    // history, join and changes: bob's older messages too.
    let history = amy.ok(json!({"type":"history","room":room})).await["messages"].clone();
    let of_bob: Vec<&Value> = history
        .as_array()
        .expect("messages")
        .iter()
        .filter(|message| message["sender"]["id"] == w.ids[BOB].as_str())
        .collect();
    assert_eq!(of_bob.len(), 2, "{history}");
    for message in of_bob {
        assert_hidden(message);
    }
    let carols = carol.ok(json!({"type":"history","room":room})).await["messages"].clone();
    assert_whole(&carols[0], "before the block");

    // bob edits and reacts: amy's message_updated is hidden, carol's whole.
    bob.ok(json!({"type":"edit","room":room,"message":before["id"],"body":"edited"}))
        .await;
    let updated = amy.event("message_updated").await;
    assert_hidden(&updated["message"]);
    assert_whole(&carol.event("message_updated").await["message"], "edited");
    let changes = amy
        .ok(json!({"type":"changes","room":room,"after_rev":0}))
        .await;
    assert_hidden(&changes["messages"][0]);

    // A new connection of amy's: join's page and the room list's last message.
    let last = send(&mut bob, &room, "the last word").await;
    let mut amy2 = w.connect(AMY).await;
    let rooms = amy2.ok(json!({"type":"rooms"})).await;
    let listed = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .find(|listed| listed["id"] == room.as_str())
        .cloned()
        .expect("the group is listed");
    assert_eq!(listed["last_message"]["id"], last["id"]);
    assert_hidden(&listed["last_message"]);
    let joined = amy2.ok(json!({"type":"join","room":room})).await;
    for message in joined["messages"].as_array().expect("messages") {
        if message["sender"]["id"] == w.ids[BOB].as_str() {
            assert_hidden(message);
        }
    }
    assert_hidden(&joined["room"]["last_message"]);

    // typing and read of bob's reach carol, not amy.
    bob.ok(json!({"type":"typing","room":room})).await;
    carol.event("typing").await;
    // (A sender has read what they sent: bob reads carol's newer message.)
    let from_carol = send(&mut carol, &room, "from carol").await;
    bob.ok(json!({"type":"read","room":room,"seq":from_carol["seq"]}))
        .await;
    let read = carol.event("read").await;
    assert_eq!(read["user"]["id"], w.ids[BOB].as_str());
    amy.assert_no_event(&["message", "message_updated", "member_joined", "presence"])
        .await;
    amy2.assert_no_event(&["message", "message_updated", "presence"])
        .await;

    // search leaves bob's messages out for amy, not for carol.
    let found = amy.ok(json!({"type":"search","query":"the"})).await;
    assert!(
        found["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .all(|message| message["sender"]["id"] != w.ids[BOB].as_str()),
        "{found}"
    );
    let found = carol
        .ok(json!({"type":"search","query":"the last word"}))
        .await;
    assert_eq!(found["messages"][0]["id"], last["id"], "{found}");

    // amy may still report bob's message: the report holds it as it is.
    let report = amy
        .ok(json!({"type":"report","room":room,"message":last["id"],"reason":"abuse"}))
        .await;
    let report_id = report["report"]["id"].clone();
    let (status, reports) = w
        .server
        .admin("GET", "/admin/reports?status=open", None)
        .await;
    assert_eq!(status, 200, "{reports}");
    let held = reports["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .find(|held| held["id"] == report_id)
        .cloned()
        .expect("the report is listed");
    assert_eq!(held["message"]["body"], "the last word");

    // Unblocked: bob's messages are whole again.
    amy.ok(json!({"type":"block","user":w.ids[BOB],"on":false}))
        .await;
    let history = amy.ok(json!({"type":"history","room":room})).await["messages"].clone();
    for message in history.as_array().expect("messages") {
        assert!(message.get("blocked").is_none(), "{message}");
    }
    let again = send(&mut bob, &room, "visible again").await;
    assert_whole(
        &message_event(&mut amy, &again["id"]).await,
        "visible again",
    );
}
on_every_deployment!(in_a_shared_group_the_blocked_users_messages_reach_the_blocker_hidden);
