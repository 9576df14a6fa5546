//! The store's part for rooms themselves: a group created with its members, the one room
//! of a pair, a room read (row, last `seq`, or loaded whole for its actor) and a room
//! deleted with its messages and files. Membership is `membership.rs`; rooms as lists,
//! `room_list.rs`.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::bulk::BulkInsert;
use super::error::StoreError;
use super::file_queries::FileQueries;
use super::models::*;
use super::safety::Standing;
use super::schema::{bans, blocks, bot_states, members, messages, rooms, users};
use super::store::{pair_key, Store};
use crate::model::{RoomId, UserId};
use crate::{with_conn, write_conn};

impl Store {
    /// Creates a group with its members (the owner, when given, is one of them). A member
    /// id that names no user fails the whole call with `NoSuchUsers`; members already in
    /// as many groups as one user may be, with `TooManyRooms`.
    pub async fn create_group(
        &self,
        name: &str,
        public: bool,
        owner: Option<UserId>,
        member_ids: Vec<UserId>,
    ) -> Result<RoomRow, StoreError> {
        let name = name.to_string();
        let cap = self.max_groups_per_user();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<RoomRow, StoreError, _>(async move |conn| {
                    {
                        let mut wanted: Vec<UserId> = owner.into_iter().chain(member_ids).collect();
                        wanted.sort_unstable();
                        wanted.dedup();
                        let found: Vec<UserId> = users::table
                            .filter(users::id.eq_any(&wanted))
                            .filter(users::kind.ne(UserKind::System))
                            .filter(users::deactivated_ms.is_null())
                            .select(users::id)
                            .load(conn)
                            .await?;
                        if found.len() != wanted.len() {
                            let missing =
                                wanted.into_iter().filter(|id| !found.contains(id)).collect();
                            return Err(StoreError::NoSuchUsers(missing));
                        }
                        let full = groups_full!(conn, &wanted, cap)?;
                        if !full.is_empty() {
                            return Err(StoreError::TooManyRooms(full, cap));
                        }
                        let now = crate::clock::now_ms();
                        let room = diesel::insert_into(rooms::table)
                            .values(NewRoom {
                                kind: RoomKind::Group,
                                name: Some(&name),
                                public,
                                owner_id: owner,
                                pair_key: None,
                                created_ms: now,
                            })
                            .returning(RoomRow::as_returning())
                            .get_result(conn)
                            .await?;
                        let rows: Vec<MemberRow> = wanted
                            .iter()
                            .map(|user_id| MemberRow {
                                room_id: room.id,
                                user_id: *user_id,
                                read_seq: 0,
                                joined_ms: now,
                            })
                            .collect();
                        conn.insert_members(rows).await?;
                        Ok(room)
                    }
                })
                .await
            })
        })
        .await
    }

    /// The one room of this pair (a direct or bot room), made on first use. Returns the
    /// room and whether this call made it. Calls racing for a new pair, on one node or
    /// several, all get the same room: the insert does nothing when the pair's key is taken
    /// (`ON CONFLICT DO NOTHING`, which on PostgreSQL waits for the other transaction), and
    /// then the room that won is read.
    pub async fn open_pair(
        &self,
        kind: RoomKind,
        first: UserId,
        second: UserId,
    ) -> Result<(RoomRow, bool), StoreError> {
        let key = pair_key(kind, first, second);
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(RoomRow, bool), StoreError, _>(async move |conn| {
                    {
                        let existing = rooms::table
                            .filter(rooms::pair_key.eq(&key))
                            .select(RoomRow::as_select())
                            .first(conn)
                            .await
                            .optional()?;
                        if let Some(room) = existing {
                            return Ok((room, false));
                        }
                        let now = crate::clock::now_ms();
                        let made = diesel::insert_into(rooms::table)
                            .values(NewRoom {
                                kind,
                                name: None,
                                public: false,
                                owner_id: None,
                                pair_key: Some(&key),
                                created_ms: now,
                            })
                            .on_conflict(rooms::pair_key)
                            .do_nothing()
                            .returning(RoomRow::as_returning())
                            .get_result(conn)
                            .await
                            .optional()?;
                        let Some(room) = made else {
                            // Another call made it between the look-up and the insert (and
                            // has committed: the insert waited for it).
                            let room = rooms::table
                                .filter(rooms::pair_key.eq(&key))
                                .select(RoomRow::as_select())
                                .first(conn)
                                .await?;
                            return Ok((room, false));
                        };
                        let rows = [first, second].map(|user_id| MemberRow {
                            room_id: room.id,
                            user_id,
                            read_seq: 0,
                            joined_ms: now,
                        });
                        conn.insert_members(rows.to_vec()).await?;
                        Ok((room, true))
                    }
                })
                .await
            })
        })
        .await
    }

    pub async fn room(&self, id: RoomId) -> Result<Option<RoomRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(rooms::table
                    .find(id)
                    .select(RoomRow::as_select())
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    /// The last `seq` committed in a room (none if the room does not exist): one read of
    /// the room row, for a room checking that it delivered everything.
    pub async fn room_last_seq(&self, id: RoomId) -> Result<Option<i64>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(rooms::table
                    .find(id)
                    .select(rooms::last_seq)
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    /// A room with its members and last `seq`, for a room actor to start from.
    pub async fn load_room(&self, id: RoomId) -> Result<Option<RoomSnapshot>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let Some((room, authz_version)) = rooms::table
                    .find(id)
                    .select((RoomRow::as_select(), rooms::authz_version))
                    .first(conn)
                    .await
                    .optional()?
                else {
                    return Ok(None);
                };
                let members: Vec<(UserRow, i64)> = members::table
                    .inner_join(users::table)
                    .filter(members::room_id.eq(id))
                    .order(members::joined_ms.asc())
                    .select((UserRow::as_select(), members::read_seq))
                    .load(conn)
                    .await?;
                let last_seq: Option<i64> = messages::table
                    .filter(messages::room_id.eq(id))
                    .select(diesel::dsl::max(messages::seq))
                    .first(conn)
                    .await?;
                let chosen: Vec<(UserId, Option<String>)> = members::table
                    .filter(members::room_id.eq(id))
                    .filter(members::notify.is_not_null())
                    .select((members::user_id, members::notify))
                    .load(conn)
                    .await?;
                let mut levels = Vec::with_capacity(chosen.len());
                for (user_id, level) in chosen {
                    levels.extend(super::devices::parse_level(level)?.map(|level| (user_id, level)));
                }
                let blocks: Vec<(UserId, UserId)> = blocks::table
                    .inner_join(members::table.on(members::user_id.eq(blocks::blocker_id)))
                    .filter(members::room_id.eq(id))
                    .select((blocks::blocker_id, blocks::blocked_id))
                    .load(conn)
                    .await?;
                let standings = members::table
                    .filter(members::room_id.eq(id))
                    .filter(
                        members::role
                            .ne(crate::safety::Role::Member.as_str())
                            .or(members::muted_until_ms.is_not_null()),
                    )
                    .select((members::user_id, members::role, members::muted_until_ms))
                    .load::<(UserId, String, Option<i64>)>(conn)
                    .await?
                    .into_iter()
                    .map(|(user, role, muted)| Ok((user, Standing::stored(&role, muted)?)))
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok(Some(RoomSnapshot {
                    room,
                    members,
                    last_seq: last_seq.unwrap_or(0),
                    authz_version,
                    levels,
                    blocks,
                    standings,
                }))
            })
        })
        .await
    }

    pub async fn delete_room(&self, room_id: RoomId) -> Result<(), StoreError> {
        let files = self
            .run(move |db| async move {
                write_conn!(&*db, conn => {
                    conn.transaction::<usize, StoreError, _>(async move |conn| {
                        let files = conn.delete_room_files(room_id).await?;
                        diesel::delete(messages::table.filter(messages::room_id.eq(room_id)))
                            .execute(conn)
                            .await?;
                        diesel::delete(members::table.filter(members::room_id.eq(room_id)))
                            .execute(conn)
                            .await?;
                        diesel::delete(bans::table.filter(bans::room_id.eq(room_id)))
                            .execute(conn)
                            .await?;
                        diesel::delete(bot_states::table.find(room_id))
                            .execute(conn)
                            .await?;
                        diesel::delete(rooms::table.find(room_id)).execute(conn).await?;
                        Ok(files)
                    })
                    .await
                })
            })
            .await?;
        crate::metrics::METRICS.files_deleted.inc_by(files as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};

    use crate::db::{DatabaseUrl, Store, StoreConfig, StoreError};
    use crate::model::RoomId;

    #[actix_rt::test]
    async fn a_stored_kind_no_version_writes_is_a_store_error_not_a_group() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.db").display().to_string();
        let store =
            Store::open(&DatabaseUrl::Sqlite(path.clone()), StoreConfig::default()).expect("store");
        let mut raw = SqliteConnection::establish(&path).expect("raw connection");
        diesel::sql_query(
            "INSERT INTO rooms (id, kind, name, public, created_ms) VALUES (5, 'lounge', 'x', 0, 0)",
        )
        .execute(&mut raw)
        .expect("insert");
        let read = store.room(RoomId(5)).await;
        let Err(StoreError::Corrupt(reason)) = &read else {
            panic!("{read:?}");
        };
        assert!(
            reason.contains("unknown stored room kind \"lounge\""),
            "{reason}"
        );
    }
}
