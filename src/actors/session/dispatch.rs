//! Runs one parsed command for a connection ([`Session::execute`]): a room command goes to
//! its room, a post (`send`, `action`) into the room's pipeline with an [`Origin`] that the
//! room answers through while the session goes on, a request to its end before the next
//! frame is read; a command that needs no room runs here.

use actix::prelude::*;
use futures_util::future::LocalBoxFuture;
use serde_json::json;

use super::{people, Session};
use crate::actors::messages::{
    Caller, FindBot, GetRoom, NotifyUser, Origin, Reply, RoomHandle, SessionSupervisor, ToBot,
    ToRoom, Turn,
};
use crate::actors::room_list::{room_view, room_views};
use crate::actors::screen::screen;
use crate::db::models::RoomKind;
use crate::db::safety::NewReport;
use crate::db::{RoomSummary, Store};
use crate::error::{Answered, Mailbox, ProtoError};
use crate::model::{MessageId, RoomId, UserId};
use crate::protocol::command::RoomsPage;
use crate::protocol::ids::UserRef;
use crate::protocol::views::MessageView;
use crate::protocol::views::RoomView;
use crate::protocol::{frames, ClientFrame, Command, Event, ReplyId, RoomCommand};
use crate::safety::directory::Directory;
use crate::safety::ReportReason;

/// What a command needs, detached from the actor so that it can run as a future.
struct Context {
    caller: Caller,
    hub: SessionSupervisor,
    store: Store,
    /// Who can find whom (`--directory`).
    directory: Directory,
}

