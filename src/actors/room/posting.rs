//! The room's send pipeline: posts queue while one batch is being committed, the next batch
//! goes to the store's group-commit writer, and only committed messages are delivered, in
//! `seq` order. A restarted room first replays what its crashed predecessor committed but
//! never delivered.

use actix::prelude::*;
use serde_json::json;
use tokio::sync::oneshot;

use super::requests::{later, ready, Answer};
use super::Room;
use crate::actors::messages::{Caller, Post, Reply, SessionKey, ToBot, Turn};
use crate::actors::outbox::{close, Outbox};
use crate::db::models::{RoomKind, StoredMessage, UserKind};
use crate::db::{Appended, NewPost, Outcome, StoreError};
use crate::error::ProtoError;
use crate::protocol::ids;
use crate::protocol::template::Template;
use crate::protocol::views::MessageView;
use crate::protocol::{frames, Event, ReplyId};

/// Most messages a restarted room replays to its connections; past that they are closed
/// with 4002 and resume with `join` + `after_seq` themselves.
const MAX_REPLAY: i64 = 1000;

pub(super) struct Pipeline {
    queue: Vec<(NewPost, Waiter)>,
    committing: bool,
    delivered_seq: i64,
    /// Set on a room restarted after a crash: the last seq its predecessor delivered.
    inherited_seq: Option<i64>,
    /// The last seq in the store when the room loaded.
    stored_seq: i64,
}

/// Who waits for a post: the connection that sent it (if any) and the request's answer.
struct Waiter {
    origin: Option<Origin>,
    done: oneshot::Sender<Result<StoredMessage, ProtoError>>,
}

struct Origin {
    session: SessionKey,
    outbox: Outbox,
    reply_id: ReplyId,
    received: std::time::Instant,
}

impl Pipeline {
    pub(super) fn new(inherited_seq: Option<i64>) -> Pipeline {
        Pipeline {
            queue: Vec::new(),
            committing: false,
            delivered_seq: 0,
            inherited_seq,
            stored_seq: 0,
        }
    }

    pub(super) fn loaded(&mut self, last_seq: i64) {
        self.stored_seq = last_seq;
        self.delivered_seq = self.inherited_seq.unwrap_or(last_seq).min(last_seq);
    }

    pub(super) fn delivered_seq(&self) -> i64 {
        self.delivered_seq
    }

    pub(super) fn is_idle(&self) -> bool {
        self.queue.is_empty() && !self.committing
    }
}

impl Room {
    pub(super) fn send(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        body: String,
        client_msg_id: Option<String>,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        // The room writes every reply to a send, errors too, so that pipelined sends are
        // answered in the order they came.
        if let Err(err) = self.require_member(caller.user.id, "send") {
            caller.outbox.push(frames::error(&reply_id, &err));
            return ready(Ok(Reply::Written));
        }
        let post = NewPost {
            room_id: self.id,
            sender: caller.user,
            body,
            template: None,
            client_msg_id,
            action: None,
        };
        let origin = Origin {
            session: caller.session,
            outbox: caller.outbox,
            reply_id,
            received: caller.received,
        };
        let outbox = origin.outbox.clone();
        let echo = origin.reply_id.clone();
        match self.enqueue(post, Some(origin), ctx) {
            // A failed commit was answered in `committed`.
            Ok(receiver) => Box::pin(later(receiver).map(|_, _, _| Ok(Reply::Written))),
            Err(err) => {
                outbox.push(frames::error(&echo, &err));
                ready(Ok(Reply::Written))
            }
        }
    }

    /// A message from the system or a bot; the answer is the stored message.
    pub(super) fn post_as(&mut self, post: Post, ctx: &mut Context<Self>) -> Answer<StoredMessage> {
        let post = NewPost {
            room_id: self.id,
            sender: post.sender,
            body: post.body,
            template: post.template.map(|template| template.to_string()),
            client_msg_id: None,
            action: post.action.map(|action| action.to_string()),
        };
        match self.enqueue(post, None, ctx) {
            Ok(receiver) => later(receiver),
            Err(err) => ready(Err(err)),
        }
    }

    fn enqueue(
        &mut self,
        post: NewPost,
        origin: Option<Origin>,
        ctx: &mut Context<Self>,
    ) -> Result<oneshot::Receiver<Result<StoredMessage, ProtoError>>, ProtoError> {
        if self.posting.queue.len() >= self.settings.room_pending {
            return Err(ProtoError::unavailable(
                "too many messages are waiting for the store in this room; retry",
            ));
        }
        let (done, receiver) = oneshot::channel();
        self.posting.queue.push((post, Waiter { origin, done }));
        self.flush(ctx);
        Ok(receiver)
    }

