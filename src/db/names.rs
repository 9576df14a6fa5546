//! Names as the store keeps them (docs/auth.md, "Names"): a person's name is unique and may
//! not read as the system's or a bot's name or id; and the name a JWT's new user gets, which
//! never fails: the name asked for, or `name (2)` … `name (9)`, or `name (u_N)` with the new
//! user's own id, which no one else can hold (`model::names` keeps that form to the
//! server).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::*;
use super::schema::users;
use super::store::Store;
use super::users::{name_key, MAX_USER_NAME};
use crate::model::names::look_alike;
use crate::{with_conn, write_conn};

/// Numbered names tried for a JWT's new user before the one with its id: `amy (2)` …
const NUMBERED: usize = 9;

/// What a new user's name is set to until its id is known: no name can hold U+0001, and the
/// `sub` is unique.
fn placeholder(sub: &str) -> String {
    format!("\u{1}{sub}")
}

impl Store {
    /// Whose name or id `name` reads as ([`look_alike`]): the system's or a bot's; `None`
    /// when it is free of them.
    pub async fn imitated_by(&self, name: &str) -> Result<Option<String>, StoreError> {
        let key = look_alike(name);
        let kept: Vec<(String, Option<String>, UserKind)> = self
            .run(move |db| async move {
                with_conn!(&*db, conn => {
                    Ok(users::table
                        .filter(users::kind.ne(UserKind::User))
                        .select((users::name, users::handle, users::kind))
                        .load(conn)
                        .await?)
                })
            })
            .await?;
        Ok(kept.into_iter().find_map(|(kept_name, handle, kind)| {
            let reads_as = look_alike(&kept_name) == key
                || handle
                    .as_deref()
                    .is_some_and(|handle| look_alike(handle) == key);
            reads_as.then(|| match kind {
                UserKind::System => "the system's name".to_string(),
                _ => format!("the bot {}'s name", handle.unwrap_or(kept_name)),
            })
        }))
    }

    /// The user a JWT's `sub` made, and whether they were deactivated.
    pub async fn user_by_sub(&self, sub: &str) -> Result<Option<(UserRow, bool)>, StoreError> {
        let sub = sub.to_string();
        self.run(move |db| async move {
            with_conn!(&*db, conn => {
                Ok(users::table
                    .filter(users::external_sub.eq(&sub))
                    .select((UserRow::as_select(), users::deactivated_ms))
                    .first::<(UserRow, Option<i64>)>(conn)
                    .await
                    .optional()?
                    .map(|(user, deactivated)| (user, deactivated.is_some())))
            })
        })
        .await
    }

    /// The user a JWT's `sub` names, made on first sight and named after `name` (already
    /// checked with `model::names`): `name`, or `name (2)` … `name (9)` when it is taken,
    /// or else `name (u_N)` with the user's own id, and whether this call made them. `None`:
    /// the user exists and was deactivated. Calls racing for one `sub` get the same user.
    pub async fn user_for_sub(
        &self,
        sub: &str,
        name: &str,
    ) -> Result<Option<(UserRow, bool)>, StoreError> {
        let (sub, name) = (sub.to_string(), name.to_string());
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<Option<(UserRow, bool)>, StoreError, _>(async move |conn| {
                    let mut attempt = 1;
                    loop {
                        let found = users::table
                            .filter(users::external_sub.eq(&sub))
                            .select((UserRow::as_select(), users::deactivated_ms))
                            .first::<(UserRow, Option<i64>)>(conn)
                            .await
                            .optional()?;
                        if let Some((user, deactivated)) = found {
                            return Ok(deactivated.is_none().then_some((user, false)));
                        }
                        let candidate = if attempt <= NUMBERED {
                            numbered(&name, &attempt.to_string())
                        } else {
                            placeholder(&sub)
                        };
                        // Nothing when the name is taken or the `sub` was made a user
                        // meanwhile: the loop then looks the `sub` up again.
                        let inserted = diesel::insert_into(users::table)
                            .values(NewUser {
                                name: &candidate,
                                kind: UserKind::User,
                                handle: None,
                                created_ms: crate::clock::now_ms(),
                                name_key: name_key(&candidate),
                                external_sub: Some(&sub),
                            })
                            .on_conflict_do_nothing()
                            .returning(UserRow::as_returning())
                            .get_result(conn)
                            .await
                            .optional()?;
                        match inserted {
                            Some(user) if attempt <= NUMBERED => return Ok(Some((user, true))),
                            Some(user) => {
                                let named = numbered(&name, &user.id.to_string());
                                let user = diesel::update(users::table.find(user.id))
                                    .set((
                                        users::name.eq(&named),
                                        users::name_key.eq(name_key(&named)),
                                    ))
                                    .returning(UserRow::as_returning())
                                    .get_result(conn)
                                    .await?;
                                return Ok(Some((user, true)));
                            }
                            None if attempt <= NUMBERED => attempt += 1,
                            None => {
                                // The placeholder was refused: only a racing call for this
                                // `sub` can have made it; it is found on the next look-up.
                                attempt += 1;
                                if attempt > NUMBERED + 3 {
                                    return Err(StoreError::Unavailable(format!(
                                        "no name could be stored for the JWT sub {sub:?}"
                                    )));
                                }
                            }
                        }
                    }
                })
                .await
            })
        })
        .await
    }
}

/// `name` for the first attempt (`number` "1"), then `name (number)`, cut so that it stays
/// within [`MAX_USER_NAME`].
pub(super) fn numbered(name: &str, number: &str) -> String {
    if number == "1" {
        return name.to_string();
    }
    let suffix = format!(" ({number})");
    let room = MAX_USER_NAME.saturating_sub(suffix.chars().count());
    let base: String = name.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_stay_within_the_limit() {
        assert_eq!(numbered("amy", "1"), "amy");
        assert_eq!(numbered("amy", "2"), "amy (2)");
        assert_eq!(numbered("amy", "u_731"), "amy (u_731)");
        let long = "x".repeat(64);
        assert_eq!(numbered(&long, "u_12345678").chars().count(), 64);
        assert!(crate::model::names::user_name(&numbered("amy", "u_7")).is_err());
    }
}
