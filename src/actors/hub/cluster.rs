//! The hub's side of multi-node mode: events for users (room_added/removed, notices, 4001
//! closes) and broadcasts go to every node; each user's connections on this node are kept
//! in Redis (rewritten in full when a write was lost); presence is "online on any node",
//! from each node's announcements and heartbeats, and a node not heard from within the
//! expiry is taken as gone with its users; active rooms add up the other nodes' last
//! heartbeat. After a Redis reconnect, what may have been missed meanwhile is read again:
//! presence (from Redis), authorization (the sweep, `authz.rs`) and bots (from the store).
//! Without a bus every method here does nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::{CloseUser, Hub};
use crate::cluster::bus::{HEARTBEAT, NODE_EXPIRY};
use crate::cluster::presence::RemotePresence;
use crate::cluster::wire::{channel, Envelope, Event};
use crate::cluster::{Inbound, SubscriptionId};
use crate::model::UserId;
use crate::protocol::Frame;

/// Resyncs of the hub's channels arriving within this are handled once.
const RESYNC_DELAY: Duration = Duration::from_millis(200);

/// What the hub knows of the other nodes.
pub(super) struct Nodes {
    presence: RemotePresence,
    /// Each live node's active rooms, from its last heartbeat.
    rooms: HashMap<String, u64>,
    /// This node's subscriptions to the channels of its connected users.
    users: HashMap<UserId, SubscriptionId>,
    /// A resync (after a Redis reconnect: one per channel) is being handled.
    resyncing: bool,
}

impl Default for Nodes {
    fn default() -> Self {
        Nodes {
            presence: RemotePresence::new(NODE_EXPIRY),
            rooms: HashMap::new(),
            users: HashMap::new(),
            resyncing: false,
        }
    }
}

impl Nodes {
    pub(super) fn rooms(&self) -> usize {
        self.rooms.values().map(|rooms| *rooms as usize).sum()
    }
}

impl Hub {
    pub(super) fn join_cluster(&mut self, ctx: &mut Context<Self>) {
        let Some(bus) = self.bus.clone() else {
            return;
        };
        let route = ctx.address().recipient::<Inbound>();
        ctx.spawn(actix::fut::wrap_future(async move {
            bus.subscribe(channel::ALL.to_string(), route).await;
        }));
        ctx.run_interval(HEARTBEAT, |hub, ctx| hub.heartbeat(ctx));
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        let Some(bus) = &self.bus else {
            return;
        };
        let here = self.local_stats();
        bus.alive(here.connections as u64, here.rooms_active as u64);
        if bus.connections_stale() {
            bus.rebuild_connections(self.presence.snapshot());
        }
        let gone = self.cluster.presence.expire(Instant::now());
        let live: HashSet<String> = self.cluster.presence.nodes().cloned().collect();
        self.cluster.rooms.retain(|node, _| live.contains(node));
        self.presence.set_live_nodes(live);
        if !gone.is_empty() {
            log::info!(
                "cluster: {} users of a silent node went offline",
                gone.len()
            );
            self.presence_changed(gone.into_iter().map(|user| (user, false)).collect(), ctx);
        }
    }

    /// Users online on any node.
    pub(super) fn users_online_anywhere(&self) -> usize {
        let mut users = self.cluster.presence.users();
        users.extend(self.connections.keys().copied());
        users.len()
    }

    /// A connection of the user opened or closed on this node: records their count in
    /// Redis, and tells the other nodes when it was the first or the last (`presence`).
    pub(super) fn share_connections(&self, user_id: UserId, presence: bool) {
        if let Some(bus) = &self.bus {
            bus.set_connections(user_id, self.presence.connections(user_id), presence);
        }
    }

