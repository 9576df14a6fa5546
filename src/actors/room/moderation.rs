//! A group's moderation in the room (docs/safety.md): members' roles and mutes as the room's
//! copy holds them ([`Room::role_of`], the member entries of `join`), the early refusal of a
//! muted member's `send`, `edit`, `react` and `typing` ([`Room::require_voice`]), and the
//! member commands `kick`, `set_role`, `mute` and `ban` ([`Room::sanction`]). The copy only
//! refuses early: the store decides each act in its own transaction (`Store::sanction`), and
//! the group commit refuses a muted sender whatever the copy says. A change made here is
//! told as `member_updated` to this node's joined connections and to the member's own
//! connections everywhere; the other nodes reload and tell theirs (`authz.rs`).

use std::collections::{HashMap, HashSet};

use actix::prelude::*;

use super::answer::{ready, Answer};
use super::authz::Behind;
use super::in_turn::in_turn;
use super::{Access, Room, State};
use crate::actors::messages::{Caller, NotifyUser, Reply};
use crate::db::models::{RoomKind, UserRow};
use crate::db::safety::{Sanction, SanctionError, Sanctioned, Standing};
use crate::db::StoreError;
use crate::error::ProtoError;
use crate::model::UserId;
use crate::protocol::views::MemberView;
use crate::protocol::{frames, Event};
use crate::safety::roles::{may, muted_at, Role};

impl Room {
    /// The member's role in a group (`None` in a direct or bot room, or for a non-member).
    pub(super) fn role_of(&self, user_id: UserId) -> Option<Role> {
        let loaded = self.loaded()?;
        if loaded.kind != RoomKind::Group || !loaded.members.contains_key(&user_id) {
            return None;
        }
        Some(Role::of(
            user_id,
            loaded.row.owner_id,
            self.standing(user_id).role,
        ))
    }

    fn standing(&self, user_id: UserId) -> Standing {
        self.loaded()
            .and_then(|loaded| loaded.standings.get(&user_id).copied())
            .unwrap_or_default()
    }

    /// Until when (ms) the member is muted now, if they are.
    fn muted_until(&self, user_id: UserId) -> Option<i64> {
        self.standing(user_id)
            .muted_until
            .filter(|until| muted_at(Some(*until), crate::clock::now_ms()))
    }

    /// A member's entry in `members`: in a group, with their role and mute.
    pub(super) fn member_view(&self, user: &UserRow) -> MemberView {
        let role = self.role_of(user.id);
        MemberView {
            user: self.user_view(user),
            role,
            muted_until: role.map(|_| self.muted_until(user.id).map(crate::clock::rfc3339_ms)),
        }
    }

    /// A muted member may not send, edit, react or type until the mute ends (`forbidden`,
    /// saying until when). The group commit checks again in the store.
    pub(super) fn require_voice(&self, user_id: UserId) -> Result<(), ProtoError> {
        match self.muted_until(user_id) {
            Some(until) => Err(ProtoError::from(StoreError::Muted(until))),
            None => Ok(()),
        }
    }

    /// `kick`, `set_role`, `mute` or `ban` by a member: refused early by the room's copy
    /// where it can be, then decided, made and audited by the store; then told.
    pub(super) fn sanction(
        &mut self,
        caller: Caller,
        user: UserRow,
        sanction: Sanction,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        match self.access(caller.user.id) {
            Access::Hidden => return ready(Err(ProtoError::no_such_room())),
            Access::Outsider => {
                return ready(Err(ProtoError::forbidden(
                    "join the group before you moderate it",
                )))
            }
            Access::Member => {}
        }
        if self.loaded().map(|loaded| loaded.kind) != Some(RoomKind::Group) {
            return ready(Err(SanctionError::NotGroup.into()));
        }
        if let Some(actor) = self.role_of(caller.user.id) {
            let target = self.role_of(user.id).unwrap_or(Role::of(
                user.id,
                self.loaded().and_then(|loaded| loaded.row.owner_id),
                Role::Member,
            ));
            if let Err(denied) = may(actor, sanction.act(), target, caller.user.id == user.id) {
                return ready(Err(denied.into()));
            }
        }
        let store = self.store.clone();
        let (id, actor, target) = (self.id, caller.user.id, user.id);
        in_turn(
            ctx,
            async move { store.sanction(id, actor, target, sanction).await },
            move |done, room, ctx| match done {
                Ok(done) => {
                    room.sanctioned(user, sanction, done, ctx);
                    Ok(Reply::Data(frames::empty()))
                }
                Err(err) => {
                    match &err {
                        SanctionError::Store(err) => room.refused_by_store(err, ctx),
                        // The copy let through what the store's rule refused: it is behind.
                        SanctionError::Denied(_) => room.reload(Behind::Found, ctx),
                        SanctionError::NoSuchMember if room.access(target) == Access::Member => {
                            room.reload(Behind::Found, ctx)
                        }
                        SanctionError::NoSuchMember | SanctionError::NotGroup => {}
                    }
                    Err(err.into())
                }
            },
        )
    }

