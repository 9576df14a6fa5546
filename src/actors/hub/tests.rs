//! Actor-level tests of the hub: connections and presence per user, notifications,
//! closing a user's connections, and a room started once and stopped when idle.

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;

use super::*;
use crate::actors::messages::{GetRoom, NotifyUser};
use crate::actors::outbox::OutboxDrain;
use crate::actors::session::Session;
use crate::actors::testing::Fixture;
use crate::db::models::UserRow;
use crate::protocol::Event;

async fn connect(fixture: &Fixture, user: &UserRow, session: &str) -> OutboxDrain {
    let (caller, drain) = fixture.connection(user, session);
    let addr = Session::new(
        caller.session.clone(),
        caller.user.clone(),
        None,
        caller.outbox.clone(),
        Hub::session_supervisor(&fixture.hub),
        fixture.store.clone(),
        fixture.settings.clone(),
    )
    .start();
    // The session registers itself with the hub when it starts.
    let _ = addr;
    drain
}

#[actix_rt::test]
async fn tracks_connections_and_presence_per_user() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let mut phone = connect(&fixture, &amy, "s_phone").await;
    let mut laptop = connect(&fixture, &amy, "s_laptop").await;
    phone.next_json().await;
    laptop.next_json().await;
    let stats = fixture.hub.send(Stats).await.expect("hub");
    assert_eq!((stats.connections, stats.users_online), (2, 1));
    assert!(fixture.presence.is_online(amy.id));
    assert_eq!(fixture.presence.connections(amy.id), 2);
}

#[actix_rt::test]
async fn notifies_a_users_connections_except_the_one_that_acted() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let mut phone = connect(&fixture, &amy, "s_phone").await;
    let mut laptop = connect(&fixture, &amy, "s_laptop").await;
    phone.next_json().await;
    laptop.next_json().await;
    fixture.hub.send(Stats).await.expect("hub");
    fixture
        .hub
        .send(NotifyUser {
            user_id: amy.id,
            except: Some(Arc::from("s_phone")),
            frame: Event::RoomRemoved { room: "r_1".into() }.frame(),
        })
        .await
        .expect("hub");
    assert_eq!(laptop.next_json().await["type"], "room_removed");
    assert_eq!(phone.pending(), 0);
    let delivered = fixture
        .hub
        .send(Broadcast {
            frame: Event::Notice {
                body: "hello".into(),
            }
            .frame(),
        })
        .await
        .expect("hub");
    assert_eq!(delivered, 2);
    assert_eq!(phone.next_json().await["body"], "hello");
}

#[actix_rt::test]
async fn closes_every_connection_of_a_user() {
    let fixture = Fixture::new();
    let amy = fixture.user("amy").await;
    let bob = fixture.user("bob").await;
    let amy_out = connect(&fixture, &amy, "s_amy").await;
    let bob_out = connect(&fixture, &bob, "s_bob").await;
    fixture.hub.send(Stats).await.expect("hub");
    let closed = fixture
        .hub
        .send(CloseUser {
            user_id: amy.id,
            token_id: None,
            code: CloseCode::Revoked,
            reason: "revoked",
            last_frame: None,
        })
        .await
        .expect("hub");
    assert_eq!(closed, 1);
    assert_eq!(amy_out.close_code().map(u16::from), Some(4001));
    assert_eq!(bob_out.close_code(), None);
}

#[actix_rt::test]
async fn starts_a_room_once_and_stops_it_when_idle() {
    let fixture = Fixture::with_settings(Settings {
        room_idle: Duration::ZERO,
        ..Settings::default()
    });
    let amy = fixture.user("amy").await;
    let id = fixture.group(&amy, &[], false).await;
    let first = fixture.hub.send(GetRoom { id }).await.expect("hub");
    let second = fixture.hub.send(GetRoom { id }).await.expect("hub");
    assert!(first == second, "one actor per room");
    assert_eq!(fixture.hub.send(Stats).await.expect("hub").rooms_active, 1);
    for _ in 0..100 {
        if !first.connected() {
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!first.connected(), "an idle room stops");
    assert_eq!(fixture.hub.send(Stats).await.expect("hub").rooms_active, 0);
}
