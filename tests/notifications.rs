//! End-to-end: notifications for people who are not connected (docs/protocol.md section 12),
//! on SQLite, PostgreSQL and a two-node cluster, delivered to a Web Push stand-in that checks
//! the real request (tests/common/push.rs): who is notified and when, coalescing, a read that
//! cancels, a device that is gone, a retry after 503, a node killed between the commit and
//! the provider's answer, and a blocked sender, who notifies no one who blocks them.

mod common;

use std::time::Duration;

use common::push::{PushService, Reply, Subscriber};
use common::{room_id, Backend, Database, Server};
use serde_json::{json, Value};

const SUBJECT: &str = "mailto:ops@palaver.test";
const WINDOW: Duration = Duration::from_millis(1000);

fn flags() -> Vec<&'static str> {
    flags_with_window("1000")
}

/// The flags, with a coalescing window of `ms`.
fn flags_with_window(ms: &'static str) -> Vec<&'static str> {
    vec![
        "--push-insecure-endpoints",
        "--push-coalesce-ms",
        ms,
        "--push-timeout-ms",
        "1000",
        "--vapid-subject",
        SUBJECT,
    ]
}

async fn vapid_key(server: &Server) -> String {
    let (status, body) = server.call("GET", "/push/vapid", None, None).await;
    assert_eq!(status, 200, "{body}");
    body["public_key"].as_str().expect("public_key").to_string()
}

async fn register(server: &Server, token: &str, subscriber: &Subscriber) -> Value {
    let (status, body) = server
        .call(
            "POST",
            "/devices",
            Some(subscriber.registration()),
            Some(token),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["device"].clone()
}

/// Nothing more reaches the stand-in for a while (two windows).
async fn quiet(service: &PushService, expected: usize) {
    quiet_for(service, expected, WINDOW).await;
}

/// [`quiet`] on a server whose coalescing window is `window`.
async fn quiet_for(service: &PushService, expected: usize, window: Duration) {
    tokio::time::sleep(window * 2 + Duration::from_millis(500)).await;
    assert_eq!(
        service.received().len(),
        expected,
        "no other request (answers so far: {:?})",
        service
            .received()
            .iter()
            .map(|r| r.answered)
            .collect::<Vec<_>>()
    );
}

async fn a_member_with_no_connection_is_notified_once_per_window(backend: Backend) {
    let db = Database::new(backend).await;
    // A window long enough that the two sends below surely fall in it, on a loaded machine
    // too (with 1 s, "hello?" once came after the window and went alone).
    let window = Duration::from_millis(4000);
    let server = Server::start_with(&db, &flags_with_window("4000")).await;
    let service = PushService::start();
    let key = vapid_key(&server).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let bob_phone = Subscriber::new(&service, "bob");
    register(&server, &bob_token, &bob_phone).await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"is x=3 right?"}))
        .await;

    let first = service.wait_for(1, Duration::from_secs(5)).await;
    let payload = bob_phone.open(&first[0], &key, SUBJECT);
    assert_eq!(first[0].header("topic"), Some(room.as_str()));
    assert_eq!(
        payload,
        json!({
            "type": "message",
            "room": {"id": room, "kind": "direct", "name": "amy"},
            "message": {
                "id": format!("m_{}_1", room.trim_start_matches("r_")),
                "seq": 1,
                "sender": {"id": amy_id, "name": "amy", "kind": "user"},
                "excerpt": "is x=3 right?"
            },
            "count": 1,
            "unread": 1
        })
    );
    // Within the window: these wait, and go together as one showing the newest.
    let long = "x".repeat(300);
    amy.ok(json!({"type":"send","room":room,"body":"hello?"}))
        .await;
    amy.ok(json!({"type":"send","room":room,"body":long})).await;
    let both = service.wait_for(2, Duration::from_secs(10)).await;
    let second = bob_phone.open(&both[1], &key, SUBJECT);
    assert_eq!(second["count"], 2, "{second}");
    assert_eq!(second["unread"], 3, "{second}");
    assert_eq!(second["message"]["seq"], 3);
    assert_eq!(second["message"]["excerpt"], "x".repeat(200));
    quiet_for(&service, 2, window).await;
    // Each node counts what it did: in a cluster either node may have sent them.
    let mut text = String::new();
    for node in server.nodes() {
        let (status, metrics) = node.admin("GET", "/metrics", None).await;
        assert_eq!(status, 200);
        text.push_str(metrics.as_str().unwrap_or_default());
    }
    for line in [
        "palaver_push_decided_total",
        "palaver_push_sent_total{provider=\"webpush\"}",
        "palaver_push_folded_total",
        "palaver_push_oldest_unsent_seconds",
    ] {
        assert!(text.contains(line), "{line} missing from /metrics");
    }
}
on_every_deployment!(a_member_with_no_connection_is_notified_once_per_window);

