//! Composing one chunk of due user and room pairs in a few statements for the whole chunk,
//! not a string of them for each pair (on PostgreSQL each statement is a round trip):
//!
//! 1. on PostgreSQL, the pairs' advisory locks, all in one query (a pair another node holds
//!    is left to it);
//! 2. their pending notifications, coalescing windows and read positions: three reads;
//! 3. [`plan`] (plain code): what each pair does now: nothing yet, drop what was read, or
//!    send one notification standing for what is pending;
//! 4. for the pairs that send: their rooms, messages and senders, the other members' names
//!    (direct and bot rooms), the users' unread counts and devices: five reads;
//! 5. [`writes`] (plain code): the deliveries and what to drop; then one insert of the
//!    deliveries, one delete and one upsert of the windows.
//!
//! A pair whose message or room is not there (deleted meanwhile) is skipped, left due, and
//! logged; the others go on. The caller runs a chunk in a savepoint and, when the store
//! refuses it as a whole, runs its pairs one by one (`Store::compose_chunk`).

use std::collections::HashMap;
use std::future::Future;

use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::{QueryResult, QueryableByName};
use diesel_async::RunQueryDsl;

use super::{ComposeRules, Composed, NewDelivery};
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::models::{RoomKind, RoomRow, UserKind, UserRow};
use crate::db::schema::push_deliveries;
use crate::model::UserId;
use crate::notify::payload::{Newest, Payload, Sender};
use crate::notify::window::{Fold, Pending, Queue, Take};

/// A user and room pair: `(user_id, room_id)`.
pub type Pair = (i64, i64);

/// What one pair does now, from what is pending, its window and its read position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Everything due had been read: the pending messages up to `upto` are dropped.
    Read { upto: i64, dropped: i64 },
    /// One notification for `fold`; the pending messages up to `upto` (`taken` of them) are
    /// dropped and the window starts now.
    Send { fold: Fold, upto: i64, taken: i64 },
}

/// What the chunk's first reads found: `(user, room, seq, decided_ms)` pending,
/// `(user, room, sent_ms)` windows, `(user, room, read_seq)` memberships. Rows of pairs not
/// in the chunk (the reads filter users and rooms apart) are ignored.
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub pending: Vec<(i64, i64, i64, i64)>,
    pub windows: Vec<(i64, i64, i64)>,
    pub reads: Vec<(i64, i64, i64)>,
}

/// The steps of the pairs that do something now, in the order of `pairs`.
pub fn plan(pairs: &[Pair], found: Found, rules: &ComposeRules) -> Vec<(Pair, Step)> {
    let mut pending: HashMap<Pair, Vec<Pending>> = HashMap::new();
    for (user, room, seq, decided_ms) in found.pending {
        pending
            .entry((user, room))
            .or_default()
            .push(Pending { seq, decided_ms });
    }
    let windows: HashMap<Pair, i64> = found
        .windows
        .into_iter()
        .map(|(user, room, sent)| ((user, room), sent))
        .collect();
    let reads: HashMap<Pair, i64> = found
        .reads
        .into_iter()
        .map(|(user, room, read)| ((user, room), read))
        .collect();
    let mut steps = Vec::new();
    for pair in pairs {
        let Some(mut queued) = pending.remove(pair) else {
            continue;
        };
        queued.sort_by_key(|p| p.seq);
        let Some(upto) = queued.last().map(|p| p.seq) else {
            continue;
        };
        let taken = queued.len() as i64;
        let mut queue = Queue {
            pending: queued,
            last_sent_ms: windows.get(pair).copied(),
        };
        // Not a member any more: nothing is read, nothing is sent.
        let read_seq = reads.get(pair).copied().unwrap_or(i64::MAX);
        match queue.take(rules.now_ms, read_seq, rules.window_ms) {
            Take::Idle | Take::Wait { .. } => {}
            Take::Read { dropped } => steps.push((*pair, Step::Read { upto, dropped })),
            Take::Send(fold) => steps.push((*pair, Step::Send { fold, upto, taken })),
        }
    }
    steps
}

/// What the second reads found for the pairs that send.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    pub rooms: Vec<RoomRow>,
    /// `(room, seq, body, sender)`.
    pub messages: Vec<(i64, i64, String, UserRow)>,
    /// `(room, user, name)` of the members of the direct and bot rooms, by user id.
    pub names: Vec<(i64, i64, String)>,
    /// `(user, unread over every room)`; a user with nothing unread is not listed.
    pub unread: Vec<(i64, i64)>,
    /// `(user, device)`, by device id.
    pub devices: Vec<(i64, i64)>,
}

