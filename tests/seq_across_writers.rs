//! Several nodes' writers appending to the same rooms of one PostgreSQL database (one
//! `Store` per node, as each node opens its own): every room gets one gapless order, and a
//! `client_msg_id` sent through two nodes at once is stored once.

mod common;

use std::collections::{BTreeMap, HashSet};

use palaver::db::models::UserKind;
use palaver::db::{Appended, DatabaseUrl, NewPost, Store, StoreConfig};

use common::{Backend, Database};
use palaver::model::{RoomId, UserId};

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
    let ids: Vec<UserId> = users.iter().map(|user| user.id).collect();
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
                        client_msg_id: Some(format!("c{round}")),
                        ..NewPost::text(
                            *room,
                            user.clone(),
                            format!("round {round} from node {node}"),
                        )
                    })
                })
                .collect();
            tasks.push(actix_rt::spawn(async move { store.append(posts).await }));
        }
    }
    let mut acked: BTreeMap<(RoomId, UserId, String), i64> = BTreeMap::new();
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
        let distinct: HashSet<(UserId, Option<String>)> = page
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

/// Many rooms at once, several batches in flight in each of two nodes' writers, and each
/// room's jobs queued behind one another (each node sends round r+1 of a room before round
/// r is answered): every room still gets seqs 1..N without a gap, each node's messages of a
/// room are stored in the order that node sent them, and a node gets the answers to one
/// room's jobs in the order it sent them.
#[actix_rt::test]
async fn concurrent_commits_keep_each_rooms_order_and_gapless_seqs() {
    if !common::postgres_available().await {
        return;
    }
    let db = Database::new(Backend::Postgres).await;
    let url = DatabaseUrl::parse(&db.url).expect("test database URL");
    let config = StoreConfig {
        commits_in_flight: 4,
        // Every batch may start beside others, however small: the test's jobs are.
        min_batch_beside: 1,
        ..StoreConfig::default()
    };
    let nodes: Vec<Store> = (0..2)
        .map(|_| Store::open(&url, config.clone()).expect("store opens"))
        .collect();
    let amy = nodes[0]
        .create_user("amy", UserKind::User, None)
        .await
        .expect("user");
    const ROOMS: usize = 60;
    const ROUNDS: usize = 12;
    let mut rooms = Vec::new();
    for index in 0..ROOMS {
        let room = nodes[0]
            .create_group(&format!("room{index}"), false, Some(amy.id), vec![amy.id])
            .await
            .expect("room");
        rooms.push(room.id);
    }
    // Round-major, one task a job, so that each job goes onto its node's queue in this order
    // (the test's runtime runs tasks in the order they are spawned, and woken); one to three
    // posts a job. Each task notes when its answer came.
    let answered = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut sends = Vec::new();
    for round in 0..ROUNDS {
        for (index, room) in rooms.iter().enumerate() {
            for (node, store) in nodes.iter().enumerate() {
                let posts: Vec<NewPost> = (0..1 + (round + index + node) % 3)
                    .map(|part| NewPost::text(*room, amy.clone(), format!("{node} {round} {part}")))
                    .collect();
                let store = store.clone();
                let answered = answered.clone();
                let room = *room;
                sends.push(actix_rt::spawn(async move {
                    let outcomes = store.append(posts).await.expect("append");
                    let first = outcomes
                        .first()
                        .and_then(|outcome| outcome.as_ref().ok())
                        .map(|appended| appended.message().row.seq);
                    answered.borrow_mut().push((node, room, round, first));
                    outcomes
                }));
            }
        }
    }
    let mut stored = 0;
    for send in sends {
        let outcomes = send.await.expect("task");
        for outcome in outcomes {
            assert!(matches!(outcome, Ok(Appended::New(_))), "{outcome:?}");
            stored += 1;
        }
    }
    let mut last_answered: BTreeMap<(usize, RoomId), usize> = BTreeMap::new();
    for (node, room, round, _) in answered.borrow().iter() {
        if let Some(before) = last_answered.insert((*node, *room), *round) {
            let trace: Vec<_> = answered
                .borrow()
                .iter()
                .filter(|(n, r, _, _)| n == node && r == room)
                .cloned()
                .collect();
            assert!(
                before < *round,
                "node {node}, room {room}: answers in order: {trace:?}"
            );
        }
    }
    let mut total = 0;
    for (index, room) in rooms.iter().enumerate() {
        let page = nodes[1]
            .messages_after(*room, 0, 1000)
            .await
            .expect("history");
        let seqs: Vec<i64> = page.messages.iter().map(|m| m.row.seq).collect();
        let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
        assert_eq!(seqs, expected, "room {room}: one gapless order");
        for node in 0..2 {
            let sent: Vec<(usize, usize)> = page
                .messages
                .iter()
                .filter_map(|m| {
                    let mut words = m.row.body.split(' ').map(|w| w.parse::<usize>().ok());
                    let (from, round, part) = (words.next()??, words.next()??, words.next()??);
                    (from == node).then_some((round, part))
                })
                .collect();
            let mut in_order = sent.clone();
            in_order.sort_unstable();
            assert_eq!(
                sent, in_order,
                "room {room}: node {node}'s posts in sent order"
            );
            let posted: usize = (0..ROUNDS)
                .map(|round| 1 + (round + index + node) % 3)
                .sum();
            assert_eq!(sent.len(), posted, "room {room}: every post of node {node}");
        }
        total += seqs.len();
    }
    assert_eq!(total, stored);
}
