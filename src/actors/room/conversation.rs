//! The room's side of section 11's changes to existing messages: `edit`, `delete`, `react`
//! (and the admin API's delete), each one store transaction under the room row's lock that
//! takes the room's next `rev` (`db/conversation/changes.rs`); `changes`, the catch-up read;
//! and the delivery of `message_updated` to every joined connection in `rev` order
//! ([`RevOrder`]), whichever way a change arrives: this node's commits, other nodes'
//! publishes, or a read of `changes` when one is missing.
//!
//! A change is acknowledged only once committed: the caller's `ok` is written first, then
//! the event goes to every joined connection, the caller's own included, each with the
//! `reactions[].me` of its user.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use actix::prelude::*;
use serde_json::json;

use super::answer::{ready, Answer};
use super::Room;
use crate::actors::messages::{AdminReply, Caller, Reply};
use crate::conversation::Emoji;
use crate::db::conversation::{Change, ConversationError, Deleter, FullMessage};
use crate::error::ProtoError;
use crate::model::{MessageId, RoomId, UserId};
use crate::posting::rev_order::RevOrder;
use crate::posting::{HOLD_LIMIT, MAX_REPLAY};
use crate::protocol::views::MessageView;
use crate::protocol::{frames, Event, Frame, ReplyId};

/// The room's order of changes (`message_updated`).
pub(super) type Revs = RevOrder<FullMessage>;

/// How long a missing `rev` is waited for before it is read from the store.
const GAP_GRACE: Duration = Duration::from_millis(150);

/// A room's change order before it is loaded: it starts at the room's `last_rev`.
pub(super) fn revs_from(last_rev: i64) -> Revs {
    RevOrder::new(last_rev, HOLD_LIMIT)
}

impl Room {
    /// `edit`: the body (checked by the parser, as `send`'s) and, when given, the mentions.
    pub(super) fn edit(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        message: MessageId,
        body: String,
        mentions: Option<Vec<UserId>>,
    ) -> Answer<Reply> {
        if let Err(err) = self.require_voice(caller.user.id) {
            return ready(Err(err));
        }
        let (store, user) = (self.store.clone(), caller.user.id);
        self.change(caller, reply_id, message, "edit in it", move |room, seq| async move {
            store.edit_message(room, seq, user, body, mentions).await
        })
    }

    /// `delete`: leaves a tombstone.
    pub(super) fn delete_message(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        message: MessageId,
    ) -> Answer<Reply> {
        let (store, user) = (self.store.clone(), caller.user.id);
        self.change(caller, reply_id, message, "delete in it", move |room, seq| async move {
            store.delete_message(room, seq, Deleter::User(user)).await
        })
    }

    /// `react`: adds or takes back the caller's emoji.
    pub(super) fn react(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        message: MessageId,
        emoji: Emoji,
        on: bool,
    ) -> Answer<Reply> {
        if let Err(err) = self.require_voice(caller.user.id) {
            return ready(Err(err));
        }
        let (store, user) = (self.store.clone(), caller.user.id);
        self.change(
            caller,
            reply_id,
            message,
            "react in it",
            move |room, seq| async move { store.react(room, seq, user, emoji, on).await },
        )
    }

    /// The admin API deletes any message of the room.
    pub(super) fn admin_delete(&mut self, seq: i64) -> Answer<AdminReply> {
        let (store, id) = (self.store.clone(), self.id);
        let work = async move { store.delete_message(id, seq, Deleter::Admin).await };
        self.changing += 1;
        Box::pin(
            actix::fut::wrap_future::<_, Room>(work).map(move |result, room, ctx| {
                room.changing -= 1;
                let change = result.map_err(|err| room.change_failed(err, ctx))?;
                room.committed_change(change, ctx);
                Ok(AdminReply::Done)
            }),
        )
    }

    /// `changes`: every message changed after `after_rev`, each once, at its latest state.
    pub(super) fn changes(&mut self, caller: Caller, after_rev: i64, limit: i64) -> Answer<Reply> {
        if let Err(err) = self.require_member(caller.user.id, "read its changes") {
            return ready(Err(err));
        }
        let (store, id, user) = (self.store.clone(), self.id, caller.user.id);
        let work = async move {
            if !store.is_member(id, user).await? {
                return Err(ConversationError::NotMember);
            }
            store.changes(id, after_rev, limit).await
        };
        Box::pin(
            actix::fut::wrap_future::<_, Room>(work).map(move |read, room, _| {
                let page = read.map_err(ProtoError::from)?;
                let messages: Vec<MessageView> = page
                    .messages
                    .iter()
                    .map(|message| {
                        MessageView::from_full(message, Some(user))
                            .hidden(room.hides(user, message.message.row.sender_id))
                    })
                    .collect();
                Ok(Reply::Data(json!({
                    "messages": messages,
                    "last_rev": page.last_rev,
                    "has_more": page.has_more,
                })))
            }),
        )
    }

    /// Runs a change of the message `message` names, once the caller is known as a member
    /// and the message as one of this room's; answers the caller, then delivers.
    fn change<W, F>(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        message: MessageId,
        doing: &str,
        work: W,
    ) -> Answer<Reply>
    where
        W: FnOnce(RoomId, i64) -> F,
        F: Future<Output = Result<Change, ConversationError>> + 'static,
    {
        if let Err(err) = self.require_member(caller.user.id, doing) {
            return ready(Err(err));
        }
        if message.room != self.id {
            return ready(Err(ProtoError::not_found("no such message in this room")));
        }
        let work = work(self.id, message.seq);
        self.changing += 1;
        Box::pin(
            actix::fut::wrap_future::<_, Room>(work).map(move |result, room, ctx| {
                room.changing -= 1;
                let change = result.map_err(|err| room.change_failed(err, ctx))?;
                let view = MessageView::from_full(change.message(), Some(caller.user.id));
                caller.outbox.push(frames::sent(&reply_id, &view));
                room.committed_change(change, ctx);
                Ok(Reply::Written)
            }),
        )
    }

