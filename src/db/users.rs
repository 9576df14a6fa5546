//! The store's part for users and their tokens (kept only as hashes): creating users (a
//! JWT's new user: `db::names`), the directory, deactivation, and tokens with ids.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::*;
use super::safety::{AuditEntry, Moderate, Moderation};
use super::schema::{devices, members, tokens, users};
use super::store::{hash_token, new_token, Store};
use crate::model::{UserId, UserRef};
use crate::{with_conn, write_conn};

impl Store {
    pub async fn create_user(
        &self,
        name: &str,
        kind: UserKind,
        handle: Option<&str>,
    ) -> Result<UserRow, StoreError> {
        if kind == UserKind::User {
            if let Some(whose) = self.imitated_by(name).await? {
                return Err(StoreError::Conflict(format!(
                    "the name {name:?} is kept: it reads as {whose}"
                )));
            }
        }
        let name = name.to_string();
        let handle = handle.map(str::to_string);
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let inserted = diesel::insert_into(users::table)
                    .values(NewUser {
                        name: &name,
                        kind,
                        handle: handle.as_deref(),
                        created_ms: crate::clock::now_ms(),
                        name_key: name_key(&name),
                        external_sub: None,
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

    pub async fn user(&self, id: UserId) -> Result<Option<UserRow>, StoreError> {
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

    /// The user a reference names (`u_N`, or a bot's handle): the one place a reference
    /// from a client, an admin path or the command line becomes a user. Never the system
    /// user, never a deactivated user; callers that want people only check the kind.
    pub async fn user_by_ref(&self, user: &UserRef) -> Result<Option<UserRow>, StoreError> {
        let user = user.clone();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let active = users::table
                    .filter(users::kind.ne(UserKind::System))
                    .filter(users::deactivated_ms.is_null())
                    .select(UserRow::as_select());
                let found = match &user {
                    UserRef::Id(id) => active.filter(users::id.eq(*id)).first(conn).await,
                    UserRef::Handle(handle) => {
                        active.filter(users::handle.eq(handle)).first(conn).await
                    }
                };
                Ok(found.optional()?)
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
                    .filter(users::kind.ne(UserKind::System))
                    .filter(users::deactivated_ms.is_null())
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
    pub async fn issue_token(&self, user_id: UserId) -> Result<IssuedToken, StoreError> {
        let token = new_token();
        let hash = hash_token(&token);
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let exists = users::table
                    .find(user_id)
                    .filter(users::deactivated_ms.is_null())
                    .select(users::id)
                    .first::<i64>(conn)
                    .await
                    .optional()?;
                if exists.is_none() {
                    return Err(StoreError::NotFound("user"));
                }
                Ok(diesel::insert_into(tokens::table)
                    .values(NewToken {
                        user_id,
                        token_hash: &hash,
                        created_ms: crate::clock::now_ms(),
                    })
                    .returning(tokens::id)
                    .get_result::<i64>(conn)
                    .await?)
            })
        })
        .await
        .map(|id| IssuedToken { id, token })
    }

    /// The active user a token belongs to, and the token's id.
    pub async fn signed_in(&self, token: &str) -> Result<Option<(UserRow, i64)>, StoreError> {
        let hash = hash_token(token);
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(tokens::table
                    .inner_join(users::table)
                    .filter(tokens::token_hash.eq(&hash))
                    .filter(users::deactivated_ms.is_null())
                    .select((UserRow::as_select(), tokens::id))
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    /// The user's tokens: id and creation time (ms), oldest first; never the secret.
    pub async fn tokens_of(&self, user_id: UserId) -> Result<Vec<(i64, i64)>, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(tokens::table
                    .filter(tokens::user_id.eq(user_id))
                    .order(tokens::id.asc())
                    .select((tokens::id, tokens::created_ms))
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Deletes one token of the user; `NotFound` when the user has no such token.
    pub async fn revoke_token(&self, user_id: UserId, token_id: i64) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                let deleted = diesel::delete(
                    tokens::table
                        .filter(tokens::id.eq(token_id))
                        .filter(tokens::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                if deleted == 0 {
                    return Err(StoreError::NotFound("token"));
                }
                Ok(())
            })
        })
        .await
    }

    /// Deactivates a person: marks them, and deletes every token. Their rows (messages,
    /// memberships) stay. `NotFound` when there is no such active person. Audited as
    /// `deactivate` by the admin API.
    pub async fn deactivate_user(&self, user_id: UserId) -> Result<(), StoreError> {
        let audit = AuditEntry::admin("deactivate").target(user_id.to_string());
        self.deactivate_user_with(user_id, Moderation::audit(audit))
            .await
    }

    /// [`Store::deactivate_user`], writing `moderation` in the same transaction.
    pub async fn deactivate_user_with(
        &self,
        user_id: UserId,
        moderation: Moderation,
    ) -> Result<(), StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<(), StoreError, _>(async move |conn| {
                    let updated = diesel::update(
                        users::table
                            .find(user_id)
                            .filter(users::kind.eq(UserKind::User))
                            .filter(users::deactivated_ms.is_null()),
                    )
                    .set(users::deactivated_ms.eq(crate::clock::now_ms()))
                    .execute(conn)
                    .await?;
                    if updated == 0 {
                        return Err(StoreError::NotFound("user"));
                    }
                    diesel::delete(tokens::table.filter(tokens::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    // Nothing reaches a deactivated user's phone or browser any more.
                    diesel::delete(devices::table.filter(devices::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    conn.record(moderation).await?;
                    Ok(())
                })
                .await
            })
        })
        .await
    }

