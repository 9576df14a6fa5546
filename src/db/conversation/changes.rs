//! The changes to existing messages: edit, delete, react. Each is one transaction that
//! first takes the room row's lock (the one the group commit takes to give `seq`, so on
//! PostgreSQL changes and appends to a room queue behind each other on every node), checks
//! who may do what, and only if something changes takes the room's next `rev`
//! (`UPDATE rooms SET last_rev = last_rev + 1 … RETURNING`) and writes it on the message:
//! `rev` is gapless and commits in its own order. A refusal rolls back and changes nothing.
//! The answer is the message as this transaction left it.

use std::future::Future;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::ConversationError;
use super::load::ConversationReads;
use super::posted::checked_mentions;
use super::{Change, FullMessage};
use crate::conversation::{Emoji, MAX_EMOJIS};
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::models::RoomKind;
use crate::db::safety::{AuditEntry, Moderate, Moderation, Standing};
use crate::db::schema::{members, mentions, message_files, messages, reactions, rooms};
use crate::db::seq::RoomSeqs;
use crate::db::store::Store;
use crate::model::{RoomId, UserId};
use crate::safety::roles::{may, muted_at, Act, Role};
use crate::write_conn;

/// Who deletes a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleter {
    /// A member: the message's sender, or in a group its owner or a moderator (docs/safety.md).
    User(UserId),
    /// The admin API: any message.
    Admin,
}

/// The message a change is about, read under the room's lock.
pub(super) struct Target {
    kind: RoomKind,
    owner: Option<UserId>,
    sender: UserId,
    deleted: bool,
}

#[derive(Insertable)]
#[diesel(table_name = mentions)]
struct MentionRow {
    room_id: RoomId,
    seq: i64,
    user_id: UserId,
}

/// The steps of a change, on either backend.
pub(super) trait ChangeSteps {
    /// Locks the room's row and reads the message: `NotFound` for either.
    fn target(
        &mut self,
        room: RoomId,
        seq: i64,
    ) -> impl Future<Output = Result<Target, ConversationError>> + Send;
    /// The member's stored role and mute (`None`: no member).
    fn standing(
        &mut self,
        room: RoomId,
        user: UserId,
    ) -> impl Future<Output = QueryResult<Option<(String, Option<i64>)>>> + Send;
    /// Which of `users` are not members of `room`.
    fn outsiders(
        &mut self,
        room: RoomId,
        users: Vec<UserId>,
    ) -> impl Future<Output = QueryResult<Vec<UserId>>> + Send;
    /// Takes the room's next `rev` and writes it on the message.
    fn next_rev(&mut self, room: RoomId, seq: i64)
        -> impl Future<Output = QueryResult<i64>> + Send;
    /// Replaces whom the message mentions.
    fn set_mentions(
        &mut self,
        room: RoomId,
        seq: i64,
        users: Vec<UserId>,
    ) -> impl Future<Output = QueryResult<()>> + Send;
}

