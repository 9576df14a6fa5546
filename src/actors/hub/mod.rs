//! The supervisor: it starts room and bot actors (spread over a few arbiters), restarts
//! one that crashed until shutdown begins, and keeps the registry of every user's
//! connections. One file per job: [`rooms`] (start, stop, restart), [`connections`]
//! (presence, notifications, closing), [`bots`], [`cluster`] (what crosses to the other
//! nodes) and [`authz`] (re-reading from the store what this node keeps for authorization).

mod authz;
mod bots;
mod cluster;
mod connections;
mod rooms;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

#[cfg(test)]
pub use bots::BotAddr;
pub use bots::{InstallBot, RemoveBot};
pub use connections::{Broadcast, CloseUser};
#[cfg(test)]
pub use rooms::RoomAddr;

use super::messages::{BotSupervisor, RoomSupervisor, SessionSupervisor};
use super::presence::Presence;
use super::room::Room;
use crate::cluster::Bus;
use crate::db::Store;
use crate::model::{RoomId, UserId};
use crate::protocol::CloseCode;
use crate::settings::Settings;

pub struct Hub {
    store: Store,
    presence: Presence,
    settings: Arc<Settings>,
    rooms: HashMap<RoomId, Addr<Room>>,
    connections: HashMap<UserId, HashMap<super::messages::SessionKey, connections::Connection>>,
    bots: HashMap<String, bots::BotEntry>,
    arbiters: Vec<Arbiter>,
    next_arbiter: usize,
    started: Instant,
    /// Set by [`Shutdown`]: crashed children are no longer restarted.
    shutting_down: bool,
    /// Multi-node mode: the bus and what the hub knows of the other nodes.
    bus: Option<Bus>,
    cluster: cluster::Nodes,
    /// Multi-node mode: the sweep of what this node keeps for authorization.
    authz: authz::Sweeping,
}

impl Hub {
    pub fn new(
        store: Store,
        presence: Presence,
        settings: Arc<Settings>,
        room_arbiters: usize,
    ) -> Hub {
        Hub {
            store,
            presence,
            settings,
            rooms: HashMap::new(),
            connections: HashMap::new(),
            bots: HashMap::new(),
            arbiters: (0..room_arbiters.max(1)).map(|_| Arbiter::new()).collect(),
            next_arbiter: 0,
            started: Instant::now(),
            shutting_down: false,
            bus: None,
            cluster: cluster::Nodes::default(),
            authz: authz::Sweeping::default(),
        }
    }

    /// Multi-node mode: rooms and connections are shared with the other nodes on `bus`.
    pub fn with_bus(mut self, bus: Bus) -> Hub {
        self.bus = Some(bus);
        self
    }

    /// The handle a session holds of its supervisor.
    pub fn session_supervisor(hub: &Addr<Hub>) -> SessionSupervisor {
        SessionSupervisor {
            connect: hub.clone().recipient(),
            disconnect: hub.clone().recipient(),
            get_room: hub.clone().recipient(),
            notify: hub.clone().recipient(),
            to_bot: hub.clone().recipient(),
            find_bot: hub.clone().recipient(),
            directory_scope: hub.clone().recipient(),
            rooms_changed: hub.clone().recipient(),
        }
    }

    fn room_supervisor(hub: Addr<Hub>) -> RoomSupervisor {
        RoomSupervisor {
            stopped: hub.clone().recipient(),
            crashed: hub.clone().recipient(),
            notify: hub.clone().recipient(),
            to_bot: hub.recipient(),
        }
    }

    fn bot_supervisor(hub: Addr<Hub>) -> BotSupervisor {
        BotSupervisor {
            get_room: hub.clone().recipient(),
            crashed: hub.recipient(),
        }
    }

    fn next_arbiter(&mut self) -> ArbiterHandle {
        let arbiter = self.arbiters[self.next_arbiter % self.arbiters.len()].handle();
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        arbiter
    }
}

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
        self.join_cluster(ctx);
        self.start_sweeping(ctx);
    }
}

/// Shutdown has begun: close every connection (answers how many) and restart no child
/// that goes down from now on.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Shutdown {
    pub code: CloseCode,
    pub reason: &'static str,
}

impl Handler<Shutdown> for Hub {
    type Result = usize;

    fn handle(&mut self, shutdown: Shutdown, _: &mut Context<Self>) -> usize {
        self.shutting_down = true;
        self.retire_bots();
        let sessions = self.connections.values().flat_map(HashMap::values);
        connections::close_connections(sessions, None, shutdown.code, shutdown.reason)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubStats {
    pub connections: usize,
    pub users_online: usize,
    pub rooms_active: usize,
    pub uptime_s: u64,
}

#[derive(Message)]
#[rtype(result = "HubStats")]
pub struct Stats;

impl Hub {
    /// This node's own counts.
    fn local_stats(&self) -> HubStats {
        HubStats {
            connections: self.connections.values().map(HashMap::len).sum(),
            users_online: self.connections.len(),
            rooms_active: self.rooms.values().filter(|addr| addr.connected()).count(),
            uptime_s: self.started.elapsed().as_secs(),
        }
    }
}

/// This node's connections; users online on any node (as this node heard); active rooms
/// on every node (the others' as of their last heartbeat, a few seconds old at most). The
/// admin API counts connections and users across nodes from Redis (`http/admin/live.rs`).
impl Handler<Stats> for Hub {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        let here = self.local_stats();
        MessageResult(HubStats {
            connections: here.connections,
            users_online: self.users_online_anywhere(),
            rooms_active: here.rooms_active + self.cluster.rooms(),
            uptime_s: here.uptime_s,
        })
    }
}
