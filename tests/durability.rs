//! End-to-end: what survives restarts and crashes, `seq` under concurrent senders, and the
//! slow consumer that is closed with 4002 instead of growing the server's memory.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{room_id, Backend, Client, Database, Received, Server};
use serde_json::{json, Value};

fn assert_gapless(messages: &[Value]) {
    for (index, message) in messages.iter().enumerate() {
        assert_eq!(
            message["seq"],
            json!(index as i64 + 1),
            "seq must run 1, 2, 3, … with no gap"
        );
    }
}

async fn history_and_read_positions_survive_a_restart(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start(&db).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut amy = server.connect(&amy_token).await;
    let direct = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    let group = room_id(
        &amy.ok(json!({"type":"create_group","name":"study","members":[bob_id]}))
            .await,
    );
    for room in [&direct, &group] {
        for n in 1..=3 {
            amy.ok(json!({"type":"send","room":room,"body":format!("message {n}")}))
                .await;
        }
    }
    let mut bob = server.connect(&bob_token).await;
    bob.ok(json!({"type":"read","room":direct,"seq":2})).await;
    drop(amy);
    drop(bob);

    let status = server.terminate();
    assert!(
        status.success(),
        "SIGTERM ends the server cleanly: {status:?}"
    );
    server.respawn();

    let mut bob = server.connect(&bob_token).await;
    let rooms = bob.ok(json!({"type":"rooms"})).await;
    let by_id: BTreeMap<String, Value> = rooms["rooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .map(|room| {
            (
                room["id"].as_str().unwrap_or_default().to_string(),
                room.clone(),
            )
        })
        .collect();
    assert_eq!(by_id[&direct]["read_seq"], 2);
    assert_eq!(by_id[&direct]["unread"], 1);
    assert_eq!(by_id[&group]["read_seq"], 0);
    assert_eq!(by_id[&group]["last_seq"], 3);
    let joined = bob.ok(json!({"type":"join","room":group})).await;
    let bodies: Vec<&str> = joined["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|message| message["body"].as_str())
        .collect();
    assert_eq!(bodies, ["message 1", "message 2", "message 3"]);
    let sent = bob
        .ok(json!({"type":"send","room":group,"body":"after the restart"}))
        .await;
    assert_eq!(sent["message"]["seq"], 4, "seq carries on after a restart");
}
on_both_backends!(history_and_read_positions_survive_a_restart);

/// Sends `count` messages, each with its own `client_msg_id`; returns (client_msg_id, seq)
/// of every acked one. Stops quietly when the connection drops.
async fn send_until_gone(
    mut client: Client,
    room: String,
    name: String,
    count: usize,
) -> Vec<(String, i64)> {
    let never = std::sync::atomic::AtomicBool::new(false);
    let (acked, _) = client.send_until_gone(&room, &name, 0..count, &never).await;
    acked
}

