//! What a room list shows of section 11 for many rooms at once: each room's `last_rev`, the
//! caller's unread mentions and the room's last message, in three queries whatever the
//! number of rooms.

use std::collections::HashMap;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::error::ConversationError;
use super::FullMessage;
use crate::db::schema::rooms;
use crate::db::store::Store;
use crate::model::{RoomId, UserId};
use crate::with_conn;

/// A room's section 11 fields as one caller sees them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomExtras {
    pub last_rev: i64,
    pub mentions_unread: i64,
    pub last_message: Option<FullMessage>,
}

impl Store {
    /// The fields of each of `room_ids` (rooms that do not exist are left out); with no
    /// `viewer` (the admin API), `mentions_unread` is 0.
    pub async fn room_extras(
        &self,
        viewer: Option<UserId>,
        room_ids: Vec<RoomId>,
    ) -> Result<HashMap<RoomId, RoomExtras>, ConversationError> {
        if room_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let ids = room_ids.clone();
        let revs: Vec<(RoomId, i64)> = self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    Ok(rooms::table
                        .filter(rooms::id.eq_any(ids))
                        .select((rooms::id, rooms::last_rev))
                        .load(conn)
                        .await?)
                })
            })
            .await?;
        let mut last = self.last_messages(room_ids.clone()).await?;
        let mut mentioned = match viewer {
            Some(user) => self.mentions_unread(user, room_ids).await?,
            None => HashMap::new(),
        };
        Ok(revs
            .into_iter()
            .map(|(room, last_rev)| {
                let extras = RoomExtras {
                    last_rev,
                    mentions_unread: mentioned.remove(&room).unwrap_or(0),
                    last_message: last.remove(&room),
                };
                (room, extras)
            })
            .collect())
    }

    /// The room's `last_rev`, or `None` when the room does not exist.
    pub async fn room_last_rev(&self, room: RoomId) -> Result<Option<i64>, ConversationError> {
        Ok(self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    Ok(rooms::table
                        .find(room)
                        .select(rooms::last_rev)
                        .first::<i64>(conn)
                        .await
                        .optional()?)
                })
            })
            .await?)
    }
}
