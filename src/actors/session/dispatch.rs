//! Runs one parsed command for a connection: the few that need no room here, the rest by
//! asking the hub for the room's actor and handing it a [`Request`].

use actix::prelude::*;
use serde_json::json;

use super::{people, Session};
use crate::actors::messages::{
    Caller, FindBot, GetRoom, NotifyUser, Reply, Request, RoomHandle, RoomOp, SessionSupervisor,
    ToBot, Turn,
};
use crate::db::models::RoomKind;
use crate::db::{RoomSummary, Store, StoreError};
use crate::error::ProtoError;
use crate::protocol::ids;
use crate::protocol::views::RoomView;
use crate::protocol::{frames, ClientFrame, Command, Event, ReplyId};

/// What a command needs, detached from the actor so that it can run as a future.
struct Context {
    caller: Caller,
    hub: SessionSupervisor,
    store: Store,
}

/// A finished command: its answer, and the room the connection joined or left by it.
struct Outcome {
    answer: Result<Reply, ProtoError>,
    joined: Option<(i64, RoomHandle)>,
    left: Option<i64>,
}

impl From<Result<Reply, ProtoError>> for Outcome {
    fn from(answer: Result<Reply, ProtoError>) -> Self {
        Outcome {
            answer,
            joined: None,
            left: None,
        }
    }
}

impl Session {
    /// Runs the command to its end before the next frame is read, except consecutive sends
    /// to one joined room, which are pipelined (see [`super::pipeline`]).
    pub(super) fn execute(&mut self, frame: ClientFrame, ctx: &mut actix::Context<Self>) {
        let ClientFrame { id, command } = frame;
        if command == Command::Ping && self.sends.admits(0) {
            self.outbox.push(frames::ok(&id, frames::empty()));
            return;
        }
        let command = match self.pipelined_send(id.clone(), command) {
            Ok(()) => return,
            Err(command) => command,
        };
        let context = Context {
            caller: self.caller(),
            hub: self.hub.clone(),
            store: self.store.clone(),
        };
        let cached = command
            .room()
            .and_then(ids::parse_room_id)
            .and_then(|room_id| self.joined.get(&room_id).cloned());
        let name = command.name();
        let room = command.room().map(str::to_string);
        let drained = self.sends.drained();
        let reply_id = id.clone();
        ctx.wait(
            async move {
                drained.await;
                run(context, reply_id, command, cached).await
            }
            .into_actor(self)
            .map(move |outcome, session, _| {
                if let Some((room, addr)) = outcome.joined {
                    session.joined.insert(room, addr);
                }
                if let Some(room) = outcome.left {
                    session.joined.remove(&room);
                }
                match outcome.answer {
                    Ok(Reply::Data(data)) => {
                        session.outbox.push(frames::ok(&id, data));
                    }
                    Ok(Reply::Written) => {}
                    Err(err) => {
                        session.log_failure(name, room.as_deref(), &err);
                        session.reply_error(&id, &err);
                    }
                }
            }),
        );
    }

    /// Hands a `send` to its joined room without waiting, when the pipeline admits it;
    /// gives the command back otherwise.
    fn pipelined_send(&mut self, id: ReplyId, command: Command) -> Result<(), Command> {
        let Command::Send {
            room,
            body,
            client_msg_id,
            files,
        } = command
        else {
            return Err(command);
        };
        let target = ids::parse_room_id(&room)
            .filter(|room_id| self.sends.admits(*room_id))
            .and_then(|room_id| {
                self.joined
                    .get(&room_id)
                    .filter(|addr| addr.connected())
                    .map(|addr| (room_id, addr.clone()))
            });
        let Some((room_id, addr)) = target else {
            return Err(Command::Send {
                room,
                body,
                client_msg_id,
                files,
            });
        };
        let ticket = self.sends.begin(room_id);
        let request = Request {
            caller: self.caller(),
            reply_id: id.clone(),
            op: RoomOp::Send {
                body,
                client_msg_id,
                files,
            },
        };
        let outbox = self.outbox.clone();
        let (key, user_id) = (self.key.clone(), self.user.id);
        // A task of its own, not an actor future: it must progress while a later command
        // waits (in `ctx.wait`) for the pipeline to drain.
        actix_rt::spawn(async move {
            let answer = addr.request.send(request).await;
            if let Err(err) = answer.map_err(ProtoError::from).and_then(|answer| answer) {
                super::log_failure(&key, user_id, "send", Some(&room), &err);
                outbox.push(frames::error(&id, &err));
            }
            drop(ticket);
        });
        Ok(())
    }
}

