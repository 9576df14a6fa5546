//! Authorization holds on every node whatever Redis does (docs/scale-out.md, "a kick takes
//! effect everywhere within 3 s even if Redis is down"): two nodes on one PostgreSQL, Redis
//! killed (`kill -9` of its redis-server) or stalled (`DEBUG SLEEP 5`), and a change made
//! through node one while it is: amy kicks dan, or the admin revokes one of dan's tokens,
//! all of them, or deactivates him. Within the bound, dan's connections on node two stop
//! receiving the room's messages, his send is refused and not stored, his `history` and
//! `join` are refused, and connections whose token is gone are closed with 4001; carl, on
//! node two too, still gets the room's messages (so dan would have, had he still been let
//! in). The nodes sweep every 500 ms here (`--authz-sweep-ms`; 2,000 by default).

mod common;

use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{room_id, Client, Server};
use serde_json::{json, Value};

/// The sweep these nodes run, and the bound the docs give for the default sweep (2 s and the
/// store's answer); it holds a fortiori for these faster sweeps.
const SWEEP: &[&str] = &["--authz-sweep-ms", "500"];
const BOUND: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// `kill -9` of the redis-server.
    Killed,
    /// `DEBUG SLEEP 5`.
    Stalled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// amy, the group's owner on node one, kicks dan.
    Kick,
    /// `DELETE /admin/users/{dan}/tokens/{token_id}`: one of his two tokens.
    RevokeToken,
    /// `DELETE /admin/users/{dan}/tokens`.
    RevokeAll,
    /// `DELETE /admin/users/{dan}`.
    Deactivate,
}

struct Person {
    id: String,
    token: String,
    token_id: String,
}

async fn person(server: &Server, name: &str) -> Person {
    let (status, body) = server
        .admin("POST", "/admin/users", Some(json!({ "name": name })))
        .await;
    assert_eq!(status, 201, "{body}");
    Person {
        id: body["user"]["id"].as_str().expect("id").to_string(),
        token: body["token"].as_str().expect("token").to_string(),
        token_id: body["token_id"].as_str().expect("token id").to_string(),
    }
}

/// Another token of `who`'s.
async fn second_token(server: &Server, who: &Person) -> Person {
    let (status, body) = server
        .admin("POST", &format!("/admin/users/{}/tokens", who.id), None)
        .await;
    assert!(status < 300, "{status} {body}");
    Person {
        id: who.id.clone(),
        token: body["token"].as_str().expect("token").to_string(),
        token_id: body["token_id"].as_str().expect("token id").to_string(),
    }
}

fn bodies(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|message| message["body"].as_str().map(str::to_string))
        .collect()
}

/// `message` events until one with this body; panics on a message after it.
async fn receive(client: &mut Client, body: &str) {
    loop {
        let event = client.event("message").await;
        if event["message"]["body"] == body {
            return;
        }
    }
}

/// Waits for the connection to be closed, at most until `deadline`; its close code and the
/// error frame it got last.
async fn closed_by(client: &mut Client, deadline: Instant, who: &str) -> (Option<u16>, Value) {
    let left = deadline.saturating_duration_since(Instant::now());
    let code = tokio::time::timeout(left, client.closed())
        .await
        .unwrap_or_else(|_| panic!("{who}'s connection is still open {BOUND:?} after the change"));
    let last_error = client
        .take_events()
        .into_iter()
        .rev()
        .find(|frame| frame["type"] == "error")
        .unwrap_or(Value::Null);
    (code, last_error)
}

