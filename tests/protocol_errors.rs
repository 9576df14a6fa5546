//! End-to-end: every bad input of docs/protocol.md section 2 (and the `bad_request` cases of
//! section 4) gets the right error code and echoed id, leaves the connection usable and
//! stores nothing; the limits that close a connection (1008, 1009, 4001) and the 401 of
//! the WebSocket upgrade. On both backends.

mod common;

use std::time::{Duration, Instant};

use common::{room_id, Backend, Client, ConnectError, Database, Received, Server};
use serde_json::{json, Value};

/// A server with two users, amy and bob, each connected once; amy's private group with bob
/// holding one message, and their direct room (empty).
struct Fixture {
    server: Server,
    amy: Client,
    bob: Client,
    amy_id: String,
    bob_id: String,
    group: String,
    direct: String,
    _db: Database,
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, &[]).await
}

async fn fixture_with(backend: Backend, extra: &[&str]) -> Fixture {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, extra).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let bob = server.connect(&bob_token).await;
    let group = room_id(
        &amy.ok(json!({"type":"create_group","name":"algebra","members":[bob_id]}))
            .await,
    );
    amy.ok(json!({"type":"send","room":group,"body":"first"}))
        .await;
    let direct = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    Fixture {
        server,
        amy,
        bob,
        amy_id,
        bob_id,
        group,
        direct,
        _db: db,
    }
}

/// At most 120 characters of a frame, for assertion messages.
fn shown(text: &str) -> String {
    text.chars().take(120).collect()
}

