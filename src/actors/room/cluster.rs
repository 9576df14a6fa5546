//! The room's side of multi-node mode: it subscribes to its channel on the bus before it
//! reads its tail from the store, publishes what it committed and the events for joined
//! connections, takes other nodes' messages into the same seq order as its own
//! (`crate::posting`, `posting/order.rs`), checks the room row's `last_seq` now and then to
//! catch a publish that never came, and reloads itself from the store (`authz.rs`) when
//! another node changed its members or after a Redis reconnect, when anything may have been
//! missed. Member events are not published: each node tells its own joined connections
//! what its reload found changed. Without a bus every method here does nothing.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::authz::Behind;
use super::{Room, State};
use crate::cluster::wire::{channel, Event};
use crate::cluster::{Inbound, SubscriptionId};
use crate::db::conversation::FullMessage;
use crate::db::models::StoredMessage;
use crate::model::UserId;
use crate::protocol::Frame;

/// How often a room with joined connections checks that it delivered the room's last seq.
const POSITION_CHECK: Duration = Duration::from_secs(2);

/// How long after asking the other nodes who is joined the answers are taken as complete.
const JOINS_SETTLE: Duration = Duration::from_millis(500);

/// How long after a connection leaves the room looks for users with none joined here.
const JOIN_SWEEP: Duration = Duration::from_millis(100);

type Subscribing = Pin<Box<dyn Future<Output = SubscriptionId>>>;

impl Room {
    /// Starts the subscription to the room's channel, if there is a bus.
    pub(super) fn subscribe_bus(&mut self, ctx: &mut Context<Self>) -> Option<Subscribing> {
        let bus = self.bus.clone()?;
        let route = ctx.address().recipient::<Inbound>();
        let id = self.id;
        Some(Box::pin(async move {
            let (subscription, confirmed) = bus.subscribe(channel::room(id), route).await;
            if !confirmed {
                log::debug!("room {id}: Redis away; delivery from other nodes waits");
            }
            subscription
        }))
    }

    pub(super) fn leave_bus(&mut self) {
        if let (Some(bus), Some(subscription)) = (&self.bus, self.subscription.take()) {
            bus.unsubscribe(channel::room(self.id), subscription);
        }
    }

    /// Tells the other nodes what this node just committed in the room.
    pub(super) fn share_messages(&self, messages: &[StoredMessage]) {
        if let (Some(bus), false) = (&self.bus, messages.is_empty()) {
            bus.publish(
                channel::room(self.id),
                Event::Messages {
                    messages: messages.to_vec(),
                },
            );
        }
    }

    /// Tells the other nodes of changes this node just committed to the room's messages.
    pub(super) fn share_changes(&self, changes: &[FullMessage]) {
        if let (Some(bus), false) = (&self.bus, changes.is_empty()) {
            bus.publish(
                channel::room(self.id),
                Event::Changes {
                    messages: changes.to_vec(),
                },
            );
        }
    }

