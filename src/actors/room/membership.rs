//! Who is in the room and which connections follow it: `join`, `leave`, `invite`, and the
//! admin API's member changes and deletion (a member's `kick` is in `moderation.rs`). What the store says decides: a `join`
//! of a member is checked against it, and `invite` and `kick` go by what the store did
//! (the room's copy may be behind another node's change until it reloads, `authz.rs`).

use std::collections::HashSet;

use actix::prelude::*;
use serde_json::json;

use super::answer::{ready, Answer};
use super::authz::Behind;
use super::in_turn::in_turn;
use super::{Access, Member, Room, State};
use crate::actors::messages::{AdminReply, Caller, NotifyUser, Reply, SessionKey, Subscriber};
use crate::db::conversation::{FullPage, RoomExtras};
use crate::db::models::{RoomKind, UserRow};
use crate::db::safety::{AuditEntry, Moderation};
use crate::db::StoreError;
use crate::error::ProtoError;
use crate::model::UserId;
use crate::protocol::views::MessageView;
use crate::protocol::{frames, Event, ReplyId};

/// What a `join` read from the store: whether the caller became a member now, then whom
/// they block, the page and the room's extras.
type Joining = (bool, Option<HashSet<UserId>>, FullPage, RoomExtras);

impl Room {
    fn kind(&self) -> Option<RoomKind> {
        self.loaded().map(|loaded| loaded.kind)
    }

    /// `join`: answers with the page and the room; a caller who becomes a member brings
    /// their blocks.
    pub(super) fn join(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        after_seq: Option<i64>,
        limit: i64,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        let access = self.access(caller.user.id);
        if access == Access::Hidden {
            return ready(Err(ProtoError::no_such_room()));
        }
        let public_group = self.is_public_group();
        let store = self.store.clone();
        let (id, user_id) = (self.id, caller.user.id);
        // In turn, so that no event of this room reaches the connection before its reply.
        in_turn(
            ctx,
            async move {
                // Whether the caller becomes a member now (false: they were one already).
                let became = match access {
                    Access::Member if store.is_member(id, user_id).await? => false,
                    // Removed meanwhile (on another node): a public group takes them back,
                    // others are closed to them.
                    Access::Member if !public_group => {
                        return Err(StoreError::NotMember {
                            public_group: false,
                        })
                    }
                    _ => store.add_member(id, user_id).await?,
                };
                // A new member brings their blocks (section 13).
                let blocked = match became {
                    true => Some(store.blocked_by(user_id).await?),
                    false => None,
                };
                let page = match after_seq {
                    Some(after) => store.full_page_after(id, after, limit).await?,
                    None => store.full_page_before(id, None, limit).await?,
                };
                let extras = store
                    .room_extras(Some(user_id), vec![id])
                    .await
                    .map_err(|err| err.into_read_error())?
                    .remove(&id)
                    .unwrap_or_default();
                Ok((became, blocked, page, extras))
            },
            move |fetched: Result<Joining, StoreError>, room, ctx| {
                match fetched {
                    Ok((became, blocked, page, extras)) => {
                        if let (Some(blocked), State::Live(loaded)) = (blocked, &mut room.state) {
                            loaded.blocks.set_blocker(user_id, blocked);
                        }
                        if !became && room.access(user_id) != Access::Member {
                            // A member the room's copy does not know yet.
                            room.reload(Behind::Found, ctx);
                        }
                        Ok(room.joined(caller, reply_id, became, page, extras))
                    }
                    Err(err) => {
                        room.refused_by_store(&err, ctx);
                        Err(ProtoError::from(err))
                    }
                }
            },
        )
    }

    fn joined(
        &mut self,
        caller: Caller,
        reply_id: ReplyId,
        became_member: bool,
        mut page: FullPage,
        extras: RoomExtras,
    ) -> Reply {
        if became_member {
            self.member_added(caller.user.clone(), Some(&caller.session));
        }
        // Messages committed but not yet delivered here come as events right after the reply.
        let delivered = self.posting.delivered_seq();
        let before = page.messages.len();
        page.messages.retain(|message| message.seq() <= delivered);
        let has_more = page.has_more && page.messages.len() == before;
        self.subscribers.insert(
            caller.session.clone(),
            Subscriber {
                user_id: caller.user.id,
                outbox: caller.outbox.clone(),
            },
        );
        self.announce_join(caller.user.id);
        let viewer = Some(caller.user.id);
        let messages: Vec<MessageView> = page
            .messages
            .iter()
            .map(|message| {
                MessageView::from_full(message, viewer)
                    .hidden(self.hides(caller.user.id, message.message.row.sender_id))
            })
            .collect();
        let mut view = self.view_for(Some(caller.user.id));
        if let Some(view) = &mut view {
            let me = caller.user.id;
            crate::actors::room_list::complete(view, extras, viewer, |sender| {
                self.hides(me, sender)
            });
        }
        caller.outbox.push(frames::ok(
            &reply_id,
            json!({
                "room": view,
                "members": self.member_views(),
                "messages": messages,
                "has_more": has_more,
            }),
        ));
        Reply::Written
    }

