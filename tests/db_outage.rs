//! PostgreSQL going away under load and coming back, with a real PostgreSQL server of the
//! test's own (stopped and started with `pg_ctl`), under one node and under two nodes
//! sharing rooms through a redis-server of the test's own:
//! - while it is down, a send is answered `unavailable` (nothing stored: retry) and never
//!   `ok`; `/healthz` answers 503 on every node; no server exits;
//! - once it is back, the same sends (the same `client_msg_id`) are acked without a restart,
//!   `/healthz` is 200 again, and every acked message is stored exactly once with the seq
//!   its ack gave, in one gapless order that a member on the other node received live,
//!   once each, in order.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::services::{self, Postgres};
use common::{room_id, Client, Database, Server};

/// Acked sends each sender makes; the outage comes after the first few.
const PER_SENDER: usize = 40;
/// Pause between two sends of one sender: the outage then falls between sends.
const PACE: Duration = Duration::from_millis(50);
const DEADLINE: Duration = Duration::from_secs(90);

#[derive(Default)]
struct Sent {
    /// client_msg_id -> the seq its ack gave.
    acked: BTreeMap<String, i64>,
    /// Sends answered `unavailable` (then retried with the same client_msg_id).
    unavailable: usize,
}

/// Sends `PER_SENDER` messages, each with its own client_msg_id, retrying one that is
/// answered `unavailable` until it is acked; any other error fails the test.
async fn send_through(mut client: Client, room: String, name: String) -> Sent {
    let started = Instant::now();
    let mut sent = Sent::default();
    for n in 0..PER_SENDER {
        let client_msg_id = format!("{name}-{n}");
        loop {
            assert!(started.elapsed() < DEADLINE, "{name}: still not acked");
            let reply = client
                .request(json!({"type":"send","room":room,
                    "body":format!("{name} says {n}"),"client_msg_id":client_msg_id}))
                .await;
            match (reply["type"].as_str(), reply["code"].as_str()) {
                (Some("ok"), _) => {
                    let seq = reply["data"]["message"]["seq"].as_i64().expect("seq");
                    sent.acked.insert(client_msg_id, seq);
                    break;
                }
                (Some("error"), Some("unavailable")) => {
                    sent.unavailable += 1;
                    actix_rt::time::sleep(Duration::from_millis(100)).await;
                }
                _ => panic!("{name}: a send was answered {reply}"),
            }
        }
        actix_rt::time::sleep(PACE).await;
    }
    sent
}

async fn health(server: &Server) -> u16 {
    server.call("GET", "/healthz", None, None).await.0
}

/// Waits until every node answers `/healthz` with `status`.
async fn wait_health(nodes: &[&Server], status: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for node in nodes {
        while health(node).await != status {
            assert!(
                Instant::now() < deadline,
                "/healthz of {} never answered {status}",
                node.base
            );
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn postgres_goes_away_and_comes_back(cluster: bool) {
    let Some(postgres) = Postgres::start() else {
        return;
    };
    if cluster && !services::available("redis-server") {
        return;
    }
    let db = Database::external(postgres.url(), cluster);
    let server = Server::start_with(&db, &["--rate", "100000", "--burst", "100000"]).await;
    let nodes = server.nodes();

    let (_, amy_token) = server.user("amy").await;
    let mut members = Vec::new();
    let mut senders = Vec::new();
    for name in ["s1", "s2", "s3"] {
        let (id, token) = server.user(name).await;
        members.push(id);
        senders.push((name.to_string(), token));
    }
    // amy is on the first node; in a cluster the connections alternate, so the senders
    // are on both and she receives their messages across nodes.
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(
        &amy.ok(json!({"type":"create_group","name":"outage","members":members}))
            .await,
    );
    amy.ok(json!({"type":"join","room":room})).await;
    let mut tasks = Vec::new();
    for (name, token) in senders {
        let client = server.connect(&token).await;
        tasks.push(actix_rt::spawn(send_through(client, room.clone(), name)));
    }

    // Some messages go through, then PostgreSQL stops for a while.
    let mut seen: Vec<Value> = Vec::new();
    while seen.len() < 10 {
        seen.push(amy.event("message").await["message"].clone());
    }
    postgres.stop();
    wait_health(&nodes, 503).await;
    actix_rt::time::sleep(Duration::from_secs(3)).await;
    for node in &nodes {
        assert_eq!(health(node).await, 503, "still down: {}", node.base);
    }
    postgres.start_again();
    wait_health(&nodes, 200).await;

    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let mut unavailable = 0;
    for task in tasks {
        let sent = task.await.expect("sender task");
        unavailable += sent.unavailable;
        acked.extend(sent.acked);
    }
    eprintln!(
        "{} node(s): {} acked, {unavailable} sends answered unavailable while PostgreSQL was down",
        nodes.len(),
        acked.len()
    );
    assert_eq!(
        acked.len(),
        3 * PER_SENDER,
        "every send was acked in the end"
    );
    assert!(
        unavailable > 0,
        "the senders met the outage (each send during it is answered unavailable)"
    );

    // Stored: each acked message once, with its seq, in one gapless order.
    let stored = server.all_messages(&room).await;
    let seqs: Vec<i64> = stored
        .iter()
        .map(|message| message["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=acked.len() as i64).collect::<Vec<_>>(),
        "gapless"
    );
    let stored_ids: BTreeMap<String, i64> = stored
        .iter()
        .map(|message| {
            (
                message["client_msg_id"]
                    .as_str()
                    .expect("client_msg_id")
                    .to_string(),
                message["seq"].as_i64().expect("seq"),
            )
        })
        .collect();
    assert_eq!(stored_ids, acked, "stored exactly what was acked");

    // amy, connected all along, got every message live: once each, in order.
    while seen.len() < acked.len() {
        seen.push(amy.event("message").await["message"].clone());
    }
    let live: Vec<i64> = seen
        .iter()
        .map(|message| message["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(live, seqs, "delivered live, once each, in order");
    amy.assert_no_event(&["presence", "typing", "read"]).await;
}

#[actix_rt::test]
async fn postgres_goes_away_and_comes_back_one_node() {
    postgres_goes_away_and_comes_back(false).await;
}

#[actix_rt::test]
async fn postgres_goes_away_and_comes_back_two_nodes() {
    postgres_goes_away_and_comes_back(true).await;
}