    /// Gives an event for joined connections to the room on the other nodes.
    pub(super) fn share_frame(&self, frame: &Frame, except_user: Option<UserId>) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::room(self.id),
                Event::RoomFrame {
                    frame: frame.to_string(),
                    except_user,
                },
            );
        }
    }

    /// A member's read position moved: the room on the other nodes moves it too and tells
    /// its joined connections.
    pub(super) fn share_read(&self, user_id: UserId, seq: i64, frame: &Frame) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::room(self.id),
                Event::Read {
                    user_id,
                    seq,
                    frame: frame.to_string(),
                },
            );
        }
    }

    /// The room's members changed: the room on the other nodes reloads them.
    pub(super) fn share_change(&self) {
        if let Some(bus) = &self.bus {
            bus.publish(channel::room(self.id), Event::RoomChanged);
        }
    }

    /// A user joined here: if they were not joined here already, the other nodes learn it.
    pub(super) fn announce_join(&mut self, user_id: UserId) {
        if let (Some(bus), true) = (&self.bus, self.announced.insert(user_id)) {
            bus.publish(
                channel::room(self.id),
                Event::Joined {
                    user_id,
                    joined: true,
                },
            );
        }
    }

    /// A connection of the user left the room on purpose: if it was their last one here, the
    /// other nodes learn it at once.
    pub(super) fn announce_leave(&mut self, user_id: UserId) {
        let still = self
            .subscribers
            .values()
            .any(|subscriber| subscriber.user_id == user_id);
        if still || !self.announced.remove(&user_id) {
            return;
        }
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::room(self.id),
                Event::Joined {
                    user_id,
                    joined: false,
                },
            );
        }
    }

    /// Connections left: soon (once for many), the other nodes learn which users have none
    /// joined here any more.
    pub(super) fn sweep_joins(&mut self, ctx: &mut Context<Self>) {
        if self.bus.is_none() || self.sweep_due {
            return;
        }
        self.sweep_due = true;
        ctx.run_later(JOIN_SWEEP, |room, _| {
            room.sweep_due = false;
            let here: HashSet<UserId> = room
                .subscribers
                .values()
                .map(|subscriber| subscriber.user_id)
                .collect();
            let gone: Vec<UserId> = room.announced.difference(&here).copied().collect();
            for user_id in gone {
                room.announced.remove(&user_id);
                if let Some(bus) = &room.bus {
                    bus.publish(
                        channel::room(room.id),
                        Event::Joined {
                            user_id,
                            joined: false,
                        },
                    );
                }
            }
        });
    }

    /// Asks the other nodes who is joined to the room there (the room just started here).
    pub(super) fn ask_joins(&mut self) {
        if let Some(bus) = &self.bus {
            bus.publish(channel::room(self.id), Event::JoinsWanted);
            self.joins_asked = Some(Instant::now());
        }
    }

    /// Whether the other nodes may not have answered [`Self::ask_joins`] yet: meanwhile a
    /// member online on any node is taken as joined (not notified), as a user looking at the
    /// app must not get a notification of what they see.
    pub(super) fn joins_unsure(&self) -> bool {
        self.joins_asked
            .is_some_and(|asked| asked.elapsed() < JOINS_SETTLE)
    }

    /// Tells the other nodes everyone joined here.
    fn tell_joins(&self) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::room(self.id),
                Event::Joins {
                    users: self.announced.iter().copied().collect(),
                },
            );
        }
    }

    /// Users joined to the room on the other live nodes.
    pub(super) fn joined_elsewhere(&self) -> HashSet<UserId> {
        if self.bus.is_none() {
            return HashSet::new();
        }
        let presence = &self.presence;
        self.joins
            .joined(Instant::now(), |node| presence.is_live_node(node))
    }

    pub(super) fn check_position_periodically(&mut self, ctx: &mut Context<Self>) {
        if self.bus.is_none() {
            return;
        }
        ctx.run_interval(POSITION_CHECK, |room, ctx| {
            if !room.subscribers.is_empty() {
                room.check_position(ctx);
            }
        });
    }

    /// Reads the room row's `last_seq` and `last_rev` and delivers what this node has not yet.
    fn check_position(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let id = self.id;
        ctx.spawn(
            async move {
                let last = store.room_last_seq(id).await?;
                let last_rev = store
                    .room_last_rev(id)
                    .await
                    .map_err(|err| err.into_read_error())?;
                Ok::<_, crate::db::StoreError>(last.zip(last_rev))
            }
            .into_actor(self)
            .map(move |last, room, ctx| match last {
                Ok(Some((last, last_rev))) => {
                    room.posting.committed_upto(last);
                    room.fill_gap(ctx);
                    room.revs_committed_upto(last_rev, ctx);
                }
                Ok(None) => room.reload(Behind::Found, ctx),
                Err(err) => log::debug!("room {id}: position check: {err}"),
            }),
        );
    }
}

impl Handler<Inbound> for Room {
    type Result = ();

    fn handle(&mut self, inbound: Inbound, ctx: &mut Context<Self>) {
        if !matches!(self.state, State::Live(_)) {
            return;
        }
        match inbound {
            Inbound::Event(envelope) => match envelope.event {
                Event::Messages { messages } => {
                    let id = self.id;
                    let ours = messages
                        .into_iter()
                        .filter(|message| message.row.room_id == id)
                        .collect();
                    self.arrive(ours, ctx);
                }
                Event::Changes { messages } => self.changes_arrive(messages, ctx),
                Event::RoomFrame { frame, except_user } => {
                    // `except_user` is the frame's author (their `typing`): hidden from who
                    // blocks them, as here.
                    let frame = Frame::from(frame);
                    match except_user {
                        Some(author) => self.broadcast_signal(author, &frame, |_, subscriber| {
                            subscriber.user_id != author
                        }),
                        None => self.broadcast(&frame, |_, _| true),
                    };
                }
                Event::RoomChanged => self.reload(Behind::Told, ctx),
                Event::Read {
                    user_id,
                    seq,
                    frame,
                } if self.move_read_position(user_id, seq) => {
                    self.broadcast_signal(user_id, &Frame::from(frame), |_, _| true);
                }
                Event::Joined { user_id, joined } => {
                    self.joins
                        .changed(&envelope.node, user_id, joined, Instant::now());
                }
                Event::Joins { users } => {
                    self.joins.replace(&envelope.node, users, Instant::now());
                }
                Event::JoinsWanted => self.tell_joins(),
                _ => {}
            },
            Inbound::Resync => {
                // What was said about joins may have been lost both ways.
                self.tell_joins();
                self.ask_joins();
                // Anything may have been missed: members, read positions, messages.
                self.reload(Behind::Found, ctx);
            }
        }
    }
}
