//! The store's part for rooms and membership: groups, the one room of a pair, read
//! positions, and rooms as one user sees them.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::authz::RoomChanges;
use super::bulk::BulkInsert;
use super::error::StoreError;
use super::file_queries::FileQueries;
use super::models::*;
use super::safety::Standing;
use super::schema::{bans, blocks, bot_states, members, messages, rooms, users};
use super::seq::RoomSeqs;
use super::store::{pair_key, RoomSummary, Store};
use crate::{with_conn, write_conn};

/// Of `users`, those already in `cap` groups or more (on either backend's connection).
macro_rules! groups_full {
    ($conn:expr, $users:expr, $cap:expr) => {
        members::table
            .inner_join(rooms::table)
            .filter(rooms::kind.eq(RoomKind::Group))
            .filter(members::user_id.eq_any($users))
            .group_by(members::user_id)
            .having(diesel::dsl::count_star().ge($cap))
            .select(members::user_id)
            .load::<i64>($conn)
            .await
    };
}

impl Store {
    /// Creates a group with its members (the owner, when given, is one of them). A member
    /// id that names no user fails the whole call with `NoSuchUsers`; members already in
    /// as many groups as one user may be, with `TooManyRooms`.
    pub async fn create_group(
        &self,
        name: &str,
        public: bool,
        owner: Option<i64>,
        member_ids: Vec<i64>,
    ) -> Result<RoomRow, StoreError> {
        let name = name.to_string();
        let cap = self.max_groups_per_user();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<RoomRow, StoreError, _>(async move |conn| {
                    {
                        let mut wanted: Vec<i64> = owner.into_iter().chain(member_ids).collect();
                        wanted.sort_unstable();
                        wanted.dedup();
                        let found: Vec<i64> = users::table
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
        first: i64,
        second: i64,
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

    pub async fn room(&self, id: i64) -> Result<Option<RoomRow>, StoreError> {
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
    pub async fn room_last_seq(&self, id: i64) -> Result<Option<i64>, StoreError> {
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
    pub async fn load_room(&self, id: i64) -> Result<Option<RoomSnapshot>, StoreError> {
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
                let chosen: Vec<(i64, Option<String>)> = members::table
                    .filter(members::room_id.eq(id))
                    .filter(members::notify.is_not_null())
                    .select((members::user_id, members::notify))
                    .load(conn)
                    .await?;
                let mut levels = Vec::with_capacity(chosen.len());
                for (user_id, level) in chosen {
                    levels.extend(super::devices::parse_level(level)?.map(|level| (user_id, level)));
                }
                let blocks: Vec<(i64, i64)> = blocks::table
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
                    .load::<(i64, String, Option<i64>)>(conn)
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

    /// Rooms by id, `limit` at most, after the id `after`, optionally of one kind.
    pub async fn list_rooms(
        &self,
        kind: Option<RoomKind>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RoomSummary>, StoreError> {
        let ids: Vec<i64> = self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    let mut query = rooms::table
                        .filter(rooms::id.gt(after))
                        .order(rooms::id.asc())
                        .limit(limit)
                        .select(rooms::id)
                        .into_boxed();
                    if let Some(kind) = kind {
                        query = query.filter(rooms::kind.eq(kind));
                    }
                    Ok(query.load(conn).await?)
                })
            })
            .await?;
        self.summaries(None, Some(ids)).await
    }

    /// How many groups `owner` created since `since_ms`, and when the oldest of them was.
    pub async fn groups_created_since(
        &self,
        owner: i64,
        since_ms: i64,
    ) -> Result<(i64, Option<i64>), StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(rooms::table
                    .filter(rooms::owner_id.eq(owner))
                    .filter(rooms::kind.eq(RoomKind::Group))
                    .filter(rooms::created_ms.gt(since_ms))
                    .select((diesel::dsl::count_star(), diesel::dsl::min(rooms::created_ms)))
                    .get_result::<(i64, Option<i64>)>(conn)
                    .await?)
            })
        })
        .await
    }

    /// The groups `owner` owns that `member` is in, by id.
    pub async fn groups_of_owner(&self, owner: i64, member: i64) -> Result<Vec<i64>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(members::table
                    .inner_join(rooms::table)
                    .filter(members::user_id.eq(member))
                    .filter(rooms::owner_id.eq(owner))
                    .filter(rooms::kind.eq(RoomKind::Group))
                    .order(rooms::id.asc())
                    .select(rooms::id)
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Every room the user is a member of, as that user sees it.
    pub async fn rooms_of(&self, user_id: i64) -> Result<Vec<RoomSummary>, StoreError> {
        self.summaries(Some(user_id), None).await
    }

    /// The rooms of `user_id` with ids above `after`, at most `limit` of them by id, as that
    /// user sees them, and whether more follow.
    pub async fn rooms_page(
        &self,
        user_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<RoomSummary>, bool), StoreError> {
        let mut ids: Vec<i64> = self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    Ok(members::table
                        .filter(members::user_id.eq(user_id))
                        .filter(members::room_id.gt(after))
                        .order(members::room_id.asc())
                        .limit(limit + 1)
                        .select(members::room_id)
                        .load(conn)
                        .await?)
                })
            })
            .await?;
        let more = ids.len() as i64 > limit;
        ids.truncate(limit as usize);
        if ids.is_empty() {
            return Ok((Vec::new(), false));
        }
        Ok((self.summaries(Some(user_id), Some(ids)).await?, more))
    }

    /// One room as `viewer` sees it (an admin's view without a viewer).
    pub async fn room_summary(
        &self,
        room_id: i64,
        viewer: Option<i64>,
    ) -> Result<Option<RoomSummary>, StoreError> {
        let mut found = self.summaries(viewer, Some(vec![room_id])).await?;
        Ok(found.pop())
    }

    /// Room ids the user is a member of.
    pub async fn room_ids_of(&self, user_id: i64) -> Result<Vec<i64>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(members::table
                    .filter(members::user_id.eq(user_id))
                    .select(members::room_id)
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Builds summaries of rooms: those of `viewer` (restricted to `only` when given), or
    /// with no viewer, exactly the rooms in `only`.
    async fn summaries(
        &self,
        viewer: Option<i64>,
        only: Option<Vec<i64>>,
    ) -> Result<Vec<RoomSummary>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let mut levels: HashMap<i64, crate::notify::Level> = HashMap::new();
                let reads: HashMap<i64, i64> = match viewer {
                    Some(user_id) => {
                        let mut query = members::table
                            .filter(members::user_id.eq(user_id))
                            .select((members::room_id, members::read_seq, members::notify))
                            .into_boxed();
                        if let Some(ids) = &only {
                            query = query.filter(members::room_id.eq_any(ids.clone()));
                        }
                        let rows = query.load::<(i64, i64, Option<String>)>(conn).await?;
                        let mut reads = HashMap::with_capacity(rows.len());
                        for (room_id, read_seq, level) in rows {
                            reads.insert(room_id, read_seq);
                            if let Some(level) = super::devices::parse_level(level)? {
                                levels.insert(room_id, level);
                            }
                        }
                        reads
                    }
                    None => only.iter().flatten().map(|id| (*id, 0)).collect(),
                };
                let ids: Vec<i64> = reads.keys().copied().collect();
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let room_rows: Vec<RoomRow> = rooms::table
                    .filter(rooms::id.eq_any(&ids))
                    .order(rooms::id.asc())
                    .select(RoomRow::as_select())
                    .load(conn)
                    .await?;
                let counts: HashMap<i64, i64> = members::table
                    .filter(members::room_id.eq_any(&ids))
                    .group_by(members::room_id)
                    .select((members::room_id, diesel::dsl::count_star()))
                    .load::<(i64, i64)>(conn)
                    .await?
                    .into_iter()
                    .collect();
                let last: HashMap<i64, i64> = messages::table
                    .filter(messages::room_id.eq_any(&ids))
                    .group_by(messages::room_id)
                    .select((messages::room_id, diesel::dsl::max(messages::seq)))
                    .load::<(i64, Option<i64>)>(conn)
                    .await?
                    .into_iter()
                    .map(|(room, seq)| (room, seq.unwrap_or(0)))
                    .collect();
                let pair_ids: Vec<i64> = room_rows
                    .iter()
                    .filter(|room| room.kind != RoomKind::Group)
                    .map(|room| room.id)
                    .collect();
                let mut names: HashMap<i64, Vec<String>> = HashMap::new();
                if !pair_ids.is_empty() {
                    let rows: Vec<(i64, i64, String)> = members::table
                        .inner_join(users::table)
                        .filter(members::room_id.eq_any(&pair_ids))
                        .order((members::room_id.asc(), users::id.asc()))
                        .select((members::room_id, users::id, users::name))
                        .load(conn)
                        .await?;
                    for (room_id, user_id, name) in rows {
                        if Some(user_id) != viewer {
                            names.entry(room_id).or_default().push(name);
                        }
                    }
                }
                Ok(room_rows
                    .into_iter()
                    .map(|room| RoomSummary {
                        members_count: counts.get(&room.id).copied().unwrap_or(0),
                        last_seq: last.get(&room.id).copied().unwrap_or(0),
                        read_seq: reads.get(&room.id).copied().unwrap_or(0),
                        display_name: names.remove(&room.id).map(|names| names.join(", ")),
                        notify: levels.get(&room.id).copied(),
                        room,
                    })
                    .collect())
            })
        })
        .await
    }

    /// Adds a member of a group; returns false when they already were one. A user already in
    /// as many groups as one user may be is refused with `TooManyRooms`, one banned from the
    /// group with `Banned` (docs/safety.md). Moves the room's
    /// `authz_version` on (`db/authz.rs`) in the same transaction, which takes the room
    /// row's lock first, as the group commit does (`db/seq.rs`): the two are ordered, and
    /// cannot deadlock on the member's row.
    pub async fn add_member(&self, room_id: i64, user_id: i64) -> Result<bool, StoreError> {
        let cap = self.max_groups_per_user();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<bool, StoreError, _>(async move |conn| {
                    conn.lock_rooms(&[room_id]).await?;
                    let already: i64 = members::table
                        .filter(members::room_id.eq(room_id))
                        .filter(members::user_id.eq(user_id))
                        .count()
                        .get_result(conn)
                        .await?;
                    if already > 0 {
                        return Ok(false);
                    }
                    let banned: bool =
                        diesel::select(diesel::dsl::exists(bans::table.find((room_id, user_id))))
                            .get_result(conn)
                            .await?;
                    if banned {
                        return Err(StoreError::Banned(user_id));
                    }
                    if !groups_full!(conn, [user_id], cap)?.is_empty() {
                        return Err(StoreError::TooManyRooms(vec![user_id], cap));
                    }
                    let added = diesel::insert_into(members::table)
                        .values(MemberRow {
                            room_id,
                            user_id,
                            read_seq: 0,
                            joined_ms: crate::clock::now_ms(),
                        })
                        .on_conflict_do_nothing()
                        .execute(conn)
                        .await?;
                    if added > 0 {
                        conn.room_changed(room_id).await?;
                    }
                    Ok(added > 0)
                })
                .await
            })
        })
        .await
    }

    /// Ends a membership; returns false when there was none. Takes the room row's lock
    /// first and moves the room's `authz_version` on in the same transaction, as
    /// [`add_member`](Self::add_member): the room's group commits before it may still take
    /// the member's posts, those after it refuse them.
    pub async fn remove_member(&self, room_id: i64, user_id: i64) -> Result<bool, StoreError> {
        self.remove_member_with(room_id, user_id, None).await
    }

    /// [`Store::remove_member`], writing `moderation` (a kick's audit entry) in the same
    /// transaction when a member was removed.
    pub async fn remove_member_with(
        &self,
        room_id: i64,
        user_id: i64,
        moderation: Option<super::safety::Moderation>,
    ) -> Result<bool, StoreError> {
        use super::safety::Moderate;
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<bool, StoreError, _>(async move |conn| {
                    conn.lock_rooms(&[room_id]).await?;
                    let removed = diesel::delete(
                        members::table
                            .filter(members::room_id.eq(room_id))
                            .filter(members::user_id.eq(user_id)),
                    )
                    .execute(conn)
                    .await?;
                    if removed > 0 {
                        conn.room_changed(room_id).await?;
                        if let Some(moderation) = moderation {
                            conn.record(moderation).await?;
                        }
                    }
                    Ok(removed > 0)
                })
                .await
            })
        })
        .await
    }

    /// Whether the user is a member of the room now, as the store has it.
    pub async fn is_member(&self, room_id: i64, user_id: i64) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(members::table
                    .filter(members::room_id.eq(room_id))
                    .filter(members::user_id.eq(user_id))
                    .select(members::user_id)
                    .first::<i64>(conn)
                    .await
                    .optional()?
                    .is_some())
            })
        })
        .await
    }

    /// Moves the read position forward (never back); returns the position now stored, or
    /// `None` when the user is not a member.
    pub async fn mark_read(
        &self,
        room_id: i64,
        user_id: i64,
        seq: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let target = members::table
                    .filter(members::room_id.eq(room_id))
                    .filter(members::user_id.eq(user_id));
                diesel::update(target.filter(members::read_seq.lt(seq)))
                    .set(members::read_seq.eq(seq))
                    .execute(conn)
                    .await?;
                Ok(target.select(members::read_seq).first::<i64>(conn).await.optional()?)
            })
        })
        .await
    }

    pub async fn delete_room(&self, room_id: i64) -> Result<(), StoreError> {
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
        let read = store.room(5).await;
        let Err(StoreError::Corrupt(reason)) = &read else {
            panic!("{read:?}");
        };
        assert!(
            reason.contains("unknown stored room kind \"lounge\""),
            "{reason}"
        );
    }
}
