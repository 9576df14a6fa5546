//! The store's part for devices and notification levels (docs/protocol.md section 12): a
//! user's devices (an endpoint or token registered again, by anyone, is the same device and
//! moves to whoever registered it last), each member's level per room, and the keys every
//! node shares (the VAPID key of Web Push).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::schema::{devices, members, push_keys};
use super::store::Store;
use crate::model::{RoomId, UserId};
use crate::notify::device::{DeviceKind, Registration};
use crate::notify::Level;
use crate::{with_conn, write_conn};

/// A device as stored.
#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: i64,
    pub user_id: UserId,
    pub kind: String,
    pub address: String,
    pub p256dh: Option<String>,
    pub auth: Option<String>,
    pub created_ms: i64,
}

impl DeviceRow {
    pub fn kind(&self) -> Result<DeviceKind, StoreError> {
        DeviceKind::parse(&self.kind).ok_or_else(|| {
            StoreError::Corrupt(format!("unknown stored device kind {:?}", self.kind))
        })
    }

    /// The endpoint or token (the address without its kind).
    pub fn target(&self) -> &str {
        self.address
            .split_once(' ')
            .map_or(self.address.as_str(), |(_, target)| target)
    }
}

#[derive(Insertable)]
#[diesel(table_name = devices)]
struct NewDevice<'a> {
    user_id: UserId,
    kind: &'a str,
    address: &'a str,
    p256dh: Option<&'a str>,
    auth: Option<&'a str>,
    created_ms: i64,
}

/// What registering did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registered {
    /// A new device (201).
    New(DeviceRow),
    /// The endpoint or token was registered before (200): the same device, now the caller's.
    Again(DeviceRow),
}

/// A stored level, read back.
pub(crate) fn parse_level(text: Option<String>) -> Result<Option<Level>, StoreError> {
    match text {
        None => Ok(None),
        Some(text) => Level::parse(&text)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown stored notify level {text:?}"))),
    }
}

impl Store {
    /// Registers a device for `user_id`, or finds it registered (by anyone) and makes it theirs.
    pub async fn register_device(
        &self,
        user_id: UserId,
        registration: Registration,
    ) -> Result<Registered, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<Registered, StoreError, _>(async move |conn| {
                    let address = registration.address();
                    let (p256dh, auth) = match &registration {
                        Registration::WebPush { p256dh, auth, .. } => {
                            (Some(p256dh.as_str()), Some(auth.as_str()))
                        }
                        _ => (None, None),
                    };
                    let found = devices::table
                        .filter(devices::address.eq(&address))
                        .select(DeviceRow::as_select())
                        .first(conn)
                        .await
                        .optional()?;
                    if let Some(found) = found {
                        let moved = diesel::update(devices::table.find(found.id))
                            .set((
                                devices::user_id.eq(user_id),
                                devices::p256dh.eq(p256dh),
                                devices::auth.eq(auth),
                            ))
                            .returning(DeviceRow::as_returning())
                            .get_result(conn)
                            .await?;
                        return Ok(Registered::Again(moved));
                    }
                    let row = diesel::insert_into(devices::table)
                        .values(NewDevice {
                            user_id,
                            kind: registration.kind().as_str(),
                            address: &address,
                            p256dh,
                            auth,
                            created_ms: crate::clock::now_ms(),
                        })
                        .returning(DeviceRow::as_returning())
                        .get_result(conn)
                        .await?;
                    Ok(Registered::New(row))
                })
                .await
            })
        })
        .await
    }

    /// The user's devices, oldest first.
    pub async fn devices_of(&self, user_id: UserId) -> Result<Vec<DeviceRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(devices::table
                    .filter(devices::user_id.eq(user_id))
                    .order(devices::id.asc())
                    .select(DeviceRow::as_select())
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Deletes one of the user's devices; `NotFound` when they have no such device (another
    /// user's included).
    pub async fn delete_device(&self, user_id: UserId, device_id: i64) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let deleted = diesel::delete(
                    devices::table
                        .filter(devices::id.eq(device_id))
                        .filter(devices::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                if deleted == 0 {
                    return Err(StoreError::NotFound("device"));
                }
                Ok(())
            })
        })
        .await
    }

    /// Forgets a device a provider said is gone (404 or 410); false when it already was.
    pub async fn drop_device(&self, device_id: i64) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                Ok(diesel::delete(devices::table.find(device_id)).execute(conn).await? > 0)
            })
        })
        .await
    }

    /// Sets a member's level for the room (`None`: back to the room kind's default);
    /// `NotFound` when they are not a member.
    pub async fn set_notify_level(
        &self,
        room_id: RoomId,
        user_id: UserId,
        level: Option<Level>,
    ) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let updated = diesel::update(
                    members::table
                        .filter(members::room_id.eq(room_id))
                        .filter(members::user_id.eq(user_id)),
                )
                .set(members::notify.eq(level.map(Level::as_str)))
                .execute(conn)
                .await?;
                if updated == 0 {
                    return Err(StoreError::NotFound("member"));
                }
                Ok(())
            })
        })
        .await
    }

    /// The shared key called `name`: the one stored, or `make()`'s, stored now. Every node
    /// (and every restart) gets the same one: the first to store it wins.
    pub async fn shared_key(
        &self,
        name: &'static str,
        make: impl FnOnce() -> String + Send + 'static,
    ) -> Result<String, StoreError> {
        let value = make();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                diesel::insert_into(push_keys::table)
                    .values((push_keys::name.eq(name), push_keys::value.eq(&value)))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                Ok(push_keys::table
                    .find(name)
                    .select(push_keys::value)
                    .first(conn)
                    .await?)
            })
        })
        .await
    }
}
