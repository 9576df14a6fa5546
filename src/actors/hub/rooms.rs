//! The hub's rooms: one actor per live room, started on demand on the next arbiter,
//! forgotten when it stops on purpose, started again from the store when it crashed; told
//! to read themselves again when a change outside them moved their `authz_version`.

use actix::prelude::*;

use super::Hub;
use crate::actors::messages::{
    GetRoom, Inheritance, RoomCrashed, RoomHandle, RoomStopped, RoomsChanged,
};
use crate::actors::room::{Reload, Room};
use crate::cluster::wire::{channel, Event};
use crate::model::RoomId;

impl Hub {
    fn start_room(
        &mut self,
        id: RoomId,
        inheritance: Option<Inheritance>,
        hub: Addr<Hub>,
    ) -> Addr<Room> {
        let arbiter = self.next_arbiter();
        let (store, presence, settings, bus) = (
            self.store.clone(),
            self.presence.clone(),
            self.settings.clone(),
            self.bus.clone(),
        );
        let supervisor = Hub::room_supervisor(hub);
        let addr = Room::start_in_arbiter(&arbiter, move |_| {
            Room::new(id, store, supervisor, presence, settings, inheritance, bus)
        });
        self.rooms.insert(id, addr.clone());
        self.authz.room_started(id);
        addr
    }
}

impl Handler<GetRoom> for Hub {
    type Result = MessageResult<GetRoom>;

    fn handle(&mut self, get: GetRoom, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.rooms.get(&get.id) {
            if addr.connected() {
                return MessageResult(Room::handle(addr));
            }
        }
        MessageResult(Room::handle(&self.start_room(get.id, None, ctx.address())))
    }
}

impl Handler<RoomsChanged> for Hub {
    type Result = ();

    /// The rooms live here reload at once; the other nodes hear `RoomChanged` on the bus
    /// (and their sweep finds the moved `authz_version` if that is lost).
    fn handle(&mut self, changed: RoomsChanged, _: &mut Context<Self>) {
        for id in changed.rooms {
            if let Some(addr) = self.rooms.get(&id) {
                addr.do_send(Reload);
            }
            if let Some(bus) = &self.bus {
                bus.publish(channel::room(id), Event::RoomChanged);
            }
        }
    }
}

impl Handler<RoomStopped> for Hub {
    type Result = ();

    fn handle(&mut self, stopped: RoomStopped, _: &mut Context<Self>) {
        let current: Option<RoomHandle> = self.rooms.get(&stopped.id).map(Room::handle);
        if current.as_ref() == Some(&stopped.room) {
            self.rooms.remove(&stopped.id);
        }
    }
}

impl Handler<RoomCrashed> for Hub {
    type Result = ();

    fn handle(&mut self, crashed: RoomCrashed, ctx: &mut Context<Self>) {
        self.rooms.remove(&crashed.id);
        if self.shutting_down {
            log::info!("room {} went down during shutdown", crashed.id);
            return;
        }
        log::warn!(
            "restarting room {} with {} joined connections",
            crashed.id,
            crashed.inheritance.subscribers.len()
        );
        self.start_room(crashed.id, Some(crashed.inheritance), ctx.address());
    }
}

/// The actor of a room, started if there is none (tests only: they crash it on purpose).
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "Addr<Room>")]
pub struct RoomAddr {
    pub id: RoomId,
}

#[cfg(test)]
impl Handler<RoomAddr> for Hub {
    type Result = MessageResult<RoomAddr>;

    fn handle(&mut self, get: RoomAddr, ctx: &mut Context<Self>) -> Self::Result {
        match self.rooms.get(&get.id) {
            Some(addr) if addr.connected() => MessageResult(addr.clone()),
            _ => MessageResult(self.start_room(get.id, None, ctx.address())),
        }
    }
}