    pub(super) fn leave(
        &mut self,
        caller: Caller,
        forget: bool,
        ctx: &mut Context<Self>,
    ) -> Answer<Reply> {
        let access = self.access(caller.user.id);
        if access == Access::Hidden && !self.subscribers.contains_key(&caller.session) {
            return ready(Err(ProtoError::no_such_room()));
        }
        if forget && self.kind() != Some(RoomKind::Group) {
            return ready(Err(ProtoError::bad_request(
                "`forget` is only for groups: a direct or bot room stays in the list",
            )));
        }
        self.subscribers.remove(&caller.session);
        self.announce_leave(caller.user.id);
        if !forget || access != Access::Member {
            return ready(Ok(Reply::Data(frames::empty())));
        }
        let store = self.store.clone();
        let (id, user_id) = (self.id, caller.user.id);
        in_turn(
            ctx,
            async move { store.remove_member(id, user_id).await },
            move |removed, room, _| {
                removed.map_err(ProtoError::from).map(|_| {
                    room.member_removed(user_id, Some(caller.session));
                    Reply::Data(frames::empty())
                })
            },
        )
    }

    /// `invite` (by a member) or the admin API's add (by no one).
    pub(super) fn invite<R: Done + 'static>(
        &mut self,
        by: Option<Caller>,
        user: UserRow,
        ctx: &mut Context<Self>,
    ) -> Answer<R> {
        // Whether the caller may see the room comes first: a hidden room's kind is no one's business.
        if let Some(caller) = &by {
            match self.access(caller.user.id) {
                Access::Hidden => return ready(Err(ProtoError::no_such_room())),
                Access::Outsider => {
                    return ready(Err(ProtoError::forbidden(
                        "only members may invite to a group",
                    )))
                }
                Access::Member => {}
            }
        }
        if self.kind() != Some(RoomKind::Group) {
            return ready(Err(ProtoError::bad_request(
                "only groups take new members; direct and bot rooms never do",
            )));
        }
        let store = self.store.clone();
        let (id, user_id) = (self.id, user.id);
        let inviter = by.as_ref().map(|caller| caller.user.id);
        let directory = self.settings.directory;
        in_turn(
            ctx,
            async move {
                if let Some(inviter) = inviter {
                    // Section 13: whom the inviter cannot find, they cannot invite.
                    crate::actors::people::may_find(&store, directory, inviter, user_id).await?;
                    // Neither side of a block may invite the other.
                    if store.block_between(inviter, user_id).await? {
                        return Err(ProtoError::forbidden(
                            "a block stands between you and this user; they cannot be invited",
                        ));
                    }
                }
                let added = store.add_member(id, user_id).await?;
                // A new member brings their blocks.
                let blocked = match added {
                    true => store.blocked_by(user_id).await?,
                    false => HashSet::new(),
                };
                Ok((added, blocked))
            },
            move |added, room, ctx| match added {
                Ok((true, blocked)) => {
                    if let State::Live(loaded) = &mut room.state {
                        loaded.blocks.set_blocker(user_id, blocked);
                    }
                    room.member_added(user, None);
                    Ok(R::done())
                }
                // A member already; the room's copy may not know it yet.
                Ok((false, _)) => {
                    if room.access(user_id) != Access::Member {
                        room.reload(Behind::Found, ctx);
                    }
                    Ok(R::done())
                }
                Err(err) => Err(err),
            },
        )
    }

    /// The admin API's removal of a member (a member's `kick` is a sanction:
    /// `moderation.rs`), with its audit entry.
    pub(super) fn remove(
        &mut self,
        user_id: UserId,
        ctx: &mut Context<Self>,
    ) -> Answer<AdminReply> {
        if self.kind() != Some(RoomKind::Group) {
            return ready(Err(ProtoError::bad_request(
                "only groups lose members; direct and bot rooms never do",
            )));
        }
        let store = self.store.clone();
        let id = self.id;
        let audit = AuditEntry::admin("kick")
            .room(id)
            .target(user_id.to_string());
        in_turn(
            ctx,
            async move {
                let audit = Some(Moderation::audit(audit));
                store.remove_member_with(id, user_id, audit).await
            },
            move |removed, room, ctx| match removed {
                Ok(true) => {
                    room.member_removed(user_id, None);
                    Ok(AdminReply::Done)
                }
                // Not a member (any more): the room's copy may still have them.
                Ok(false) => {
                    if room.access(user_id) == Access::Member {
                        room.reload(Behind::Found, ctx);
                    }
                    Err(ProtoError::not_found("no such member in this room"))
                }
                Err(err) => Err(ProtoError::from(err)),
            },
        )
    }

    pub(super) fn delete(&mut self, ctx: &mut Context<Self>) -> Answer<AdminReply> {
        let store = self.store.clone();
        let id = self.id;
        in_turn(
            ctx,
            async move { store.delete_room(id).await },
            move |deleted, room, ctx| {
                deleted.map_err(ProtoError::from).map(|_| {
                    let members: Vec<UserId> = room
                        .loaded()
                        .map(|loaded| loaded.members.keys().copied().collect())
                        .unwrap_or_default();
                    room.subscribers.clear();
                    room.state = State::Missing;
                    room.share_change();
                    let frame = Event::RoomRemoved {
                        room: room.id.to_string(),
                    }
                    .frame();
                    for user_id in members {
                        room.supervisor.notify.do_send(NotifyUser {
                            user_id,
                            except: None,
                            frame: frame.clone(),
                        });
                    }
                    // Stop once the answer has gone out: stopping now would drop it.
                    ctx.run_later(std::time::Duration::from_millis(100), |room, ctx| {
                        room.stop_cleanly(ctx)
                    });
                    AdminReply::Done
                })
            },
        )
    }

    /// A membership was stored: tell the room, and the new member's other connections.
    fn member_added(&mut self, user: UserRow, except: Option<&SessionKey>) {
        let user_id = user.id;
        let user_view = self.user_view(&user);
        if let State::Live(loaded) = &mut self.state {
            loaded.members.insert(user_id, Member { user, read_seq: 0 });
        }
        let joined = Event::MemberJoined {
            room: self.id.to_string(),
            user: user_view,
        }
        .frame();
        // The other nodes reload the room and tell their joined connections themselves.
        self.share_change();
        self.broadcast(&joined, |_, _| true);
        if let Some(mut view) = self.view_for(Some(user_id)) {
            // The room's last message and the new member's unread mentions are the store's.
            let (store, notify, id) = (self.store.clone(), self.supervisor.notify.clone(), self.id);
            let except = except.cloned();
            let blocks = self
                .loaded()
                .map(|loaded| loaded.blocks.clone())
                .unwrap_or_default();
            actix::spawn(async move {
                match store.room_extras(Some(user_id), vec![id]).await {
                    Ok(mut extras) => {
                        if let Some(extras) = extras.remove(&id) {
                            crate::actors::room_list::complete(
                                &mut view,
                                extras,
                                Some(user_id),
                                |sender| blocks.hides(user_id, sender),
                            );
                        }
                    }
                    Err(err) => {
                        log::warn!("room {id}: room_added without its last message: {err}")
                    }
                }
                notify.do_send(NotifyUser {
                    user_id,
                    except,
                    frame: Event::RoomAdded { room: view }.frame(),
                });
            });
        }
    }

    /// A membership ended: the user's connections stop following the room and are told.
    pub(super) fn member_removed(&mut self, user_id: UserId, except: Option<SessionKey>) {
        let removed = match &mut self.state {
            State::Live(loaded) => {
                loaded.levels.remove(&user_id);
                loaded.standings.remove(&user_id);
                loaded.members.remove(&user_id)
            }
            _ => None,
        };
        self.unsubscribe_user(user_id);
        self.share_change();
        let room = self.id.to_string();
        if let Some(member) = removed {
            let left = Event::MemberLeft {
                room: room.clone(),
                user: self.user_view(&member.user),
            }
            .frame();
            self.broadcast(&left, |_, _| true);
        }
        self.supervisor.notify.do_send(NotifyUser {
            user_id,
            except,
            frame: Event::RoomRemoved { room }.frame(),
        });
    }
}

/// The answer of a membership change, for a connection's command or for the admin API.
pub(super) trait Done {
    fn done() -> Self;
}

impl Done for Reply {
    fn done() -> Self {
        Reply::Data(frames::empty())
    }
}

impl Done for AdminReply {
    fn done() -> Self {
        AdminReply::Done
    }
}