macro_rules! change_steps {
    ($conn:ty) => {
        impl ChangeSteps for $conn {
            async fn target(
                &mut self,
                room: RoomId,
                seq: i64,
            ) -> Result<Target, ConversationError> {
                if self.lock_rooms(&[room]).await?.is_empty() {
                    return Err(ConversationError::NotFound("room"));
                }
                let (kind, owner) = rooms::table
                    .find(room)
                    .select((rooms::kind, rooms::owner_id))
                    .first::<(RoomKind, Option<UserId>)>(self)
                    .await?;
                let message = messages::table
                    .find((room, seq))
                    .select((messages::sender_id, messages::deleted))
                    .first::<(UserId, bool)>(self)
                    .await
                    .optional()?;
                let Some((sender, deleted)) = message else {
                    return Err(ConversationError::NotFound("message"));
                };
                Ok(Target {
                    kind,
                    owner,
                    sender,
                    deleted,
                })
            }

            async fn standing(
                &mut self,
                room: RoomId,
                user: UserId,
            ) -> QueryResult<Option<(String, Option<i64>)>> {
                members::table
                    .find((room, user))
                    .select((members::role, members::muted_until_ms))
                    .first(self)
                    .await
                    .optional()
            }

            async fn outsiders(
                &mut self,
                room: RoomId,
                users: Vec<UserId>,
            ) -> QueryResult<Vec<UserId>> {
                if users.is_empty() {
                    return Ok(Vec::new());
                }
                let inside: Vec<UserId> = members::table
                    .filter(members::room_id.eq(room))
                    .filter(members::user_id.eq_any(&users))
                    .select(members::user_id)
                    .load(self)
                    .await?;
                Ok(users
                    .into_iter()
                    .filter(|user| !inside.contains(user))
                    .collect())
            }

            async fn next_rev(&mut self, room: RoomId, seq: i64) -> QueryResult<i64> {
                let rev = diesel::update(rooms::table.find(room))
                    .set(rooms::last_rev.eq(rooms::last_rev + 1))
                    .returning(rooms::last_rev)
                    .get_result::<i64>(self)
                    .await?;
                diesel::update(messages::table.find((room, seq)))
                    .set(messages::rev.eq(rev))
                    .execute(self)
                    .await?;
                Ok(rev)
            }

            async fn set_mentions(
                &mut self,
                room: RoomId,
                seq: i64,
                users: Vec<UserId>,
            ) -> QueryResult<()> {
                diesel::delete(
                    mentions::table
                        .filter(mentions::room_id.eq(room))
                        .filter(mentions::seq.eq(seq)),
                )
                .execute(self)
                .await?;
                // At most MAX_MENTIONS rows, one statement each: SQLite's async wrapper
                // takes no multi-row insert.
                for user_id in users {
                    diesel::insert_into(mentions::table)
                        .values(MentionRow {
                            room_id: room,
                            seq,
                            user_id,
                        })
                        .execute(self)
                        .await?;
                }
                Ok(())
            }
        }
    };
}

change_steps!(PgConn);
change_steps!(SqliteConn);

/// The standing of `user`, who must be a member (`NotMember`) and, to `edit` or `react`,
/// not muted now (`Muted`).
async fn member<C: ChangeSteps>(
    conn: &mut C,
    room: RoomId,
    user: UserId,
    speaking: bool,
) -> Result<Standing, ConversationError> {
    let Some((role, muted)) = conn.standing(room, user).await? else {
        return Err(ConversationError::NotMember);
    };
    let standing = Standing::stored(&role, muted)?;
    if let Some(until) = standing.muted_until {
        if speaking && muted_at(Some(until), crate::clock::now_ms()) {
            return Err(ConversationError::Muted(until));
        }
    }
    Ok(standing)
}

/// Whether `user` may delete the message `target` (docs/safety.md): its sender may; in a
/// group, the owner and moderators may delete others' (a moderator, members' only), and
/// then the delete is a moderation act with its audit entry (returned).
async fn may_delete<C: ChangeSteps>(
    conn: &mut C,
    room: RoomId,
    seq: i64,
    target: &Target,
    user: UserId,
) -> Result<Option<AuditEntry>, ConversationError> {
    let standing = member(conn, room, user, false).await?;
    if target.sender == user {
        return Ok(None);
    }
    if target.kind != RoomKind::Group {
        return Err(ConversationError::Forbidden(
            "only the sender may delete a message here",
        ));
    }
    let sender = match conn.standing(room, target.sender).await? {
        Some((role, muted)) => Standing::stored(&role, muted)?.role,
        None => Role::Member,
    };
    may(
        Role::of(user, target.owner, standing.role),
        Act::Delete,
        Role::of(target.sender, target.owner, sender),
        false,
    )
    .map_err(ConversationError::Denied)?;
    let message = crate::model::MessageId { room, seq };
    Ok(Some(
        AuditEntry::admin("delete")
            .by(Some(user))
            .room(room)
            .target(message.to_string())
            .detail(serde_json::json!({ "sender": target.sender.to_string() })),
    ))
}

