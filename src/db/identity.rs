//! Users known by the id another system gives them (a JWT's `sub`, docs/auth.md): found or
//! made, by a JWT sign-in or ahead of it by `PUT /admin/users/external/{sub}`, and renamed
//! when that system's name for them changes. Both paths go through [`Store::user_for_identity`],
//! so a user made ahead of time is the one the first sign-in finds, named by the same rules.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use super::error::StoreError;
use super::models::*;
use super::names::numbered;
use super::schema::users;
use super::store::Store;
use super::users::name_key;
use crate::model::names::cleaned_user_name;
use crate::model::UserId;
use crate::write_conn;

/// A new user's name when theirs cannot be used (nothing is left once cleaned, or it reads
/// as the system's or a bot's).
pub const FALLBACK_NAME: &str = "user";

/// Most names tried for a rename before the one with the user's own id (`amy`, `amy (2)` …).
const NUMBERED: usize = 9;

/// What [`Store::user_for_identity`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identified {
    /// Made by this call.
    Created(UserRow),
    /// There already, renamed if the name asked for changed.
    Found(UserRow),
    /// There, and deactivated: not signed in, not renamed.
    Deactivated,
}

impl Store {
    /// The user the external id `sub` (checked by the caller: 1 to 255 characters, no
    /// control character) names, with the display name `name` (a JWT's `name` claim, an
    /// admin's `name`), which is never refused: it is cleaned as docs/auth.md "Names" says.
    ///
    /// A new `sub` is made a user named `name` (without one: the `sub`), or [`FALLBACK_NAME`]
    /// when nothing is left of it or it reads as the system's or a bot's, numbered when taken.
    /// A known `sub` is renamed when `name` is given and differs from their name, unless
    /// their name is already that name numbered (`amy (2)` for `amy`: a name taken by someone
    /// else is not asked for again each time) or the new name cannot be used (then the
    /// name stays).
    pub async fn user_for_identity(
        &self,
        sub: &str,
        name: Option<&str>,
    ) -> Result<Identified, StoreError> {
        match self.user_by_sub(sub).await? {
            Some((_, true)) => Ok(Identified::Deactivated),
            Some((user, false)) => {
                let Some(wanted) = name.and_then(cleaned_user_name) else {
                    return Ok(Identified::Found(user));
                };
                if is_named(&user, &wanted) {
                    return Ok(Identified::Found(user));
                }
                if let Some(whose) = self.imitated_by(&wanted).await? {
                    log::info!(
                        "{}: the new name {wanted:?} reads as {whose}; the name stays {:?}",
                        user.id,
                        user.name
                    );
                    return Ok(Identified::Found(user));
                }
                let renamed = self.rename(user.id, &wanted).await?;
                if renamed.name != user.name {
                    log::info!(
                        "{} renamed from {:?} to {:?} (external id)",
                        user.id,
                        user.name,
                        renamed.name
                    );
                }
                Ok(Identified::Found(renamed))
            }
            None => {
                let name = self.new_name(sub, name).await?;
                Ok(match self.user_for_sub(sub, &name).await? {
                    Some((user, true)) => Identified::Created(user),
                    Some((user, false)) => Identified::Found(user),
                    None => Identified::Deactivated,
                })
            }
        }
    }

    /// The name a new `sub` asks for: `name`, else `sub`, cleaned; [`FALLBACK_NAME`] when
    /// nothing is left or it reads as the system's or a bot's.
    async fn new_name(&self, sub: &str, name: Option<&str>) -> Result<String, StoreError> {
        let cleaned = name
            .and_then(cleaned_user_name)
            .or_else(|| cleaned_user_name(sub));
        let Some(name) = cleaned else {
            return Ok(FALLBACK_NAME.into());
        };
        Ok(match self.imitated_by(&name).await? {
            Some(whose) => {
                log::info!(
                    "a new user's name {name:?} reads as {whose}; they are {FALLBACK_NAME:?}"
                );
                FALLBACK_NAME.into()
            }
            None => name,
        })
    }