    /// Whether the user is deactivated (false for unknown ids).
    pub async fn is_deactivated(&self, user_id: UserId) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .find(user_id)
                    .select(users::deactivated_ms)
                    .first::<Option<i64>>(conn)
                    .await
                    .optional()?
                    .flatten()
                    .is_some())
            })
        })
        .await
    }

    /// One page of the directory (docs/protocol.md section 10): active people, and the bots
    /// among `bot_ids` (those `open_bot` can open), whose name starts with `prefix`
    /// (case-insensitive, taken literally), in name order, after the user `after` names;
    /// `limit` at most. One query, the same on both backends: the keyset is
    /// (`name_key`, `id`), which the index `users_by_name_key` covers.
    pub async fn directory(
        &self,
        prefix: &str,
        after: Option<DirectoryAfter>,
        bot_ids: Vec<UserId>,
        people: People,
        limit: i64,
    ) -> Result<DirectoryPage, StoreError> {
        let pattern = format!("{}%", escape_like(&name_key(prefix)));
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let after_key = match after {
                    None => None,
                    Some(cursor) => {
                        let listed = users::table
                            .filter(
                                users::kind
                                    .eq(UserKind::User)
                                    .or(users::kind.eq(UserKind::Bot)),
                            )
                            .select((users::name_key, users::id))
                            .into_boxed();
                        let found = match cursor {
                            DirectoryAfter::Id(id) => listed.filter(users::id.eq(id)),
                            DirectoryAfter::Handle(handle) => listed.filter(users::handle.eq(handle)),
                        }
                        .first::<(Option<String>, i64)>(conn)
                        .await
                        .optional()?;
                        match found {
                            Some((key, id)) => Some((key.unwrap_or_default(), id)),
                            None => return Ok(DirectoryPage::UnknownCursor),
                        }
                    }
                };
                let mut query = users::table
                    .filter(users::deactivated_ms.is_null())
                    .filter(users::name_key.like(pattern).escape('\\'))
                    .into_boxed();
                let bots = users::kind.eq(UserKind::Bot).and(users::id.eq_any(bot_ids));
                query = match people {
                    People::All => query.filter(users::kind.eq(UserKind::User).or(bots)),
                    People::SharingRoomWith(caller) => {
                        let (mine, theirs) = diesel::alias!(members as mine, members as theirs);
                        let sharing = mine
                            .inner_join(
                                theirs.on(theirs
                                    .field(members::room_id)
                                    .eq(mine.field(members::room_id))),
                            )
                            .filter(mine.field(members::user_id).eq(caller))
                            .select(theirs.field(members::user_id));
                        query.filter(
                            users::kind
                                .eq(UserKind::User)
                                .and(users::id.eq_any(sharing).or(users::id.eq(caller)))
                                .or(bots),
                        )
                    }
                    People::None => query.filter(bots),
                };
                if let Some((key, id)) = after_key {
                    query = query.filter(
                        users::name_key
                            .gt(key.clone())
                            .or(users::name_key.eq(key).and(users::id.gt(id))),
                    );
                }
                // One more than the page: whether there is a next page.
                let mut users: Vec<UserRow> = query
                    .order((users::name_key.asc(), users::id.asc()))
                    .limit(limit.saturating_add(1))
                    .select(UserRow::as_select())
                    .load(conn)
                    .await?;
                let more = users.len() as i64 > limit;
                users.truncate(usize::try_from(limit).unwrap_or(0));
                Ok(DirectoryPage::Page { users, more })
            })
        })
        .await
    }

    /// Whether `a` and `b` are members of one room together.
    pub async fn share_a_room(&self, a: UserId, b: UserId) -> Result<bool, StoreError> {
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                let (mine, theirs) = diesel::alias!(members as mine, members as theirs);
                let count: i64 = mine
                    .inner_join(
                        theirs.on(theirs
                            .field(members::room_id)
                            .eq(mine.field(members::room_id))),
                    )
                    .filter(mine.field(members::user_id).eq(a))
                    .filter(theirs.field(members::user_id).eq(b))
                    .count()
                    .get_result(conn)
                    .await?;
                Ok(count > 0)
            })
        })
        .await
    }

    /// Deletes every token of the user, and their devices (signed out everywhere, notified
    /// nowhere); returns how many tokens there were.
    pub async fn revoke_tokens(&self, user_id: UserId) -> Result<usize, StoreError> {
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<usize, StoreError, _>(async move |conn| {
                    let revoked = diesel::delete(tokens::table.filter(tokens::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    diesel::delete(devices::table.filter(devices::user_id.eq(user_id)))
                        .execute(conn)
                        .await?;
                    Ok(revoked)
                })
                .await
            })
        })
        .await
    }
}

/// Which people a directory page lists (`--directory`, section 13); bots are listed as
/// `bot_ids` says whatever this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum People {
    All,
    /// The caller and the people who share a room with them.
    SharingRoomWith(UserId),
    None,
}

/// Where a directory page starts: after the user with this row id, or the bot with this
/// handle (the wire id of the previous page's last entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryAfter {
    Id(UserId),
    Handle(String),
}

/// What [`Store::directory`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DirectoryPage {
    /// Up to `limit` users, and whether more follow.
    Page { users: Vec<UserRow>, more: bool },
    /// `after` names no user or bot: it is not a `next` this server gave.
    UnknownCursor,
}

/// A token as it is issued: its id (`t_N` on the wire) and the secret, shown this once.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    pub id: i64,
    pub token: String,
}

pub use crate::model::names::MAX_USER_NAME;

/// The directory's key of a name: folded to lower case, Unicode-aware, the same on both
/// backends (SQL's `lower` is ASCII-only on SQLite).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A LIKE pattern matching `text` literally (`\\` escapes).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_are_literal() {
        assert_eq!(super::escape_like("a%b_c\\"), "a\\%b\\_c\\\\");
        assert_eq!(super::name_key("ÉMILE"), "émile");
    }
}
