//! Reading messages whole: rows, senders and state in one query, then their files,
//! reactions, mentions and the messages they answer in one query each, whatever the number
//! of messages (never one query per message). Shared by every reader of section 11 and by
//! the changes, which answer the message as it is after them.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::{FullMessage, ReplyRef};
use crate::conversation::{excerpt, ReactionSet};
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::file_queries::FileQueries;
use crate::db::models::{MessageKey, MessageRow, StoredMessage, UserRow};
use crate::db::schema::{mentions, messages, reactions, rooms, users};
use crate::model::{RoomId, UserId};

/// A message's section 11 columns.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = messages)]
pub(super) struct StateRow {
    pub reply_to_seq: Option<i64>,
    pub edited_ms: Option<i64>,
    pub deleted: bool,
    pub rev: i64,
}

type Row = (MessageRow, UserRow, StateRow);

/// Keys grouped by room: `(room, [seq…])`, rooms ascending.
fn by_room(keys: &[MessageKey]) -> Vec<(RoomId, Vec<i64>)> {
    let mut rooms: BTreeMap<RoomId, Vec<i64>> = BTreeMap::new();
    for (room, seq) in keys {
        rooms.entry(*room).or_default().push(*seq);
    }
    rooms
        .into_iter()
        .map(|(room, mut seqs)| {
            seqs.sort_unstable();
            seqs.dedup();
            (room, seqs)
        })
        .collect()
}

/// `$query` (boxed) narrowed to the keys: `(room_id = r AND seq IN (…)) OR …` on `$table`.
/// The caller makes sure there is at least one key (none would leave the table whole).
macro_rules! of_keys {
    ($query:expr, $table:ident, $groups:expr) => {{
        let mut query = $query;
        for (room, seqs) in $groups {
            query = query.or_filter($table::room_id.eq(room).and($table::seq.eq_any(seqs)));
        }
        query
    }};
}

pub(crate) trait ConversationReads {
    /// The messages with these keys, whole, in the order asked (keys that are not there are
    /// left out).
    fn full_messages(
        &mut self,
        keys: Vec<MessageKey>,
    ) -> impl Future<Output = QueryResult<Vec<FullMessage>>> + Send;
    /// The newest message of each of `rooms` that has one (the row `seq = last_seq`, in one
    /// query), whole.
    fn last_messages(
        &mut self,
        rooms: Vec<RoomId>,
    ) -> impl Future<Output = QueryResult<Vec<FullMessage>>> + Send;
    /// The messages with these keys as a reply shows them.
    fn reply_refs(
        &mut self,
        keys: Vec<MessageKey>,
    ) -> impl Future<Output = QueryResult<HashMap<MessageKey, ReplyRef>>> + Send;
}

macro_rules! conversation_reads {
    ($conn:ty) => {
        impl ConversationReads for $conn {
            async fn full_messages(
                &mut self,
                keys: Vec<MessageKey>,
            ) -> QueryResult<Vec<FullMessage>> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let query = messages::table
                    .inner_join(users::table)
                    .select((
                        MessageRow::as_select(),
                        UserRow::as_select(),
                        StateRow::as_select(),
                    ))
                    .into_boxed();
                let rows: Vec<Row> = of_keys!(query, messages, by_room(&keys)).load(self).await?;
                let mut found: HashMap<MessageKey, FullMessage> = complete(self, rows)
                    .await?
                    .into_iter()
                    .map(|message| ((message.room_id(), message.seq()), message))
                    .collect();
                Ok(keys.iter().filter_map(|key| found.remove(key)).collect())
            }

            async fn last_messages(&mut self, ids: Vec<RoomId>) -> QueryResult<Vec<FullMessage>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let rows: Vec<Row> = messages::table
                    .inner_join(users::table)
                    .inner_join(
                        rooms::table.on(rooms::id
                            .eq(messages::room_id)
                            .and(rooms::last_seq.eq(messages::seq))),
                    )
                    .filter(rooms::id.eq_any(ids))
                    .select((
                        MessageRow::as_select(),
                        UserRow::as_select(),
                        StateRow::as_select(),
                    ))
                    .load(self)
                    .await?;
                complete(self, rows).await
            }

            async fn reply_refs(
                &mut self,
                keys: Vec<MessageKey>,
            ) -> QueryResult<HashMap<MessageKey, ReplyRef>> {
                if keys.is_empty() {
                    return Ok(HashMap::new());
                }
                let query = messages::table
                    .inner_join(users::table)
                    .select((
                        messages::room_id,
                        messages::seq,
                        messages::body,
                        messages::deleted,
                        UserRow::as_select(),
                    ))
                    .into_boxed();
                let rows: Vec<(RoomId, i64, String, bool, UserRow)> =
                    of_keys!(query, messages, by_room(&keys)).load(self).await?;
                Ok(rows
                    .into_iter()
                    .map(|(room_id, seq, body, deleted, sender)| {
                        let excerpt = if deleted {
                            String::new()
                        } else {
                            excerpt(&body)
                        };
                        (
                            (room_id, seq),
                            ReplyRef {
                                room_id,
                                seq,
                                sender,
                                excerpt,
                            },
                        )
                    })
                    .collect())
            }
        }
    };
}

