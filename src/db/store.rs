//! The store interface every actor and handler calls. Each call runs on the store's own
//! multi-threaded runtime, so a caller that goes away (an actor stopping, a client
//! disconnecting) never cancels a query half-way; appends go through the group-commit writer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::backend::{self, Backend, DatabaseUrl};
use super::bulk::BulkInsert;
use super::error::StoreError;
use super::models::*;
use super::schema::{bot_states, members, messages, rooms, tokens, users};
use super::writer::{self, AppendJob, Appended, NewPost};
use crate::{with_conn, write_conn};

/// A room as one user sees it in lists: what the wire's Room object is made of.
#[derive(Clone, Debug)]
pub struct RoomSummary {
    pub room: RoomRow,
    pub members_count: i64,
    pub last_seq: i64,
    /// The caller's read position; 0 for an admin's view.
    pub read_seq: i64,
    /// For direct and bot rooms: the other party's name (both names for an admin's view).
    pub display_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub pool_size: usize,
    /// A call that takes longer fails with `Unavailable`.
    pub call_timeout: Duration,
    /// Appends waiting for the writer; a full queue fails fast with `Unavailable`.
    pub writer_queue: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pool_size: 8,
            call_timeout: Duration::from_secs(10),
            writer_queue: 8192,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<Backend>,
    runtime: RuntimeGuard,
    writer: mpsc::Sender<AppendJob>,
    call_timeout: Duration,
}

/// Owns the store runtime; shuts it down without blocking, which is allowed anywhere.
struct RuntimeGuard(Option<tokio::runtime::Runtime>);

impl RuntimeGuard {
    fn handle(&self) -> Option<&tokio::runtime::Handle> {
        self.0.as_ref().map(|rt| rt.handle())
    }
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("pv_{}", hex::encode(bytes))
}

fn pair_key(kind: RoomKind, a: i64, b: i64) -> String {
    let (low, high) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{low}:{high}", kind.as_str())
}

impl Store {
    /// Opens (creating and migrating as needed) the database. Blocks the calling thread
    /// until the database answers; safe to call from inside or outside an async runtime.
    pub fn open(url: &DatabaseUrl, config: StoreConfig) -> Result<Store, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("palaver-store")
            .enable_all()
            .build()
            .map_err(|err| StoreError::Unavailable(format!("cannot start store runtime: {err}")))?;
        let handle = runtime.handle().clone();
        let url_owned = url.clone();
        let pool_size = config.pool_size;
        let opened = std::thread::spawn(move || {
            handle.block_on(async move { backend::open(&url_owned, pool_size).await })
        })
        .join()
        .map_err(|_| StoreError::Unavailable("store start-up panicked".into()))??;
        let backend = Arc::new(opened);
        let (writer_tx, writer_rx) = mpsc::channel(config.writer_queue);
        runtime.spawn(writer::run(backend.clone(), writer_rx));
        Ok(Store {
            inner: Arc::new(Inner {
                backend,
                runtime: RuntimeGuard(Some(runtime)),
                writer: writer_tx,
                call_timeout: config.call_timeout,
            }),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// Runs one store call on the store runtime, bounded by the call time-out.
    pub(super) async fn run<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Arc<Backend>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
        T: Send + 'static,
    {
        let Some(handle) = self.inner.runtime.handle() else {
            return Err(StoreError::Unavailable("the store is shut down".into()));
        };
        let timeout = self.inner.call_timeout;
        let fut = call(self.inner.backend.clone());
        let task = handle.spawn(async move {
            match tokio::time::timeout(timeout, fut).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Unavailable(format!(
                    "the database did not answer within {timeout:?}"
                ))),
            }
        });
        match task.await {
            Ok(result) => result,
            Err(err) => Err(StoreError::Unavailable(format!("store task failed: {err}"))),
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|db| async move {
            with_conn!(&*db, conn => {
                diesel::sql_query("SELECT 1").execute(conn).await?;
                Ok(())
            })
        })
        .await
    }

    // ---- users and tokens ----

