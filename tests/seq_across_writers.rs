//! Several nodes' writers appending to the same rooms of one PostgreSQL database (one
//! `Store` per node, as each node opens its own): every room gets one gapless order, and a
//! `client_msg_id` sent through two nodes at once is stored once.

mod common;

use std::collections::{BTreeMap, HashSet};

use palaver::db::models::UserKind;
use palaver::db::{Appended, DatabaseUrl, NewPost, Store, StoreConfig};

use common::{Backend, Database};

fn open(db: &Database) -> Store {
    let url = DatabaseUrl::parse(&db.url).expect("test database URL");
    Store::open(&url, StoreConfig::default()).expect("store opens")
}

#[actix_rt::test]
async fn writers_of_three_nodes_share_one_gapless_order() {
    if !common::postgres_available().await {
        return;
    }
    let db = Database::new(Backend::Postgres).await;
    let nodes: Vec<Store> = (0..3).map(|_| open(&db)).collect();
    let mut users = Vec::new();
    for name in ["amy", "bob", "cat"] {
        users.push(
            nodes[0]
                .create_user(name, UserKind::User, None)
                .await
                .expect("user"),
        );
    }
    let ids: Vec<i64> = users.iter().map(|user| user.id).collect();
    let mut rooms = Vec::new();
    for name in ["one", "two"] {
        rooms.push(
            nodes[0]
                .create_group(name, false, Some(ids[0]), ids.clone())
                .await
                .expect("room")
                .id,
        );
    }

    // Every node sends the same client_msg_ids at once: each (room, sender, id) is one
    // message however many nodes carried it.
    const ROUNDS: usize = 40;
    let mut tasks = Vec::new();
    for (node, store) in nodes.iter().enumerate() {
        for round in 0..ROUNDS {
            let store = store.clone();
            let posts: Vec<NewPost> = rooms
                .iter()
                .flat_map(|room| {
                    users.iter().map(move |user| NewPost {
                        room_id: *room,
                        sender: user.clone(),
                        body: format!("round {round} from node {node}"),
                        template: None,
                        client_msg_id: Some(format!("c{round}")),
                        action: None,
                        files: Vec::new(),
                    })
                })
                .collect();
            tasks.push(actix_rt::spawn(async move { store.append(posts).await }));
        }
    }
    let mut acked: BTreeMap<(i64, i64, String), i64> = BTreeMap::new();
    for task in tasks {
        let outcomes = task.await.expect("task").expect("append");
        for outcome in outcomes {
            let outcome = outcome.expect("stored");
            let row = &outcome.message().row;
            let key = (
                row.room_id,
                row.sender_id,
                row.client_msg_id.clone().unwrap_or_default(),
            );
            let seq = *acked.entry(key).or_insert(row.seq);
            assert_eq!(seq, row.seq, "one client_msg_id, one seq: {outcome:?}");
            if let Appended::Duplicate(message) = &outcome {
                assert!(message.row.body.starts_with("round"));
            }
        }
    }
    for room in &rooms {
        let page = nodes[1]
            .messages_after(*room, 0, 1000)
            .await
            .expect("history");
        let seqs: Vec<i64> = page.messages.iter().map(|m| m.row.seq).collect();
        let expected: Vec<i64> = (1..=(ROUNDS * users.len()) as i64).collect();
        assert_eq!(seqs, expected, "room {room}: one gapless order");
        let distinct: HashSet<(i64, Option<String>)> = page
            .messages
            .iter()
            .map(|m| (m.row.sender_id, m.row.client_msg_id.clone()))
            .collect();
        assert_eq!(distinct.len(), seqs.len(), "no client_msg_id stored twice");
        let summary = nodes[2]
            .room_summary(*room, Some(ids[0]))
            .await
            .expect("summary")
            .expect("room exists");
        assert_eq!(summary.last_seq, seqs.len() as i64);
    }
}
