//! The store's part for users and their tokens (kept only as hashes).

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::error::StoreError;
use super::models::*;
use super::schema::{tokens, users};
use super::store::{hash_token, new_token, Store};
use crate::{with_conn, write_conn};

impl Store {
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
}
