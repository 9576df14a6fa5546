//! Erasing a person (`DELETE /admin/users/{id}?erase=true`; docs/operations.md, "Erase"):
//! first, in one transaction, they are deactivated, renamed [`erased_name`], unlinked from
//! their external id, and their tokens, devices and pending notifications go; then their
//! messages become tombstones ([`BATCH`] a transaction: body `""`, no template, action,
//! idempotency key or files; id, seq, time and sender kept) and every file they uploaded is
//! deleted. Each step can be run again: an erase that failed half-way is finished by the
//! next call. Other people's messages are not touched.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::UserKind;
use super::safety::{AuditEntry, Moderate, Moderation};
use super::schema::{
    devices, file_chunks, files, mentions, message_files, messages, notifications, push_deliveries,
    reactions, tokens, users,
};
use super::store::Store;
use super::users::name_key;
use crate::model::UserId;
use crate::write_conn;

/// Messages made tombstones, or files deleted, per transaction.
pub const BATCH: i64 = 500;
/// Files deleted per transaction (each may be many chunks).
const FILE_BATCH: i64 = 20;

/// The name an erased person is shown with: names are unique, and one ending with a user id
/// is the server's, so no one else can hold it.
pub fn erased_name(user_id: UserId) -> String {
    format!("deleted user ({user_id})")
}

/// What an erase did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    pub messages: usize,
    pub files: usize,
}

impl Store {
    /// Erases the person `user_id` (active or deactivated, erased before or not);
    /// `NotFound` for a bot, the system or no one.
    pub async fn erase_user(&self, user_id: UserId) -> Result<Erased, StoreError> {
        self.erase_profile(user_id).await?;
        let mut erased = Erased::default();
        let mut after = (0, 0);
        loop {
            let (count, last) = self.tombstone_messages(user_id, after).await?;
            erased.messages += count;
            match last {
                Some(last) => after = last,
                None => break,
            }
            tokio::task::yield_now().await;
        }
        loop {
            let count = self.delete_uploads(user_id).await?;
            erased.files += count;
            if (count as i64) < FILE_BATCH {
                break;
            }
            tokio::task::yield_now().await;
        }
        Ok(erased)
    }

