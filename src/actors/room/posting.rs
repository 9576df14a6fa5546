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
use crate::cluster::order::Order;
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
    /// What has been delivered to the joined connections, and what arrived out of order.
    order: Order<StoredMessage>,
    /// Set on a room restarted after a crash: the last seq its predecessor delivered.
    inherited_seq: Option<i64>,
}

/// Messages held while an earlier one is missing (read from the store meanwhile).
const HOLD_LIMIT: usize = 1024;

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
            order: Order::new(0, HOLD_LIMIT),
            inherited_seq,
        }
    }

    /// The room loaded with `last_seq` committed: a new room has delivered it all (no one
    /// has joined yet); a restarted one delivers what its predecessor did not.
    pub(super) fn loaded(&mut self, last_seq: i64) {
        let delivered = self.inherited_seq.take().unwrap_or(last_seq).min(last_seq);
        self.order = Order::new(delivered, HOLD_LIMIT);
        self.order.committed_upto(last_seq);
    }

    pub(super) fn delivered_seq(&self) -> i64 {
        self.order.delivered()
    }

    /// The store (or another node) says seqs up to `last_seq` are committed.
    pub(super) fn committed_upto(&mut self, last_seq: i64) {
        self.order.committed_upto(last_seq);
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
        let committed = self.deliver(waiters, outcomes);
        self.share_messages(&committed);
        self.arrive(committed, ctx);
        self.next_batch(ctx);
    }

    /// Committed messages from this node or another, in any order: those next in seq order
    /// are delivered now; a gap is read from the store (holding up the room meanwhile, so
    /// nothing overtakes it).
    pub(super) fn arrive(&mut self, messages: Vec<StoredMessage>, ctx: &mut Context<Self>) {
        for message in self.posting.order.offer(messages) {
            self.publish(&message);
        }
        self.fill_gap(ctx);
    }

    /// Reads the next missing range from the store, if any, and delivers it.
    pub(super) fn fill_gap(&mut self, ctx: &mut Context<Self>) {
        let Some(fetch) = self.posting.order.fetch() else {
            return;
        };
        if fetch.upto - fetch.after > MAX_REPLAY && !self.subscribers.is_empty() {
            self.close_lagging(&format!("{} messages to deliver", fetch.upto - fetch.after));
        }
        if self.subscribers.is_empty() {
            // No one to deliver to: connections that join read history themselves.
            self.posting.order.skip_to(fetch.upto);
            return;
        }
        crate::metrics::METRICS.catch_up_reads.inc();
        let store = self.store.clone();
        let id = self.id;
        let count = (fetch.upto - fetch.after).min(MAX_REPLAY);
        ctx.wait(
            async move { store.messages_after(id, fetch.after, count).await }
                .into_actor(self)
                .map(move |read, room, ctx| match read {
                    Ok(page) => {
                        for message in room.posting.order.fetched(page.messages) {
                            room.publish(&message);
                        }
                        room.fill_gap(ctx);
                    }
                    Err(err) => {
                        // Retried by the room's periodic check (or the next arrival).
                        log::warn!("room r_{id}: cannot read messages to deliver: {err}");
                        room.posting.order.fetch_failed();
                    }
                }),
        );
    }

    fn next_batch(&mut self, ctx: &mut Context<Self>) {
        self.posting.committing = false;
        self.flush(ctx);
    }

    /// Answers every post in the order it came, errors included, and hands what a user said
    /// in a bot room to the bot (here, on the node that committed it: once). Returns the
    /// newly committed messages.
    fn deliver(&mut self, waiters: Vec<Waiter>, outcomes: Vec<Outcome>) -> Vec<StoredMessage> {
        let mut committed = Vec::new();
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
                self.hand_to_bot(&message);
                committed.push(message.clone());
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
        committed
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
