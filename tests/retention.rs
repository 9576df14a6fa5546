//! End-to-end: `--retention-days` (docs/operations.md, "Retention"). Messages are made
//! through the protocol, then made old by writing a past `created_ms` into the test's own
//! database; a server started with `--retention-days 30` deletes them in batches (more
//! than one batch of 500 here), and the files only they carried, while the newer messages,
//! a file a newer message also carries, and the rooms' `seq` stay. On SQLite, PostgreSQL and
//! a two-node cluster (both nodes run the rounds; one batch at a time holds the lock).

mod common;

use std::time::{Duration, Instant};

use common::{room_id, Backend, Database, Server};
use serde_json::{json, Value};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Runs `sql` on the test's database itself.
async fn sql(db: &Database, sql: &str) {
    db.exec(sql).await;
}

async fn old_messages_and_their_files_go_newer_ones_stay(backend: Backend) {
    let db = Database::new(backend).await;
    let (group, direct, amy, old_only, shared, last_seq) = {
        let server = Server::start_with(&db, &["--rate", "5000", "--burst", "5000"]).await;
        let (_, amy) = server.user("amy").await;
        let (bob_id, bob) = server.user("bob").await;
        let mut a = server.connect(&amy).await;
        let group = room_id(
            &a.ok(json!({"type":"create_group","name":"algebra","members":[bob_id]}))
                .await,
        );
        let direct = room_id(&a.ok(json!({"type":"open_direct","user":bob_id})).await);
        let old_only = server
            .upload(&amy, "old.txt", b"only old messages carry this")
            .await;
        let shared = server
            .upload(&amy, "shared.txt", b"an old and a new message carry this")
            .await;
        // Old: more than two batches (500 each) across both rooms, some with files.
        for n in 0..1100 {
            let room = if n % 10 == 0 { &direct } else { &group };
            let mut send = json!({"type":"send","room":room,"body":format!("old {n}")});
            if n == 3 {
                send["files"] = json!([old_only, shared]);
            }
            a.ok(send).await;
        }
        // bob connects only now: idle through the old sends, which take a while on a
        // loaded machine, his connection would be closed for missing heartbeats.
        let mut b = server.connect(&bob).await;
        // New: in both rooms, one carrying the shared file.
        for n in 0..4 {
            let (client, room) = if n % 2 == 0 {
                (&mut a, &group)
            } else {
                (&mut b, &direct)
            };
            client
                .ok(json!({"type":"send","room":room,"body":format!("new {n}")}))
                .await;
        }
        a.ok(json!({"type":"send","room":group,"body":"new with a file","files":[shared]}))
            .await;
        let (_, shown) = server
            .admin("GET", &format!("/admin/rooms/{group}"), None)
            .await;
        let last_seq = shown["room"]["last_seq"].as_i64().expect("last_seq");
        (group, direct, amy, old_only, shared, last_seq)
    };
    // 40 days ago, written into the store while no server runs.
    sql(
        &db,
        &format!(
            "UPDATE messages SET created_ms = created_ms - {} WHERE body LIKE 'old %'",
            40 * DAY_MS
        ),
    )
    .await;

    let server = Server::start_with(
        &db,
        &["--retention-days", "30", "--retention-sweep-secs", "1"],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let remaining =
            server.all_messages(&group).await.len() + server.all_messages(&direct).await.len();
        if remaining == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{remaining} messages left after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let bodies = |messages: &[Value]| -> Vec<String> {
        messages
            .iter()
            .map(|m| m["body"].as_str().expect("body").to_string())
            .collect()
    };
    let in_group = server.all_messages(&group).await;
    assert_eq!(bodies(&in_group), ["new 0", "new 2", "new with a file"]);
    assert_eq!(
        bodies(&server.all_messages(&direct).await),
        ["new 1", "new 3"]
    );
    // seq is kept: the history starts later, the room goes on from its last seq.
    assert_eq!(
        in_group.last().map(|m| m["seq"].as_i64()),
        Some(Some(last_seq))
    );
    assert!(
        in_group[0]["seq"].as_i64().expect("seq") > 900,
        "{}",
        in_group[0]
    );
    let (_, shown) = server
        .admin("GET", &format!("/admin/rooms/{group}"), None)
        .await;
    assert_eq!(shown["room"]["last_seq"], last_seq);

    // A client resuming from before the cut gets what remains, then new messages in order.
    let mut a = server.connect(&amy).await;
    let joined = a
        .ok(json!({"type":"join","room":group,"after_seq":5}))
        .await;
    assert_eq!(
        bodies(joined["messages"].as_array().expect("page")),
        ["new 0", "new 2", "new with a file"]
    );
    assert_eq!(joined["has_more"], false);
    let sent = a
        .ok(json!({"type":"send","room":group,"body":"after"}))
        .await;
    assert_eq!(sent["message"]["seq"], last_seq + 1);

    // The file only old messages carried is gone; the shared one stays.
    let (status, _) = server
        .file_call("GET", &format!("/files/{old_only}"), &amy, b"")
        .await;
    assert_eq!(status, 404, "the file only old messages carried");
    let (status, _) = server
        .file_call("GET", &format!("/files/{shared}"), &amy, b"")
        .await;
    assert_eq!(status, 200, "a file a newer message carries stays");

    // What was deleted is counted, over every node that ran rounds.
    let mut deleted = (0.0, 0.0);
    for node in server.nodes() {
        let (status, metrics) = node.admin("GET", "/metrics", None).await;
        assert_eq!(status, 200);
        let text = metrics.as_str().expect("the metrics text");
        deleted.0 += sample(text, "palaver_retention_deleted_total{what=\"messages\"}");
        deleted.1 += sample(text, "palaver_retention_deleted_total{what=\"files\"}");
    }
    assert_eq!(
        deleted,
        (1100.0, 1.0),
        "messages and files counted as deleted"
    );
}
on_every_deployment!(old_messages_and_their_files_go_newer_ones_stay);

/// The value of one sample line of the Prometheus text, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Without the flag nothing is deleted, however old.
async fn off_by_default(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &["--retention-sweep-secs", "1"]).await;
    let (_, amy) = server.user("amy").await;
    let mut a = server.connect(&amy).await;
    let room = room_id(&a.ok(json!({"type":"create_group","name":"g"})).await);
    a.ok(json!({"type":"send","room":room,"body":"ancient"}))
        .await;
    sql(
        &db,
        &format!(
            "UPDATE messages SET created_ms = created_ms - {}",
            3650 * DAY_MS
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.all_messages(&room).await.len(), 1);
}
on_both_backends!(off_by_default);