/// The one message a change answers, read in its transaction.
async fn answer<C: ConversationReads>(
    conn: &mut C,
    room: RoomId,
    seq: i64,
) -> Result<FullMessage, ConversationError> {
    conn.full_messages(vec![(room, seq)])
        .await?
        .pop()
        .ok_or(ConversationError::NotFound("message"))
}

impl Store {
    /// `edit`: only the sender, a member still and not muted, and not of a deleted message. Replaces the
    /// body (files stay), sets the edit time, and the mentions when given (`Some(vec![])`
    /// clears them; each must be a member).
    pub async fn edit_message(
        &self,
        room: RoomId,
        seq: i64,
        editor: UserId,
        body: String,
        mentions: Option<Vec<UserId>>,
    ) -> Result<Change, ConversationError> {
        let mentions = mentions.map(checked_mentions).transpose()?;
        self.run(move |db| async move {
            Ok(write_conn!(&*db, conn => {
                conn.transaction::<Change, ConversationError, _>(async move |conn| {
                    let target = conn.target(room, seq).await?;
                    member(conn, room, editor, true).await?;
                    if target.sender != editor {
                        return Err(ConversationError::Forbidden(
                            "only the sender may edit a message",
                        ));
                    }
                    if target.deleted {
                        return Err(ConversationError::Deleted);
                    }
                    if let Some(users) = &mentions {
                        let outsiders = conn.outsiders(room, users.clone()).await?;
                        if !outsiders.is_empty() {
                            return Err(ConversationError::NotMembers(outsiders));
                        }
                    }
                    let rev = conn.next_rev(room, seq).await?;
                    diesel::update(messages::table.find((room, seq)))
                        .set((
                            messages::body.eq(body),
                            messages::edited_ms.eq(crate::clock::now_ms()),
                        ))
                        .execute(conn)
                        .await?;
                    if let Some(users) = mentions {
                        conn.set_mentions(room, seq, users).await?;
                    }
                    let message = answer(conn, room, seq).await?;
                    Ok(Change::Changed { rev, message })
                })
                .await
            }))
        })
        .await?
    }

    /// `delete`: the sender, or in a group the owner or a moderator (a member still, by the
    /// roles' rule, with an audit entry when something was deleted), or the admin API. Leaves
    /// a tombstone: empty body, no files, template, action, reply, mentions or reactions,
    /// no edit time. Deleting a tombstone answers it again and takes no `rev`.
    pub async fn delete_message(
        &self,
        room: RoomId,
        seq: i64,
        by: Deleter,
    ) -> Result<Change, ConversationError> {
        self.delete_message_with(room, seq, by, None).await
    }