async fn acked_messages_survive_kill_9(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start_with(&db, &["--rate", "100000", "--burst", "100000"]).await;
    let (_, amy_token) = server.user("amy").await;
    let mut senders = Vec::new();
    let mut ids = Vec::new();
    for name in ["s1", "s2", "s3", "s4"] {
        let (id, token) = server.user(name).await;
        ids.push(id);
        senders.push((name.to_string(), token));
    }
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"crash","members":ids}))
            .await,
    );
    let mut tasks = Vec::new();
    for (name, token) in senders {
        let client = server.connect(&token).await;
        tasks.push(actix_rt::spawn(send_until_gone(
            client,
            room.clone(),
            name,
            100_000,
        )));
    }
    // Let the senders get going, then pull the plug mid-stream.
    let mut watcher = server.connect(&amy_token).await;
    watcher.ok(json!({"type":"join","room":room})).await;
    while watcher.event("message").await["message"]["seq"].as_i64() < Some(400) {}
    server.crash_and_restart();
    let mut acked: Vec<(String, i64)> = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("sender task"));
    }
    // The watcher saw 400 messages; each sender has at most one send whose ack the crash
    // may have cut off.
    assert!(
        acked.len() >= 400 - 4,
        "senders were acked before the crash: {}",
        acked.len()
    );

    let stored = server.all_messages(&room).await;
    assert_gapless(&stored);
    let stored_ids: BTreeMap<String, i64> = stored
        .iter()
        .map(|message| {
            (
                message["client_msg_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                message["seq"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    for (client_msg_id, seq) in &acked {
        assert_eq!(
            stored_ids.get(client_msg_id),
            Some(seq),
            "acked {client_msg_id} is stored with its seq"
        );
    }
}
on_both_backends!(acked_messages_survive_kill_9);

async fn concurrent_senders_get_gapless_ordered_seq(backend: Backend) {
    const SENDERS: usize = 8;
    const EACH: usize = 40;
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--rate", "100000", "--burst", "100000"]).await;
    let (_, watcher_token) = server.user("watcher").await;
    let mut members = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..SENDERS {
        let (id, token) = server.user(&format!("sender{n}")).await;
        members.push(id);
        tokens.push(token);
    }
    let mut watcher = server.connect(&watcher_token).await;
    let room = room_id(
        &watcher
            .ok(json!({"type":"create_group","name":"busy","members":members}))
            .await,
    );
    watcher.ok(json!({"type":"join","room":room})).await;
    let mut tasks = Vec::new();
    for (n, token) in tokens.into_iter().enumerate() {
        let mut client = server.connect(&token).await;
        client.ok(json!({"type":"join","room":room})).await;
        tasks.push(actix_rt::spawn(send_until_gone(
            client,
            room.clone(),
            format!("c{n}"),
            EACH,
        )));
    }
    let mut acked_seqs = HashSet::new();
    for task in tasks {
        for (_, seq) in task.await.expect("sender task") {
            assert!(acked_seqs.insert(seq), "seq {seq} acked twice");
        }
    }
    assert_eq!(acked_seqs.len(), SENDERS * EACH);
    for expected in 1..=(SENDERS * EACH) as i64 {
        let event = watcher.event("message").await;
        assert_eq!(
            event["message"]["seq"], expected,
            "every joined connection sees every seq in order"
        );
    }
    assert_gapless(&server.all_messages(&room).await);
}
on_both_backends!(concurrent_senders_get_gapless_ordered_seq);

async fn slow_consumer_is_closed_with_4002(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(
        &db,
        &[
            "--rate",
            "100000",
            "--burst",
            "100000",
            "--outbound-queue",
            "32",
        ],
    )
    .await;
    let (_, fast_token) = server.user("fast").await;
    let (slow_id, slow_token) = server.user("slow").await;
    let mut fast = server.connect(&fast_token).await;
    let room = room_id(
        &fast
            .ok(json!({"type":"create_group","name":"firehose","members":[slow_id]}))
            .await,
    );
    let mut slow = server.connect(&slow_token).await;
    slow.ok(json!({"type":"join","room":room})).await;
    // The slow client stops reading; big messages fill the socket buffers, then its queue.
    let body = "😀".repeat(4000);
    let mut sent = 0;
    loop {
        for _ in 0..20 {
            fast.ok(json!({"type":"send","room":room,"body":body}))
                .await;
            sent += 1;
        }
        let (_, status) = server
            .admin("GET", &format!("/admin/users/{slow_id}"), None)
            .await;
        if status["connections"] == 0 {
            break;
        }
        assert!(sent < 20_000, "the slow connection was never closed");
    }
    let mut seen = 0;
    let code = loop {
        match slow.receive().await {
            Received::Frame(frame) if frame["type"] == "message" => {
                seen += 1;
                assert_eq!(
                    frame["message"]["seq"], seen,
                    "what arrives before the close is in order"
                );
            }
            Received::Frame(_) => {}
            Received::Closed(code) => break code,
        }
    };
    assert_eq!(code, Some(4002), "the lagging connection is told to resume");
    assert!(
        seen < sent,
        "the close came before everything was delivered"
    );
    // The sender noticed nothing, and the slow client resumes where it stopped.
    fast.ok(json!({"type":"ping"})).await;
    let mut again = server.connect(&slow_token).await;
    let resumed = again
        .ok(json!({"type":"join","room":room,"after_seq":seen,"limit":200}))
        .await;
    assert_eq!(resumed["messages"][0]["seq"], seen + 1);
}
on_both_backends!(slow_consumer_is_closed_with_4002);
