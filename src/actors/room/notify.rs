//! The room's part of notifications (docs/protocol.md section 12): as it hands a message to
//! the store it decides, with `crate::notify::decide`, which members to notify (their levels
//! are kept in memory with the members; "joined" is this room's joined connections and, in
//! multi-node mode, those other live nodes announced), and it answers `notify`, which sets a
//! member's level.

use std::cell::OnceCell;
use std::collections::HashSet;

use actix::prelude::*;

use super::answer::{ready, Answer};
use super::in_turn::in_turn;
use super::{Room, State};
use crate::actors::messages::{Caller, Reply};
use crate::error::ProtoError;
use crate::model::UserId;
use crate::notify::{recipients, Candidate, Level, Notable};
use crate::protocol::frames;

impl Room {
    /// The members to notify of what `sender` posts now (`mentions` and the sender of the
    /// message it replies to come with section 11).
    pub(super) fn to_notify(
        &self,
        sender: UserId,
        mentions: &[UserId],
        reply_to: Option<UserId>,
    ) -> Vec<UserId> {
        let Some(loaded) = self.loaded() else {
            return Vec::new();
        };
        let candidates: Vec<Candidate> = loaded
            .members
            .values()
            .map(|member| Candidate {
                user_id: member.user.id,
                kind: member.user.kind,
                level: loaded.levels.get(&member.user.id).copied(),
                blocks_sender: loaded.blocks.hides(member.user.id, sender),
            })
            .collect();
        let message = Notable {
            sender,
            mentions,
            reply_to_sender: reply_to,
        };
        // Who has joined is gathered only if someone's level lets the message through.
        let joined: OnceCell<HashSet<UserId>> = OnceCell::new();
        let unsure = self.joins_unsure();
        recipients(loaded.kind, &candidates, &message, |user| {
            joined.get_or_init(|| self.joined_users()).contains(&user)
                || (unsure && self.presence.is_online(user))
        })
    }

    /// Users with a connection joined to the room, here or on another live node.
    fn joined_users(&self) -> HashSet<UserId> {
        let mut users = self.joined_elsewhere();
        users.extend(
            self.subscribers
                .values()
                .filter(|subscriber| !subscriber.outbox.is_closed())
                .map(|subscriber| subscriber.user_id),
        );
        users
    }

    /// `notify`: sets the caller's level for the room.
    pub(super) fn set_notify(
        &mut self,
        caller: Caller,
        level: Level,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        if let Err(err) = self.require_member(caller.user.id, "choose its notifications") {
            return ready(Err(err));
        }
        let store = self.store.clone();
        let (id, user_id) = (self.id, caller.user.id);
        in_turn(
            ctx,
            async move { store.set_notify_level(id, user_id, Some(level)).await },
            move |stored, room, _| {
                stored.map_err(ProtoError::from).map(|()| {
                    if let State::Live(loaded) = &mut room.state {
                        loaded.levels.insert(user_id, level);
                    }
                    room.share_change();
                    Reply::Data(frames::empty())
                })
            },
        )
    }
}