async fn a_member_joined_to_the_room_is_not_notified(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    register(&server, &bob_token, &Subscriber::new(&service, "bob")).await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    // In a cluster, bob's connection is on the other node.
    let mut bob = server.connect(&bob_token).await;
    bob.ok(json!({"type":"join","room":room})).await;
    amy.ok(json!({"type":"send","room":room,"body":"you there?"}))
        .await;
    bob.event("message").await;
    quiet(&service, 0).await;
    // Connected but not joined to the room is not enough.
    bob.ok(json!({"type":"leave","room":room})).await;
    // In a cluster the other node hears of the leave over Redis (milliseconds).
    tokio::time::sleep(Duration::from_millis(200)).await;
    amy.ok(json!({"type":"send","room":room,"body":"now?"}))
        .await;
    service.wait_for(1, Duration::from_secs(5)).await;
}
on_every_deployment!(a_member_joined_to_the_room_is_not_notified);

async fn a_read_before_the_send_cancels(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    let key = vapid_key(&server).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let phone = Subscriber::new(&service, "bob");
    register(&server, &bob_token, &phone).await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"one"}))
        .await;
    service.wait_for(1, Duration::from_secs(5)).await;
    // Within the window: waits; bob reads it on another device (not joined) first.
    amy.ok(json!({"type":"send","room":room,"body":"two"}))
        .await;
    let mut bob = server.connect(&bob_token).await;
    bob.ok(json!({"type":"read","room":room,"seq":2})).await;
    quiet(&service, 1).await;
    // Read in part: only what is unread is counted.
    amy.ok(json!({"type":"send","room":room,"body":"three"}))
        .await;
    service.wait_for(2, Duration::from_secs(5)).await;
    amy.ok(json!({"type":"send","room":room,"body":"four"}))
        .await;
    amy.ok(json!({"type":"send","room":room,"body":"five"}))
        .await;
    bob.ok(json!({"type":"read","room":room,"seq":4})).await;
    let all = service.wait_for(3, Duration::from_secs(5)).await;
    let last = phone.open(&all[2], &key, SUBJECT);
    assert_eq!(
        (last["count"].clone(), last["message"]["seq"].clone()),
        (json!(1), json!(5)),
        "{last}"
    );
    assert_eq!(last["unread"], 1);
    quiet(&service, 3).await;
}
on_every_deployment!(a_read_before_the_send_cancels);

async fn levels_choose_who_is_notified(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    register(&server, &bob_token, &Subscriber::new(&service, "bob")).await;
    let mut amy = server.connect(&amy_token).await;
    let group = room_id(
        &amy.ok(json!({"type":"create_group","name":"study","members":[bob_id]}))
            .await,
    );
    let mut bob = server.connect(&bob_token).await;
    let rooms = bob.ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"][0]["notify"], "mentions", "{rooms}");
    // A group at `mentions` (the default): a plain message notifies no one.
    amy.ok(json!({"type":"send","room":group,"body":"plain"}))
        .await;
    quiet(&service, 0).await;
    bob.ok(json!({"type":"notify","room":group,"level":"all"}))
        .await;
    let rooms = bob.ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"][0]["notify"], "all", "{rooms}");
    amy.ok(json!({"type":"send","room":group,"body":"now you hear"}))
        .await;
    service.wait_for(1, Duration::from_secs(5)).await;
    bob.ok(json!({"type":"notify","room":group,"level":"none"}))
        .await;
    tokio::time::sleep(WINDOW).await;
    amy.ok(json!({"type":"send","room":group,"body":"muted"}))
        .await;
    quiet(&service, 1).await;
    // Bad input changes nothing.
    for bad in [json!("loud"), json!(1), json!(null)] {
        assert_eq!(
            bob.error(json!({"type":"notify","room":group,"level":bad}))
                .await,
            "bad_request"
        );
    }
    assert_eq!(
        bob.error(json!({"type":"notify","room":"r_999999","level":"all"}))
            .await,
        "not_found"
    );
    let (_, cat_token) = server.user("cat").await;
    let mut cat = server.connect(&cat_token).await;
    assert_eq!(
        cat.error(json!({"type":"notify","room":group,"level":"all"}))
            .await,
        "not_found",
        "a private group is not there for a non-member"
    );
    let rooms = bob.ok(json!({"type":"rooms"})).await;
    assert_eq!(rooms["rooms"][0]["notify"], "none");
}
on_every_deployment!(levels_choose_who_is_notified);

