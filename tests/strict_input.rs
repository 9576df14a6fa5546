//! End-to-end: input a backend cannot store the same way as the other, or that two readers
//! could read differently, is refused at parse time with `bad_request` and stores nothing, on
//! both backends. A U+0000 anywhere (a body, a `client_msg_id`, a group name, anything the
//! admin API stores) and a key twice in one object at any depth. A user sending such frames
//! never disturbs other users' sends.

mod common;

use common::{room_id, Backend, Client, Database, Server};
use serde_json::{json, Value};

/// Sends `count` frames built by `frame` (given the id) without waiting, then reads the
/// `count` replies; returns them in order.
async fn pipeline(client: &mut Client, count: u64, frame: impl Fn(u64) -> String) -> Vec<Value> {
    for n in 0..count {
        client.send_text(&frame(n)).await;
    }
    let mut replies = Vec::new();
    for _ in 0..count {
        replies.push(client.next_reply().await);
    }
    replies
}

/// Rooms (id, name, members) and users (id, name) of a snapshot, without counters.
fn shape(snapshot: &Value) -> Value {
    let rooms: Vec<Value> = snapshot["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|room| json!([room["room"]["id"], room["room"]["name"], room["members"]]))
        .collect();
    let users: Vec<Value> = snapshot["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|user| json!([user[0], user[1]]))
        .collect();
    json!({ "rooms": rooms, "users": users })
}

async fn nul_is_refused_and_other_senders_only_get_ok(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, mallory_token) = server.user("mallory").await;
    let mut mallory = server.connect(&mallory_token).await;
    let mut innocents = Vec::new();
    let mut innocent_ids = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let (id, token) = server.user(name).await;
        innocent_ids.push(id);
        innocents.push(server.connect(&token).await);
    }
    let theirs = room_id(
        &innocents[0]
            .ok(json!({"type":"create_group","name":"theirs","members":innocent_ids}))
            .await,
    );
    let own = room_id(
        &mallory
            .ok(json!({"type":"create_group","name":"own"}))
            .await,
    );
    let before = server.snapshot().await;

    // 150 frames with a NUL in a body, a client_msg_id or a group name, while three others
    // send 50 messages each to another room.
    let bad = |n: u64| match n % 3 {
        0 => format!(r#"{{"type":"send","id":{n},"room":"{own}","body":"a\u0000b"}}"#),
        1 => format!(
            r#"{{"type":"send","id":{n},"room":"{own}","body":"fine","client_msg_id":"c{n}\u0000"}}"#
        ),
        _ => format!(r#"{{"type":"create_group","id":{n},"name":"g\u0000{n}"}}"#),
    };
    let [bob, carol, dave] = &mut innocents[..] else {
        unreachable!("three innocents")
    };
    let good = |who: &'static str| {
        let theirs = theirs.clone();
        move |n: u64| {
            json!({"type":"send","id":n,"room":theirs,"body":format!("{who} {n}")}).to_string()
        }
    };
    let (refused, bob_got, carol_got, dave_got) = futures_util::join!(
        pipeline(&mut mallory, 150, bad),
        pipeline(bob, 50, good("bob")),
        pipeline(carol, 50, good("carol")),
        pipeline(dave, 50, good("dave")),
    );
    for (n, reply) in refused.iter().enumerate() {
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "bad_request", "{reply}");
        assert_eq!(reply["id"], json!(n), "{reply}");
    }
    for reply in bob_got.iter().chain(&carol_got).chain(&dave_got) {
        assert_eq!(reply["type"], "ok", "an innocent sender got {reply}");
    }
    let stored = server.stored_messages(&theirs).await;
    assert_eq!(stored.len(), 150);
    for (index, message) in stored.iter().enumerate() {
        assert_eq!(message["seq"], json!(index + 1));
    }
    assert!(server.stored_messages(&own).await.is_empty());

    // Nothing else changed: the same rooms, members and users as before.
    assert_eq!(shape(&server.snapshot().await), shape(&before));
    mallory.ok(json!({"type":"ping"})).await;
}

