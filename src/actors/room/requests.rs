//! The handlers that route each message a room answers (defined in
//! [`crate::actors::messages`]) to its part of the room.

use actix::prelude::*;

use super::answer::{ready, Answer};
use super::posting::Said;
use super::{Room, State};
use crate::actors::messages::{
    AdminOp, AdminReply, Caller, Origin, Post, Reply, SessionKey, Subscriber, ToRoom, Unsubscribe,
};
use crate::actors::outbox::Outbox;
use crate::actors::people::find_person;
use crate::db::models::{StoredMessage, UserRow};
use crate::db::safety::Sanction;
use crate::error::ProtoError;
use crate::model::UserId;
use crate::protocol::ids::UserRef;
use crate::protocol::RoomCommand;

/// The connections that joined the room, for the presence of `about`: those of members
/// who block `about` are left out (section 13).
#[derive(Message)]
#[rtype(result = "Vec<(SessionKey, Outbox)>")]
pub struct Subscribers {
    pub about: UserId,
}

impl Handler<ToRoom> for Room {
    type Result = Answer<Reply>;

    /// The one place a room command is matched to its handler. A post is answered through
    /// its origin (the reply here is [`Reply::Written`]); a request with what it returns.
    fn handle(&mut self, message: ToRoom, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = std::time::Instant::now();
        let ToRoom { origin, command } = message;
        match command {
            // The person named is looked up first: someone unknown is the answer even where
            // the room is gone.
            RoomCommand::Invite { user } => self.naming(user, origin, |room, caller, user, ctx| {
                room.invite(Some(caller), user, ctx)
            }),
            RoomCommand::Kick { user } => self.naming(user, origin, |room, caller, user, ctx| {
                room.sanction(caller, user, Sanction::Kick, ctx)
            }),
            RoomCommand::SetRole { user, role } => {
                self.naming(user, origin, move |room, caller, user, ctx| {
                    room.sanction(caller, user, Sanction::SetRole(role), ctx)
                })
            }
            RoomCommand::Mute { user, minutes } => {
                self.naming(user, origin, move |room, caller, user, ctx| {
                    room.sanction(caller, user, Sanction::Mute(minutes), ctx)
                })
            }
            RoomCommand::Ban { user, on } => {
                self.naming(user, origin, move |room, caller, user, ctx| {
                    room.sanction(caller, user, Sanction::Ban(on), ctx)
                })
            }
            command if !matches!(self.state, State::Live(_)) => {
                if command.is_post() {
                    origin.answer(Err(ProtoError::no_such_room()));
                    return written();
                }
                ready(Err(ProtoError::no_such_room()))
            }
            RoomCommand::Send {
                body,
                client_msg_id,
                files,
                reply_to,
                mentions,
            } => {
                let said = Said {
                    body,
                    client_msg_id,
                    files,
                    reply_to,
                    mentions,
                };
                self.send(origin, said, ctx);
                written()
            }
            RoomCommand::Action { message, action } => {
                self.action(origin, message, action, ctx);
                written()
            }
            RoomCommand::Join { after_seq, limit } => {
                let (caller, reply_id) = origin.into_request();
                self.join(caller, reply_id, after_seq, limit, ctx)
            }
            RoomCommand::Leave { forget } => self.leave(origin.into_request().0, forget, ctx),
            RoomCommand::History { before_seq, limit } => {
                self.history(origin.into_request().0, before_seq, limit)
            }
            RoomCommand::Read { seq } => self.read(origin.into_request().0, seq, ctx),
            RoomCommand::Typing => ready(self.typing(origin.into_request().0)),
            RoomCommand::Notify { level } => self.set_notify(origin.into_request().0, level, ctx),
            RoomCommand::Edit {
                message,
                body,
                mentions,
            } => {
                let (caller, reply_id) = origin.into_request();
                self.edit(caller, reply_id, message, body, mentions)
            }
            RoomCommand::Delete { message } => {
                let (caller, reply_id) = origin.into_request();
                self.delete_message(caller, reply_id, message)
            }
            RoomCommand::React { message, emoji, on } => {
                let (caller, reply_id) = origin.into_request();
                self.react(caller, reply_id, message, emoji, on)
            }
            RoomCommand::Changes { after_rev, limit } => {
                self.changes(origin.into_request().0, after_rev, limit)
            }
        }
    }
}

impl Room {
    /// Finds the person a command names, then runs `then` with the caller and them.
    fn naming(
        &mut self,
        user: UserRef,
        origin: Origin,
        then: impl FnOnce(&mut Room, Caller, UserRow, &mut Context<Room>) -> Answer<Reply> + 'static,
    ) -> Answer<Reply> {
        let store = self.store.clone();
        let (caller, _) = origin.into_request();
        Box::pin(
            actix::fut::wrap_future::<_, Room>(async move { find_person(&store, &user).await })
                .then(move |found, room, ctx| match found {
                    Ok(user) => then(room, caller, user, ctx),
                    Err(err) => ready(Err(err)),
                }),
        )
    }
}

/// The reply to a post: the room answers it through its origin.
fn written() -> Answer<Reply> {
    ready(Ok(Reply::Written))
}

impl Handler<Post> for Room {
    type Result = Answer<StoredMessage>;

    fn handle(&mut self, post: Post, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = std::time::Instant::now();
        if !matches!(self.state, State::Live(_)) {
            return ready(Err(ProtoError::no_such_room()));
        }
        self.post_as(post, ctx)
    }
}

impl Handler<AdminOp> for Room {
    type Result = Answer<AdminReply>;

    fn handle(&mut self, op: AdminOp, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = std::time::Instant::now();
        if !matches!(self.state, State::Live(_)) {
            return ready(Err(ProtoError::no_such_room()));
        }
        match op {
            AdminOp::Describe => ready(
                self.view_for(None)
                    .map(|room| AdminReply::Described {
                        room,
                        members: self.member_views(),
                    })
                    .ok_or_else(ProtoError::no_such_room),
            ),
            AdminOp::AddMember { user } => self.invite(None, user, ctx),
            AdminOp::RemoveMember { user_id } => self.remove(user_id, ctx),
            AdminOp::Delete => self.delete(ctx),
            AdminOp::DeleteMessage { seq } => self.admin_delete(seq),
        }
    }
}

impl Handler<Unsubscribe> for Room {
    type Result = ();

    fn handle(&mut self, message: Unsubscribe, ctx: &mut Context<Self>) {
        self.subscribers.remove(&message.session);
        self.sweep_joins(ctx);
        self.last_activity = std::time::Instant::now();
    }
}

impl Handler<Subscribers> for Room {
    type Result = MessageResult<Subscribers>;

    fn handle(&mut self, asked: Subscribers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.subscribers
                .iter()
                .filter(|(_, subscriber)| !self.hides(subscriber.user_id, asked.about))
                .map(|(key, Subscriber { outbox, .. })| (key.clone(), outbox.clone()))
                .collect(),
        )
    }
}

/// Makes the room panic, to test that a crash is contained (tests only).
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

#[cfg(test)]
impl Handler<Crash> for Room {
    type Result = ();

    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("room {} crashing on purpose", self.id);
    }
}
