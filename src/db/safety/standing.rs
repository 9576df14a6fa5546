//! The store's part of roles, mutes and bans in groups (docs/safety.md): a member's
//! [`Standing`] (their stored role and mute) as a room loads it, and [`Store::sanction`],
//! the one transaction of a `kick`, `set_role`, `mute` or `ban` by a member. It takes the
//! room row's lock (as the group commit and membership changes do), reads both people's
//! standing under it, decides with [`crate::safety::roles::may`], makes the change, moves
//! the room's `authz_version` on (so every node reloads, `db/authz.rs`) and writes the
//! audit entry, all or nothing. Bans are read by `Store::add_member` (`db/rooms.rs`), mutes
//! by the group commit (`db/sender_checks.rs`) and by edits and reactions
//! (`db/conversation/changes.rs`).

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::json;

use super::super::authz::RoomChanges;
use super::super::error::StoreError;
use super::super::models::RoomKind;
use super::super::schema::{bans, members, rooms};
use super::super::seq::RoomSeqs;
use super::super::store::Store;
use super::audit::AuditEntry;
use super::moderation::{Moderate, Moderation};
use crate::model::{RoomId, UserId};
use crate::safety::roles::{may, Act, Denied, MuteMinutes, Role};
use crate::write_conn;

/// What a member's role and mute are, as stored on the membership (the owner's role is the
/// room's `owner_id`: see [`Role::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// `Member` or `Moderator`.
    pub role: Role,
    /// Muted until then (ms); a past time is no mute.
    pub muted_until: Option<i64>,
}

impl Default for Standing {
    fn default() -> Standing {
        Standing {
            role: Role::Member,
            muted_until: None,
        }
    }
}

impl Standing {
    /// Whether it differs from a plain member's who was never muted (the room keeps only
    /// those).
    pub fn is_default(&self) -> bool {
        *self == Standing::default()
    }

    /// From the stored columns; an unknown role is a row this server cannot read.
    pub fn stored(role: &str, muted_until: Option<i64>) -> Result<Standing, StoreError> {
        let role = Role::stored(role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown stored member role {role:?}")))?;
        Ok(Standing { role, muted_until })
    }
}

/// A moderation act by a member on another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sanction {
    Kick,
    SetRole(Role),
    Mute(MuteMinutes),
    /// `on`: ban (and remove, when a member); off: lift the ban.
    Ban(bool),
}

impl Sanction {
    pub fn act(self) -> Act {
        match self {
            Sanction::Kick => Act::Kick,
            Sanction::SetRole(_) => Act::SetRole,
            Sanction::Mute(_) => Act::Mute,
            Sanction::Ban(_) => Act::Ban,
        }
    }

    /// The audit entry's action and detail.
    fn audit(self, muted_until: Option<i64>) -> (&'static str, serde_json::Value) {
        match self {
            Sanction::Kick => ("kick", json!({})),
            Sanction::SetRole(role) => ("set_role", json!({ "role": role.as_str() })),
            Sanction::Mute(minutes) => (
                "mute",
                json!({
                    "minutes": minutes.get(),
                    "until": muted_until.map(crate::clock::rfc3339_ms),
                }),
            ),
            Sanction::Ban(on) => ("ban", json!({ "on": on })),
        }
    }
}

/// What a sanction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sanctioned {
    /// The target was a member and is no longer (a kick, a ban).
    pub removed: bool,
    /// The target's standing now, when they are (still) a member.
    pub standing: Option<Standing>,
}