/// Section 13: a message of someone bob blocks is never decided for bob (on any node: the
/// block is in the store and in every room that reloads), while the others' messages in the
/// same group notify him as before.
async fn a_blocked_sender_notifies_no_one_who_blocks_them(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    let key = vapid_key(&server).await;
    let (amy_id, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let (carol_id, carol_token) = server.user("carol").await;
    let bob_phone = Subscriber::new(&service, "bob");
    register(&server, &bob_token, &bob_phone).await;
    let mut amy = server.connect(&amy_token).await;
    let group = room_id(
        &amy.ok(json!({"type":"create_group","name":"study","members":[bob_id, carol_id]}))
            .await,
    );
    {
        let mut bob = server.connect(&bob_token).await;
        bob.ok(json!({"type":"notify","room":group,"level":"all"}))
            .await;
        bob.ok(json!({"type":"block","user":carol_id})).await;
    }
    // bob is offline now: amy's message notifies him (which shows his connection is gone).
    amy.ok(json!({"type":"send","room":group,"body":"from amy"}))
        .await;
    let got = service.wait_for(1, Duration::from_secs(5)).await;
    let payload = bob_phone.open(&got[0], &key, SUBJECT);
    assert_eq!(
        payload["message"]["sender"]["id"],
        amy_id.as_str(),
        "{payload}"
    );
    // carol's does not, within the window or after it.
    let mut carol = server.connect(&carol_token).await;
    carol
        .ok(json!({"type":"send","room":group,"body":"from the blocked one"}))
        .await;
    quiet(&service, 1).await;
    // Nor is it folded into amy's next one.
    amy.ok(json!({"type":"send","room":group,"body":"amy again"}))
        .await;
    let got = service.wait_for(2, Duration::from_secs(5)).await;
    let payload = bob_phone.open(&got[1], &key, SUBJECT);
    assert_eq!(payload["message"]["excerpt"], "amy again", "{payload}");
    assert_eq!(
        payload["count"], 1,
        "carol's message is not among them: {payload}"
    );
    quiet(&service, 2).await;
}
on_every_deployment!(a_blocked_sender_notifies_no_one_who_blocks_them);

async fn a_gone_device_is_removed(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    service.script(&[Reply::Status(410)]);
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    register(&server, &bob_token, &Subscriber::new(&service, "bob")).await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"hi"})).await;
    service.wait_for(1, Duration::from_secs(5)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = server.call("GET", "/devices", None, Some(&bob_token)).await;
        assert_eq!(status, 200);
        if body["devices"] == json!([]) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the device stays: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(WINDOW).await;
    amy.ok(json!({"type":"send","room":room,"body":"again"}))
        .await;
    quiet(&service, 1).await;
}
on_every_deployment!(a_gone_device_is_removed);

async fn a_busy_provider_gets_it_once_after_the_retry(backend: Backend) {
    let db = Database::new(backend).await;
    let server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    service.script(&[Reply::Busy(1)]);
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    register(&server, &bob_token, &Subscriber::new(&service, "bob")).await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"hi"})).await;
    let both = service.wait_for(2, Duration::from_secs(6)).await;
    assert_eq!(both[0].answered, Some(503));
    assert_eq!(both[1].answered, Some(201));
    assert_eq!(
        both[0].body.len(),
        both[1].body.len(),
        "the same notification"
    );
    quiet(&service, 2).await;
    assert_eq!(service.delivered().len(), 1);
}
on_every_deployment!(a_busy_provider_gets_it_once_after_the_retry);

/// The node is killed (`kill -9`) while the provider holds its answer: the notification was
/// stored with the message, so the restarted node sends it, once.
async fn a_killed_node_s_notification_arrives_once(backend: Backend) {
    let db = Database::new(backend).await;
    let mut server = Server::start_with(&db, &flags()).await;
    let service = PushService::start();
    service.script(&[Reply::Hold]);
    let key = vapid_key(&server).await;
    let (_, amy_token) = server.user("amy").await;
    let (bob_id, bob_token) = server.user("bob").await;
    let phone = Subscriber::new(&service, "bob");
    register(&server, &bob_token, &phone).await;
    let mut amy = server.connect(&amy_token).await;
    let room = room_id(&amy.ok(json!({"type":"open_direct","user":bob_id})).await);
    amy.ok(json!({"type":"send","room":room,"body":"before the crash"}))
        .await;
    let held = service.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(held[0].answered, None);
    drop(amy);
    server.crash_and_restart();
    let delivered = service.wait_delivered(1, Duration::from_secs(15)).await;
    let payload = phone.open(&delivered[0], &key, SUBJECT);
    assert_eq!(payload["message"]["seq"], 1);
    assert_eq!(payload["message"]["excerpt"], "before the crash");
    assert_eq!(
        phone.open(&held[0], &key, SUBJECT)["message"]["seq"],
        1,
        "the held one was the same notification"
    );
    quiet(&service, service.received().len()).await;
    assert_eq!(service.delivered().len(), 1, "arrives once");
}
on_every_deployment!(a_killed_node_s_notification_arrives_once);
