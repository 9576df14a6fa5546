//! The hub's registry of connections: every user's open sessions, presence (told once to
//! everyone who shares a live room with the user), events for one user's connections,
//! broadcasts, and closing a user's connections from outside.

use std::collections::{HashMap, HashSet};

use actix::prelude::*;

use super::Hub;
use crate::actors::messages::{Closed, Connect, Disconnect, NotifyUser, SessionKey};
use crate::actors::outbox::Outbox;
use crate::actors::room::{Room, Subscribers};
use crate::db::models::UserRow;
use crate::model::{RoomId, UserId};
use crate::protocol::views::UserView;
use crate::protocol::{CloseCode, Event, Frame};

pub(super) struct Connection {
    pub(super) token_id: Option<i64>,
    outbox: Outbox,
    closed: Recipient<Closed>,
}

impl Hub {
    pub(super) fn notify(
        &self,
        user_id: UserId,
        except: Option<&SessionKey>,
        frame: &Frame,
    ) -> usize {
        let Some(sessions) = self.connections.get(&user_id) else {
            return 0;
        };
        sessions
            .iter()
            .filter(|(key, _)| Some(*key) != except)
            .filter(|(_, connection)| connection.outbox.push(frame.clone()))
            .count()
    }

    /// Pushes a frame to every connection on this node; answers how many took it.
    pub(super) fn push_to_all(&self, frame: &Frame) -> usize {
        self.connections
            .values()
            .flat_map(|sessions| sessions.values())
            .filter(|connection| connection.outbox.push(frame.clone()))
            .count()
    }

    /// [`announce_presence`](Self::announce_presence) for a user known by id (online or
    /// offline on another node).
    pub(super) fn announce_presence_of(
        &self,
        user_id: UserId,
        online: bool,
        ctx: &mut Context<Self>,
    ) {
        let store = self.store.clone();
        ctx.spawn(
            async move { store.user(user_id).await }
                .into_actor(self)
                .map(move |user, hub, ctx| match user {
                    Ok(Some(user)) => hub.announce_presence(user, online, ctx),
                    Ok(None) => {}
                    Err(err) => log::warn!("presence of {user_id}: {err}"),
                }),
        );
    }

    /// Tells every connection that joined a room of `user`'s that they came or went, once.
    fn announce_presence(&self, user: UserRow, online: bool, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let user_id = user.id;
        let frame = Event::Presence {
            user: UserView::with_presence(&user, online),
            online,
        }
        .frame();
        ctx.spawn(
            async move { store.room_ids_of(user_id).await }
                .into_actor(self)
                .map(move |room_ids, hub, ctx| {
                    let room_ids = match room_ids {
                        Ok(ids) => ids,
                        Err(err) => {
                            log::warn!("presence of {user_id}: {err}");
                            return;
                        }
                    };
                    // Only live rooms have joined connections.
                    let live: Vec<(RoomId, Addr<Room>)> = room_ids
                        .iter()
                        .filter_map(|&id| hub.rooms.get(&id).map(|room| (id, room.clone())))
                        .collect();
                    ctx.spawn(
                        async move {
                            let mut told: HashSet<SessionKey> = HashSet::new();
                            for (room_id, room) in live {
                                let subscribers =
                                    match room.send(Subscribers { about: user_id }).await {
                                        Ok(subscribers) => subscribers,
                                        // Stopped since: its connections rejoin a new actor.
                                        Err(err) => {
                                            log::debug!(
                                                "presence of {user_id}: room {room_id} did not \
                                             answer ({err}); its connections miss this change"
                                            );
                                            continue;
                                        }
                                    };
                                for (key, outbox) in subscribers {
                                    if told.insert(key) {
                                        outbox.push(frame.clone());
                                    }
                                }
                            }
                        }
                        .into_actor(hub),
                    );
                }),
        );
    }
}

impl Handler<Connect> for Hub {
    type Result = ();

    fn handle(&mut self, connect: Connect, ctx: &mut Context<Self>) {
        let first = self.presence.connected(connect.user.id);
        self.connections.entry(connect.user.id).or_default().insert(
            connect.session,
            Connection {
                token_id: connect.token_id,
                outbox: connect.outbox,
                closed: connect.closed,
            },
        );
        self.share_connections(connect.user.id, first);
        if first && self.local_presence(connect.user.id, true, ctx) {
            self.announce_presence(connect.user, true, ctx);
        }
    }
}

impl Handler<Disconnect> for Hub {
    type Result = ();

    fn handle(&mut self, disconnect: Disconnect, ctx: &mut Context<Self>) {
        let user_id = disconnect.user.id;
        let Some(sessions) = self.connections.get_mut(&user_id) else {
            return;
        };
        if sessions.remove(&disconnect.session).is_none() {
            return;
        }
        if sessions.is_empty() {
            self.connections.remove(&user_id);
        }
        let last = self.presence.disconnected(user_id);
        self.share_connections(user_id, last);
        if last && self.local_presence(user_id, false, ctx) {
            self.announce_presence(disconnect.user, false, ctx);
        }
    }
}

impl Handler<NotifyUser> for Hub {
    type Result = ();

    fn handle(&mut self, notify: NotifyUser, _: &mut Context<Self>) {
        self.notify(notify.user_id, notify.except.as_ref(), &notify.frame);
        self.share_with_user(notify.user_id, &notify.frame);
    }
}

/// Closes every connection of a user (tokens revoked, user deactivated, admin disconnect),
/// or only those signed in with one token, on every node; answers how many were closed on
/// this one.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseUser {
    pub user_id: UserId,
    /// Only the connections signed in with this token; `None`: all of them.
    pub token_id: Option<i64>,
    pub code: CloseCode,
    pub reason: &'static str,
    /// Sent to each connection just before it is closed.
    pub last_frame: Option<Frame>,
}

impl Handler<CloseUser> for Hub {
    type Result = usize;

    fn handle(&mut self, close: CloseUser, _: &mut Context<Self>) -> usize {
        self.close_everywhere(&close);
        self.close_here(
            close.user_id,
            close.token_id,
            close.last_frame,
            close.code,
            close.reason,
        )
    }
}

impl Hub {
    /// Closes the user's connections on this node (only those of `token_id`, if given).
    pub(super) fn close_here(
        &self,
        user_id: UserId,
        token_id: Option<i64>,
        last_frame: Option<Frame>,
        code: CloseCode,
        reason: &str,
    ) -> usize {
        let sessions = self
            .connections
            .get(&user_id)
            .into_iter()
            .flat_map(HashMap::values)
            .filter(|connection| token_id.is_none() || connection.token_id == token_id);
        close_connections(sessions, last_frame, code, reason)
    }
}

/// Closes connections (after `last_frame`, when given) and stops their sessions.
pub(super) fn close_connections<'a>(
    connections: impl Iterator<Item = &'a Connection>,
    last_frame: Option<Frame>,
    code: CloseCode,
    reason: &str,
) -> usize {
    let mut count = 0;
    for connection in connections {
        connection
            .outbox
            .close_after(last_frame.clone(), code, reason);
        connection.closed.do_send(Closed);
        count += 1;
    }
    count
}

/// A `notice` to every connection, on every node; answers how many took it on this one
/// (the admin API adds the other nodes' live connections).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Broadcast {
    pub frame: Frame,
}

impl Handler<Broadcast> for Hub {
    type Result = usize;

    fn handle(&mut self, broadcast: Broadcast, _: &mut Context<Self>) -> usize {
        self.broadcast_everywhere(&broadcast.frame);
        self.push_to_all(&broadcast.frame)
    }
}