async fn run(
    context: Context,
    reply_id: crate::protocol::ReplyId,
    command: Command,
    joined: Option<RoomHandle>,
) -> Outcome {
    let op = match command {
        Command::Ping => return Ok(Reply::Data(frames::empty())).into(),
        Command::Rooms => return rooms(&context).await.into(),
        Command::CreateGroup {
            name,
            members,
            public,
        } => return create_group(&context, name, members, public).await.into(),
        Command::OpenDirect { user } => return open_direct(&context, &user).await.into(),
        Command::OpenBot { bot } => return open_bot(&context, bot).await.into(),
        Command::Users {
            query,
            after,
            limit,
        } => {
            return people::directory(&context.store, &context.hub, &query, after, limit)
                .await
                .into()
        }
        Command::Join {
            room,
            after_seq,
            limit,
        } => (room, RoomOp::Join { after_seq, limit }),
        Command::Leave { room, forget } => (room, RoomOp::Leave { forget }),
        Command::Send {
            room,
            body,
            client_msg_id,
            files,
        } => (
            room,
            RoomOp::Send {
                body,
                client_msg_id,
                files,
            },
        ),
        Command::History {
            room,
            before_seq,
            limit,
        } => (room, RoomOp::History { before_seq, limit }),
        Command::Read { room, seq } => (room, RoomOp::Read { seq }),
        Command::Typing { room } => (room, RoomOp::Typing),
        Command::Action {
            room,
            message,
            action,
        } => (
            room,
            RoomOp::Action {
                message,
                choice: action,
            },
        ),
        Command::Invite { room, user } => match people::find_person(&context.store, &user).await {
            Ok(user) => (room, RoomOp::Invite { user }),
            Err(err) => return Err(err).into(),
        },
        Command::Kick { room, user } => match people::find_person(&context.store, &user).await {
            Ok(user) => (room, RoomOp::Kick { user_id: user.id }),
            Err(err) => return Err(err).into(),
        },
    };
    let (room, op) = op;
    let Some(room_id) = ids::parse_room_id(&room) else {
        return Err(ProtoError::no_such_room()).into();
    };
    let addr = match joined {
        Some(addr) if addr.connected() => addr,
        _ => match context.hub.get_room.send(GetRoom { id: room_id }).await {
            Ok(addr) => addr,
            Err(err) => return Err(ProtoError::from(err)).into(),
        },
    };
    let is_join = matches!(op, RoomOp::Join { .. });
    let is_leave = matches!(op, RoomOp::Leave { .. });
    let answer = match addr
        .request
        .send(Request {
            caller: context.caller,
            reply_id,
            op,
        })
        .await
    {
        Ok(answer) => answer,
        Err(err) => Err(ProtoError::from(err)),
    };
    let succeeded = answer.is_ok();
    Outcome {
        answer,
        joined: (is_join && succeeded).then_some((room_id, addr)),
        left: is_leave.then_some(room_id),
    }
}

async fn rooms(context: &Context) -> Result<Reply, ProtoError> {
    let summaries = context.store.rooms_of(context.caller.user.id).await?;
    let rooms: Vec<RoomView> = summaries.iter().map(RoomView::from_summary).collect();
    Ok(Reply::Data(json!({ "rooms": rooms })))
}

async fn view_of(store: &Store, room_id: i64, viewer: i64) -> Result<RoomView, ProtoError> {
    let summary: Option<RoomSummary> = store.room_summary(room_id, Some(viewer)).await?;
    summary
        .as_ref()
        .map(RoomView::from_summary)
        .ok_or_else(ProtoError::no_such_room)
}

/// Tells `user_id`'s connections about a room they are now a member of.
async fn announce_room(context: &Context, room_id: i64, user_id: i64) -> Result<(), ProtoError> {
    let view = view_of(&context.store, room_id, user_id).await?;
    let except = (user_id == context.caller.user.id).then(|| context.caller.session.clone());
    context.hub.notify.do_send(NotifyUser {
        user_id,
        except,
        frame: Event::RoomAdded { room: view }.frame(),
    });
    Ok(())
}

async fn create_group(
    context: &Context,
    name: String,
    members: Vec<String>,
    public: bool,
) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let mut member_ids = Vec::with_capacity(members.len());
    for member in &members {
        member_ids.push(people::member_id(&context.store, member).await?);
    }
    let room = match context
        .store
        .create_group(&name, public, Some(me), member_ids.clone())
        .await
    {
        Err(StoreError::NotFound(_)) => return Err(ProtoError::no_such_user()),
        other => other?,
    };
    member_ids.push(me);
    member_ids.sort_unstable();
    member_ids.dedup();
    for user_id in member_ids {
        announce_room(context, room.id, user_id).await?;
    }
    let view = view_of(&context.store, room.id, me).await?;
    Ok(Reply::Data(json!({ "room": view })))
}

async fn open_direct(context: &Context, user: &str) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let other = people::find_person(&context.store, user).await?;
    if other.id == me {
        return Err(ProtoError::bad_request(
            "`open_direct` needs another user, not yourself",
        ));
    }
    let (room, created) = context
        .store
        .open_pair(RoomKind::Direct, me, other.id)
        .await?;
    if created {
        announce_room(context, room.id, other.id).await?;
        announce_room(context, room.id, me).await?;
    }
    let view = view_of(&context.store, room.id, me).await?;
    Ok(Reply::Data(json!({ "room": view })))
}

async fn open_bot(context: &Context, bot: String) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let Some(bot_user) = context
        .hub
        .find_bot
        .send(FindBot { id: bot.clone() })
        .await?
    else {
        return Err(ProtoError::not_found("no such bot"));
    };
    let (room, created) = context
        .store
        .open_pair(RoomKind::Bot, me, bot_user.id)
        .await?;
    if created {
        announce_room(context, room.id, me).await?;
        context.hub.to_bot.do_send(ToBot {
            bot,
            room_id: room.id,
            turn: Turn::Greet {
                user: context.caller.user.clone(),
            },
        });
    }
    let view = view_of(&context.store, room.id, me).await?;
    Ok(Reply::Data(json!({ "room": view })))
}