/// Why a sanction was refused, in terms `error.rs` maps to codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SanctionError {
    /// `bad_request`: roles, mutes and bans exist only in groups.
    #[error("roles, mutes, bans and kicks exist only in groups; direct and bot rooms have none")]
    NotGroup,
    /// `not_found`: the person acted on is not a member (a ban needs none).
    #[error("no such member in this room")]
    NoSuchMember,
    /// `forbidden` (`bad_request` for acting on oneself): the rule said no.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The room is gone, the actor is no member, or the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for SanctionError {
    fn from(err: diesel::result::Error) -> Self {
        SanctionError::Store(err.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for SanctionError {
    fn from(err: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        SanctionError::Store(err.into())
    }
}

impl From<crate::db::sqlite::SqliteUnavailable> for SanctionError {
    fn from(err: crate::db::sqlite::SqliteUnavailable) -> Self {
        SanctionError::Store(err.into())
    }
}

impl Store {
    /// `actor` does `sanction` to `target` in the group `room`: checked, applied, the
    /// room's `authz_version` moved on and the audit entry written in one transaction.
    /// Refused (changing nothing) when the room is no group, the actor no member, the rule
    /// says no, or the target is no member (except for a ban).
    pub async fn sanction(
        &self,
        room: RoomId,
        actor: UserId,
        target: UserId,
        sanction: Sanction,
    ) -> Result<Sanctioned, SanctionError> {
        self.run(move |db| async move {
            Ok(write_conn!(&*db, conn => {
                conn.transaction::<Sanctioned, SanctionError, _>(async move |conn| {
                    if conn.lock_rooms(&[room]).await?.is_empty() {
                        return Err(StoreError::NotFound("room").into());
                    }
                    let (kind, owner, public) = rooms::table
                        .find(room)
                        .select((rooms::kind, rooms::owner_id, rooms::public))
                        .first::<(RoomKind, Option<UserId>, bool)>(conn)
                        .await?;
                    if kind != RoomKind::Group {
                        return Err(SanctionError::NotGroup);
                    }
                    let standing = |user: UserId| {
                        members::table
                            .find((room, user))
                            .select((members::role, members::muted_until_ms))
                    };
                    let Some((role, muted)) = standing(actor)
                        .first::<(String, Option<i64>)>(conn)
                        .await
                        .optional()?
                    else {
                        return Err(StoreError::NotMember {
                            public_group: public,
                        }
                        .into());
                    };
                    let actor_role = Role::of(actor, owner, Standing::stored(&role, muted)?.role);
                    let found = standing(target)
                        .first::<(String, Option<i64>)>(conn)
                        .await
                        .optional()?;
                    let before = match &found {
                        Some((role, muted)) => Some(Standing::stored(role, *muted)?),
                        None => None,
                    };
                    let target_role =
                        Role::of(target, owner, before.map_or(Role::Member, |s| s.role));
                    may(actor_role, sanction.act(), target_role, actor == target)?;
                    let Some(before) = before.or(match sanction {
                        Sanction::Ban(_) => Some(Standing::default()),
                        _ => None,
                    }) else {
                        return Err(SanctionError::NoSuchMember);
                    };
                    let member = members::table
                        .filter(members::room_id.eq(room))
                        .filter(members::user_id.eq(target));
                    let now = crate::clock::now_ms();
                    let mut muted_until = None;
                    let mut outcome = Sanctioned {
                        removed: false,
                        standing: found.is_some().then_some(before),
                    };
                    match sanction {
                        Sanction::Kick => {
                            outcome.removed = diesel::delete(member).execute(conn).await? > 0;
                            outcome.standing = None;
                        }
                        Sanction::SetRole(role) => {
                            diesel::update(member)
                                .set(members::role.eq(role.as_str()))
                                .execute(conn)
                                .await?;
                            outcome.standing = Some(Standing { role, ..before });
                        }
                        Sanction::Mute(minutes) => {
                            muted_until = minutes.until(now);
                            diesel::update(member)
                                .set(members::muted_until_ms.eq(muted_until))
                                .execute(conn)
                                .await?;
                            outcome.standing = Some(Standing {
                                muted_until,
                                ..before
                            });
                        }
                        Sanction::Ban(true) => {
                            diesel::insert_into(bans::table)
                                .values((
                                    bans::room_id.eq(room),
                                    bans::user_id.eq(target),
                                    bans::by_id.eq(Some(actor)),
                                    bans::created_ms.eq(now),
                                ))
                                .on_conflict_do_nothing()
                                .execute(conn)
                                .await?;
                            outcome.removed = diesel::delete(member).execute(conn).await? > 0;
                            outcome.standing = None;
                        }
                        Sanction::Ban(false) => {
                            diesel::delete(
                                bans::table
                                    .filter(bans::room_id.eq(room))
                                    .filter(bans::user_id.eq(target)),
                            )
                            .execute(conn)
                            .await?;
                        }
                    }
                    // A lifted ban changes nothing a node keeps about the room.
                    if sanction != Sanction::Ban(false) {
                        conn.room_changed(room).await?;
                    }
                    let (action, detail) = sanction.audit(muted_until);
                    let entry = AuditEntry::admin(action)
                        .by(Some(actor))
                        .room(room)
                        .target(target.to_string())
                        .detail(detail);
                    conn.record(Moderation::audit(entry)).await?;
                    Ok(outcome)
                })
                .await
            }))
        })
        .await?
    }
}
