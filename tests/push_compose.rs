//! Composing notifications in the store, called directly on SQLite and PostgreSQL: a burst of
//! more users than one compose transaction takes is composed whole, one delivery per device;
//! a user and room the store cannot compose (its newest message is gone, or the store refuses
//! its delivery) is skipped without undoing the others and stays due; and on PostgreSQL two nodes composing the same burst at
//! once compose each notification once.

mod common;

use common::{Backend, Database};
use palaver::db::models::{UserKind, UserRow};
use palaver::db::push_queue::{ComposeRules, Composed, COMPOSE_CHUNK};
use palaver::db::{DatabaseUrl, NewPost, Store, StoreConfig};
use palaver::model::RoomId;
use palaver::notify::device::Registration;
use palaver::notify::Preview;

/// More users than one transaction composes, so that the burst takes several.
const OFFLINE: usize = COMPOSE_CHUNK * 2 + 5;
const WINDOW_MS: i64 = 2_000;

struct Burst {
    db: Database,
    store: Store,
    members: Vec<UserRow>,
    room: RoomId,
}

fn open(db: &Database) -> Store {
    let url = DatabaseUrl::parse(&db.url).expect("url");
    Store::open(&url, StoreConfig::default()).expect("store opens")
}

/// amy posts once to a group of `OFFLINE` others, each with one device, every one of them
/// to be notified.
async fn burst(backend: Backend) -> Burst {
    let db = Database::new(backend).await;
    let store = open(&db);
    let amy = store
        .create_user("amy", UserKind::User, None)
        .await
        .expect("amy");
    let mut members = Vec::new();
    for i in 0..OFFLINE {
        let user = store
            .create_user(&format!("student{i}"), UserKind::User, None)
            .await
            .expect("user");
        store
            .register_device(
                user.id,
                Registration::Fcm {
                    token: format!("token-{i}"),
                },
            )
            .await
            .expect("device");
        members.push(user);
    }
    let room = store
        .create_group(
            "class",
            false,
            Some(amy.id),
            members.iter().map(|member| member.id).collect(),
        )
        .await
        .expect("group")
        .id;
    let mut post = NewPost::text(room, amy, "homework is due on Friday");
    post.notify = members.iter().map(|member| member.id).collect();
    store.append(vec![post]).await.expect("posted");
    Burst {
        db,
        store,
        members,
        room,
    }
}

fn rules() -> ComposeRules {
    ComposeRules {
        now_ms: palaver::clock::now_ms() + 1,
        window_ms: WINDOW_MS,
        preview: Preview::Full,
        ttl_ms: 60_000,
    }
}

/// The user and room pairs due at `rules.now_ms`, oldest first.
async fn due_now(store: &Store, rules: ComposeRules) -> Vec<(i64, i64)> {
    store
        .due_notifications(rules.now_ms, rules.window_ms, 1_000)
        .await
        .expect("due")
}

async fn compose_all(store: &Store) -> Composed {
    let rules = rules();
    let due = due_now(store, rules).await;
    store
        .compose_notifications(due, rules)
        .await
        .expect("composed")
}

/// Device ids of every delivery composed, claimed at once.
async fn delivered(store: &Store) -> Vec<i64> {
    let mut devices: Vec<i64> = store
        .claim_deliveries(palaver::clock::now_ms() + 1, 60_000, 10_000)
        .await
        .expect("claimed")
        .into_iter()
        .map(|delivery| delivery.device.id)
        .collect();
    devices.sort_unstable();
    devices
}

async fn a_burst_is_composed_whole(backend: Backend) {
    let burst = burst(backend).await;
    let composed = compose_all(&burst.store).await;
    assert_eq!(
        composed,
        Composed {
            notifications: OFFLINE as i64,
            folded: 0,
            read: 0,
            deliveries: OFFLINE as i64,
        }
    );
    let devices = delivered(&burst.store).await;
    assert_eq!(devices.len(), OFFLINE);
    devices
        .windows(2)
        .for_each(|pair| assert_ne!(pair[0], pair[1], "one delivery per device"));
    // Nothing is due any more: the next turn composes nothing.
    assert_eq!(compose_all(&burst.store).await, Composed::default());
}
on_both_backends!(a_burst_is_composed_whole);

async fn a_user_that_cannot_be_composed_is_skipped(backend: Backend) {
    let burst = burst(backend).await;
    // The oldest pending notification (composed first, in the first transaction) points at
    // a message that is not there: its room's message 999.
    let first = &burst.members[0];
    burst
        .db
        .exec(&format!(
            "INSERT INTO notifications (user_id, room_id, seq, decided_ms) \
             VALUES ({}, {}, 999, 1)",
            first.id.0, burst.room.0
        ))
        .await;
    // Decided long ago, it is first; its newest pending message (999) is missing.
    let due = due_now(&burst.store, rules()).await;
    assert_eq!(due.first(), Some(&(first.id.0, burst.room.0)));
    all_composed_but(&burst, first.id.0).await;
}

/// Composes what is due: every member but `left` gets a delivery, and `left`'s notification
/// is left as it was: still due, to be tried again (and logged) next turn.
async fn all_composed_but(burst: &Burst, left: i64) {
    let rules = rules();
    let due = due_now(&burst.store, rules).await;
    assert_eq!(due.len(), OFFLINE);
    let composed = burst
        .store
        .compose_notifications(due, rules)
        .await
        .expect("the others are composed");
    assert_eq!(composed.notifications, OFFLINE as i64 - 1);
    assert_eq!(delivered(&burst.store).await.len(), OFFLINE - 1);
    assert_eq!(
        due_now(&burst.store, rules).await,
        vec![(left, burst.room.0)]
    );
}
on_both_backends!(a_user_that_cannot_be_composed_is_skipped);

/// A pair whose delivery the store refuses (a trigger stands in for any error of one
/// user's rows) fails the transaction that composes its chunk together: that chunk is then
/// composed pair by pair, the refused pair skipped and left due, every other one composed.
async fn a_pair_the_store_refuses_is_skipped_alone(backend: Backend) {
    let burst = burst(backend).await;
    let refused = burst.members[3].id.0;
    let guard = format!("NEW.device_id IN (SELECT id FROM devices WHERE user_id = {refused})");
    if burst.db.url.starts_with("sqlite://") {
        burst
            .db
            .exec(&format!(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON push_deliveries WHEN {guard} \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            ))
            .await;
    } else {
        burst
            .db
            .exec(&format!(
                "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN \
                 IF {guard} THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            .await;
        burst
            .db
            .exec(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON push_deliveries \
                 FOR EACH ROW EXECUTE FUNCTION refuse_one()",
            )
            .await;
    }
    all_composed_but(&burst, refused).await;
}
on_both_backends!(a_pair_the_store_refuses_is_skipped_alone);

/// Two nodes (two stores on one PostgreSQL database) compose the same burst at the same
/// time: each user's notification is composed by one of them, once.
#[actix_rt::test]
async fn two_nodes_compose_each_notification_once() {
    if !common::postgres_available().await {
        return;
    }
    let burst = burst(Backend::Postgres).await;
    let other = open(&burst.db);
    let rules = rules();
    let due = due_now(&burst.store, rules).await;
    assert_eq!(due.len(), OFFLINE);
    let (one, two) = tokio::join!(
        burst.store.compose_notifications(due.clone(), rules),
        other.compose_notifications(due, rules)
    );
    let (one, two) = (one.expect("node one"), two.expect("node two"));
    assert_eq!(one.notifications + two.notifications, OFFLINE as i64);
    assert_eq!(delivered(&burst.store).await.len(), OFFLINE);
}
