//! The room's side of posting: it feeds sends, actions and system or bot posts to its
//! [`Pipeline`] (the pure state machine in `crate::posting`), hands each batch the pipeline
//! starts to the store, feeds the outcome back, and does what the settled batch asks: answer
//! every post, share what was committed with the other nodes and the bot, deliver in `seq`
//! order, read a gap from the store.

use actix::prelude::*;
use serde_json::json;
use tokio::sync::oneshot;

use super::requests::{later, ready, Answer};
use super::Room;
use crate::actors::messages::{Caller, Post, Reply, SessionKey, ToBot, Turn};
use crate::actors::outbox::{close, Outbox};
use crate::db::models::{RoomKind, StoredMessage, UserKind};
use crate::db::{NewPost, Outcome, StoreError};
use crate::error::ProtoError;
use crate::posting::{Batch, Gap, Pipeline};
use crate::protocol::ids;
use crate::protocol::template::Template;
use crate::protocol::views::MessageView;
use crate::protocol::{frames, Event, ReplyId};

/// The room's pipeline: its waiters are connections and the callers of [`Post`].
pub(super) type Posting = Pipeline<Waiter>;

/// Who waits for a post: the connection that sent it (if any) and the request's answer.
pub(super) struct Waiter {
    origin: Option<Origin>,
    done: oneshot::Sender<Result<StoredMessage, ProtoError>>,
}

struct Origin {
    session: SessionKey,
    outbox: Outbox,
    reply_id: ReplyId,
    received: std::time::Instant,
}

impl Room {
    pub(super) fn send(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        body: String,
        client_msg_id: Option<String>,
        files: Vec<String>,
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
            files,
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
            // A failed commit was answered in `settle`.
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
            files: Vec::new(),
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
        let (done, receiver) = oneshot::channel();
        match self.posting.push(post, Waiter { origin, done }) {
            Ok(batch) => {
                if let Some(batch) = batch {
                    self.commit(batch, ctx);
                }
                Ok(receiver)
            }
            Err(refused) => Err(refused.error),
        }
    }

    /// Hands a batch the pipeline started to the store; its outcome comes back to `settle`.
    fn commit(&mut self, batch: Batch, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        ctx.spawn(
            async move { store.append(batch.posts).await }
                .into_actor(self)
                .map(|result, room, ctx| room.settle(result, ctx)),
        );
    }

    /// Does what the settled batch asks: answers every post in the order it came, hands
    /// what a user said in a bot room to the bot (here, on the node that committed it:
    /// once), tells the other nodes, delivers, and commits the next batch.
    fn settle(&mut self, result: Result<Vec<Outcome>, StoreError>, ctx: &mut Context<Self>) {
        let settled = self.posting.settle(result);
        for (waiter, answer) in settled.answers {
            self.answer(waiter, answer);
        }
        for message in &settled.committed {
            self.hand_to_bot(message);
        }
        self.share_messages(&settled.committed);
        for message in &settled.deliveries {
            self.publish(message);
        }
        self.fill_gap(ctx);
        if let Some(batch) = settled.next_batch {
            self.commit(batch, ctx);
        }
    }

    fn answer(&self, waiter: Waiter, answer: Result<StoredMessage, ProtoError>) {
        if let Some(origin) = &waiter.origin {
            match &answer {
                Ok(message) => {
                    let view = MessageView::from_stored(message);
                    origin
                        .outbox
                        .push(frames::ok(&origin.reply_id, json!({ "message": &view })));
                    crate::metrics::METRICS
                        .ack_latency
                        .observe(origin.received.elapsed().as_secs_f64());
                    log::trace!(
                        "r_{}: {} sent seq {}",
                        self.id,
                        origin.session,
                        message.row.seq
                    );
                }
                Err(err) => {
                    origin.outbox.push(frames::error(&origin.reply_id, err));
                }
            }
        }
        let _ = waiter.done.send(answer);
    }

    /// Committed messages from another node (or this one), in any order: those next in seq
    /// order are delivered now; a gap is read from the store.
    pub(super) fn arrive(&mut self, messages: Vec<StoredMessage>, ctx: &mut Context<Self>) {
        for message in self.posting.arrive(messages) {
            self.publish(&message);
        }
        self.fill_gap(ctx);
    }

    /// Reads the next missing range from the store, if any, and delivers it (holding up
    /// the room meanwhile, so nothing overtakes it).
    pub(super) fn fill_gap(&mut self, ctx: &mut Context<Self>) {
        let (after, count) = match self.posting.gap(!self.subscribers.is_empty()) {
            None => return,
            Some(Gap::TooFar { behind }) => {
                return self.close_lagging(&format!("{behind} messages to deliver"));
            }
            Some(Gap::Read { after, count }) => (after, count),
        };
        crate::metrics::METRICS.catch_up_reads.inc();
        let store = self.store.clone();
        let id = self.id;
        ctx.wait(
            async move { store.messages_after(id, after, count).await }
                .into_actor(self)
                .map(move |read, room, ctx| match read {
                    Ok(page) => {
                        for message in room.posting.fetched(page.messages) {
                            room.publish(&message);
                        }
                        room.fill_gap(ctx);
                    }
                    Err(err) => {
                        // Retried by the room's periodic check (or the next arrival).
                        log::warn!("room r_{id}: cannot read messages to deliver: {err}");
                        room.posting.fetch_failed();
                    }
                }),
        );
    }

    /// Delivers one message, next in seq order, to every joined connection.
    fn publish(&mut self, message: &StoredMessage) {
        let seq = message.row.seq;
        let view = MessageView::from_stored(message);
        if let super::State::Live(loaded) = &mut self.state {
            if let Some(member) = loaded.members.get_mut(&message.row.sender_id) {
                member.read_seq = member.read_seq.max(seq);
            }
        }
        let frame = Event::Message { message: view }.frame();
        let delivered = self.broadcast(&frame, |_, _| true);
        crate::metrics::METRICS.messages_delivered.inc_by(delivered);
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
                        files: Vec::new(),
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
}