/// A finished command: its answer, and the room the connection joined or left by it.
struct Outcome {
    answer: Result<Reply, ProtoError>,
    joined: Option<(RoomId, RoomHandle)>,
    left: Option<RoomId>,
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
    /// Runs the command to its end before the next frame is read, except posts, which go
    /// to the room and are answered by it; consecutive sends to one joined room are
    /// pipelined (see [`super::pipeline`]), any other command waits for them.
    pub(super) fn execute(&mut self, frame: ClientFrame, ctx: &mut actix::Context<Self>) {
        let ClientFrame { id, command } = frame;
        if command == Command::Ping && self.sends.is_idle() {
            self.outbox.push(frames::ok(&id, frames::empty()));
            return;
        }
        let name = command.name();
        let context = self.context();
        let work: LocalBoxFuture<'static, Result<Reply, ProtoError>> = match command {
            Command::Room { room, op } if op.is_post() => return self.say(id, room, op, ctx),
            Command::Room { room, mut op } => {
                // An edit's new body meets the content rules as a send's does: a `reject`
                // refuses it, `mask` rules change what is stored.
                if let RoomCommand::Edit { body, .. } = &mut op {
                    let rules = self.store.content_rules();
                    match screen(&rules, self.user.kind, std::mem::take(body)) {
                        Ok(screened) => *body = screened.body,
                        Err(err) => {
                            let refused = async move { Outcome::from(Err(err)) };
                            return self.run(id, name, Some(room.to_string()), refused, ctx);
                        }
                    }
                }
                let origin = Origin::request(self.caller(), id.clone(), name, room);
                let joined = self.joined.get(&room).cloned();
                let work = ask(context, origin, op, joined);
                return self.run(id, name, Some(room.to_string()), work, ctx);
            }
            Command::Ping => Box::pin(async { Ok(Reply::Data(frames::empty())) }),
            Command::Rooms { page } => Box::pin(async move { rooms(&context, page).await }),
            Command::CreateGroup {
                name,
                members,
                public,
            } => {
                let per_hour = self.settings.groups_per_hour;
                Box::pin(async move {
                    people::may_create_group(&context.store, context.caller.user.id, per_hour)
                        .await?;
                    create_group(&context, name, members, public).await
                })
            }
            Command::OpenDirect { user } => {
                Box::pin(async move { open_direct(&context, &user).await })
            }
            Command::OpenBot { bot } => Box::pin(async move { open_bot(&context, bot).await }),
            Command::LeaveGroups { owner } => {
                Box::pin(async move { leave_groups(&context, &owner).await })
            }
            Command::Report {
                room,
                message,
                reason,
                note,
            } => Box::pin(async move { report(&context, room, message, reason, note).await }),
            Command::Users {
                query,
                after,
                limit,
            } => Box::pin(async move {
                let scope = (context.caller.user.id, context.directory);
                people::directory(&context.store, &context.hub, &query, after, limit, scope).await
            }),
            Command::Block { user, on } => Box::pin(async move {
                super::blocks::block(&context.store, &context.hub, &context.caller, &user, on).await
            }),
            Command::Blocks => Box::pin(async move {
                super::blocks::blocks(&context.store, context.caller.user.id).await
            }),
            Command::Search(search) => Box::pin(async move {
                super::search::search(&context.store, context.caller.user.id, search).await
            }),
        };
        self.run(
            id,
            name,
            None,
            async move { Outcome::from(work.await) },
            ctx,
        );
    }

    fn context(&self) -> Context {
        Context {
            caller: self.caller(),
            hub: self.hub.clone(),
            store: self.store.clone(),
            directory: self.settings.directory,
        }
    }

    /// Runs `work` once every send in flight is answered, holding further frames until it
    /// is done, and writes its answer.
    fn run(
        &mut self,
        id: ReplyId,
        name: &'static str,
        room: Option<String>,
        work: impl std::future::Future<Output = Outcome> + 'static,
        ctx: &mut actix::Context<Self>,
    ) {
        let drained = self.sends.drained();
        ctx.wait(
            async move {
                drained.await;
                work.await
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

    /// Hands a post to its room. A send to a joined room goes at once when the pipeline
    /// admits it; anything else first waits for the sends in flight and finds the room.
    fn say(
        &mut self,
        id: ReplyId,
        room: RoomId,
        mut op: RoomCommand,
        ctx: &mut actix::Context<Self>,
    ) {
        let mut origin = Origin::post(self.caller(), id, op.name(), room);
        if let RoomCommand::Send { body, .. } = &mut op {
            let rules = self.store.content_rules();
            match screen(&rules, self.user.kind, std::mem::take(body)) {
                Ok(screened) => {
                    *body = screened.body;
                    origin.flag(&self.store, screened.flagged);
                }
                // Refused, nothing stored: answered in turn, after the sends in flight.
                Err(err) => {
                    let drained = self.sends.drained();
                    ctx.wait(
                        drained
                            .into_actor(self)
                            .map(move |_, _, _| origin.answer(Err(err))),
                    );
                    return;
                }
            }
        }
        let cached = self.joined.get(&room).cloned();
        if let (RoomCommand::Send { .. }, Some(handle)) = (&op, &cached) {
            if handle.connected() && self.sends.admits(room) {
                return self.hand_over(room, handle, origin, op);
            }
        }
        let drained = self.sends.drained();
        let get_room = self.hub.get_room.clone();
        ctx.wait(
            async move {
                drained.await;
                match cached {
                    Some(handle) if handle.connected() => Ok(handle),
                    _ => get_room
                        .send(GetRoom { id: room })
                        .await
                        .answered_by(Mailbox::Hub),
                }
            }
            .into_actor(self)
            .map(
                move |found: Result<_, ProtoError>, session, _| match found {
                    Ok(handle) => session.hand_over(room, &handle, origin, op),
                    Err(err) => origin.answer(Err(err)),
                },
            ),
        );
    }

    /// Gives the post its place in the send pipeline and puts it in the room's mailbox;
    /// a full or closed mailbox is answered here and now.
    fn hand_over(
        &mut self,
        room_id: RoomId,
        room: &RoomHandle,
        mut origin: Origin,
        command: RoomCommand,
    ) {
        origin.hold(self.sends.begin(room_id));
        if let Err(refused) = room.command.try_send(ToRoom { origin, command }) {
            let (say, err) = match refused {
                SendError::Full(say) => (
                    say,
                    ProtoError::unavailable("the room has too much to do; retry"),
                ),
                SendError::Closed(say) => (
                    say,
                    ProtoError::unavailable("the room restarted while handling this; retry"),
                ),
            };
            say.origin.answer(Err(err));
        }
    }
}

/// A request to a room, answered with the room's reply.
async fn ask(
    context: Context,
    origin: Origin,
    command: RoomCommand,
    joined: Option<RoomHandle>,
) -> Outcome {
    let room_id = origin.room();
    let addr = match joined {
        Some(addr) if addr.connected() => addr,
        _ => match context.hub.get_room.send(GetRoom { id: room_id }).await {
            Ok(addr) => addr,
            Err(err) => return Err(ProtoError::mailbox(Mailbox::Hub, err)).into(),
        },
    };
    let is_join = matches!(command, RoomCommand::Join { .. });
    let is_leave = matches!(command, RoomCommand::Leave { .. });
    let answer = match addr.command.send(ToRoom { origin, command }).await {
        Ok(answer) => answer,
        Err(err) => Err(ProtoError::mailbox(Mailbox::Room, err)),
    };
    let succeeded = answer.is_ok();
    Outcome {
        answer,
        joined: (is_join && succeeded).then_some((room_id, addr)),
        left: is_leave.then_some(room_id),
    }
}

/// `report`: a member reports a message of the room; the report keeps the message as it is
/// now (docs/safety.md).
async fn report(
    context: &Context,
    room: RoomId,
    message: MessageId,
    reason: ReportReason,
    note: Option<String>,
) -> Result<Reply, ProtoError> {
    let (store, reporter) = (&context.store, context.caller.user.id);
    if !store.is_member(room, reporter).await? {
        return Err(ProtoError::no_such_room());
    }
    let Some(found) = store.message(room, message.seq).await? else {
        return Err(ProtoError::not_found("no such message in this room"));
    };
    let snapshot = serde_json::to_string(&MessageView::from_stored(&found))
        .map_err(|err| ProtoError::internal(format!("cannot keep the message: {err}")))?;
    let report = NewReport::new(
        reason.as_str(),
        note,
        Some(reporter),
        (room, message.seq, found.row.sender_id),
        snapshot,
    );
    let id = store.create_report(report).await?;
    Ok(Reply::Data(json!({"report":{"id":format!("rp_{id}")}})))
}

/// Every room, or one page of them with the next page's `after` (`null` after the last).
async fn rooms(context: &Context, page: Option<RoomsPage>) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let Some(RoomsPage { after, limit }) = page else {
        let summaries = context.store.rooms_of(me).await?;
        let rooms = room_views(&context.store, &summaries, Some(me)).await?;
        return Ok(Reply::Data(json!({ "rooms": rooms })));
    };
    let (summaries, more) = context
        .store
        .rooms_page(me, after.map_or(0, |room| room.0), limit)
        .await?;
    let next = summaries
        .last()
        .filter(|_| more)
        .map(|last| last.room.id.to_string());
    let rooms = room_views(&context.store, &summaries, Some(me)).await?;
    Ok(Reply::Data(json!({ "rooms": rooms, "next": next })))
}

/// `leave_groups`: leaves and forgets, one after another, every group `owner` owns that the
/// caller is in (at most `--max-groups-per-user`), as `leave` with `forget` does each.
async fn leave_groups(context: &Context, owner: &UserRef) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let owner = people::find_person(&context.store, owner).await?;
    if owner.id == me {
        return Err(ProtoError::bad_request(
            "`leave_groups` is for groups others made; leave your own one by one",
        ));
    }
    let mut left = Vec::new();
    for room_id in context.store.groups_of_owner(owner.id, me).await? {
        let room = context
            .hub
            .get_room
            .send(GetRoom { id: room_id })
            .await
            .answered_by(Mailbox::Hub)?;
        let origin = Origin::request(
            context.caller.clone(),
            ReplyId::None,
            "leave_groups",
            room_id,
        );
        let leave = RoomCommand::Leave { forget: true };
        room.command
            .send(ToRoom {
                origin,
                command: leave,
            })
            .await
            .answered_by(Mailbox::Room)??;
        left.push(room_id.to_string());
    }
    Ok(Reply::Data(json!({ "left": left })))
}

