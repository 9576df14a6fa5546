//! The room's side of posting: it feeds sends, actions and system or bot posts to its
//! [`Pipeline`] (the pure state machine in `crate::posting`), hands each batch the pipeline
//! starts to the store, feeds the outcome back, and does what the settled batch asks: answer
//! every post, share what was committed with the other nodes and the bot, deliver in `seq`
//! order, read a gap from the store.

use actix::prelude::*;
use serde_json::json;
use tokio::sync::oneshot;

use super::answer::Answer;
use super::in_turn::later;
use super::Room;
use crate::actors::messages::{Origin, Post, ToBot, Turn};
use crate::db::models::{RoomKind, StoredMessage, UserKind};
use crate::db::{NewPost, Outcome, StoreError};
use crate::error::ProtoError;
use crate::model::{Seq, UserId};
use crate::posting::{Batch, Gap, Pipeline, Refused};
use crate::protocol::ids::{FileId, MessageId};
use crate::protocol::template::Template;
use crate::protocol::views::MessageView;
use crate::protocol::{CloseCode, Event};

/// The room's pipeline: its waiters are connections and the callers of [`Post`].
pub(super) type Posting = Pipeline<Waiter>;

/// Who waits for a post's answer.
// Nearly every waiter is a connection: boxing its origin would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Waiter {
    /// A connection's `send` or `action`: answered through its origin.
    Connection(Origin),
    /// A bot or the admin API, waiting for the stored message.
    Caller(oneshot::Sender<Result<StoredMessage, ProtoError>>),
}

impl Waiter {
    fn answer(self, answer: Result<StoredMessage, ProtoError>) {
        match self {
            Waiter::Connection(origin) => origin.answer(answer),
            // A caller that gave up waiting needs no answer.
            Waiter::Caller(done) => drop(done.send(answer)),
        }
    }
}

/// What a connection's `send` says.
pub(super) struct Said {
    pub body: String,
    pub client_msg_id: Option<String>,
    pub files: Vec<FileId>,
    pub reply_to: Option<MessageId>,
    pub mentions: Vec<UserId>,
}

impl Room {
    /// A connection's `send`. What it answers and whom it mentions are checked here against
    /// what the room holds, and again by the store in the message's own commit.
    pub(super) fn send(&mut self, origin: Origin, said: Said, ctx: &mut Context<Self>) {
        if let Err(err) = self.require_member(origin.user().id, "send") {
            return origin.answer(Err(err));
        }
        if self.blocked_direct(origin.user().id) {
            return origin.answer(Err(StoreError::Blocked.into()));
        }
        if let Err(err) = self.require_voice(origin.user().id) {
            return origin.answer(Err(err));
        }
        let reply_to = match said.reply_to {
            None => None,
            Some(MessageId { room, seq }) if room == self.id => Some(Seq(seq)),
            Some(_) => {
                return origin.answer(Err(ProtoError::not_found("no such message in this room")))
            }
        };
        if let Err(err) = self.check_mentions(&said.mentions) {
            return origin.answer(Err(err));
        }
        let post = NewPost {
            reply_to,
            notify: self.to_notify(origin.user().id, &said.mentions, None),
            mentions: said.mentions,
            room_id: self.id,
            sender: origin.user().clone(),
            body: said.body,
            template: None,
            client_msg_id: said.client_msg_id,
            action: None,
            files: said.files.into_iter().map(FileId::into_key).collect(),
        };
        self.push(post, Waiter::Connection(origin), ctx);
    }

    /// Every mentioned user must be a member (as far as the room knows; the store checks
    /// again when the message commits).
    fn check_mentions(&self, mentions: &[UserId]) -> Result<(), ProtoError> {
        let Some(loaded) = self.loaded() else {
            return Err(ProtoError::no_such_room());
        };
        let outsiders: Vec<UserId> = mentions
            .iter()
            .filter(|user| !loaded.members.contains_key(user))
            .copied()
            .collect();
        if outsiders.is_empty() {
            return Ok(());
        }
        Err(ProtoError::from(StoreError::MentionsOutsiders(outsiders)))
    }

    /// A message from the system or a bot; the answer is the stored message.
    pub(super) fn post_as(&mut self, post: Post, ctx: &mut Context<Self>) -> Answer<StoredMessage> {
        let post = NewPost {
            reply_to: None,
            mentions: Vec::new(),
            room_id: self.id,
            notify: self.to_notify(post.sender.id, &[], None),
            sender: post.sender,
            body: post.body,
            template: post.template,
            client_msg_id: None,
            action: post.action,
            files: Vec::new(),
        };
        let (done, receiver) = oneshot::channel();
        self.push(post, Waiter::Caller(done), ctx);
        later(receiver)
    }

