//! The store's part for bots: their definitions, the user each one posts as, and where
//! each bot conversation is in its script.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::{UserKind, UserRow};
use super::schema::{bot_states, bots, users};
use super::store::Store;
use crate::model::RoomId;
use crate::{with_conn, write_conn};

impl Store {
    /// Stores a definition and makes or renames the bot's user. Returns the bot's user and
    /// whether the bot is new.
    pub async fn put_bot(
        &self,
        id: &str,
        name: &str,
        definition: String,
    ) -> Result<(UserRow, bool), StoreError> {
        let (id, name) = (id.to_string(), name.to_string());
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(UserRow, bool), StoreError, _>(async move |conn| {
                    let now = crate::clock::now_ms();
                    let taken = users::table
                        .filter(users::name.eq(&name))
                        .filter(users::handle.is_null().or(users::handle.ne(&id)))
                        .select(users::id)
                        .first::<i64>(conn)
                        .await
                        .optional()?;
                    if taken.is_some() {
                        return Err(StoreError::Conflict(format!("the name {name:?} is taken")));
                    }
                    let existing = users::table
                        .filter(users::handle.eq(&id))
                        .select(UserRow::as_select())
                        .first(conn)
                        .await
                        .optional()?;
                    let user = match existing {
                        Some(user) if user.kind != UserKind::Bot => {
                            return Err(StoreError::Conflict(format!("the id {id:?} is taken")));
                        }
                        Some(user) => diesel::update(users::table.find(user.id))
                            .set((
                                users::name.eq(&name),
                                users::name_key.eq(super::users::name_key(&name)),
                            ))
                            .returning(UserRow::as_returning())
                            .get_result(conn)
                            .await?,
                        None => diesel::insert_into(users::table)
                            .values((
                                users::name.eq(&name),
                                users::name_key.eq(super::users::name_key(&name)),
                                users::kind.eq(UserKind::Bot),
                                users::handle.eq(&id),
                                users::created_ms.eq(now),
                            ))
                            .returning(UserRow::as_returning())
                            .get_result(conn)
                            .await?,
                    };
                    let known = bots::table
                        .find(&id)
                        .select(bots::id)
                        .first::<String>(conn)
                        .await
                        .optional()?
                        .is_some();
                    diesel::insert_into(bots::table)
                        .values((
                            bots::id.eq(&id),
                            bots::user_id.eq(user.id),
                            bots::definition.eq(&definition),
                            bots::updated_ms.eq(now),
                        ))
                        .on_conflict(bots::id)
                        .do_update()
                        .set((bots::definition.eq(&definition), bots::updated_ms.eq(now)))
                        .execute(conn)
                        .await?;
                    Ok((user, !known))
                })
                .await
            })
        })
        .await
    }

    /// Every stored definition with its bot's user, by id.
    pub async fn bots(&self) -> Result<Vec<(String, UserRow)>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(bots::table
                    .inner_join(users::table)
                    .order(bots::id.asc())
                    .select((bots::definition, UserRow::as_select()))
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// One stored definition with its bot's user.
    pub async fn bot(&self, id: &str) -> Result<Option<(String, UserRow)>, StoreError> {
        let id = id.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(bots::table
                    .inner_join(users::table)
                    .filter(bots::id.eq(&id))
                    .select((bots::definition, UserRow::as_select()))
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    /// Forgets a definition; its user stays, so its old messages keep their sender.
    pub async fn delete_bot(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                Ok(diesel::delete(bots::table.find(&id)).execute(conn).await? > 0)
            })
        })
        .await
    }

    /// Where the conversation in this bot room is in its script.
    pub async fn bot_state(&self, room_id: RoomId) -> Result<Option<String>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(bot_states::table
                    .find(room_id)
                    .select(bot_states::state)
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    pub async fn set_bot_state(&self, room_id: RoomId, state: &str) -> Result<(), StoreError> {
        let state = state.to_string();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let now = crate::clock::now_ms();
                diesel::insert_into(bot_states::table)
                    .values((
                        bot_states::room_id.eq(room_id),
                        bot_states::state.eq(&state),
                        bot_states::updated_ms.eq(now),
                    ))
                    .on_conflict(bot_states::room_id)
                    .do_update()
                    .set((bot_states::state.eq(&state), bot_states::updated_ms.eq(now)))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }
}