    pub async fn create_user(
        &self,
        name: &str,
        kind: UserKind,
        handle: Option<&str>,
    ) -> Result<UserRow, StoreError> {
        let name = name.to_string();
        let handle = handle.map(str::to_string);
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let inserted = diesel::insert_into(users::table)
                    .values(NewUser {
                        name: &name,
                        kind: kind.as_str(),
                        handle: handle.as_deref(),
                        created_ms: crate::clock::now_ms(),
                    })
                    .returning(UserRow::as_returning())
                    .get_result(conn)
                    .await;
                match inserted {
                    Err(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    )) => Err(StoreError::Conflict(format!("the name {name:?} is taken"))),
                    other => Ok(other?),
                }
            })
        })
        .await
    }

    pub async fn user(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .find(id)
                    .select(UserRow::as_select())
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    pub async fn user_by_handle(&self, handle: &str) -> Result<Option<UserRow>, StoreError> {
        let handle = handle.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .filter(users::handle.eq(&handle))
                    .select(UserRow::as_select())
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    pub async fn users_by_ids(&self, ids: Vec<i64>) -> Result<Vec<UserRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .filter(users::id.eq_any(&ids))
                    .select(UserRow::as_select())
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Users and bots by id, `limit` at most, after the id `after`.
    pub async fn list_users(&self, after: i64, limit: i64) -> Result<Vec<UserRow>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .filter(users::id.gt(after))
                    .filter(users::kind.ne(UserKind::System.as_str()))
                    .order(users::id.asc())
                    .limit(limit)
                    .select(UserRow::as_select())
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Makes a new token for the user; only its hash is kept.
    pub async fn issue_token(&self, user_id: i64) -> Result<String, StoreError> {
        let token = new_token();
        let hash = hash_token(&token);
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let exists = users::table
                    .find(user_id)
                    .select(users::id)
                    .first::<i64>(conn)
                    .await
                    .optional()?;
                if exists.is_none() {
                    return Err(StoreError::NotFound("user"));
                }
                diesel::insert_into(tokens::table)
                    .values(NewToken {
                        user_id,
                        token_hash: &hash,
                        created_ms: crate::clock::now_ms(),
                    })
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await?;
        Ok(token)
    }

    pub async fn user_by_token(&self, token: &str) -> Result<Option<UserRow>, StoreError> {
        let hash = hash_token(token);
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(tokens::table
                    .inner_join(users::table)
                    .filter(tokens::token_hash.eq(&hash))
                    .select(UserRow::as_select())
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    /// Deletes every token of the user; returns how many there were.
    pub async fn revoke_tokens(&self, user_id: i64) -> Result<usize, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                Ok(diesel::delete(tokens::table.filter(tokens::user_id.eq(user_id)))
                    .execute(conn)
                    .await?)
            })
        })
        .await
    }

    // ---- rooms and membership ----

    /// Creates a group with its members (the owner, when given, is one of them). A member
    /// id that names no user fails the whole call with `NotFound("user")`.
    pub async fn create_group(
        &self,
        name: &str,
        public: bool,
        owner: Option<i64>,
        member_ids: Vec<i64>,
    ) -> Result<RoomRow, StoreError> {
        let name = name.to_string();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<RoomRow, StoreError, _>(async move |conn| {
                    {
                        let mut wanted: Vec<i64> = owner.into_iter().chain(member_ids).collect();
                        wanted.sort_unstable();
                        wanted.dedup();
                        let found: Vec<i64> = users::table
                            .filter(users::id.eq_any(&wanted))
                            .filter(users::kind.ne(UserKind::System.as_str()))
                            .select(users::id)
                            .load(conn)
                            .await?;
                        if found.len() != wanted.len() {
                            return Err(StoreError::NotFound("user"));
                        }
                        let now = crate::clock::now_ms();
                        let room = diesel::insert_into(rooms::table)
                            .values(NewRoom {
                                kind: RoomKind::Group.as_str(),
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
    /// room and whether this call made it.
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
                        let room = diesel::insert_into(rooms::table)
                            .values(NewRoom {
                                kind: kind.as_str(),
                                name: None,
                                public: false,
                                owner_id: None,
                                pair_key: Some(&key),
                                created_ms: now,
                            })
                            .returning(RoomRow::as_returning())
                            .get_result(conn)
                            .await?;
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

    /// A room with its members and last `seq`, for a room actor to start from.
    pub async fn load_room(&self, id: i64) -> Result<Option<RoomSnapshot>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let Some(room) = rooms::table
                    .find(id)
                    .select(RoomRow::as_select())
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
                Ok(Some(RoomSnapshot { room, members, last_seq: last_seq.unwrap_or(0) }))
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
                        query = query.filter(rooms::kind.eq(kind.as_str()));
                    }
                    Ok(query.load(conn).await?)
                })
            })
            .await?;
        self.summaries(None, Some(ids)).await
    }

    /// Every room the user is a member of, as that user sees it.
    pub async fn rooms_of(&self, user_id: i64) -> Result<Vec<RoomSummary>, StoreError> {
        self.summaries(Some(user_id), None).await
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
                let reads: HashMap<i64, i64> = match viewer {
                    Some(user_id) => {
                        let mut query = members::table
                            .filter(members::user_id.eq(user_id))
                            .select((members::room_id, members::read_seq))
                            .into_boxed();
                        if let Some(ids) = &only {
                            query = query.filter(members::room_id.eq_any(ids.clone()));
                        }
                        query.load::<(i64, i64)>(conn).await?.into_iter().collect()
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
                    .filter(|room| room.room_kind() != RoomKind::Group)
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
                        room,
                    })
                    .collect())
            })
        })
        .await
    }

    /// Adds a member; returns false when they already were one.
    pub async fn add_member(&self, room_id: i64, user_id: i64) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
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
                Ok(added > 0)
            })
        })
        .await
    }

    /// Ends a membership; returns false when there was none.
    pub async fn remove_member(&self, room_id: i64, user_id: i64) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let removed = diesel::delete(
                    members::table
                        .filter(members::room_id.eq(room_id))
                        .filter(members::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                Ok(removed > 0)
            })
        })
        .await
    }

    /// Moves the read position forward (never back); returns the position now stored.
    pub async fn mark_read(&self, room_id: i64, user_id: i64, seq: i64) -> Result<i64, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let target = members::table
                    .filter(members::room_id.eq(room_id))
                    .filter(members::user_id.eq(user_id));
                diesel::update(target.filter(members::read_seq.lt(seq)))
                    .set(members::read_seq.eq(seq))
                    .execute(conn)
                    .await?;
                Ok(target.select(members::read_seq).first::<i64>(conn).await?)
            })
        })
        .await
    }

    pub async fn delete_room(&self, room_id: i64) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(), StoreError, _>(async move |conn| {
                    {
                        diesel::delete(messages::table.filter(messages::room_id.eq(room_id)))
                            .execute(conn)
                            .await?;
                        diesel::delete(members::table.filter(members::room_id.eq(room_id)))
                            .execute(conn)
                            .await?;
                        diesel::delete(bot_states::table.find(room_id))
                            .execute(conn)
                            .await?;
                        diesel::delete(rooms::table.find(room_id)).execute(conn).await?;
                        Ok(())
                    }
                })
                .await
            })
        })
        .await
    }

    // ---- messages ----

    /// Appends messages through the group-commit writer; resolves after the commit.
    pub async fn append(&self, posts: Vec<NewPost>) -> Result<Vec<Appended>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writer
            .try_send(AppendJob { posts, reply })
            .map_err(|_| StoreError::Unavailable("the store's write queue is full".into()))?;
        match tokio::time::timeout(self.inner.call_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(StoreError::Unavailable("the store writer stopped".into())),
            Err(_) => Err(StoreError::Unavailable(
                "the commit did not finish in time".into(),
            )),
        }
    }

    /// Resolves once every append queued before it has been committed (or failed).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.append(Vec::new()).await.map(|_| ())
    }

    /// Up to `limit` messages with `seq` above `after_seq`, oldest first.
    pub async fn messages_after(
        &self,
        room_id: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<MessagePage, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let mut rows: Vec<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::room_id.eq(room_id))
                    .filter(messages::seq.gt(after_seq))
                    .order(messages::seq.asc())
                    .limit(limit + 1)
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .load(conn)
                    .await?;
                let has_more = rows.len() as i64 > limit;
                rows.truncate(limit as usize);
                Ok(page(rows, has_more))
            })
        })
        .await
    }

    /// The `limit` messages just before `before_seq` (the newest without it), oldest first.
    pub async fn messages_before(
        &self,
        room_id: i64,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Result<MessagePage, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let mut rows: Vec<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::room_id.eq(room_id))
                    .filter(messages::seq.lt(before_seq.unwrap_or(i64::MAX)))
                    .order(messages::seq.desc())
                    .limit(limit + 1)
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .load(conn)
                    .await?;
                let has_more = rows.len() as i64 > limit;
                rows.truncate(limit as usize);
                rows.reverse();
                Ok(page(rows, has_more))
            })
        })
        .await
    }

    pub async fn message(
        &self,
        room_id: i64,
        seq: i64,
    ) -> Result<Option<StoredMessage>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let row: Option<(MessageRow, UserRow)> = messages::table
                    .inner_join(users::table)
                    .filter(messages::room_id.eq(room_id))
                    .filter(messages::seq.eq(seq))
                    .select((MessageRow::as_select(), UserRow::as_select()))
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(|(row, sender)| StoredMessage { row, sender }))
            })
        })
        .await
    }

    pub async fn count_messages(&self) -> Result<i64, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(messages::table.count().get_result::<i64>(conn).await?)
            })
        })
        .await
    }
}

fn page(rows: Vec<(MessageRow, UserRow)>, has_more: bool) -> MessagePage {
    MessagePage {
        messages: rows
            .into_iter()
            .map(|(row, sender)| StoredMessage { row, sender })
            .collect(),
        has_more,
    }
}