    /// The user's first connection on this node opened, or its last one closed: follows
    /// (or stops following) the user's channel, and says whether the user's presence
    /// changed for everyone (not while they are online on another node).
    pub(super) fn local_presence(
        &mut self,
        user_id: UserId,
        online: bool,
        ctx: &mut Context<Self>,
    ) -> bool {
        let Some(bus) = self.bus.clone() else {
            return true;
        };
        if online {
            let route = ctx.address().recipient::<Inbound>();
            let subscribing = bus.clone();
            ctx.spawn(
                async move { subscribing.subscribe(channel::user(user_id), route).await }
                    .into_actor(self)
                    .map(move |(subscription, _), hub, _| {
                        if hub.connections.contains_key(&user_id) {
                            if let Some(old) = hub.cluster.users.insert(user_id, subscription) {
                                bus.unsubscribe(channel::user(user_id), old);
                            }
                        } else {
                            // The user left again while the subscription was being made.
                            bus.unsubscribe(channel::user(user_id), subscription);
                        }
                    }),
            );
        } else if let Some(subscription) = self.cluster.users.remove(&user_id) {
            bus.unsubscribe(channel::user(user_id), subscription);
        }
        !self.cluster.presence.is_online(user_id)
    }

    /// An event for one user's connections on every other node.
    pub(super) fn share_with_user(&self, user_id: UserId, frame: &Frame) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::user(user_id),
                Event::UserFrame {
                    user_id,
                    frame: frame.to_string(),
                },
            );
        }
    }

    /// Closes the user's connections on every other node too.
    pub(super) fn close_everywhere(&self, close: &CloseUser) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::user(close.user_id),
                Event::CloseUser {
                    user_id: close.user_id,
                    token_id: close.token_id,
                    code: close.code,
                    reason: close.reason.to_string(),
                    frame: close.last_frame.as_ref().map(|frame| frame.to_string()),
                },
            );
        }
    }

    /// A broadcast for every other node's connections.
    pub(super) fn broadcast_everywhere(&self, frame: &Frame) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::ALL.to_string(),
                Event::Broadcast {
                    frame: frame.to_string(),
                },
            );
        }
    }

    /// Tells the other nodes to read this bot's definition from the store again.
    pub(super) fn share_bot_change(&self, id: &str) {
        if let Some(bus) = &self.bus {
            bus.publish(
                channel::ALL.to_string(),
                Event::BotChanged { id: id.to_string() },
            );
        }
    }

    /// Reads every bot from the store again (after a Redis reconnect: a `bot_changed` may
    /// have been missed): installs those that are new or changed, stops those deleted.
    fn reread_bots(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        ctx.spawn(async move { store.bots().await }.into_actor(self).map(
            move |stored, hub, ctx| {
                let stored = match stored {
                    Ok(stored) => stored,
                    Err(err) => {
                        log::warn!("cluster: cannot read the bots from the store: {err}");
                        return;
                    }
                };
                let mut kept = HashSet::new();
                for (document, user) in stored {
                    let definition = match crate::bots::loader::parse(&document) {
                        Ok(definition) => definition,
                        Err(err) => {
                            log::warn!("cluster: stored bot {:?} is not valid: {err}", user.handle);
                            continue;
                        }
                    };
                    let id = definition.id().to_string();
                    if hub.bot_differs(&id, &definition, &user) {
                        log::info!("cluster: bot {id} changed while Redis was away; reloaded");
                        hub.install_bot(Arc::new(definition), user, ctx);
                    }
                    kept.insert(id);
                }
                for id in hub.bot_ids() {
                    if !kept.contains(&id) && hub.remove_bot(&id) {
                        log::info!("cluster: bot {id} was deleted while Redis was away; stopped");
                    }
                }
            },
        ));
    }

    /// Another node's admin API changed a bot: install what the store holds now, or stop
    /// the bot when the store has none.
    fn reload_bot(&mut self, id: String, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let asked = id.clone();
        ctx.spawn(async move { store.bot(&asked).await }.into_actor(self).map(
            move |stored, hub, ctx| match stored {
                Ok(Some((document, user))) => match crate::bots::loader::parse(&document) {
                    Ok(definition) => {
                        log::info!("cluster: bot {id} changed on another node; reloaded");
                        hub.install_bot(Arc::new(definition), user, ctx);
                    }
                    Err(err) => log::warn!("cluster: stored bot {id} is not valid: {err}"),
                },
                Ok(None) => {
                    if hub.remove_bot(&id) {
                        log::info!("cluster: bot {id} deleted on another node; stopped");
                    }
                }
                Err(err) => log::warn!("cluster: cannot read bot {id} from the store: {err}"),
            },
        ));
    }

    /// Presence on other nodes changed for these users: whoever is not online here too
    /// went online or offline for everyone sharing a room with them.
    fn presence_changed(&mut self, changes: Vec<(UserId, bool)>, ctx: &mut Context<Self>) {
        self.presence.set_elsewhere(self.cluster.presence.users());
        for (user_id, online) in changes {
            if !self.presence.is_online_here(user_id) {
                self.announce_presence_of(user_id, online, ctx);
            }
        }
    }

    /// Reads every node's users from Redis (after a reconnect, or on hearing of a node
    /// this one did not know).
    fn read_presence(&mut self, ctx: &mut Context<Self>) {
        let Some(bus) = self.bus.clone() else {
            return;
        };
        let node = bus.node().to_string();
        ctx.spawn(
            async move { bus.connection_counts().await }
                .into_actor(self)
                .map(move |nodes, hub, ctx| match nodes {
                    Ok(mut nodes) => {
                        nodes.remove(&node);
                        let sets = nodes
                            .into_iter()
                            .map(|(node, users)| (node, users.into_keys().collect()))
                            .collect();
                        let changes = hub.cluster.presence.replace(sets, Instant::now());
                        hub.presence_changed(changes, ctx);
                    }
                    Err(err) => log::warn!("cluster: cannot read presence: {err}"),
                }),
        );
    }

    fn heard(&mut self, envelope: Envelope, ctx: &mut Context<Self>) {
        let node = envelope.node;
        let now = Instant::now();
        match envelope.event {
            Event::UserFrame { user_id, frame } => {
                self.notify(user_id, None, &Frame::from(frame));
            }
            Event::CloseUser {
                user_id,
                token_id,
                code,
                reason,
                frame,
            } => {
                self.close_here(user_id, token_id, frame.map(Frame::from), code, &reason);
            }
            Event::Broadcast { frame } => {
                self.push_to_all(&Frame::from(frame));
            }
            Event::Presence { user_id, online } => {
                let known = self.cluster.presence.knows(&node);
                if self.cluster.presence.changed(&node, user_id, online, now) {
                    self.presence_changed(vec![(user_id, online)], ctx);
                } else {
                    self.presence.set_elsewhere(self.cluster.presence.users());
                }
                if !known {
                    self.read_presence(ctx);
                }
            }
            // `connections` is for nodes of earlier versions; the admin API reads them from
            // Redis.
            Event::Alive { rooms, .. } => {
                let known = self.cluster.presence.knows(&node);
                self.cluster.presence.seen(&node, now);
                self.cluster.rooms.insert(node, rooms);
                if !known {
                    self.read_presence(ctx);
                }
            }
            Event::BotChanged { id } => self.reload_bot(id, ctx),
            Event::Messages { .. }
            | Event::Changes { .. }
            | Event::RoomFrame { .. }
            | Event::RoomChanged
            | Event::Read { .. }
            | Event::Joined { .. }
            | Event::JoinsWanted
            | Event::Joins { .. } => {}
        }
    }
}

impl Handler<Inbound> for Hub {
    type Result = ();

    fn handle(&mut self, inbound: Inbound, ctx: &mut Context<Self>) {
        match inbound {
            Inbound::Event(envelope) => self.heard(envelope, ctx),
            // Every channel of the hub resyncs after a reconnect: handle them once.
            Inbound::Resync if !self.cluster.resyncing => {
                self.cluster.resyncing = true;
                ctx.run_later(RESYNC_DELAY, |hub, ctx| {
                    hub.cluster.resyncing = false;
                    // Redis may have restarted empty: write this node's live
                    // connections again, and read everyone else's.
                    if let Some(bus) = &hub.bus {
                        bus.rebuild_connections(hub.presence.snapshot());
                    }
                    hub.read_presence(ctx);
                    // Another node may write its set again only after this read (each node
                    // reconnects on its own, backing off up to 2 s): read once more a
                    // heartbeat later, when every node has.
                    ctx.run_later(HEARTBEAT, |hub, ctx| hub.read_presence(ctx));
                    // Revocations, kicks and bot changes may have been published meanwhile.
                    hub.sweep(ctx);
                    hub.reread_bots(ctx);
                });
            }
            Inbound::Resync => {}
        }
    }
}