    /// [`Store::delete_message`], writing `moderation` (its audit entry, the report it
    /// resolves) in the same transaction, also when the message was deleted already.
    pub async fn delete_message_with(
        &self,
        room: RoomId,
        seq: i64,
        by: Deleter,
        moderation: Option<crate::db::safety::Moderation>,
    ) -> Result<Change, ConversationError> {
        self.run(move |db| async move {
            Ok(write_conn!(&*db, conn => {
                conn.transaction::<Change, ConversationError, _>(async move |conn| {
                    let target = conn.target(room, seq).await?;
                    let moderated = match by {
                        Deleter::User(user) => may_delete(conn, room, seq, &target, user).await?,
                        Deleter::Admin => None,
                    };
                    if let Some(moderation) = moderation {
                        conn.record(moderation).await?;
                    }
                    if target.deleted {
                        return Ok(Change::Unchanged(answer(conn, room, seq).await?));
                    }
                    if let Some(entry) = moderated {
                        conn.record(Moderation::audit(entry)).await?;
                    }
                    let rev = conn.next_rev(room, seq).await?;
                    diesel::update(messages::table.find((room, seq)))
                        .set((
                            messages::body.eq(""),
                            messages::template.eq(None::<String>),
                            messages::action.eq(None::<String>),
                            messages::reply_to_seq.eq(None::<i64>),
                            messages::edited_ms.eq(None::<i64>),
                            messages::deleted.eq(true),
                        ))
                        .execute(conn)
                        .await?;
                    diesel::delete(
                        message_files::table
                            .filter(message_files::room_id.eq(room))
                            .filter(message_files::seq.eq(seq)),
                    )
                    .execute(conn)
                    .await?;
                    diesel::delete(
                        reactions::table
                            .filter(reactions::room_id.eq(room))
                            .filter(reactions::seq.eq(seq)),
                    )
                    .execute(conn)
                    .await?;
                    conn.set_mentions(room, seq, Vec::new()).await?;
                    let message = answer(conn, room, seq).await?;
                    Ok(Change::Changed { rev, message })
                })
                .await
            }))
        })
        .await?
    }

    /// `react`: a member (not muted) adds (`on`) or takes back their `emoji` on a message that is not
    /// deleted. Adding what is there, or taking back what is not, changes nothing and takes
    /// no `rev`; a new emoji beyond [`MAX_EMOJIS`] on the message is refused.
    pub async fn react(
        &self,
        room: RoomId,
        seq: i64,
        user: UserId,
        emoji: Emoji,
        on: bool,
    ) -> Result<Change, ConversationError> {
        let emoji = emoji.into_string();
        self.run(move |db| async move {
            Ok(write_conn!(&*db, conn => {
                conn.transaction::<Change, ConversationError, _>(async move |conn| {
                    let target = conn.target(room, seq).await?;
                    member(conn, room, user, true).await?;
                    if target.deleted {
                        return Err(ConversationError::Deleted);
                    }
                    let of_message = reactions::table
                        .filter(reactions::room_id.eq(room))
                        .filter(reactions::seq.eq(seq));
                    let mine = of_message
                        .filter(reactions::emoji.eq(&emoji))
                        .filter(reactions::user_id.eq(user));
                    let rev = if on {
                        let there: Option<i64> = mine
                            .select(reactions::emoji_rev)
                            .first(conn)
                            .await
                            .optional()?;
                        if there.is_some() {
                            return Ok(Change::Unchanged(answer(conn, room, seq).await?));
                        }
                        let first_use: Option<i64> = of_message
                            .filter(reactions::emoji.eq(&emoji))
                            .select(reactions::emoji_rev)
                            .first(conn)
                            .await
                            .optional()?;
                        if first_use.is_none() {
                            let distinct: Vec<String> = of_message
                                .select(reactions::emoji)
                                .distinct()
                                .load(conn)
                                .await?;
                            if distinct.len() >= MAX_EMOJIS {
                                return Err(ConversationError::TooManyEmojis);
                            }
                        }
                        let rev = conn.next_rev(room, seq).await?;
                        diesel::insert_into(reactions::table)
                            .values((
                                reactions::room_id.eq(room),
                                reactions::seq.eq(seq),
                                reactions::emoji.eq(&emoji),
                                reactions::user_id.eq(user),
                                reactions::emoji_rev.eq(first_use.unwrap_or(rev)),
                                reactions::created_ms.eq(crate::clock::now_ms()),
                            ))
                            .execute(conn)
                            .await?;
                        rev
                    } else {
                        if diesel::delete(mine).execute(conn).await? == 0 {
                            return Ok(Change::Unchanged(answer(conn, room, seq).await?));
                        }
                        conn.next_rev(room, seq).await?
                    };
                    let message = answer(conn, room, seq).await?;
                    Ok(Change::Changed { rev, message })
                })
                .await
            }))
        })
        .await?
    }
}
