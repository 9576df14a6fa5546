//! Actor-level tests of a session fed frames without a socket: parsing and errors, replies
//! in command order, the rate limit, and leaving rooms and the hub when it stops.

use std::time::Duration;

use crate::websocket::{Incoming, Violation};
use actix::prelude::*;
use actix_web::web::Bytes;
use futures_channel::mpsc;
use serde_json::{json, Value};

use super::Session;
use crate::actors::hub::{Hub, Stats};
use crate::actors::outbox::OutboxDrain;
use crate::actors::testing::Fixture;
use crate::settings::RateLimit;
use crate::settings::Settings;

type Feed = mpsc::UnboundedSender<Result<Incoming, Violation>>;

async fn session(fixture: &Fixture, name: &str) -> (Addr<Session>, Feed, OutboxDrain) {
    let user = fixture.user(name).await;
    let (caller, drain) = fixture.connection(&user, &format!("s_{name}"));
    let (feed, frames) = mpsc::unbounded();
    let (hub, store, settings) = (
        Hub::session_supervisor(&fixture.hub),
        fixture.store.clone(),
        fixture.settings.clone(),
    );
    let addr = Session::create(move |ctx| {
        ctx.add_stream(frames);
        Session::new(
            caller.session,
            caller.user,
            None,
            caller.outbox,
            hub,
            store,
            settings,
        )
    });
    (addr, feed, drain)
}

fn text(feed: &Feed, value: Value) {
    feed.unbounded_send(Ok(Incoming::Text(value.to_string())))
        .expect("session reads");
}

#[actix_rt::test]
async fn says_hello_first_then_answers_in_command_order() {
    let fixture = Fixture::new();
    let (_addr, feed, mut out) = session(&fixture, "amy").await;
    let hello = out.next_json().await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["protocol"], 1);
    assert_eq!(hello["user"]["name"], "amy");
    text(&feed, json!({"type":"create_group","id":"a","name":"g"}));
    text(&feed, json!({"type":"rooms","id":"b"}));
    text(&feed, json!({"type":"ping","id":"c"}));
    let replies: Vec<Value> = vec![
        out.next_json().await,
        out.next_json().await,
        out.next_json().await,
    ];
    let ids: Vec<&Value> = replies.iter().map(|reply| &reply["id"]).collect();
    assert_eq!(ids, [&json!("a"), &json!("b"), &json!("c")]);
    assert_eq!(
        replies[1]["data"]["rooms"][0]["name"], "g",
        "the group exists by the time rooms runs"
    );
}

#[actix_rt::test]
async fn bad_frames_get_errors_and_the_session_carries_on() {
    let fixture = Fixture::new();
    let (addr, feed, mut out) = session(&fixture, "amy").await;
    out.next_json().await;
    feed.unbounded_send(Ok(Incoming::Text("{oops".into())))
        .expect("feed");
    let error = out.next_json().await;
    assert_eq!(
        (error["code"].as_str(), &error["id"]),
        (Some("bad_request"), &Value::Null)
    );
    feed.unbounded_send(Ok(Incoming::Binary(Bytes::from_static(b"\x00"))))
        .expect("feed");
    assert_eq!(out.next_json().await["code"], "unsupported_frame");
    text(&feed, json!({"type":"teleport","id":9}));
    let unknown = out.next_json().await;
    assert_eq!(
        (unknown["code"].as_str(), &unknown["id"]),
        (Some("unknown_type"), &json!(9))
    );
    let big = format!(
        "{{\"type\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    feed.unbounded_send(Ok(Incoming::Text(big))).expect("feed");
    assert_eq!(out.next_json().await["code"], "too_large");
    text(&feed, json!({"type":"ping","id":10}));
    assert_eq!(out.next_json().await["type"], "ok");
    assert!(addr.connected());
}

#[actix_rt::test]
async fn frames_over_the_rate_limit_are_refused_one_by_one() {
    let fixture = Fixture::with_settings(Settings {
        rate_limit: RateLimit {
            per_second: 1.0,
            burst: 2.0,
            ..RateLimit::default()
        },
        ..Settings::default()
    });
    let (_addr, feed, mut out) = session(&fixture, "amy").await;
    out.next_json().await;
    for id in 0..4 {
        text(&feed, json!({"type":"ping","id":id}));
    }
    assert_eq!(out.next_json().await["type"], "ok");
    assert_eq!(out.next_json().await["type"], "ok");
    for _ in 0..2 {
        let refused = out.next_json().await;
        assert_eq!(refused["code"], "rate_limited");
        assert!(
            refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
            "{refused}"
        );
    }
}

#[actix_rt::test]
async fn a_frame_too_large_to_read_closes_with_1009() {
    let fixture = Fixture::new();
    let (addr, feed, out) = session(&fixture, "amy").await;
    feed.unbounded_send(Err(Violation::TooBig(u64::MAX)))
        .expect("feed");
    for _ in 0..100 {
        if !addr.connected() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!addr.connected());
    assert_eq!(out.close_code().map(u16::from), Some(1009));
}

#[actix_rt::test]
async fn a_stopped_session_leaves_the_hub() {
    let fixture = Fixture::new();
    let (addr, feed, mut out) = session(&fixture, "amy").await;
    out.next_json().await;
    text(&feed, json!({"type":"ping","id":1}));
    out.next_json().await;
    assert_eq!(fixture.hub.send(Stats).await.expect("hub").connections, 1);
    drop(feed);
    for _ in 0..100 {
        if fixture.hub.send(Stats).await.expect("hub").connections == 0 {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!addr.connected());
    assert_eq!(fixture.hub.send(Stats).await.expect("hub").connections, 0);
    assert_eq!(out.close_code().map(u16::from), Some(1000));
}
