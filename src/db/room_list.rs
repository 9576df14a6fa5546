//! The store's part for rooms as lists: the admin API's pages of rooms, a user's rooms
//! with their summaries (unread, members, the other party's name, notification level), and
//! the groups a user made.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::error::StoreError;
use super::models::*;
use super::schema::{members, messages, rooms, users};
use super::store::{RoomSummary, Store};
use crate::model::{RoomId, UserId};
use crate::with_conn;

impl Store {
    /// Rooms by id, `limit` at most, after the id `after`, optionally of one kind.
    pub async fn list_rooms(
        &self,
        kind: Option<RoomKind>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RoomSummary>, StoreError> {
        let ids: Vec<RoomId> = self
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
        owner: UserId,
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
    pub async fn groups_of_owner(
        &self,
        owner: UserId,
        member: UserId,
    ) -> Result<Vec<RoomId>, StoreError> {
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
    pub async fn rooms_of(&self, user_id: UserId) -> Result<Vec<RoomSummary>, StoreError> {
        self.summaries(Some(user_id), None).await
    }

    /// The rooms of `user_id` with ids above `after`, at most `limit` of them by id, as that
    /// user sees them, and whether more follow.
    pub async fn rooms_page(
        &self,
        user_id: UserId,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<RoomSummary>, bool), StoreError> {
        let mut ids: Vec<RoomId> = self
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
        room_id: RoomId,
        viewer: Option<UserId>,
    ) -> Result<Option<RoomSummary>, StoreError> {
        let mut found = self.summaries(viewer, Some(vec![room_id])).await?;
        Ok(found.pop())
    }

    /// Room ids the user is a member of.
    pub async fn room_ids_of(&self, user_id: UserId) -> Result<Vec<RoomId>, StoreError> {
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
        viewer: Option<UserId>,
        only: Option<Vec<RoomId>>,
    ) -> Result<Vec<RoomSummary>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let mut levels: HashMap<RoomId, crate::notify::Level> = HashMap::new();
                let reads: HashMap<RoomId, i64> = match viewer {
                    Some(user_id) => {
                        let mut query = members::table
                            .filter(members::user_id.eq(user_id))
                            .select((members::room_id, members::read_seq, members::notify))
                            .into_boxed();
                        if let Some(ids) = &only {
                            query = query.filter(members::room_id.eq_any(ids.clone()));
                        }
                        let rows = query.load::<(RoomId, i64, Option<String>)>(conn).await?;
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
                let ids: Vec<RoomId> = reads.keys().copied().collect();
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let room_rows: Vec<RoomRow> = rooms::table
                    .filter(rooms::id.eq_any(&ids))
                    .order(rooms::id.asc())
                    .select(RoomRow::as_select())
                    .load(conn)
                    .await?;
                let counts: HashMap<RoomId, i64> = members::table
                    .filter(members::room_id.eq_any(&ids))
                    .group_by(members::room_id)
                    .select((members::room_id, diesel::dsl::count_star()))
                    .load::<(RoomId, i64)>(conn)
                    .await?
                    .into_iter()
                    .collect();
                let last: HashMap<RoomId, i64> = messages::table
                    .filter(messages::room_id.eq_any(&ids))
                    .group_by(messages::room_id)
                    .select((messages::room_id, diesel::dsl::max(messages::seq)))
                    .load::<(RoomId, Option<i64>)>(conn)
                    .await?
                    .into_iter()
                    .map(|(room, seq)| (room, seq.unwrap_or(0)))
                    .collect();
                let pair_ids: Vec<RoomId> = room_rows
                    .iter()
                    .filter(|room| room.kind != RoomKind::Group)
                    .map(|room| room.id)
                    .collect();
                let mut names: HashMap<RoomId, Vec<String>> = HashMap::new();
                if !pair_ids.is_empty() {
                    let rows: Vec<(RoomId, UserId, String)> = members::table
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
}
