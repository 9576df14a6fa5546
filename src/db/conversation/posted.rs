//! What a new message carries of section 11 (what it answers, whom it mentions), looked up
//! and stored inside the group-commit writer's transaction (`db/writer.rs`), so a post's
//! reply and mentions commit with it or not at all. A batch with neither does nothing here.
//! Mentions as an edit stores them: [`checked_mentions`].

use std::collections::{HashMap, HashSet};
use std::future::Future;

use diesel::prelude::*;
use diesel::QueryResult;
use diesel_async::RunQueryDsl;

use super::error::ConversationError;
use super::load::ConversationReads;
use super::ReplyRef;
use crate::conversation::MAX_MENTIONS;
use crate::db::backend::{PgConn, SqliteConn};
use crate::db::models::MessageKey;
use crate::db::schema::{members, mentions, messages};
use crate::model::{RoomId, UserId};

/// What a batch's replies and mentions need from the store before it is planned.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// The answered messages that exist, as a reply shows them, by `(room, seq)`.
    pub replies: HashMap<MessageKey, ReplyRef>,
    /// `(room, user)` of every mentioned user who is a member of the room.
    pub members: HashSet<(RoomId, UserId)>,
}

/// What a planned batch stores beside its messages.
#[derive(Debug, Default)]
pub(crate) struct Attached {
    /// `(room, seq, answered seq)`.
    pub replies: Vec<(RoomId, i64, i64)>,
    /// `(room, seq, user)`.
    pub mentions: Vec<(RoomId, i64, UserId)>,
}

impl Attached {
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty() && self.mentions.is_empty()
    }
}

#[derive(Insertable)]
#[diesel(table_name = mentions)]
struct MentionRow {
    room_id: RoomId,
    seq: i64,
    user_id: UserId,
}

pub(crate) trait PostedConversation {
    /// Looks up the answered messages `replies` (`(room, seq)`) and which of `mentioned`
    /// (`(room, user)`) are members.
    fn known(
        &mut self,
        replies: Vec<MessageKey>,
        mentioned: Vec<(RoomId, UserId)>,
    ) -> impl Future<Output = QueryResult<Known>> + Send;
    /// Stores the planned replies and mentions of the batch's new messages.
    fn attach(&mut self, attached: Attached) -> impl Future<Output = QueryResult<()>> + Send;
}

macro_rules! posted_conversation {
    ($conn:ty) => {
        impl PostedConversation for $conn {
            async fn known(
                &mut self,
                replies: Vec<MessageKey>,
                mentioned: Vec<(RoomId, UserId)>,
            ) -> QueryResult<Known> {
                let replies = self.reply_refs(replies).await?;
                let mut members = HashSet::new();
                if !mentioned.is_empty() {
                    let rooms: Vec<RoomId> = mentioned.iter().map(|(room, _)| *room).collect();
                    let users: Vec<UserId> = mentioned.iter().map(|(_, user)| *user).collect();
                    let found: Vec<(RoomId, UserId)> = members::table
                        .filter(members::room_id.eq_any(rooms))
                        .filter(members::user_id.eq_any(users))
                        .select((members::room_id, members::user_id))
                        .load(self)
                        .await?;
                    members.extend(found);
                }
                Ok(Known { replies, members })
            }

            async fn attach(&mut self, attached: Attached) -> QueryResult<()> {
                for (room, seq, answered) in attached.replies {
                    diesel::update(messages::table.find((room, seq)))
                        .set(messages::reply_to_seq.eq(answered))
                        .execute(self)
                        .await?;
                }
                // One statement a row: SQLite's async wrapper takes no multi-row insert.
                for (room_id, seq, user_id) in attached.mentions {
                    diesel::insert_into(mentions::table)
                        .values(MentionRow {
                            room_id,
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

posted_conversation!(PgConn);
posted_conversation!(SqliteConn);

/// Mentions as stored: distinct, ascending, at most [`MAX_MENTIONS`].
pub(super) fn checked_mentions(mut users: Vec<UserId>) -> Result<Vec<UserId>, ConversationError> {
    users.sort_unstable();
    users.dedup();
    if users.len() > MAX_MENTIONS {
        return Err(ConversationError::OutOfRange(format!(
            "mentions names {} users; at most {MAX_MENTIONS}",
            users.len()
        )));
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_distinct_ascending_and_at_most_20() {
        let ids = |numbers: &[i64]| numbers.iter().copied().map(UserId).collect::<Vec<_>>();
        assert_eq!(checked_mentions(ids(&[9, 3, 9, 1])), Ok(ids(&[1, 3, 9])));
        assert_eq!(checked_mentions(Vec::new()), Ok(Vec::new()));
        assert!(checked_mentions((0..20).map(UserId).collect()).is_ok());
        assert!(matches!(
            checked_mentions((0..21).map(UserId).collect()),
            Err(ConversationError::OutOfRange(_))
        ));
        assert_eq!(
            checked_mentions(vec![UserId(5); 30]),
            Ok(vec![UserId(5)]),
            "repeats count once"
        );
    }
}
