//! The cross-node bus against a real redis-server of the test's own: events reach the
//! other node, a node skips its own, and a Redis restart tells subscribers to resync and
//! then delivers again by itself.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use palaver::cluster::wire::{channel, Event};
use palaver::cluster::{Bus, Inbound};
use palaver::model::{RoomId, UserId};
use tokio::sync::mpsc;

use common::services::{self, Redis};

/// Hands what the bus delivers to the test.
struct Collector(mpsc::UnboundedSender<Inbound>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<Inbound> for Collector {
    type Result = ();
    fn handle(&mut self, inbound: Inbound, _: &mut Context<Self>) {
        let _ = self.0.send(inbound);
    }
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> Inbound {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an event within 10 s")
        .expect("collector alive")
}

fn frame_of(inbound: Inbound) -> Option<(String, String)> {
    match inbound {
        Inbound::Event(envelope) => match envelope.event {
            Event::RoomFrame { frame, .. } => Some((envelope.node, frame)),
            _ => None,
        },
        Inbound::Resync => None,
    }
}

/// Publishes until one arrives (a publish before the subscription is live is lost, as on
/// any pub/sub), then returns the first frame received.
async fn publish_until_heard(
    from: &Bus,
    rx: &mut mpsc::UnboundedReceiver<Inbound>,
    frame: &str,
) -> (String, String) {
    for _ in 0..100 {
        from.publish(
            channel::room(RoomId(7)),
            Event::RoomFrame {
                frame: frame.into(),
                except_user: None,
            },
        );
        if let Ok(Some(inbound)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await
        {
            if let Some(found) = frame_of(inbound) {
                return found;
            }
        }
    }
    panic!("{frame} never arrived");
}

#[actix_rt::test]
async fn events_cross_nodes_and_survive_a_redis_restart() {
    if !services::available("redis-server") {
        return;
    }
    let mut redis = Redis::start();
    let a = Bus::start(&redis.url(), "a").expect("bus a");
    let b = Bus::start(&redis.url(), "b").expect("bus b");
    // The subscriber connects in the background: until then a subscription is recorded,
    // not confirmed (and made on connecting). Wait for the connection, bounded.
    for _ in 0..200 {
        if b.is_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        b.is_connected(),
        "bus b did not connect to Redis within 10 s"
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let collector = Collector(tx).start();
    let (id, confirmed) = b
        .subscribe(channel::room(RoomId(7)), collector.clone().recipient())
        .await;
    assert!(confirmed, "subscribed once Redis answered");

    a.publish(
        channel::room(RoomId(7)),
        Event::RoomFrame {
            frame: "first".into(),
            except_user: None,
        },
    );
    let mut got = None;
    while got.is_none() {
        got = frame_of(next(&mut rx).await);
    }
    assert_eq!(got, Some(("a".into(), "first".into())));

    // b's own publish is not handed back to b.
    b.publish(
        channel::room(RoomId(7)),
        Event::RoomFrame {
            frame: "own".into(),
            except_user: None,
        },
    );
    a.publish(
        channel::room(RoomId(7)),
        Event::RoomFrame {
            frame: "second".into(),
            except_user: None,
        },
    );
    let mut got = None;
    while got.is_none() {
        got = frame_of(next(&mut rx).await);
    }
    assert_eq!(got, Some(("a".into(), "second".into())));

    // Redis goes away and comes back empty: b resubscribes by itself and says "resync".
    redis.restart();
    loop {
        if matches!(next(&mut rx).await, Inbound::Resync) {
            break;
        }
    }
    assert!(b.is_connected());
    let heard = publish_until_heard(&a, &mut rx, "after restart").await;
    assert_eq!(heard, ("a".into(), "after restart".into()));

    // Unsubscribed: nothing more arrives.
    b.unsubscribe(channel::room(RoomId(7)), id);
    tokio::time::sleep(Duration::from_millis(200)).await;
    while rx.try_recv().is_ok() {}
    a.publish(
        channel::room(RoomId(7)),
        Event::RoomFrame {
            frame: "gone".into(),
            except_user: None,
        },
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "no event after unsubscribing");
}

#[actix_rt::test]
async fn live_connections_are_read_back_per_node() {
    if !services::available("redis-server") {
        return;
    }
    let redis = Redis::start();
    let a = Bus::start(&redis.url(), "a").expect("bus a");
    let b = Bus::start(&redis.url(), "b").expect("bus b");
    a.set_connections(UserId(1), 1, true);
    a.set_connections(UserId(2), 1, true);
    a.set_connections(UserId(2), 2, false);
    b.set_connections(UserId(2), 1, true);
    a.set_connections(UserId(1), 0, true);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let nodes = a.connection_counts().await.expect("read the counts");
        let on = |node: &str| nodes.get(node).cloned().unwrap_or_default();
        if on("a") == HashMap::from([(UserId(2), 2)]) && on("b") == HashMap::from([(UserId(2), 1)])
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "counts: {nodes:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a redis-server counted: `(PINGs answered, connections accepted)`.
fn redis_counts(conn: &mut redis::Connection) -> (u64, u64) {
    let mut info =
        |section: &str| -> String { redis::cmd("INFO").arg(section).query(conn).expect("INFO") };
    let field = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| {
                rest.trim_start_matches(|c: char| !c.is_ascii_digit())
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|digits| digits.parse().ok())
            })
            .unwrap_or(0)
    };
    let pings = field(&info("commandstats"), "cmdstat_ping:calls=");
    let connections = field(&info("stats"), "total_connections_received:");
    (pings, connections)
}

/// The liveness ping of a subscribed connection is answered as a pub/sub reply: a healthy
/// bus stays subscribed through as many pings as an hour brings at the default interval
/// (1,200 of 3 s), here a few milliseconds apart: no reconnect, no resync, and events still
/// cross.
#[actix_rt::test]
async fn a_healthy_bus_stays_subscribed_through_its_pings() {
    if !services::available("redis-server") {
        return;
    }
    const PINGS: u64 = 1200;
    let redis = Redis::start();
    let fast = palaver::cluster::BusOptions {
        ping_every: Duration::from_millis(5),
    };
    let a = Bus::start_with(&redis.url(), "a", fast).expect("bus a");
    let b = Bus::start_with(&redis.url(), "b", fast).expect("bus b");
    for _ in 0..200 {
        if a.is_connected() && b.is_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        a.is_connected() && b.is_connected(),
        "connected within 10 s"
    );
    let (tx, mut rx) = mpsc::unbounded_channel();
    let collector = Collector(tx).start();
    let (_, confirmed) = b
        .subscribe(channel::room(RoomId(7)), collector.clone().recipient())
        .await;
    assert!(confirmed, "subscribed once Redis answered");
    let mut conn = redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .expect("the test's own connection to redis");
    let (pings_before, connections_before) = redis_counts(&mut conn);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Ok(inbound) = rx.try_recv() {
            let what = match inbound {
                Inbound::Resync => "a resync (the subscription was lost and made again)".into(),
                Inbound::Event(envelope) => format!("an event: {envelope:?}"),
            };
            panic!("nothing was published, yet the subscriber got {what}");
        }
        let (pings, connections) = redis_counts(&mut conn);
        assert_eq!(
            connections, connections_before,
            "no connection is made: the bus never reconnects"
        );
        // Both buses ping: each has answered PINGS of its own.
        if pings - pings_before >= 2 * PINGS {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "only {} pings in 60 s",
            pings - pings_before
        );
    }
    assert!(b.is_connected());
    let heard = publish_until_heard(&a, &mut rx, "after the pings").await;
    assert_eq!(heard, ("a".into(), "after the pings".into()));
}