    /// Hands everything queued to the store, unless a batch is already on its way.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.posting.committing || self.posting.queue.is_empty() {
            return;
        }
        self.posting.committing = true;
        let (posts, waiters): (Vec<NewPost>, Vec<Waiter>) =
            std::mem::take(&mut self.posting.queue).into_iter().unzip();
        let store = self.store.clone();
        ctx.spawn(
            async move { store.append(posts).await }
                .into_actor(self)
                .map(move |result, room, ctx| room.committed(waiters, result, ctx)),
        );
    }

    fn committed(
        &mut self,
        waiters: Vec<Waiter>,
        result: Result<Vec<Outcome>, StoreError>,
        ctx: &mut Context<Self>,
    ) {
        // A post the store refused fails alone; the outer error fails the whole batch.
        let outcomes: Vec<Outcome> = match result {
            Ok(outcomes) => outcomes,
            Err(err) => vec![Err(err); waiters.len()],
        };
        let first_new = outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Ok(Appended::New(message)) => Some(message.row.seq),
                _ => None,
            })
            .min();
        let delivered = self.posting.delivered_seq;
        match first_new {
            // Messages committed for a crashed predecessor came in between: deliver them first.
            Some(first) if first > delivered + 1 => {
                let store = self.store.clone();
                let id = self.id;
                ctx.wait(
                    async move {
                        store
                            .messages_after(id, delivered, first - delivered - 1)
                            .await
                    }
                    .into_actor(self)
                    .map(move |missing, room, ctx| {
                        match missing {
                            Ok(page) => room.replay(page.messages),
                            Err(err) => room.close_lagging(&format!("{err}")),
                        }
                        room.deliver(waiters, outcomes);
                        room.next_batch(ctx);
                    }),
                );
            }
            _ => {
                self.deliver(waiters, outcomes);
                self.next_batch(ctx);
            }
        }
    }

    fn next_batch(&mut self, ctx: &mut Context<Self>) {
        self.posting.committing = false;
        self.flush(ctx);
    }

    /// Answers every post in the order it came, errors included.
    fn deliver(&mut self, waiters: Vec<Waiter>, outcomes: Vec<Outcome>) {
        for (waiter, outcome) in waiters.into_iter().zip(outcomes) {
            let (message, is_new) = match outcome {
                Ok(Appended::New(message)) => (message, true),
                Ok(Appended::Duplicate(message)) => (message, false),
                Err(err) => {
                    let err = ProtoError::from(err);
                    if let Some(origin) = &waiter.origin {
                        origin.outbox.push(frames::error(&origin.reply_id, &err));
                    }
                    let _ = waiter.done.send(Err(err));
                    continue;
                }
            };
            let view = MessageView::from_stored(&message);
            if let Some(origin) = &waiter.origin {
                origin
                    .outbox
                    .push(frames::ok(&origin.reply_id, json!({ "message": &view })));
                crate::metrics::METRICS
                    .ack_latency
                    .observe(origin.received.elapsed().as_secs_f64());
            }
            if is_new {
                self.publish(&message, view);
            }
            if let Some(origin) = waiter.origin {
                log::trace!(
                    "r_{}: {} sent seq {}",
                    self.id,
                    origin.session,
                    message.row.seq
                );
            }
            let _ = waiter.done.send(Ok(message));
        }
    }

    /// Delivers one newly committed message to every joined connection.
    fn publish(&mut self, message: &StoredMessage, view: MessageView) {
        let seq = message.row.seq;
        self.posting.delivered_seq = self.posting.delivered_seq.max(seq);
        if let super::State::Live(loaded) = &mut self.state {
            if let Some(member) = loaded.members.get_mut(&message.row.sender_id) {
                member.read_seq = member.read_seq.max(seq);
            }
        }
        let frame = Event::Message { message: view }.frame();
        let delivered = self.broadcast(&frame, |_, _| true);
        crate::metrics::METRICS.messages_delivered.inc_by(delivered);
        self.hand_to_bot(message);
    }

    /// In a bot room, what the user says goes to the bot.
    fn hand_to_bot(&self, message: &StoredMessage) {
        let Some(loaded) = self.loaded() else {
            return;
        };
        if loaded.kind != RoomKind::Bot || message.sender.kind != UserKind::User.as_str() {
            return;
        }
        let Some(bot) = loaded
            .members
            .values()
            .find(|member| member.user.kind == UserKind::Bot.as_str())
            .and_then(|member| member.user.handle.clone())
        else {
            return;
        };
        self.supervisor.to_bot.do_send(ToBot {
            bot,
            room_id: self.id,
            turn: Turn::Heard {
                user: message.sender.clone(),
                message: Box::new(message.clone()),
            },
        });
    }

    /// `action`: the user pressed a button or quick reply of one of the bot's messages.
    pub(super) fn action(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        message_id: String,
        choice: String,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        if let Err(err) = self.require_member(caller.user.id, "answer in it") {
            return ready(Err(err));
        }
        if self.loaded().map(|loaded| loaded.kind) != Some(RoomKind::Bot) {
            return ready(Err(ProtoError::bad_request(
                "`action` answers a bot's buttons; this room has no bot",
            )));
        }
        let seq = match ids::parse_message_id(&message_id) {
            Some((room, seq)) if room == self.id => seq,
            _ => {
                return ready(Err(ProtoError::bad_request(format!(
                    "message {message_id:?} is not in this room"
                ))))
            }
        };
        let store = self.store.clone();
        let id = self.id;
        let (answer, receiver) = oneshot::channel();
        ctx.wait(
            async move { store.message(id, seq).await }
                .into_actor(self)
                .map(move |found, room, ctx| {
                    let label = found
                        .map_err(ProtoError::from)
                        .and_then(|found| room.offered_label(found, &message_id, &choice));
                    let post = label.map(|label| NewPost {
                        room_id: id,
                        sender: caller.user.clone(),
                        body: label,
                        template: None,
                        client_msg_id: None,
                        action: Some(json!({ "message": message_id, "id": choice }).to_string()),
                    });
                    let origin = Origin {
                        session: caller.session,
                        outbox: caller.outbox,
                        reply_id,
                        received: caller.received,
                    };
                    match post.and_then(|post| room.enqueue(post, Some(origin), ctx)) {
                        Ok(committed) => {
                            ctx.spawn(actix::fut::wrap_future(async move {
                                // A failed commit was answered to the connection in `committed`.
                                let _ = committed.await;
                                let _ = answer.send(Ok(Reply::Written));
                            }));
                        }
                        Err(err) => {
                            let _ = answer.send(Err(err));
                        }
                    }
                }),
        );
        later(receiver)
    }

    /// The label of `choice` if `found` is this room's bot's message and offers it.
    fn offered_label(
        &self,
        found: Option<StoredMessage>,
        message_id: &str,
        choice: &str,
    ) -> Result<String, ProtoError> {
        let not_offered = || {
            ProtoError::bad_request(format!(
                "message {message_id:?} offers no action {choice:?}"
            ))
        };
        let message = found.ok_or_else(|| {
            ProtoError::bad_request(format!("no message {message_id:?} in this room"))
        })?;
        if message.sender.kind != UserKind::Bot.as_str() {
            return Err(ProtoError::bad_request(format!(
                "message {message_id:?} is not the bot's"
            )));
        }
        let template = message.row.template.as_deref().ok_or_else(not_offered)?;
        let template: Template = serde_json::from_str(template).map_err(|_| not_offered())?;
        template
            .label_of(choice)
            .map(str::to_string)
            .ok_or_else(not_offered)
    }

    fn replay(&mut self, messages: Vec<StoredMessage>) {
        for message in messages {
            if message.row.seq > self.posting.delivered_seq {
                let view = MessageView::from_stored(&message);
                self.publish(&message, view);
            }
        }
    }

    /// Connections that cannot be brought up to date here resume by themselves.
    fn close_lagging(&mut self, why: &str) {
        log::warn!(
            "room r_{}: closing joined connections to resume: {why}",
            self.id
        );
        for subscriber in self.subscribers.values() {
            subscriber
                .outbox
                .close(close::LAGGING, "the room restarted; resume with after_seq");
        }
        self.subscribers.clear();
    }

    /// After a restart: deliver what the crashed room committed but never delivered.
    pub(super) fn catch_up(&mut self, ctx: &mut Context<Self>) {
        if self.posting.inherited_seq.take().is_none() {
            return;
        }
        let from = self.posting.delivered_seq;
        let stored = self.posting.stored_seq;
        if stored <= from {
            return;
        }
        if stored - from > MAX_REPLAY {
            self.close_lagging(&format!("{} messages to replay", stored - from));
            self.posting.delivered_seq = stored;
            return;
        }
        let store = self.store.clone();
        let id = self.id;
        ctx.wait(
            async move { store.messages_after(id, from, stored - from).await }
                .into_actor(self)
                .map(move |missing, room, _| match missing {
                    Ok(page) => room.replay(page.messages),
                    Err(err) => {
                        room.close_lagging(&err.to_string());
                        room.posting.delivered_seq = stored;
                    }
                }),
        );
    }
}