    /// Applies to the copy what the store did, and tells it.
    fn sanctioned(
        &mut self,
        user: UserRow,
        sanction: Sanction,
        done: Sanctioned,
        ctx: &mut Context<Self>,
    ) {
        let user_id = user.id;
        if done.removed {
            self.member_removed(user_id, None);
            return;
        }
        let in_copy = self
            .loaded()
            .is_some_and(|loaded| loaded.members.contains_key(&user_id));
        match (done.standing, in_copy) {
            (Some(standing), true) => {
                if matches!(sanction, Sanction::SetRole(_) | Sanction::Mute(_)) {
                    self.set_standing(user_id, standing);
                    self.share_change();
                    self.member_updated(&user, true);
                }
            }
            // The copy and the store disagree on who is a member: the copy is behind.
            (Some(_), false) => self.reload(Behind::Found, ctx),
            (None, true) => self.reload(Behind::Found, ctx),
            (None, false) => {}
        }
    }

    fn set_standing(&mut self, user_id: UserId, standing: Standing) {
        if let State::Live(loaded) = &mut self.state {
            if standing.is_default() {
                loaded.standings.remove(&user_id);
            } else {
                loaded.standings.insert(user_id, standing);
            }
        }
    }

    /// `member_updated` of `user` as the copy has them, to this node's joined connections
    /// of other users, and when `to_member`, to the member's own connections on every node.
    fn member_updated(&mut self, user: &UserRow, to_member: bool) {
        let Some(role) = self.role_of(user.id) else {
            return;
        };
        let frame = Event::MemberUpdated {
            room: self.id.to_string(),
            user: self.user_view(user),
            role,
            muted_until: self.muted_until(user.id).map(crate::clock::rfc3339_ms),
        }
        .frame();
        let user_id = user.id;
        self.broadcast(&frame, |_, subscriber| subscriber.user_id != user_id);
        if to_member {
            self.supervisor.notify.do_send(NotifyUser {
                user_id,
                except: None,
                frame,
            });
        }
    }

    /// After a reload: the members whose role or mute changed on another node are told to
    /// this node's joined connections (the node that made the change told the member's).
    pub(super) fn standings_reloaded(
        &mut self,
        old: &HashMap<UserId, Standing>,
        old_owner: Option<UserId>,
        joined: &HashSet<UserId>,
    ) {
        let Some(loaded) = self.loaded() else {
            return;
        };
        if loaded.kind != RoomKind::Group {
            return;
        }
        let owner = loaded.row.owner_id;
        let mut changed: Vec<UserRow> = loaded
            .members
            .values()
            // A member who just joined is told as `member_joined`.
            .filter(|member| !joined.contains(&member.user.id))
            .filter(|member| {
                let id = member.user.id;
                let (before, now) = (old.get(&id).copied().unwrap_or_default(), self.standing(id));
                Role::of(id, old_owner, before.role) != Role::of(id, owner, now.role)
                    || before.muted_until != now.muted_until
            })
            .map(|member| member.user.clone())
            .collect();
        changed.sort_by_key(|user| user.id);
        for user in changed {
            self.member_updated(&user, false);
        }
    }
}