    /// Renames the active person `user_id` after `name` (cleaned, free of look-alikes):
    /// `name`, or `name (2)` … `name (9)` when taken, or `name (u_N)` with their own id,
    /// which no one else can hold. Each try is a savepoint, so that a name taken meanwhile
    /// by another writer (PostgreSQL) only moves on to the next.
    async fn rename(&self, user_id: UserId, name: &str) -> Result<UserRow, StoreError> {
        let name = name.to_string();
        self.run(move |db| async move {
            write_conn!(&*db, conn => {
                conn.transaction::<UserRow, StoreError, _>(async move |conn| {
                    let numbers = (1..=NUMBERED)
                        .map(|n| n.to_string())
                        .chain([user_id.to_string()]);
                    for number in numbers {
                        let candidate = numbered(&name, &number);
                        let tried = conn
                            .transaction::<UserRow, diesel::result::Error, _>(async |conn| {
                                diesel::update(
                                    users::table
                                        .find(user_id)
                                        .filter(users::deactivated_ms.is_null()),
                                )
                                .set((
                                    users::name.eq(&candidate),
                                    users::name_key.eq(name_key(&candidate)),
                                ))
                                .returning(UserRow::as_returning())
                                .get_result(conn)
                                .await
                            })
                            .await;
                        match tried {
                            Ok(user) => return Ok(user),
                            Err(diesel::result::Error::DatabaseError(
                                diesel::result::DatabaseErrorKind::UniqueViolation,
                                _,
                            )) => continue,
                            Err(diesel::result::Error::NotFound) => {
                                return Err(StoreError::NotFound("user"))
                            }
                            Err(err) => return Err(err.into()),
                        }
                    }
                    Err(StoreError::Unavailable(format!(
                        "no name could be stored for {user_id}"
                    )))
                })
                .await
            })
        })
        .await
    }
}

/// Longest external id (a JWT's `sub`), in code points.
pub const MAX_SUB_CHARS: usize = 255;

/// Checks an external id as a JWT's `sub` is checked: 1 to [`MAX_SUB_CHARS`] characters, no
/// control character (it is stored: a U+0000 is text PostgreSQL cannot hold).
pub fn check_external_id(sub: &str) -> Result<(), String> {
    let chars = sub.chars().count();
    if chars == 0 || chars > MAX_SUB_CHARS || sub.chars().any(char::is_control) {
        return Err(format!(
            "an external id (`sub`) must be 1 to {MAX_SUB_CHARS} printable characters"
        ));
    }
    Ok(())
}

/// Whether `user` is named `wanted` already, or `wanted` numbered as a taken name is
/// (`amy (2)` … `amy (9)`, `amy (u_N)` with their id).
fn is_named(user: &UserRow, wanted: &str) -> bool {
    let own = user.id.to_string();
    user.name == wanted
        || (2..=NUMBERED).any(|n| user.name == numbered(wanted, &n.to_string()))
        || user.name == numbered(wanted, &own)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, name: &str) -> UserRow {
        UserRow {
            id: UserId(id),
            name: name.into(),
            kind: UserKind::User,
            handle: None,
            created_ms: 0,
        }
    }

    #[test]
    fn a_numbered_form_of_the_wanted_name_is_that_name() {
        assert!(is_named(&user(7, "amy"), "amy"));
        assert!(is_named(&user(7, "amy (2)"), "amy"));
        assert!(is_named(&user(7, "amy (9)"), "amy"));
        assert!(is_named(&user(7, "amy (u_7)"), "amy"));
        assert!(!is_named(&user(7, "amy (u_8)"), "amy"));
        assert!(!is_named(&user(7, "amy (10)"), "amy"));
        assert!(!is_named(&user(7, "amy pond"), "amy"));
        assert!(!is_named(&user(7, "Amy"), "amy"));
        let long = "x".repeat(64);
        assert!(is_named(&user(7, &numbered(&long, "3")), &long));
    }
}
