//! The handlers that route each message a room answers (defined in
//! [`crate::actors::messages`]) to its part of the room.

use actix::prelude::*;

use super::{Room, State};
use crate::actors::messages::{
    AdminOp, AdminReply, Post, Reply, Request, RoomOp, Say, SayOp, SessionKey, Subscriber,
    Unsubscribe,
};
use crate::actors::outbox::Outbox;
use crate::db::models::StoredMessage;
use crate::error::ProtoError;

/// The connections that joined the room (for presence).
#[derive(Message)]
#[rtype(result = "Vec<(SessionKey, Outbox)>")]
pub struct Subscribers;

pub(super) type Answer<T> = ResponseActFuture<Room, Result<T, ProtoError>>;

pub(super) fn ready<T: 'static>(result: Result<T, ProtoError>) -> Answer<T> {
    Box::pin(actix::fut::ready(result))
}

impl Handler<Request> for Room {
    type Result = Answer<Reply>;

    fn handle(&mut self, request: Request, ctx: &mut Context<Self>) -> Self::Result {
        self.last_activity = std::time::Instant::now();
        if !matches!(self.state, State::Live(_)) {
            return ready(Err(ProtoError::no_such_room()));
        }
        let Request {
            caller,
            reply_id,
            op,
        } = request;
        match op {
            RoomOp::Join { after_seq, limit } => self.join(caller, reply_id, after_seq, limit, ctx),
            RoomOp::Leave { forget } => self.leave(caller, forget, ctx),
            RoomOp::History { before_seq, limit } => self.history(caller, before_seq, limit),
            RoomOp::Read { seq } => self.read(caller, seq, ctx),
            RoomOp::Typing => ready(self.typing(caller)),
            RoomOp::Notify { level } => self.set_notify(caller, level, ctx),
            RoomOp::Invite { user } => self.invite(Some(caller), user, ctx),
            RoomOp::Kick { user_id } => self.kick(Some(caller), user_id, ctx),
        }
    }
}

impl Handler<Say> for Room {
    type Result = ();

    fn handle(&mut self, say: Say, ctx: &mut Context<Self>) {
        self.last_activity = std::time::Instant::now();
        let Say { origin, op } = say;
        if !matches!(self.state, State::Live(_)) {
            return origin.answer(Err(ProtoError::no_such_room()));
        }
        match op {
            SayOp::Send {
                body,
                client_msg_id,
                files,
            } => self.send(origin, body, client_msg_id, files, ctx),
            SayOp::Action { message, choice } => self.action(origin, message, choice, ctx),
        }
    }
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
                self.view_for(0)
                    .map(|room| AdminReply::Described {
                        room,
                        members: self.member_views(),
                    })
                    .ok_or_else(ProtoError::no_such_room),
            ),
            AdminOp::AddMember { user } => self.invite(None, user, ctx),
            AdminOp::RemoveMember { user_id } => self.kick(None, user_id, ctx),
            AdminOp::Delete => self.delete(ctx),
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

    fn handle(&mut self, _: Subscribers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.subscribers
                .iter()
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
        panic!("room r_{} crashing on purpose", self.id);
    }
}