async fn view_of(store: &Store, room_id: RoomId, viewer: UserId) -> Result<RoomView, ProtoError> {
    let summary: Option<RoomSummary> = store.room_summary(room_id, Some(viewer)).await?;
    let summary = summary.ok_or_else(ProtoError::no_such_room)?;
    room_view(store, &summary, Some(viewer)).await
}

/// Tells `user_id`'s connections about a room they are now a member of.
async fn announce_room(
    context: &Context,
    room_id: RoomId,
    user_id: UserId,
) -> Result<(), ProtoError> {
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
    members: Vec<UserRef>,
    public: bool,
) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let mut member_ids = Vec::with_capacity(members.len());
    for member in &members {
        let member = people::member_id(&context.store, member).await?;
        people::may_find(&context.store, context.directory, me, member).await?;
        // Section 13: a group made with someone is an invite of them.
        if member != me && context.store.block_between(me, member).await? {
            return Err(ProtoError::forbidden(format!(
                "a block stands between you and {member}; they cannot be added"
            )));
        }
        member_ids.push(member);
    }
    let room = context
        .store
        .create_group(&name, public, Some(me), member_ids.clone())
        .await?;
    member_ids.push(me);
    member_ids.sort_unstable();
    member_ids.dedup();
    for user_id in member_ids {
        announce_room(context, room.id, user_id).await?;
    }
    let view = view_of(&context.store, room.id, me).await?;
    Ok(Reply::Data(json!({ "room": view })))
}

async fn open_direct(context: &Context, user: &UserRef) -> Result<Reply, ProtoError> {
    let me = context.caller.user.id;
    let other = people::find_person(&context.store, user).await?;
    people::may_find(&context.store, context.directory, me, other.id).await?;
    if other.id == me {
        return Err(ProtoError::bad_request(
            "`open_direct` needs another user, not yourself",
        ));
    }
    if context.store.block_between(me, other.id).await? {
        return Err(ProtoError::forbidden(
            "a block stands between you and this user; no direct chat can be opened",
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
        .await
        .answered_by(Mailbox::Hub)?
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
