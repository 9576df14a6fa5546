//! End-to-end: what operators rely on. Prometheus metrics behind the admin token, and a
//! graceful shutdown that closes connections with 1001, keeps every acked message and
//! exits 0.

mod common;

use common::{room_id, Backend, Database, Received, Server};
use serde_json::json;

async fn metrics_count_what_happens(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (status, _) = server.call("GET", "/metrics", None, None).await;
    assert_eq!(status, 401, "metrics need the admin token");
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"metered"}))
            .await,
    );
    amy.ok(json!({"type":"join","room":room})).await;
    amy.ok(json!({"type":"send","room":room,"body":"count me"}))
        .await;
    amy.error(json!({"type":"join","room":"r_424242"})).await;
    let (status, text) = server.admin("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let text = text.as_str().expect("metrics are text").to_string();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|number| number.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from\n{text}"))
    };
    assert_eq!(value("palaver_connections_open"), 1.0);
    assert_eq!(value("palaver_users_online"), 1.0);
    assert!(value("palaver_rooms_active") >= 1.0);
    assert_eq!(value("palaver_messages_stored_total"), 1.0);
    assert_eq!(value("palaver_messages_delivered_total"), 1.0);
    assert_eq!(value("palaver_errors_total{code=\"not_found\"}"), 1.0);
    assert_eq!(value("palaver_ack_latency_seconds_count"), 1.0);
    assert!(value("palaver_store_commit_seconds_count") >= 1.0);
    assert!(value("palaver_frames_in_total") >= 4.0);
}
on_both_backends!(metrics_count_what_happens);

async fn graceful_shutdown_keeps_every_acked_message(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start_with(&db, &["--rate", "100000", "--burst", "100000"]).await;
    let (_, token) = server.user("amy").await;
    let mut amy = server.connect(&token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"last orders"}))
            .await,
    );
    let mut acked = Vec::new();
    let mut stopping = false;
    let mut close_code = None;
    for n in 0..100_000 {
        if n == 200 {
            let pid = server.pid().to_string();
            let status = std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("kill -TERM");
            assert!(status.success());
            stopping = true;
        }
        amy.send(json!({"type":"send","id":n,"room":room,"body":format!("n{n}"),"client_msg_id":format!("c{n}")}))
            .await;
        let reply = loop {
            match amy.receive().await {
                Received::Frame(frame) if frame["id"] == n => break Some(frame),
                Received::Frame(_) => {}
                Received::Closed(code) => {
                    close_code = code;
                    break None;
                }
            }
        };
        match reply {
            Some(frame) if frame["type"] == "ok" => {
                acked.push(frame["data"]["message"]["seq"].clone())
            }
            Some(frame) => panic!("send failed: {frame}"),
            None => break,
        }
    }
    assert!(stopping && acked.len() >= 200);
    assert_eq!(
        close_code,
        Some(1001),
        "connections are closed with 1001 on shutdown"
    );
    let status = server.terminate();
    assert!(status.success(), "the server exits 0: {status:?}");
    server.respawn();
    let (status, page) = server
        .admin(
            "GET",
            &format!("/admin/rooms/{room}/messages?limit=200"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let last = page["messages"]
        .as_array()
        .and_then(|messages| messages.last())
        .cloned()
        .unwrap_or_default();
    // Every acked message is stored; the one in flight when the connection closed may be too.
    let stored = last["seq"].as_u64().unwrap_or_default() as usize;
    assert!(
        stored == acked.len() || stored == acked.len() + 1,
        "{stored} stored for {} acked",
        acked.len()
    );
    let expected: Vec<serde_json::Value> = (1..=acked.len()).map(|seq| json!(seq)).collect();
    assert_eq!(acked, expected, "acked seqs run 1, 2, 3, … with no gap");
}
on_both_backends!(graceful_shutdown_keeps_every_acked_message);