    fn push(&mut self, post: NewPost, waiter: Waiter, ctx: &mut Context<Self>) {
        match self.posting.push(post, waiter) {
            Ok(Some(batch)) => self.commit(batch, ctx),
            Ok(None) => {}
            Err(Refused { waiter, error }) => waiter.answer(Err(error)),
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
        // The store refused a sender the room's copy let through: the copy is behind.
        let refusal = result.as_ref().ok().and_then(|outcomes| {
            outcomes.iter().find_map(|outcome| match outcome {
                Err(
                    err @ (StoreError::NotMember { .. }
                    | StoreError::Deactivated
                    | StoreError::Blocked
                    | StoreError::Muted(_)),
                ) => Some(err.clone()),
                _ => None,
            })
        });
        let settled = self.posting.settle(result);
        for (waiter, answer) in settled.answers {
            waiter.answer(answer);
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
        if let Some(err) = refusal {
            self.refused_by_store(&err, ctx);
        }
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
            async move { store.full_page_after(id, after, count).await }
                .into_actor(self)
                .map(move |read, room, ctx| match read {
                    Ok(page) => {
                        let page = page.messages.into_iter().map(|full| full.message).collect();
                        for message in room.posting.fetched(page) {
                            room.publish(&message);
                        }
                        room.fill_gap(ctx);
                    }
                    Err(err) => {
                        // Retried by the room's periodic check (or the next arrival).
                        log::warn!("room {id}: cannot read messages to deliver: {err}");
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
        let delivered = self.broadcast_message(message.row.sender_id, &frame, || {
            Event::Message {
                message: MessageView::from_stored(message).hidden(true),
            }
            .frame()
        });
        crate::metrics::METRICS.messages_delivered.inc_by(delivered);
    }

    /// In a bot room, what the user says goes to the bot.
    fn hand_to_bot(&self, message: &StoredMessage) {
        let Some(loaded) = self.loaded() else {
            return;
        };
        if loaded.kind != RoomKind::Bot || message.sender.kind != UserKind::User {
            return;
        }
        let Some(bot) = loaded
            .members
            .values()
            .find(|member| member.user.kind == UserKind::Bot)
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

    /// `action`: the user pressed a button or quick reply of one of the bot's messages; its
    /// label is posted as the user's message.
    pub(super) fn action(
        &mut self,
        origin: Origin,
        message: MessageId,
        choice: String,
        ctx: &mut Context<Self>,
    ) {
        let message_id = message.to_string();
        if let Err(err) = self.require_member(origin.user().id, "answer in it") {
            return origin.answer(Err(err));
        }
        if self.loaded().map(|loaded| loaded.kind) != Some(RoomKind::Bot) {
            return origin.answer(Err(ProtoError::bad_request(
                "`action` answers a bot's buttons; this room has no bot",
            )));
        }
        let seq = match message {
            MessageId { room, seq } if room == self.id => seq,
            _ => {
                return origin.answer(Err(ProtoError::bad_request(format!(
                    "message {message_id:?} is not in this room"
                ))))
            }
        };
        let store = self.store.clone();
        let id = self.id;
        ctx.wait(
            async move { store.message(id, seq).await }
                .into_actor(self)
                .map(move |found, room, ctx| {
                    let label = found
                        .map_err(ProtoError::from)
                        .and_then(|found| room.offered_label(found, &message_id, &choice));
                    match label {
                        Ok(label) => {
                            let post = NewPost {
                                reply_to: None,
                                mentions: Vec::new(),
                                room_id: id,
                                notify: room.to_notify(origin.user().id, &[], None),
                                sender: origin.user().clone(),
                                body: label,
                                template: None,
                                client_msg_id: None,
                                action: Some(json!({ "message": message_id, "id": choice })),
                                files: Vec::new(),
                            };
                            room.push(post, Waiter::Connection(origin), ctx);
                        }
                        Err(err) => origin.answer(Err(err)),
                    }
                }),
        );
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
        if message.sender.kind != UserKind::Bot {
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
    pub(super) fn close_lagging(&mut self, why: &str) {
        log::warn!(
            "room {}: closing joined connections to resume: {why}",
            self.id
        );
        for subscriber in self.subscribers.values() {
            subscriber.outbox.close(
                CloseCode::Lagging,
                "the room restarted; resume with after_seq",
            );
        }
        self.subscribers.clear();
    }
}