on_both_backends!(nul_is_refused_and_other_senders_only_get_ok);

async fn admin_api_refuses_nul_and_duplicate_keys(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy, _) = server.user("amy").await;
    let (status, created) = server
        .admin(
            "POST",
            "/admin/rooms",
            Some(json!({"kind":"group","name":"g","members":[amy]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let room = room_id(&created);
    let before = server.snapshot().await;
    let messages = format!("/admin/rooms/{room}/messages");
    let members = format!("/admin/rooms/{room}/members");
    let nul = [
        ("POST", "/admin/users", r#"{"name":"eve\u0000"}"#.to_string()),
        (
            "POST",
            "/admin/rooms",
            r#"{"kind":"group","name":"x\u0000y"}"#.to_string(),
        ),
        ("POST", messages.as_str(), r#"{"body":"a\u0000b"}"#.to_string()),
        (
            "POST",
            messages.as_str(),
            r#"{"body":"ok","template":{"kind":"text","text":"\u0000"}}"#.to_string(),
        ),
        (
            "PUT",
            "/admin/bots/nulbot",
            r#"{"name":"Nul\u0000bot","kind":"scripted","start":"a","states":{"a":{"say":[{"kind":"text","text":"hi"}]}}}"#.to_string(),
        ),
        ("POST", "/admin/broadcast", r#"{"body":"\u0000"}"#.to_string()),
    ];
    let twice = [
        ("POST", "/admin/users", r#"{"name":"eve","name":"mallory"}"#.to_string()),
        (
            "POST",
            messages.as_str(),
            r#"{"body":"a","template":{"kind":"text","text":"x","text":"y"}}"#.to_string(),
        ),
        ("POST", members.as_str(), format!(r#"{{"user":"{amy}","user":"u_1"}}"#)),
        (
            "PUT",
            "/admin/bots/twice",
            r#"{"name":"Twice","kind":"scripted","start":"a","states":{"a":{"say":[]},"a":{"say":[]}}}"#.to_string(),
        ),
    ];
    for (method, path, body) in nul.iter().chain(&twice) {
        let (status, answer) = server.admin_raw(method, path, body).await;
        assert_eq!(status, 400, "{method} {path} {body} -> {answer}");
        assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
    }
    assert_eq!(server.snapshot().await, before);
    let (_, bots) = server.admin("GET", "/admin/bots", None).await;
    assert!(
        !bots.to_string().contains("nulbot") && !bots.to_string().contains("twice"),
        "{bots}"
    );
}

on_both_backends!(admin_api_refuses_nul_and_duplicate_keys);

async fn duplicate_keys_are_refused_at_any_depth(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(&amy.ok(json!({"type":"create_group","name":"g"})).await);
    let before = server.snapshot().await;
    let frames = [
        // A filter reading the first `type` would see a ping; the last one is a send.
        format!(r#"{{"type":"ping","type":"send","id":1,"room":"{room}","body":"x"}}"#),
        format!(r#"{{"type":"send","id":2,"room":"{room}","body":"x","body":"y"}}"#),
        format!(r#"{{"type":"send","id":3,"room":"{room}","body":"x","extra":[{{"a":1,"a":2}}]}}"#),
        r#"{"type":"create_group","id":4,"name":"n","name":"m"}"#.to_string(),
    ];
    for (n, frame) in frames.iter().enumerate() {
        let reply = amy.raw(frame).await;
        assert_eq!(reply["code"], "bad_request", "{frame} -> {reply}");
        assert_eq!(reply["id"], json!(n + 1), "the id is echoed: {reply}");
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|message| message.contains("twice")),
            "{reply}"
        );
    }
    // With `id` itself twice there is no id to trust.
    let reply = amy.raw(r#"{"type":"ping","id":1,"id":2}"#).await;
    assert_eq!(reply["id"], Value::Null, "{reply}");
    assert_eq!(server.snapshot().await, before);
    amy.ok(json!({"type":"ping"})).await;
}

on_both_backends!(duplicate_keys_are_refused_at_any_depth);
