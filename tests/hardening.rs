//! End-to-end: what one user, a buggy client or a race can take from everyone else (issue
//! 20): the same room for a pair however many calls race for it, and no store text in an
//! answer; sign-in that never fails because of a name, and names that cannot pose as the
//! system or a bot; JWT claims; an owner who left; `typing` folded; template URLs.

mod common;

use common::{Backend, Database, Server};
use futures_util::future::join_all;
use serde_json::{json, Value};

/// 80 `open_direct` for one pair at once, from 40 connections of each side (spread over both
/// nodes of a cluster): every answer is `ok` with the same room, one room exists, and the
/// members get it once.
async fn racing_open_direct_calls_get_one_room(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start(&db).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let mut clients = Vec::new();
    for n in 0..80 {
        let token = if n % 2 == 0 { &amy_token } else { &bob_token };
        clients.push(server.connect(token).await);
    }
    // Every frame goes out before any answer is read.
    for (n, client) in clients.iter_mut().enumerate() {
        let other = if n % 2 == 0 { &bob_id } else { &amy_id };
        client
            .send(json!({"type":"open_direct","id":n,"user":other}))
            .await;
    }
    let answers: Vec<Value> = join_all(clients.iter_mut().map(|client| client.next_reply())).await;
    let mut rooms = std::collections::BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer["type"], "ok", "{answer}");
        rooms.insert(answer["data"]["room"]["id"].as_str().expect("id").to_string());
    }
    assert_eq!(rooms.len(), 1, "one room for the pair: {rooms:?}");
    let (status, listed) = server.admin("GET", "/admin/rooms?kind=direct", None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["rooms"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed["rooms"][0]["members_count"], 2, "{listed}");
}
on_every_deployment!(racing_open_direct_calls_get_one_room);