    /// A change this node committed: the other nodes learn it, and it is delivered in turn.
    fn committed_change(&mut self, change: Change, ctx: &mut Context<Self>) {
        match change {
            Change::Changed { message, .. } => {
                self.share_changes(std::slice::from_ref(&message));
                self.changes_arrive(vec![message], ctx);
            }
            // A gap that waited for this change's answer is read now.
            Change::Unchanged(_) => self.fill_rev_gap(ctx),
        }
    }

    /// A change that failed (refused, or the store failed: it may have committed all the
    /// same, and then its `rev` is read back as any gap is).
    fn change_failed(&mut self, err: ConversationError, ctx: &mut Context<Self>) -> ProtoError {
        self.fill_rev_gap(ctx);
        ProtoError::from(err)
    }

    /// Changes from this node or another, in any order: those next in `rev` order are
    /// delivered now; a gap is read from the store.
    pub(super) fn changes_arrive(&mut self, changes: Vec<FullMessage>, ctx: &mut Context<Self>) {
        let id = self.id;
        let ours = changes.into_iter().filter(|change| change.room_id() == id);
        for change in self.revs.offer(ours) {
            self.publish_change(&change);
        }
        self.fill_rev_gap(ctx);
    }

    /// The room row says revs up to `last_rev` are committed.
    pub(super) fn revs_committed_upto(&mut self, last_rev: i64, ctx: &mut Context<Self>) {
        self.revs.committed_upto(last_rev);
        self.fill_rev_gap(ctx);
    }

    /// Reads the changes this node has not delivered, if any, and delivers them. Not while
    /// a change of this node is on its way (its answer may be the missing `rev`), and only
    /// after [`GAP_GRACE`], in which a late publish from another node usually comes: a read
    /// of `changes` answers each message once, at its latest state, so a change that is
    /// read rather than received is seen only as part of its message's later state.
    fn fill_rev_gap(&mut self, ctx: &mut Context<Self>) {
        if self.subscribers.is_empty() {
            // No one to tell: a connection that joins later reads the messages whole.
            let known = self.revs.known();
            self.revs.skip_to(known);
            return;
        }
        if self.changing > 0 || self.rev_gap_due || self.revs.known() <= self.revs.delivered() {
            return;
        }
        self.rev_gap_due = true;
        ctx.run_later(GAP_GRACE, |room, ctx| {
            room.rev_gap_due = false;
            room.read_rev_gap(ctx);
        });
    }

    fn read_rev_gap(&mut self, ctx: &mut Context<Self>) {
        if self.subscribers.is_empty() || self.changing > 0 {
            return self.fill_rev_gap(ctx);
        }
        let Some(fetch) = self.revs.fetch() else {
            return;
        };
        if fetch.upto - fetch.after > MAX_REPLAY {
            self.revs.skip_to(fetch.upto);
            return self.close_lagging(&format!("{} changes to deliver", fetch.upto - fetch.after));
        }
        crate::metrics::METRICS.catch_up_reads.inc();
        let (store, id) = (self.store.clone(), self.id);
        let limit = crate::db::conversation::MAX_CHANGES_PAGE;
        ctx.spawn(
            async move { store.changes(id, fetch.after, limit).await }
                .into_actor(self)
                .map(move |read, room, ctx| match read {
                    Ok(page) => {
                        let ready = room
                            .revs
                            .fetched(page.messages, page.has_more, page.last_rev);
                        for change in ready {
                            room.publish_change(&change);
                        }
                        room.fill_rev_gap(ctx);
                    }
                    Err(err) => {
                        // Asked again by the next arrival or the room's periodic check.
                        log::warn!("room {id}: cannot read changes to deliver: {err}");
                        room.revs.fetch_failed();
                    }
                }),
        );
    }

    /// Sends `message_updated` to every joined connection, each with its user's `me`.
    fn publish_change(&mut self, message: &FullMessage) {
        let room = self.id.to_string();
        let author = message.message.row.sender_id;
        let shared = message.reactions.is_empty() && !self.anyone_hides(author);
        let blocks = self
            .loaded()
            .map(|loaded| loaded.blocks.clone())
            .unwrap_or_default();
        let frame_for = |viewer: Option<UserId>| -> Frame {
            let hidden = viewer.is_some_and(|viewer| blocks.hides(viewer, author));
            Event::MessageUpdated {
                room: room.clone(),
                rev: message.rev,
                message: MessageView::from_full(message, viewer).hidden(hidden),
            }
            .frame()
        };
        let everyone = shared.then(|| frame_for(None));
        let mut frames: HashMap<UserId, Frame> = HashMap::new();
        self.subscribers.retain(|_, subscriber| {
            let frame = match &everyone {
                Some(frame) => frame.clone(),
                None => frames
                    .entry(subscriber.user_id)
                    .or_insert_with(|| frame_for(Some(subscriber.user_id)))
                    .clone(),
            };
            subscriber.outbox.push(frame)
        });
    }
}