/// Sends `text` and asserts the reply is an `error` with `code` and `id`, with a message,
/// and that the connection still answers a `ping` afterwards.
async fn assert_rejected(client: &mut Client, text: &str, code: &str, id: Value) -> Value {
    let reply = client.raw(text).await;
    let frame = shown(text);
    assert_eq!(reply["type"], "error", "{frame} -> {reply}");
    assert_eq!(reply["code"], code, "{frame} -> {reply}");
    assert!(
        reply.as_object().is_some_and(|o| o.contains_key("id")),
        "an error always carries `id`: {reply}"
    );
    assert_eq!(reply["id"], id, "{frame} -> {reply}");
    assert!(
        reply["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{frame} -> {reply}"
    );
    assert_still_usable(client).await;
    reply
}

async fn assert_still_usable(client: &mut Client) {
    let reply = client.request(json!({"type":"ping"})).await;
    assert_eq!(
        reply["type"], "ok",
        "the connection must stay usable: {reply}"
    );
}

async fn frames_that_are_not_json_objects_get_bad_request_with_null_id(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    for text in [
        "hello",
        "",
        "{\"type\":\"ping\",\"id\":5",
        "{'type':'ping','id':5}",
        "[]",
        "[{\"type\":\"ping\",\"id\":5}]",
        "\"ping\"",
        "42",
        "null",
        "true",
    ] {
        assert_rejected(&mut f.amy, text, "bad_request", Value::Null).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(frames_that_are_not_json_objects_get_bad_request_with_null_id);

async fn missing_or_non_string_type_is_bad_request_with_the_id_echoed(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    assert_rejected(&mut f.amy, r#"{}"#, "bad_request", Value::Null).await;
    assert_rejected(&mut f.amy, r#"{"id":"t1"}"#, "bad_request", json!("t1")).await;
    let room = &f.group;
    let no_type = json!({"id":"t2","room":room,"body":"typeless"}).to_string();
    assert_rejected(&mut f.amy, &no_type, "bad_request", json!("t2")).await;
    for (kind, id) in [
        (json!(7), json!(3)),
        (json!(null), json!(4)),
        (json!(["send"]), json!("t5")),
        (json!({"name":"send"}), json!(6)),
        (json!(true), json!(7)),
    ] {
        let text = json!({"type":kind,"id":id,"room":room,"body":"x"}).to_string();
        assert_rejected(&mut f.amy, &text, "bad_request", id).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(missing_or_non_string_type_is_bad_request_with_the_id_echoed);

async fn unknown_type_is_unknown_type_with_the_id_echoed(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    for (kind, id) in [
        ("dance", json!("u1")),
        ("PING", json!(2)),
        ("Send", json!(3)),
        ("", json!("u4")),
        ("send_message", json!(-5)),
    ] {
        let text = json!({"type":kind,"id":id,"room":f.group,"body":"x"}).to_string();
        assert_rejected(&mut f.amy, &text, "unknown_type", id).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(unknown_type_is_unknown_type_with_the_id_echoed);

async fn invalid_ids_are_answered_with_a_null_id_and_the_command_is_not_run(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let too_long = "x".repeat(65);
    let too_long_multibyte = "é".repeat(65);
    for id in [
        json!(1.5),
        json!(1e3),
        json!({"n":1}),
        json!([1]),
        json!(true),
        json!(too_long),
        json!(too_long_multibyte),
    ] {
        let ping = json!({"type":"ping","id":id}).to_string();
        assert_rejected(&mut f.amy, &ping, "bad_request", Value::Null).await;
        // A command with a bad id is not run: nothing is sent to the room.
        let send = json!({"type":"send","id":id,"room":f.group,"body":"sneaky"}).to_string();
        assert_rejected(&mut f.amy, &send, "bad_request", Value::Null).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(invalid_ids_are_answered_with_a_null_id_and_the_command_is_not_run);

async fn ids_up_to_64_code_points_and_any_integer_are_echoed(backend: Backend) {
    let mut f = fixture(backend).await;
    for id in [
        json!("x".repeat(64)),
        json!("é".repeat(64)),
        json!("😀".repeat(64)),
        json!(""),
        json!(0),
        json!(-7),
        json!(i64::MAX),
        json!(u64::MAX),
    ] {
        let reply = f.amy.raw(&json!({"type":"ping","id":id}).to_string()).await;
        assert_eq!(reply["type"], "ok", "{id} -> {reply}");
        assert_eq!(reply["id"], id, "{reply}");
    }
    // A reply to a command without an id still carries `"id":null`.
    let reply = f.amy.raw(r#"{"type":"ping"}"#).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert!(reply.as_object().is_some_and(|o| o.contains_key("id")) && reply["id"].is_null());
}
on_both_backends!(ids_up_to_64_code_points_and_any_integer_are_echoed);

async fn missing_and_ill_typed_fields_are_bad_request_for_every_command(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let (g, b) = (f.group.clone(), f.bob_id.clone());
    let msg = format!("m_{}_1", g.trim_start_matches("r_"));
    let cases = vec![
        json!({"type":"create_group"}),
        json!({"type":"create_group","name":5}),
        json!({"type":"create_group","name":"   "}),
        json!({"type":"create_group","name":"x".repeat(101)}),
        json!({"type":"create_group","name":"g","members":b}),
        json!({"type":"create_group","name":"g","members":[2]}),
        json!({"type":"create_group","name":"g","members":[b],"public":"yes"}),
        json!({"type":"open_direct"}),
        json!({"type":"open_direct","user":2}),
        json!({"type":"open_direct","user":[b]}),
        json!({"type":"open_bot"}),
        json!({"type":"open_bot","bot":1}),
        json!({"type":"join"}),
        json!({"type":"join","room":3}),
        json!({"type":"join","room":g,"after_seq":"1"}),
        json!({"type":"join","room":g,"after_seq":0.5}),
        json!({"type":"join","room":g,"limit":"10"}),
        json!({"type":"join","room":g,"limit":2.5}),
        json!({"type":"leave"}),
        json!({"type":"leave","room":g,"forget":"yes"}),
        json!({"type":"leave","room":g,"forget":1}),
        json!({"type":"send","room":g}),
        json!({"type":"send","body":"no room"}),
        json!({"type":"send","room":g,"body":5}),
        json!({"type":"send","room":g,"body":["x"]}),
        json!({"type":"send","room":g,"body":""}),
        json!({"type":"send","room":[g],"body":"x"}),
        json!({"type":"send","room":g,"body":"x","client_msg_id":7}),
        json!({"type":"send","room":g,"body":"x","client_msg_id":"c".repeat(65)}),
        json!({"type":"history"}),
        json!({"type":"history","room":g,"before_seq":"2"}),
        json!({"type":"history","room":g,"limit":true}),
        json!({"type":"read","room":g}),
        json!({"type":"read","seq":1}),
        json!({"type":"read","room":g,"seq":"1"}),
        json!({"type":"read","room":g,"seq":0.5}),
        json!({"type":"typing"}),
        json!({"type":"typing","room":{}}),
        json!({"type":"action","room":g,"message":msg}),
        json!({"type":"action","room":g,"action":"b1"}),
        json!({"type":"action","message":msg,"action":"b1"}),
        json!({"type":"action","room":g,"message":1,"action":"b1"}),
        json!({"type":"invite","room":g}),
        json!({"type":"invite","user":b}),
        json!({"type":"invite","room":g,"user":5}),
        json!({"type":"kick","room":g}),
        json!({"type":"kick","user":b}),
        json!({"type":"kick","room":g,"user":false}),
    ];
    for (n, mut case) in cases.into_iter().enumerate() {
        let id = json!(format!("f-{n}"));
        case["id"] = id.clone();
        assert_rejected(&mut f.amy, &case.to_string(), "bad_request", id).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
    // The room actor is unharmed: a real send still works.
    f.amy
        .ok(json!({"type":"send","room":f.group,"body":"still here"}))
        .await;
}
on_both_backends!(missing_and_ill_typed_fields_are_bad_request_for_every_command);

async fn page_limits_outside_1_to_200_are_bad_request(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    for kind in ["join", "history"] {
        for limit in [json!(0), json!(201), json!(-1), json!(100000)] {
            let text = json!({"type":kind,"id":kind,"room":f.group,"limit":limit}).to_string();
            assert_rejected(&mut f.amy, &text, "bad_request", json!(kind)).await;
        }
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
    for limit in [1, 200] {
        let page = f
            .amy
            .ok(json!({"type":"history","room":f.group,"limit":limit}))
            .await;
        assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "{page}");
        let page = f
            .amy
            .ok(json!({"type":"join","room":f.group,"limit":limit}))
            .await;
        assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "{page}");
    }
}
on_both_backends!(page_limits_outside_1_to_200_are_bad_request);

async fn negative_seqs_are_bad_request(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let g = f.group.clone();
    for (n, case) in [
        json!({"type":"read","room":g,"seq":-1}),
        json!({"type":"join","room":g,"after_seq":-1}),
        json!({"type":"history","room":g,"before_seq":-1}),
        json!({"type":"read","room":g,"seq":i64::MIN}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut case = case;
        case["id"] = json!(n);
        assert_rejected(&mut f.bob, &case.to_string(), "bad_request", json!(n)).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(negative_seqs_are_bad_request);

async fn integers_that_do_not_fit_in_64_bits_are_bad_request(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let g = &f.group;
    let texts = [
        format!(r#"{{"type":"read","id":1,"room":"{g}","seq":18446744073709551616}}"#),
        format!(r#"{{"type":"read","id":2,"room":"{g}","seq":100000000000000000000000000000}}"#),
        format!(r#"{{"type":"join","id":3,"room":"{g}","after_seq":18446744073709551616}}"#),
        format!(r#"{{"type":"history","id":4,"room":"{g}","before_seq":18446744073709551616}}"#),
        format!(r#"{{"type":"history","id":5,"room":"{g}","limit":18446744073709551617}}"#),
        format!(r#"{{"type":"join","id":6,"room":"{g}","limit":-9223372036854775809}}"#),
    ];
    for (n, text) in texts.iter().enumerate() {
        assert_rejected(&mut f.bob, text, "bad_request", json!(n + 1)).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(integers_that_do_not_fit_in_64_bits_are_bad_request);

async fn read_past_the_last_seq_is_bad_request_and_moves_nothing(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let past = json!({"type":"read","id":"r","room":f.group,"seq":2}).to_string();
    assert_rejected(&mut f.bob, &past, "bad_request", json!("r")).await;
    let far = json!({"type":"read","id":"r2","room":f.group,"seq":i64::MAX}).to_string();
    assert_rejected(&mut f.bob, &far, "bad_request", json!("r2")).await;
    let empty = json!({"type":"read","id":"r3","room":f.direct,"seq":1}).to_string();
    assert_rejected(&mut f.bob, &empty, "bad_request", json!("r3")).await;
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
    let rooms = f.bob.ok(json!({"type":"rooms"})).await;
    let group = rooms["rooms"]
        .as_array()
        .and_then(|rooms| rooms.iter().find(|room| room["id"] == f.group.as_str()))
        .cloned()
        .expect("bob's group");
    assert_eq!(group["read_seq"], 0, "{group}");
    assert_eq!(group["unread"], 1, "{group}");
    // At the last seq it is accepted.
    let read = f
        .bob
        .ok(json!({"type":"read","room":f.group,"seq":1}))
        .await;
    assert_eq!(read["read_seq"], 1);
}
on_both_backends!(read_past_the_last_seq_is_bad_request_and_moves_nothing);

/// A JSON text frame of exactly `bytes` bytes: a command padded with an unknown field.
fn padded(command: Value, bytes: usize) -> String {
    let mut command = command;
    command["pad"] = json!("");
    let overhead = command.to_string().len();
    assert!(bytes >= overhead);
    command["pad"] = json!("p".repeat(bytes - overhead));
    let text = command.to_string();
    assert_eq!(text.len(), bytes);
    text
}

async fn text_frames_over_64_kib_are_too_large_with_null_id(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    for bytes in [64 * 1024 + 1, 512 * 1024, 1024 * 1024 - 64] {
        let send = padded(
            json!({"type":"send","id":9,"room":f.group,"body":"big"}),
            bytes,
        );
        assert_rejected(&mut f.amy, &send, "too_large", Value::Null).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
    // Exactly 64 KiB is within the limit.
    let ping = padded(json!({"type":"ping","id":"edge"}), 64 * 1024);
    let reply = f.amy.raw(&ping).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["id"], "edge");
}
on_both_backends!(text_frames_over_64_kib_are_too_large_with_null_id);

async fn bodies_over_4000_code_points_are_too_large(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    for (n, body) in [
        "a".repeat(4001),
        "é".repeat(4001),
        "😀".repeat(4001),
        "😀".repeat(8000),
    ]
    .iter()
    .enumerate()
    {
        let text = json!({"type":"send","id":n,"room":f.group,"body":body}).to_string();
        assert_rejected(&mut f.amy, &text, "too_large", json!(n)).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
    // Exactly 4,000 code points of four bytes each (16,000 bytes) is accepted and stored whole.
    let body = "😀".repeat(4000);
    let sent = f
        .amy
        .ok(json!({"type":"send","room":f.group,"body":body}))
        .await;
    assert_eq!(sent["message"]["body"], body.as_str());
    let stored = f.server.stored_messages(&f.group).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[1]["body"].as_str().map(|b| b.chars().count()),
        Some(4000)
    );
}
on_both_backends!(bodies_over_4000_code_points_are_too_large);

async fn binary_frames_are_unsupported_frame_with_null_id(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let command = json!({"type":"send","id":1,"room":f.group,"body":"in binary"}).to_string();
    f.amy.send_binary(command.as_bytes()).await;
    let reply = f.amy.next_reply().await;
    assert_eq!(reply["type"], "error", "{reply}");
    assert_eq!(reply["code"], "unsupported_frame", "{reply}");
    assert_eq!(reply["id"], Value::Null, "{reply}");
    f.amy.send_binary(&[0, 159, 146, 150]).await;
    let reply = f.amy.next_reply().await;
    assert_eq!(reply["code"], "unsupported_frame", "{reply}");
    assert_still_usable(&mut f.amy).await;
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(binary_frames_are_unsupported_frame_with_null_id);

async fn every_frame_over_the_rate_limit_gets_rate_limited(backend: Backend) {
    let mut f = fixture_with(backend, &["--rate", "2", "--burst", "3"]).await;
    // The fixture's own commands used amy's burst; let it refill.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    for _ in 0..10 {
        f.amy.send_text(r#"{"type":"ping"}"#).await;
    }
    let mut ok = 0;
    let mut limited = Vec::new();
    for _ in 0..10 {
        let reply = f.amy.next_reply().await;
        match reply["type"].as_str() {
            Some("ok") => ok += 1,
            _ => {
                assert_eq!(reply["code"], "rate_limited", "{reply}");
                limited.push(reply);
            }
        }
    }
    assert!(ok >= 3, "the burst of 3 is allowed, got {ok}");
    assert!(limited.len() >= 5, "{ok} ok, {limited:?}");
    for reply in &limited {
        let retry = reply["retry_after_ms"].as_u64();
        assert!(retry.is_some_and(|ms| ms > 0 && ms <= 1000), "{reply}");
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // After waiting as told, the connection works again.
    let wait = limited
        .last()
        .and_then(|r| r["retry_after_ms"].as_u64())
        .unwrap_or(500);
    tokio::time::sleep(Duration::from_millis(wait + 600)).await;
    let reply = f.amy.raw(r#"{"type":"ping","id":"after"}"#).await;
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["id"], "after");
}
on_both_backends!(every_frame_over_the_rate_limit_gets_rate_limited);

async fn staying_over_the_rate_limit_for_ten_seconds_closes_with_1008(backend: Backend) {
    let f = fixture_with(backend, &["--rate", "2", "--burst", "3"]).await;
    let mut amy = f.amy;
    let mut bob = f.bob;
    let started = Instant::now();
    let code = loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still open after 30 s over the limit"
        );
        if !amy.try_send_text(r#"{"type":"ping"}"#).await {
            break amy.closed().await;
        }
        let reply = tokio::time::timeout(Duration::from_millis(100), amy.receive()).await;
        if let Ok(Received::Closed(code)) = reply {
            break code;
        }
    };
    assert_eq!(code, Some(1008));
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "closed after {:?}, before ten seconds over the limit",
        started.elapsed()
    );
    // Other connections are not affected.
    assert_still_usable(&mut bob).await;
}
on_both_backends!(staying_over_the_rate_limit_for_ten_seconds_closes_with_1008);

async fn frames_over_one_mib_close_the_connection_with_1009(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    let send = padded(
        json!({"type":"send","id":1,"room":f.group,"body":"huge"}),
        1024 * 1024 + 1024,
    );
    f.amy.try_send_text(&send).await;
    assert_eq!(f.amy.closed().await, Some(1009));
    assert_still_usable(&mut f.bob).await;
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
}
on_both_backends!(frames_over_one_mib_close_the_connection_with_1009);

async fn direct_room_misuse_is_bad_request(backend: Backend) {
    let mut f = fixture(backend).await;
    let (_, carol_token) = f.server.user("carol").await;
    let carol_id = f
        .server
        .admin("GET", "/admin/users?limit=200", None)
        .await
        .1["users"]
        .as_array()
        .and_then(|users| users.iter().find(|u| u["name"] == "carol").cloned())
        .expect("carol")["id"]
        .clone();
    let _carol = f.server.connect(&carol_token).await;
    let before = f.server.snapshot().await;
    let d = f.direct.clone();
    let cases = [
        json!({"type":"open_direct","id":"self","user":f.amy_id}),
        json!({"type":"leave","id":"forget","room":d,"forget":true}),
        json!({"type":"invite","id":"invite","room":d,"user":carol_id}),
        json!({"type":"kick","id":"kick","room":d,"user":f.bob_id}),
    ];
    for case in cases {
        let id = case["id"].clone();
        assert_rejected(&mut f.amy, &case.to_string(), "bad_request", id).await;
    }
    assert_eq!(
        f.server.snapshot().await,
        before,
        "bad input changed the store"
    );
    let room = f.amy.ok(json!({"type":"join","room":f.direct})).await;
    assert_eq!(room["room"]["members_count"], 2);
}
on_both_backends!(direct_room_misuse_is_bad_request);

async fn create_group_naming_an_unknown_user_is_not_found_and_creates_nothing(backend: Backend) {
    let mut f = fixture(backend).await;
    let before = f.server.snapshot().await;
    for (n, members) in [
        json!(["u_999"]),
        json!([f.bob_id, "u_999"]),
        json!(["nobody"]),
        json!(["system"]),
        json!(["u_0"]),
    ]
    .into_iter()
    .enumerate()
    {
        let text =
            json!({"type":"create_group","id":n,"name":"ghosts","members":members}).to_string();
        assert_rejected(&mut f.amy, &text, "not_found", json!(n)).await;
    }
    assert_eq!(f.server.snapshot().await, before, "a room was created");
    let rooms = f.amy.ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"].as_array().map(Vec::len), Some(2), "{rooms}");
    // bob was named alongside a missing user: he must hear of no room either.
    f.bob.assert_no_event(&["room_added"]).await;
}
on_both_backends!(create_group_naming_an_unknown_user_is_not_found_and_creates_nothing);

async fn upgrade_without_a_valid_token_is_401(backend: Backend) {
    let f = fixture(backend).await;
    let attempts: [(Option<&str>, Option<&str>); 5] = [
        (None, None),
        (Some(""), None),
        (Some("pv_not_a_token"), None),
        (None, Some("pv_not_a_token")),
        (None, Some(common::ADMIN)),
    ];
    for (query, bearer) in attempts {
        match Client::try_connect(&f.server.base, query, bearer).await {
            Err(ConnectError::Status(status)) => {
                assert_eq!(status, 401, "query {query:?}, bearer {bearer:?}")
            }
            Err(ConnectError::Other(err)) => {
                panic!("query {query:?}, bearer {bearer:?}: {err}")
            }
            Ok(client) => panic!(
                "query {query:?}, bearer {bearer:?} was upgraded: {}",
                client.hello
            ),
        }
    }
    // A plain GET gets the same 401 with the error body.
    let (status, body) = f.server.call("GET", "/ws", None, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    let (status, _) = f.server.call("GET", "/ws?token=pv_nope", None, None).await;
    assert_eq!(status, 401);
}
on_both_backends!(upgrade_without_a_valid_token_is_401);

async fn a_token_in_the_authorization_header_is_accepted(backend: Backend) {
    let f = fixture(backend).await;
    let (status, body) = f
        .server
        .admin("POST", &format!("/admin/users/{}/tokens", f.bob_id), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"].as_str().expect("token");
    let mut bob = match Client::try_connect(&f.server.base, None, Some(token)).await {
        Ok(client) => client,
        Err(err) => panic!("bearer upgrade refused: {err:?}"),
    };
    assert_eq!(bob.hello["user"]["id"], f.bob_id.as_str());
    assert_still_usable(&mut bob).await;
}
on_both_backends!(a_token_in_the_authorization_header_is_accepted);

async fn revoking_tokens_closes_connections_with_4001_and_the_old_token_gets_401(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (_, bob_token) = server.user("bob").await;
    let mut phone = server.connect(&amy_token).await;
    let mut laptop = server.connect(&amy_token).await;
    let mut bob = server.connect(&bob_token).await;
    let (status, body) = server
        .admin("DELETE", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert_eq!(status, 204, "{body}");
    for connection in [&mut phone, &mut laptop] {
        assert_eq!(connection.closed().await, Some(4001));
        // Section 2: `unauthorized` tells the client why, then the close follows.
        let told = connection.take_events();
        assert!(
            told.iter()
                .any(|frame| frame["type"] == "error" && frame["code"] == "unauthorized"),
            "{told:?}"
        );
    }
    match Client::try_connect(&server.base, Some(&amy_token), None).await {
        Err(ConnectError::Status(status)) => assert_eq!(status, 401),
        Err(ConnectError::Other(err)) => panic!("{err}"),
        Ok(client) => panic!("a revoked token was accepted: {}", client.hello),
    }
    assert_still_usable(&mut bob).await;
    // A new token works.
    let (status, body) = server
        .admin("POST", &format!("/admin/users/{amy_id}/tokens"), None)
        .await;
    assert_eq!(status, 201, "{body}");
    let mut again = server.connect(body["token"].as_str().expect("token")).await;
    assert_still_usable(&mut again).await;
}
on_both_backends!(revoking_tokens_closes_connections_with_4001_and_the_old_token_gets_401);
