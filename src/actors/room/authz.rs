//! The room's copy of who may do what in it, brought back to the store's: [`Room::reload`]
//! reads the room (members, read positions, settings, its members' blocks, `authz_version`) again and applies the
//! difference: connections of users who are no longer members stop following the room, and
//! the joined connections hear `member_left`, `member_joined` and `member_updated` (a role or
//! mute, `moderation.rs`) for what changed. A room
//! reloads when another node says it changed (the bus's `RoomChanged`), after a Redis
//! reconnect (`Inbound::Resync`), when the hub's sweep finds its `authz_version` moved
//! ([`Recheck`], `actors/hub/authz.rs`), and when the store refused something the copy
//! allowed (a commit, `join`, `history` or `read` of a member who no longer is one).

use std::collections::HashMap;

use actix::prelude::*;

use super::{Member, Room, State};
use crate::db::models::{RoomKind, RoomSnapshot, UserRow};
use crate::db::StoreError;
use crate::model::UserId;
use crate::protocol::Event;
use crate::safety::blocks::Blocks;

/// From the hub's sweep: the room's `authz_version` in the store now (`None`: the room is
/// gone). A room whose copy is older reloads.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Recheck {
    pub version: Option<i64>,
}

/// From the hub: a change made outside the room (a block) moved its `authz_version`; it
/// reads itself again.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Reload;

impl Handler<Reload> for Room {
    type Result = ();

    fn handle(&mut self, _: Reload, ctx: &mut Context<Self>) {
        if self.loaded().is_some() {
            self.reload(Behind::Found, ctx);
        }
    }
}

/// How a room learned that its copy may be behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Behind {
    /// Another node said so on the bus; it tells the user's connections `room_removed`
    /// itself.
    Told,
    /// This node found out by itself (a sweep, a reconnect, a refusal): nothing else tells
    /// a removed user's connections here that they were removed.
    Found,
}

impl Handler<Recheck> for Room {
    type Result = ();

    fn handle(&mut self, recheck: Recheck, ctx: &mut Context<Self>) {
        let Some(loaded) = self.loaded() else {
            return;
        };
        if recheck.version != Some(loaded.authz_version) {
            self.reload(Behind::Found, ctx);
        }
    }
}

impl Room {
    /// Whether the room is a public group (whose outsiders may see it and join).
    pub(super) fn is_public_group(&self) -> bool {
        self.loaded()
            .is_some_and(|loaded| loaded.kind == RoomKind::Group && loaded.row.public)
    }

    /// After the store refused what the room's copy allowed: the copy is behind.
    pub(super) fn refused_by_store(&mut self, err: &StoreError, ctx: &mut Context<Self>) {
        if matches!(
            err,
            StoreError::NotMember { .. }
                | StoreError::Deactivated
                | StoreError::Blocked
                | StoreError::Muted(_)
        ) {
            self.reload(Behind::Found, ctx);
        }
    }

    /// Reads the room from the store again and applies what changed; holds the room up
    /// meanwhile, so nothing is decided on the old copy once the reload has begun.
    pub(super) fn reload(&mut self, behind: Behind, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let id = self.id;
        ctx.wait(
            async move { store.load_room(id).await }
                .into_actor(self)
                .map(move |loaded, room, ctx| match loaded {
                    Ok(None) => {
                        room.state = State::Missing;
                        room.subscribers.clear();
                    }
                    Ok(Some(snapshot)) => {
                        let last_seq = snapshot.last_seq;
                        room.apply_reload(snapshot, behind);
                        room.posting.committed_upto(last_seq);
                        room.fill_gap(ctx);
                    }
                    Err(err) => {
                        // The next sweep (or the next change) reads it again.
                        log::warn!("room {id}: cannot reload its members: {err}");
                    }
                }),
        );
    }

    fn apply_reload(&mut self, snapshot: RoomSnapshot, behind: Behind) {
        let State::Live(loaded) = &mut self.state else {
            return;
        };
        let members: HashMap<UserId, Member> = snapshot
            .members
            .into_iter()
            .map(|(user, read_seq)| (user.id, Member { user, read_seq }))
            .collect();
        let (joined, left) = difference(&loaded.members, &members);
        loaded.members = members;
        let old_owner = std::mem::replace(&mut loaded.row, snapshot.room).owner_id;
        loaded.authz_version = snapshot.authz_version;
        loaded.levels = snapshot.levels.into_iter().collect();
        loaded.blocks = Blocks::new(snapshot.blocks);
        let old_standings = std::mem::replace(
            &mut loaded.standings,
            snapshot.standings.into_iter().collect(),
        );
        let joined_ids: std::collections::HashSet<UserId> =
            joined.iter().map(|user| user.id).collect();
        let room = self.id.to_string();
        let removed = Event::RoomRemoved { room: room.clone() }.frame();
        let members = &loaded.members;
        self.subscribers.retain(|_, subscriber| {
            let stays = members.contains_key(&subscriber.user_id);
            if !stays && behind == Behind::Found {
                subscriber.outbox.push(removed.clone());
            }
            stays
        });
        for user in left {
            let frame = Event::MemberLeft {
                room: room.clone(),
                user: self.user_view(&user),
            }
            .frame();
            self.broadcast(&frame, |_, _| true);
        }
        for user in joined {
            let frame = Event::MemberJoined {
                room: room.clone(),
                user: self.user_view(&user),
            }
            .frame();
            self.broadcast(&frame, |_, _| true);
        }
        self.standings_reloaded(&old_standings, old_owner, &joined_ids);
    }
}

/// Who joined (in `new`, not `old`) and who left (the other way round), each by id.
fn difference(
    old: &HashMap<UserId, Member>,
    new: &HashMap<UserId, Member>,
) -> (Vec<UserRow>, Vec<UserRow>) {
    let only = |these: &HashMap<UserId, Member>, those: &HashMap<UserId, Member>| {
        let mut users: Vec<UserRow> = these
            .values()
            .filter(|member| !those.contains_key(&member.user.id))
            .map(|member| member.user.clone())
            .collect();
        users.sort_by_key(|user| user.id);
        users
    };
    (only(new, old), only(old, new))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::UserKind;

    fn members(ids: &[i64]) -> HashMap<UserId, Member> {
        ids.iter()
            .map(|&id| {
                let user = UserRow {
                    id: UserId(id),
                    name: format!("u{id}"),
                    kind: UserKind::User,
                    handle: None,
                    created_ms: 0,
                };
                (UserId(id), Member { user, read_seq: 0 })
            })
            .collect()
    }

    #[test]
    fn the_difference_names_who_joined_and_who_left_in_id_order() {
        let ids = |users: Vec<UserRow>| users.iter().map(|user| user.id.0).collect::<Vec<_>>();
        let (joined, left) = difference(&members(&[1, 2, 3, 9]), &members(&[8, 2, 1, 4]));
        assert_eq!((ids(joined), ids(left)), (vec![4, 8], vec![3, 9]));
        let (joined, left) = difference(&members(&[1, 2]), &members(&[2, 1]));
        assert!(joined.is_empty() && left.is_empty());
    }
}