/// The chunk's writes, and what they amount to.
#[derive(Debug, Default)]
pub struct Writes {
    pub deliveries: Vec<NewDelivery>,
    /// `(user, room, upto)`: pending notifications dropped.
    pub forget: Vec<(i64, i64, i64)>,
    /// Pairs whose window starts now.
    pub windows: Vec<Pair>,
    pub done: Composed,
    /// Pairs to send whose room or message is not there: skipped, left due.
    pub missing: Vec<Pair>,
}

/// The deliveries (one per device) and the rest of the writes for `steps`.
pub fn writes(steps: Vec<(Pair, Step)>, sources: Sources, rules: &ComposeRules) -> Writes {
    let rooms: HashMap<i64, RoomRow> = sources
        .rooms
        .into_iter()
        .map(|room| (room.id.0, room))
        .collect();
    let messages: HashMap<(i64, i64), (String, UserRow)> = sources
        .messages
        .into_iter()
        .map(|(room, seq, body, sender)| ((room, seq), (body, sender)))
        .collect();
    let unread: HashMap<i64, i64> = sources.unread.into_iter().collect();
    let mut out = Writes::default();
    for ((user, room_id), step) in steps {
        let (fold, upto, taken) = match step {
            Step::Read { upto, dropped } => {
                out.forget.push((user, room_id, upto));
                out.done.read += dropped;
                continue;
            }
            Step::Send { fold, upto, taken } => (fold, upto, taken),
        };
        let (Some(room), Some((body, sender))) =
            (rooms.get(&room_id), messages.get(&(room_id, fold.newest)))
        else {
            out.missing.push((user, room_id));
            continue;
        };
        let room_name = match room.kind {
            RoomKind::Group => room.name.clone(),
            RoomKind::Direct | RoomKind::Bot => Some(
                sources
                    .names
                    .iter()
                    .filter(|(room, member, _)| *room == room_id && *member != user)
                    .map(|(_, _, name)| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        };
        let payload = Payload::new(
            &Newest {
                room_id,
                room_kind: room.kind,
                room_name,
                seq: fold.newest,
                sender: &Sender {
                    id: sender.user_ref(),
                    name: sender.name.clone(),
                    kind: sender.kind,
                },
                body,
            },
            fold.count,
            unread.get(&user).copied().unwrap_or(0),
            rules.preview,
        )
        .to_json();
        let before = out.deliveries.len();
        out.deliveries.extend(
            sources
                .devices
                .iter()
                .filter(|(owner, _)| *owner == user)
                .map(|(_, device_id)| NewDelivery {
                    device_id: *device_id,
                    room_id,
                    seq: fold.newest,
                    payload: payload.clone(),
                    attempts: 0,
                    created_ms: rules.now_ms,
                    next_ms: rules.now_ms,
                    expires_ms: rules.now_ms.saturating_add(rules.ttl_ms),
                    lease_ms: 0,
                }),
        );
        out.forget.push((user, room_id, upto));
        out.windows.push((user, room_id));
        out.done.add(Composed {
            notifications: 1,
            folded: fold.count - 1,
            read: taken - fold.count,
            deliveries: (out.deliveries.len() - before) as i64,
        });
    }
    out
}

/// The deliveries' insert: on PostgreSQL in one statement (one round trip; a few hundred
/// rows at most, a chunk's users' devices); on SQLite one cached single-row statement each
/// (`db/bulk.rs` says why).
pub trait InsertDeliveries {
    fn insert_deliveries(
        &mut self,
        rows: &[NewDelivery],
    ) -> impl Future<Output = QueryResult<usize>> + Send;
}

/// Rows a statement on PostgreSQL: nine parameters a row, well under its 65,535.
const PG_ROWS: usize = 1000;

impl InsertDeliveries for PgConn {
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> QueryResult<usize> {
        let mut inserted = 0;
        for chunk in rows.chunks(PG_ROWS) {
            inserted += diesel::insert_into(push_deliveries::table)
                .values(chunk)
                .execute(self)
                .await?;
        }
        Ok(inserted)
    }
}

impl InsertDeliveries for SqliteConn {
    async fn insert_deliveries(&mut self, rows: &[NewDelivery]) -> QueryResult<usize> {
        let mut inserted = 0;
        for row in rows {
            inserted += diesel::insert_into(push_deliveries::table)
                .values(row)
                .execute(self)
                .await?;
        }
        Ok(inserted)
    }
}

/// `1,2,3`: integers written into SQL (never text from anyone).
fn list(values: impl IntoIterator<Item = i64>) -> String {
    values
        .into_iter()
        .map(|value| value.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// PostgreSQL: tries the advisory lock of every key at once.
pub fn lock_sql(keys: &[i64]) -> String {
    format!(
        "SELECT k AS lock_key, pg_try_advisory_xact_lock(k) AS locked \
         FROM unnest(ARRAY[{}]::bigint[]) AS k",
        list(keys.iter().copied())
    )
}

#[derive(QueryableByName)]
pub struct Locked {
    #[diesel(sql_type = BigInt)]
    pub lock_key: i64,
    #[diesel(sql_type = Bool)]
    pub locked: bool,
}

/// Each user's unread messages over every room: the badge.
pub fn unread_sql(users: &[i64]) -> String {
    format!(
        "SELECT m.user_id AS user_id, \
           CAST(COALESCE(SUM(r.last_seq - m.read_seq), 0) AS BIGINT) AS total \
         FROM members m JOIN rooms r ON r.id = m.room_id \
         WHERE m.user_id IN ({}) AND r.last_seq > m.read_seq GROUP BY m.user_id",
        list(users.iter().copied())
    )
}

#[derive(QueryableByName)]
pub struct Unread {
    #[diesel(sql_type = BigInt)]
    pub user_id: i64,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// The messages `(room, seq)` and their senders.
pub fn messages_sql(wanted: &[(i64, i64)]) -> String {
    let rows: Vec<String> = wanted
        .iter()
        .map(|(room, seq)| format!("({room}, {seq})"))
        .collect();
    format!(
        "SELECT m.room_id AS room_id, m.seq AS seq, m.body AS body, u.id AS user_id, \
           u.name AS name, u.kind AS kind, u.handle AS handle, u.created_ms AS created_ms \
         FROM messages m JOIN users u ON u.id = m.sender_id \
         WHERE (m.room_id, m.seq) IN (VALUES {})",
        rows.join(", ")
    )
}

/// A row of [`messages_sql`].
#[derive(QueryableByName)]
pub struct MessageFound {
    #[diesel(sql_type = BigInt)]
    room_id: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: UserKind,
    #[diesel(sql_type = Nullable<Text>)]
    handle: Option<String>,
    #[diesel(sql_type = BigInt)]
    created_ms: i64,
}

impl MessageFound {
    pub fn into_parts(self) -> (i64, i64, String, UserRow) {
        let sender = UserRow {
            id: UserId(self.user_id),
            name: self.name,
            kind: self.kind,
            handle: self.handle,
            created_ms: self.created_ms,
        };
        (self.room_id, self.seq, self.body, sender)
    }
}

/// Drops each pair's pending notifications up to its `upto` (those just taken: any
/// committed since have higher seqs). `None` when there is nothing to drop.
pub fn forget_sql(forget: &[(i64, i64, i64)]) -> Option<String> {
    if forget.is_empty() {
        return None;
    }
    let each: Vec<String> = forget
        .iter()
        .map(|(user, room, upto)| {
            format!("(user_id = {user} AND room_id = {room} AND seq <= {upto})")
        })
        .collect();
    Some(format!(
        "DELETE FROM notifications WHERE {}",
        each.join(" OR ")
    ))
}

/// Starts each pair's window at `now_ms` (the same statement on both backends).
pub fn windows_sql(pairs: &[Pair], now_ms: i64) -> Option<String> {
    if pairs.is_empty() {
        return None;
    }
    let rows: Vec<String> = pairs
        .iter()
        .map(|(user, room)| format!("({user}, {room}, {now_ms})"))
        .collect();
    Some(format!(
        "INSERT INTO notify_windows (user_id, room_id, sent_ms) VALUES {} \
         ON CONFLICT (user_id, room_id) DO UPDATE SET sent_ms = excluded.sent_ms",
        rows.join(", ")
    ))
}

/// The sorted distinct users and rooms of `pairs`.
pub fn users_and_rooms(pairs: &[Pair]) -> (Vec<i64>, Vec<i64>) {
    let mut users: Vec<i64> = pairs.iter().map(|(user, _)| *user).collect();
    let mut rooms: Vec<i64> = pairs.iter().map(|(_, room)| *room).collect();
    users.sort_unstable();
    users.dedup();
    rooms.sort_unstable();
    rooms.dedup();
    (users, rooms)
}

/// Composes `$pairs` on `$conn` (a connection of either backend, in a transaction): the
/// statements of the module's doc, around [`plan`] and [`writes`]. A macro: the body is
/// expanded for each backend. Evaluates to `Result<Composed, StoreError>`.
macro_rules! compose_pairs {
    ($conn:ident, $pairs:expr, $rules:expr, $postgres:expr) => {{
        use $crate::db::push_queue::compose as c;
        let rules: $crate::db::push_queue::ComposeRules = $rules;
        let mut pairs: Vec<c::Pair> = $pairs;
        if $postgres {
            let keys: Vec<i64> = pairs
                .iter()
                .map(|(user, room)| $crate::db::push_queue::lock_key(*user, *room))
                .collect();
            let locked: Vec<c::Locked> = diesel::sql_query(c::lock_sql(&keys)).load($conn).await?;
            let mine: std::collections::HashSet<i64> = locked
                .into_iter()
                .filter(|l| l.locked)
                .map(|l| l.lock_key)
                .collect();
            pairs.retain(|(user, room)| {
                mine.contains(&$crate::db::push_queue::lock_key(*user, *room))
            });
        }
        let (users, rooms) = c::users_and_rooms(&pairs);
        let found = c::Found {
            pending: notifications::table
                .filter(notifications::user_id.eq_any(&users))
                .filter(notifications::room_id.eq_any(&rooms))
                .select((
                    notifications::user_id,
                    notifications::room_id,
                    notifications::seq,
                    notifications::decided_ms,
                ))
                .load($conn)
                .await?,
            windows: notify_windows::table
                .filter(notify_windows::user_id.eq_any(&users))
                .filter(notify_windows::room_id.eq_any(&rooms))
                .select((
                    notify_windows::user_id,
                    notify_windows::room_id,
                    notify_windows::sent_ms,
                ))
                .load($conn)
                .await?,
            reads: members::table
                .filter(members::user_id.eq_any(&users))
                .filter(members::room_id.eq_any(&rooms))
                .select((members::user_id, members::room_id, members::read_seq))
                .load($conn)
                .await?,
        };
        let steps = c::plan(&pairs, found, &rules);
        let sending: Vec<c::Pair> = steps
            .iter()
            .filter(|(_, step)| matches!(step, c::Step::Send { .. }))
            .map(|(pair, _)| *pair)
            .collect();
        let mut sources = c::Sources::default();
        if !sending.is_empty() {
            let (users, rooms) = c::users_and_rooms(&sending);
            let newest: Vec<(i64, i64)> = steps
                .iter()
                .filter_map(|((_, room), step)| match step {
                    c::Step::Send { fold, .. } => Some((*room, fold.newest)),
                    c::Step::Read { .. } => None,
                })
                .collect();
            sources.rooms = rooms::table
                .filter(rooms::id.eq_any(&rooms))
                .select(RoomRow::as_select())
                .load($conn)
                .await?;
            let found: Vec<c::MessageFound> = diesel::sql_query(c::messages_sql(&newest))
                .load($conn)
                .await?;
            sources.messages = found.into_iter().map(c::MessageFound::into_parts).collect();
            let named: Vec<i64> = sources
                .rooms
                .iter()
                .filter(|room| room.kind != RoomKind::Group)
                .map(|room| room.id.0)
                .collect();
            if !named.is_empty() {
                sources.names = members::table
                    .inner_join(users::table)
                    .filter(members::room_id.eq_any(&named))
                    .order(users::id.asc())
                    .select((members::room_id, users::id, users::name))
                    .load($conn)
                    .await?;
            }
            let unread: Vec<c::Unread> =
                diesel::sql_query(c::unread_sql(&users)).load($conn).await?;
            sources.unread = unread.into_iter().map(|u| (u.user_id, u.total)).collect();
            sources.devices = devices::table
                .filter(devices::user_id.eq_any(&users))
                .order(devices::id.asc())
                .select((devices::user_id, devices::id))
                .load($conn)
                .await?;
        }
        let writes = c::writes(steps, sources, &rules);
        c::InsertDeliveries::insert_deliveries(&mut *$conn, &writes.deliveries).await?;
        if let Some(sql) = c::forget_sql(&writes.forget) {
            diesel::sql_query(sql).execute($conn).await?;
        }
        if let Some(sql) = c::windows_sql(&writes.windows, rules.now_ms) {
            diesel::sql_query(sql).execute($conn).await?;
        }
        if let [(user, room), ..] = writes.missing.as_slice() {
            log::warn!(
                "notifications: cannot compose for u_{user} in r_{room}: its room or message is \
                 not there ({} such pairs in this transaction); left due",
                writes.missing.len()
            );
        }
        Ok::<_, $crate::db::StoreError>(writes.done)
    }};
}

#[cfg(test)]
mod tests;