    async fn erase_profile(&self, user_id: UserId) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(), StoreError, _>(async move |conn| {
                    let name = erased_name(user_id);
                    let person = users::table
                        .find(user_id)
                        .filter(users::kind.eq(UserKind::User));
                    let deactivated = person
                        .select(users::deactivated_ms)
                        .first::<Option<i64>>(conn)
                        .await
                        .optional()?
                        .ok_or(StoreError::NotFound("user"))?;
                    diesel::update(person)
                        .set((
                            users::name.eq(&name),
                            users::name_key.eq(name_key(&name)),
                            users::external_sub.eq(None::<String>),
                            users::deactivated_ms
                                .eq(deactivated.unwrap_or_else(crate::clock::now_ms)),
                        ))
                        .execute(conn)
                        .await?;
                    diesel::delete(tokens::table.filter(tokens::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    // Their queued pushes go with their devices (ON DELETE CASCADE).
                    diesel::delete(devices::table.filter(devices::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    diesel::delete(notifications::table.filter(notifications::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    // Audited as the deactivation it also is (protocol section 13).
                    let audit = AuditEntry::admin("deactivate")
                        .target(user_id.to_string())
                        .detail(serde_json::json!({ "erase": true }));
                    conn.record(Moderation::audit(audit)).await?;
                    Ok(())
                })
                .await
            })
        })
        .await
    }

    /// Makes the next [`BATCH`] of the person's messages after `after` (room, seq)
    /// tombstones, with what ties them to files and to notifications of others; answers how
    /// many, and the last one's key (`None` when there were none left).
    async fn tombstone_messages(
        &self,
        user_id: UserId,
        after: (i64, i64),
    ) -> Result<(usize, Option<(i64, i64)>), StoreError> {
        let (after_room, after_seq) = after;
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(usize, Option<(i64, i64)>), StoreError, _>(async move |conn| {
                    let keys: Vec<(i64, i64)> = messages::table
                        .filter(messages::sender_id.eq(user_id))
                        .filter(
                            messages::room_id.gt(after_room).or(messages::room_id
                                .eq(after_room)
                                .and(messages::seq.gt(after_seq))),
                        )
                        .order((messages::room_id.asc(), messages::seq.asc()))
                        .limit(BATCH)
                        .select((messages::room_id, messages::seq))
                        .load(conn)
                        .await?;
                    let mut rooms: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
                    for (room, seq) in &keys {
                        rooms.entry(*room).or_default().push(*seq);
                    }
                    for (room, seqs) in &rooms {
                        diesel::delete(
                            message_files::table
                                .filter(message_files::room_id.eq(room))
                                .filter(message_files::seq.eq_any(seqs)),
                        )
                        .execute(conn)
                        .await?;
                        // Others' pending notifications would show the text.
                        diesel::delete(
                            push_deliveries::table
                                .filter(push_deliveries::room_id.eq(room))
                                .filter(push_deliveries::seq.eq_any(seqs)),
                        )
                        .execute(conn)
                        .await?;
                        diesel::delete(
                            notifications::table
                                .filter(notifications::room_id.eq(room))
                                .filter(notifications::seq.eq_any(seqs)),
                        )
                        .execute(conn)
                        .await?;
                        // Section 11's tombstone: no reactions, no mentions, `deleted`.
                        diesel::delete(
                            reactions::table
                                .filter(reactions::room_id.eq(room))
                                .filter(reactions::seq.eq_any(seqs)),
                        )
                        .execute(conn)
                        .await?;
                        diesel::delete(
                            mentions::table
                                .filter(mentions::room_id.eq(room))
                                .filter(mentions::seq.eq_any(seqs)),
                        )
                        .execute(conn)
                        .await?;
                        diesel::update(
                            messages::table
                                .filter(messages::room_id.eq(room))
                                .filter(messages::seq.eq_any(seqs)),
                        )
                        .set((
                            messages::body.eq(""),
                            messages::template.eq(None::<String>),
                            messages::action.eq(None::<String>),
                            messages::client_msg_id.eq(None::<String>),
                            messages::deleted.eq(true),
                            messages::reply_to_seq.eq(None::<i64>),
                            messages::edited_ms.eq(None::<i64>),
                        ))
                        .execute(conn)
                        .await?;
                    }
                    Ok((keys.len(), keys.last().copied()))
                })
                .await
            })
        })
        .await
    }

    /// Deletes up to [`FILE_BATCH`] of the files the person uploaded (bytes, thumbnail,
    /// what ties them to messages); answers how many.
    async fn delete_uploads(&self, user_id: UserId) -> Result<usize, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<usize, StoreError, _>(async move |conn| {
                    let ids: Vec<String> = files::table
                        .filter(files::uploader_id.eq(user_id))
                        .order(files::id.asc())
                        .limit(FILE_BATCH)
                        .select(files::id)
                        .load(conn)
                        .await?;
                    if ids.is_empty() {
                        return Ok(0);
                    }
                    diesel::delete(message_files::table.filter(message_files::file_id.eq_any(&ids)))
                        .execute(conn)
                        .await?;
                    diesel::delete(file_chunks::table.filter(file_chunks::file_id.eq_any(&ids)))
                        .execute(conn)
                        .await?;
                    Ok(diesel::delete(files::table.filter(files::id.eq_any(&ids)))
                        .execute(conn)
                        .await?)
                })
                .await
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use crate::model::UserId;

    #[test]
    fn an_erased_name_is_the_server_s_and_unique() {
        let name = super::erased_name(UserId(42));
        assert_eq!(name, "deleted user (u_42)");
        assert!(
            crate::model::names::user_name(&name).is_err(),
            "no one may take it"
        );
        assert_ne!(super::erased_name(UserId(43)), name);
    }
}
