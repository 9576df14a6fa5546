//! What members do in a room besides posting: read its history, mark it read, type. The
//! room's copy of its members refuses outsiders at once; a member's `history` and `read` are
//! checked against the store too (the copy may be behind another node's change).

use actix::prelude::*;
use serde_json::json;

use super::answer::{ready, Answer};
use super::in_turn::in_turn;
use super::{Room, State};
use crate::actors::messages::{Caller, Reply};
use crate::db::StoreError;
use crate::error::ProtoError;
use crate::model::UserId;
use crate::protocol::views::MessageView;
use crate::protocol::Event;

impl Room {
    pub(super) fn history(
        &mut self,
        caller: Caller,
        before_seq: Option<i64>,
        limit: i64,
    ) -> Answer<Reply> {
        if let Err(err) = self.require_member(caller.user.id, "read its history") {
            return ready(Err(err));
        }
        let store = self.store.clone();
        let (id, user_id, public_group) = (self.id, caller.user.id, self.is_public_group());
        let work = async move {
            if !store.is_member(id, user_id).await? {
                return Err(StoreError::NotMember { public_group });
            }
            store.full_page_before(id, before_seq, limit).await
        };
        // Not in turn: other commands go on meanwhile.
        Box::pin(
            actix::fut::wrap_future::<_, Room>(work).map(move |read, room, ctx| {
                let page = read.map_err(|err| {
                    room.refused_by_store(&err, ctx);
                    ProtoError::from(err)
                })?;
                let messages: Vec<MessageView> = page
                    .messages
                    .iter()
                    .map(|message| {
                        MessageView::from_full(message, Some(user_id))
                            .hidden(room.hides(user_id, message.message.row.sender_id))
                    })
                    .collect();
                Ok(Reply::Data(
                    json!({ "messages": messages, "has_more": page.has_more }),
                ))
            }),
        )
    }

    pub(super) fn read(
        &mut self,
        caller: Caller,
        seq: i64,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        if let Err(err) = self.require_member(caller.user.id, "mark it read") {
            return ready(Err(err));
        }
        // Past what this room delivered: in a cluster another node may have committed it a
        // moment ago (the client saw it through another connection), so the store decides.
        let delivered = self.posting.delivered_seq();
        let store = self.store.clone();
        let (id, user_id, public_group) = (self.id, caller.user.id, self.is_public_group());
        in_turn(
            ctx,
            // Ok(Err(last)): `seq` is past the room's last message.
            async move {
                if seq > delivered {
                    let last = store.room_last_seq(id).await?.unwrap_or(0);
                    if seq > last {
                        return Ok(Err(last));
                    }
                }
                let marked = store.mark_read(id, user_id, seq).await?;
                marked.map(Ok).ok_or(StoreError::NotMember { public_group })
            },
            move |marked: Result<Result<i64, i64>, StoreError>, room, ctx| match marked {
                Ok(Ok(read_seq)) => {
                    room.read_moved(&caller, read_seq);
                    Ok(Reply::Data(json!({ "read_seq": read_seq })))
                }
                Ok(Err(last)) => Err(ProtoError::bad_request(format!(
                    "seq {seq} is past the room's last message ({last})"
                ))),
                Err(err) => {
                    room.refused_by_store(&err, ctx);
                    Err(ProtoError::from(err))
                }
            },
        )
    }

    /// Moves a member's read position forward in memory; answers whether it moved.
    pub(super) fn move_read_position(&mut self, user_id: UserId, read_seq: i64) -> bool {
        match &mut self.state {
            State::Live(loaded) => match loaded.members.get_mut(&user_id) {
                Some(member) if read_seq > member.read_seq => {
                    member.read_seq = read_seq;
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn read_moved(&mut self, caller: &Caller, read_seq: i64) {
        if !self.move_read_position(caller.user.id, read_seq) {
            return;
        }
        let frame = Event::Read {
            room: self.id.to_string(),
            user: self.user_view(&caller.user),
            seq: read_seq,
        }
        .frame();
        let session = caller.session.clone();
        self.share_read(caller.user.id, read_seq, &frame);
        self.broadcast_signal(caller.user.id, &frame, |key, _| *key != session);
    }

    /// Passes `typing` on to the room, at most once per user every few seconds
    /// (`limits::typing`); one folded into the last is answered `ok` all the same.
    pub(super) fn typing(&mut self, caller: Caller) -> Result<Reply, ProtoError> {
        self.require_member(caller.user.id, "type in it")?;
        self.require_voice(caller.user.id)?;
        if !self.typing.pass(caller.user.id, std::time::Instant::now()) {
            return Ok(Reply::Data(crate::protocol::frames::empty()));
        }
        let frame = Event::Typing {
            room: self.id.to_string(),
            user: self.user_view(&caller.user),
        }
        .frame();
        let typist = caller.user.id;
        self.share_frame(&frame, Some(typist));
        self.broadcast_signal(typist, &frame, |_, subscriber| subscriber.user_id != typist);
        Ok(Reply::Data(crate::protocol::frames::empty()))
    }
}