async fn scenario(change: Change, fault: Fault) {
    let Some(mut cluster) = Cluster::start(2, SWEEP).await else {
        return;
    };
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    let amy = person(one, "amy").await;
    let dan = person(one, "dan").await;
    let dan_phone = second_token(one, &dan).await;
    let carl = person(one, "carl").await;

    let mut amy_ws = one.connect(&amy.token).await;
    let room = room_id(
        &amy_ws
            .ok(json!({"type":"create_group","name":"club","members":[dan.id, carl.id]}))
            .await,
    );
    amy_ws.ok(json!({"type":"join","room":room})).await;
    let mut dan_ws = two.connect(&dan.token).await;
    let mut dan_phone_ws = two.connect(&dan_phone.token).await;
    let mut carl_ws = two.connect(&carl.token).await;
    for client in [&mut dan_ws, &mut dan_phone_ws, &mut carl_ws] {
        client.ok(json!({"type":"join","room":room})).await;
    }
    // Across the nodes while Redis is well.
    amy_ws
        .ok(json!({"type":"send","room":room,"body":"before"}))
        .await;
    for client in [&mut dan_ws, &mut dan_phone_ws, &mut carl_ws] {
        receive(client, "before").await;
    }

    let stall = match fault {
        Fault::Killed => {
            cluster.redis.kill();
            None
        }
        Fault::Stalled => Some(cluster.redis.stall(5)),
    };
    let one = &cluster.nodes[0];
    match change {
        Change::Kick => {
            amy_ws
                .ok(json!({"type":"kick","room":room,"user":dan.id}))
                .await;
        }
        Change::RevokeToken => {
            let path = format!("/admin/users/{}/tokens/{}", dan.id, dan.token_id);
            let (status, body) = one.admin("DELETE", &path, None).await;
            assert_eq!(status, 204, "{body}");
        }
        Change::RevokeAll => {
            let path = format!("/admin/users/{}/tokens", dan.id);
            let (status, body) = one.admin("DELETE", &path, None).await;
            assert_eq!(status, 204, "{body}");
        }
        Change::Deactivate => {
            let path = format!("/admin/users/{}", dan.id);
            let (status, body) = one.admin("DELETE", &path, None).await;
            assert_eq!(status, 204, "{body}");
        }
    }
    let deadline = Instant::now() + BOUND;

    // Connections whose token is gone are closed with 4001 within the bound, after an
    // `unauthorized` error; the other token's connection stays when one token is revoked.
    let mut dans = vec![
        (dan_ws, dan.token_id.clone()),
        (dan_phone_ws, dan_phone.token_id),
    ];
    let revoked = |token_id: &str| match change {
        Change::Kick => false,
        Change::RevokeToken => token_id == dan.token_id,
        Change::RevokeAll | Change::Deactivate => true,
    };
    for (client, token_id) in &mut dans {
        if revoked(token_id) {
            let (code, error) = closed_by(client, deadline, token_id).await;
            assert_eq!(code, Some(4001), "{token_id}: {change:?} under {fault:?}");
            assert_eq!(error["code"], "unauthorized", "{error}");
        }
    }
    dans.retain(|(_, token_id)| !revoked(token_id));
    tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;

    if change == Change::Kick {
        // Past the bound, node two refuses dan everything, from the store's truth.
        for (client, _) in &mut dans {
            let sent = client
                .error_reply(json!({"type":"send","room":room,"body":"dan after the kick"}))
                .await;
            assert_eq!(sent["code"], "not_found", "{sent}");
            for command in [
                json!({"type":"history","room":room}),
                json!({"type":"join","room":room}),
                json!({"type":"typing","room":room}),
            ] {
                let refused = client.error_reply(command.clone()).await;
                assert_eq!(refused["code"], "not_found", "{command} -> {refused}");
            }
        }
    }

    // The room's next message reaches carl on node two (through the store while Redis is
    // away) and none of dan's connections there that are still open, unless the token it
    // signed in with is still his and he is still a member.
    amy_ws
        .ok(json!({"type":"send","room":room,"body":"after"}))
        .await;
    receive(&mut carl_ws, "after").await;
    for (client, token_id) in &mut dans {
        let events = client.drain_events().await;
        let got: Vec<&Value> = events
            .iter()
            .filter(|event| event["type"] == "message")
            .collect();
        if change == Change::RevokeToken {
            assert_eq!(got.len(), 1, "{token_id}: {events:?}");
            assert_eq!(got[0]["message"]["body"], "after");
        } else {
            assert!(
                got.is_empty(),
                "{token_id} still receives the room: {events:?}"
            );
        }
    }

    // Nothing of dan's after the change is stored.
    let stored = bodies(&cluster.nodes[0].all_messages(&room).await);
    assert_eq!(stored, ["before", "after"], "{change:?} under {fault:?}");
    if let Some(stall) = stall {
        let slept = stall.join().expect("the stall's thread ends");
        slept.expect("DEBUG SLEEP is answered (redis-server --enable-debug-command local)");
    }
}

macro_rules! scenarios {
    ($($name:ident: $change:ident, $fault:ident;)*) => {
        $(
            #[actix_rt::test]
            async fn $name() {
                scenario(Change::$change, Fault::$fault).await;
            }
        )*
    };
}

scenarios! {
    kick_with_redis_killed: Kick, Killed;
    kick_with_redis_stalled: Kick, Stalled;
    revoking_a_token_with_redis_killed: RevokeToken, Killed;
    revoking_a_token_with_redis_stalled: RevokeToken, Stalled;
    revoking_every_token_with_redis_killed: RevokeAll, Killed;
    revoking_every_token_with_redis_stalled: RevokeAll, Stalled;
    deactivating_with_redis_killed: Deactivate, Killed;
    deactivating_with_redis_stalled: Deactivate, Stalled;
}
