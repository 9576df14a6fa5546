//! Fixtures for actor-level tests: a store on a fresh SQLite file, a hub, and callers
//! whose outboxes the test reads directly.

use std::sync::Arc;

use actix::{Actor, Addr};

use super::hub::Hub;
use super::messages::Caller;
use super::outbox::{Outbox, OutboxDrain};
use super::presence::Presence;
use super::room::Room;
use crate::db::models::{UserKind, UserRow};
use crate::db::{DatabaseUrl, Store, StoreConfig};
use crate::settings::Settings;

pub struct Fixture {
    pub store: Store,
    pub hub: Addr<Hub>,
    pub presence: Presence,
    pub settings: Arc<Settings>,
    _dir: tempfile::TempDir,
}

impl Default for Fixture {
    fn default() -> Fixture {
        Fixture::with_settings(Settings::default())
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::default()
    }

    pub fn with_settings(settings: Settings) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = DatabaseUrl::Sqlite(dir.path().join("test.db").display().to_string());
        let store = Store::open(&url, StoreConfig::default()).expect("store opens");
        let presence = Presence::default();
        let settings = Arc::new(settings);
        let hub = Hub::new(store.clone(), presence.clone(), settings.clone(), 2).start();
        Fixture {
            store,
            hub,
            presence,
            settings,
            _dir: dir,
        }
    }

    pub async fn user(&self, name: &str) -> UserRow {
        self.store
            .create_user(name, UserKind::User, None)
            .await
            .expect("user created")
    }

    /// A connection of `user` that is not a real socket: the test reads its outbox.
    pub fn connection(&self, user: &UserRow, session: &str) -> (Caller, OutboxDrain) {
        let (outbox, drain) = Outbox::new(self.settings.outbound_queue);
        (
            Caller {
                session: Arc::from(session),
                user: user.clone(),
                outbox,
                received: std::time::Instant::now(),
            },
            drain,
        )
    }

    /// The actor of a room, started if there is none.
    pub async fn room(&self, id: crate::model::RoomId) -> Addr<Room> {
        self.hub
            .send(super::hub::RoomAddr { id })
            .await
            .expect("hub")
    }

    pub async fn group(
        &self,
        owner: &UserRow,
        members: &[&UserRow],
        public: bool,
    ) -> crate::model::RoomId {
        let ids = members.iter().map(|member| member.id).collect();
        self.store
            .create_group("test group", public, Some(owner.id), ids)
            .await
            .expect("group created")
            .id
    }
}