/// Rows made whole: files, reactions, mentions and reply targets, one query each.
async fn complete<C>(conn: &mut C, rows: Vec<Row>) -> QueryResult<Vec<FullMessage>>
where
    C: ConversationReads + FileQueries + Send + AttachedReads,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<MessageKey> = rows
        .iter()
        .map(|(row, ..)| (row.room_id, row.seq))
        .collect();
    let rooms = keys.iter().map(|(room, _)| *room).collect();
    let seqs = keys.iter().map(|(_, seq)| *seq).collect();
    let mut files = conn.files_of_messages(rooms, seqs).await?;
    let (mut reactions, mut mentioned) = conn.attached(keys).await?;
    let answered: Vec<MessageKey> = rows
        .iter()
        .filter_map(|(row, _, state)| Some((row.room_id, state.reply_to_seq?)))
        .collect();
    let replies = conn.reply_refs(answered).await?;
    Ok(rows
        .into_iter()
        .map(|(row, sender, state)| {
            let key = (row.room_id, row.seq);
            FullMessage {
                edited_ms: state.edited_ms,
                deleted: state.deleted,
                reactions: ReactionSet::from_rows(reactions.remove(&key).unwrap_or_default()),
                rev: state.rev,
                message: StoredMessage {
                    files: files.remove(&key).unwrap_or_default(),
                    reply_to: state
                        .reply_to_seq
                        .and_then(|seq| replies.get(&(row.room_id, seq)).cloned()),
                    mentions: mentioned.remove(&key).unwrap_or_default(),
                    row,
                    sender,
                },
            }
        })
        .collect())
}

/// Reaction rows `(emoji, user, emoji_rev, created_ms)` and mentioned users (ascending),
/// by message.
type Attached = (
    HashMap<MessageKey, Vec<(String, UserId, i64, i64)>>,
    HashMap<MessageKey, Vec<UserId>>,
);

pub(super) trait AttachedReads {
    fn attached(
        &mut self,
        keys: Vec<MessageKey>,
    ) -> impl Future<Output = QueryResult<Attached>> + Send;
}

macro_rules! attached_reads {
    ($conn:ty) => {
        impl AttachedReads for $conn {
            async fn attached(&mut self, keys: Vec<MessageKey>) -> QueryResult<Attached> {
                let groups = by_room(&keys);
                let query = reactions::table
                    .select((
                        reactions::room_id,
                        reactions::seq,
                        reactions::emoji,
                        reactions::user_id,
                        reactions::emoji_rev,
                        reactions::created_ms,
                    ))
                    .into_boxed();
                let rows: Vec<(RoomId, i64, String, UserId, i64, i64)> =
                    of_keys!(query, reactions, groups.clone())
                        .load(self)
                        .await?;
                let mut reacted: HashMap<MessageKey, Vec<(String, UserId, i64, i64)>> =
                    HashMap::new();
                for (room, seq, emoji, user, emoji_rev, created) in rows {
                    reacted
                        .entry((room, seq))
                        .or_default()
                        .push((emoji, user, emoji_rev, created));
                }
                let query = mentions::table
                    .select((mentions::room_id, mentions::seq, mentions::user_id))
                    .order(mentions::user_id.asc())
                    .into_boxed();
                let rows: Vec<(RoomId, i64, UserId)> =
                    of_keys!(query, mentions, groups).load(self).await?;
                let mut mentioned: HashMap<MessageKey, Vec<UserId>> = HashMap::new();
                for (room, seq, user) in rows {
                    mentioned.entry((room, seq)).or_default().push(user);
                }
                Ok((reacted, mentioned))
            }
        }
    };
}

conversation_reads!(PgConn);
conversation_reads!(SqliteConn);
attached_reads!(PgConn);
attached_reads!(SqliteConn);

#[cfg(test)]
mod tests {
    use super::by_room;
    use crate::model::RoomId;

    #[test]
    fn keys_are_grouped_by_room_without_repeats() {
        let (r1, r3) = (RoomId(1), RoomId(3));
        assert_eq!(
            by_room(&[(r3, 9), (r1, 2), (r3, 1), (r3, 9)]),
            vec![(r1, vec![2]), (r3, vec![1, 9])]
        );
        assert!(by_room(&[]).is_empty());
    }
}
