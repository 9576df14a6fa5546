//! The supervisor: it starts room actors on demand (spread over a few arbiters), restarts
//! a room that crashed, and keeps the registry of every user's connections for presence,
//! `room_added`/`room_removed`, admin disconnects and broadcasts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

use super::bot::{Bot, Converse, Reload, Retire, Turn};
use super::presence::Presence;
use super::room::{Inheritance, Room, Subscribers};
use super::session::Session;
use super::{Outbox, SessionKey};
use crate::bots::Definition;
use crate::db::models::UserRow;
use crate::db::Store;
use crate::protocol::views::UserView;
use crate::protocol::{Event, Frame};
use crate::settings::Settings;

pub struct Hub {
    store: Store,
    presence: Presence,
    settings: Arc<Settings>,
    rooms: HashMap<i64, Addr<Room>>,
    connections: HashMap<i64, HashMap<SessionKey, Connection>>,
    bots: HashMap<String, BotEntry>,
    arbiters: Vec<Arbiter>,
    next_arbiter: usize,
    started: Instant,
}

struct BotEntry {
    definition: Arc<Definition>,
    user: UserRow,
    addr: Addr<Bot>,
}

struct Connection {
    outbox: Outbox,
    session: Addr<Session>,
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
        }
    }

    fn start_room(
        &mut self,
        id: i64,
        inheritance: Option<Inheritance>,
        hub: Addr<Hub>,
    ) -> Addr<Room> {
        let arbiter = &self.arbiters[self.next_arbiter % self.arbiters.len()];
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        let (store, presence, settings) = (
            self.store.clone(),
            self.presence.clone(),
            self.settings.clone(),
        );
        let addr = Room::start_in_arbiter(&arbiter.handle(), move |_| {
            Room::new(id, store, hub, presence, settings, inheritance)
        });
        self.rooms.insert(id, addr.clone());
        addr
    }

    fn next_arbiter(&mut self) -> ArbiterHandle {
        let arbiter = self.arbiters[self.next_arbiter % self.arbiters.len()].handle();
        self.next_arbiter = self.next_arbiter.wrapping_add(1);
        arbiter
    }

    fn start_bot(&mut self, definition: Arc<Definition>, user: UserRow, hub: Addr<Hub>) {
        let arbiter = self.next_arbiter();
        let (store, started_definition, started_user) =
            (self.store.clone(), definition.clone(), user.clone());
        let addr = Bot::start_in_arbiter(&arbiter, move |_| {
            Bot::new(started_definition, started_user, store, hub)
        });
        self.bots.insert(
            definition.id().to_string(),
            BotEntry {
                definition,
                user,
                addr,
            },
        );
    }

    fn notify(&self, user_id: i64, except: Option<&SessionKey>, frame: &Frame) -> usize {
        let Some(sessions) = self.connections.get(&user_id) else {
            return 0;
        };
        sessions
            .iter()
            .filter(|(key, _)| Some(*key) != except)
            .filter(|(_, connection)| connection.outbox.push(frame.clone()))
            .count()
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
                            log::warn!("presence of u_{user_id}: {err}");
                            return;
                        }
                    };
                    // Only live rooms have joined connections.
                    let live: Vec<Addr<Room>> = room_ids
                        .iter()
                        .filter_map(|id| hub.rooms.get(id).cloned())
                        .collect();
                    ctx.spawn(
                        async move {
                            let mut told: HashSet<SessionKey> = HashSet::new();
                            for room in live {
                                let Ok(subscribers) = room.send(Subscribers).await else {
                                    continue;
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

impl Actor for Hub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(4096);
    }
}

/// A connection opened.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Connect {
    pub user: UserRow,
    pub session: SessionKey,
    pub outbox: Outbox,
    pub addr: Addr<Session>,
}

impl Handler<Connect> for Hub {
    type Result = ();

    fn handle(&mut self, connect: Connect, ctx: &mut Context<Self>) {
        let first = self.presence.connected(connect.user.id);
        self.connections.entry(connect.user.id).or_default().insert(
            connect.session,
            Connection {
                outbox: connect.outbox,
                session: connect.addr,
            },
        );
        if first {
            self.announce_presence(connect.user, true, ctx);
        }
    }
}

/// A connection closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Disconnect {
    pub user: UserRow,
    pub session: SessionKey,
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
        if self.presence.disconnected(user_id) {
            self.announce_presence(disconnect.user, false, ctx);
        }
    }
}

/// The live actor of a room, started if there is none. A room that does not exist answers
/// every request with `not_found` and stops.
#[derive(Message)]
#[rtype(result = "Addr<Room>")]
pub struct GetRoom {
    pub id: i64,
}

impl Handler<GetRoom> for Hub {
    type Result = MessageResult<GetRoom>;

    fn handle(&mut self, get: GetRoom, ctx: &mut Context<Self>) -> Self::Result {
        if let Some(addr) = self.rooms.get(&get.id) {
            if addr.connected() {
                return MessageResult(addr.clone());
            }
        }
        MessageResult(self.start_room(get.id, None, ctx.address()))
    }
}

/// A room stopped on purpose (idle, deleted or missing).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    pub id: i64,
    pub addr: Addr<Room>,
}

impl Handler<RoomStopped> for Hub {
    type Result = ();

    fn handle(&mut self, stopped: RoomStopped, _: &mut Context<Self>) {
        if self.rooms.get(&stopped.id) == Some(&stopped.addr) {
            self.rooms.remove(&stopped.id);
        }
    }
}

/// A room actor died without stopping: start it again from the store, with the
/// connections that had joined it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RoomCrashed {
    pub id: i64,
    pub inheritance: Inheritance,
}

impl Handler<RoomCrashed> for Hub {
    type Result = ();

    fn handle(&mut self, crashed: RoomCrashed, ctx: &mut Context<Self>) {
        log::warn!(
            "restarting room r_{} with {} joined connections",
            crashed.id,
            crashed.inheritance.subscribers.len()
        );
        self.rooms.remove(&crashed.id);
        self.start_room(crashed.id, Some(crashed.inheritance), ctx.address());
    }
}

/// An event for every connection of one user (`room_added`, `room_removed`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyUser {
    pub user_id: i64,
    /// The connection whose own command caused this: it has the reply instead.
    pub except: Option<SessionKey>,
    pub frame: Frame,
}

impl Handler<NotifyUser> for Hub {
    type Result = ();

    fn handle(&mut self, notify: NotifyUser, _: &mut Context<Self>) {
        self.notify(notify.user_id, notify.except.as_ref(), &notify.frame);
    }
}

/// Closes every connection of a user (token revoked, admin disconnect); answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseUser {
    pub user_id: i64,
    pub code: u16,
    pub reason: &'static str,
    /// Sent to each connection just before it is closed.
    pub last_frame: Option<Frame>,
}

impl Handler<CloseUser> for Hub {
    type Result = usize;

    fn handle(&mut self, close: CloseUser, _: &mut Context<Self>) -> usize {
        let sessions = self
            .connections
            .get(&close.user_id)
            .into_iter()
            .flat_map(HashMap::values);
        close_connections(sessions, close.last_frame, close.code, close.reason)
    }
}

/// Closes every connection (server shutdown); answers how many.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct CloseAll {
    pub code: u16,
    pub reason: &'static str,
}

impl Handler<CloseAll> for Hub {
    type Result = usize;

    fn handle(&mut self, close: CloseAll, _: &mut Context<Self>) -> usize {
        let sessions = self.connections.values().flat_map(HashMap::values);
        close_connections(sessions, None, close.code, close.reason)
    }
}

/// Closes connections (after `last_frame`, when given) and stops their sessions.
fn close_connections<'a>(
    connections: impl Iterator<Item = &'a Connection>,
    last_frame: Option<Frame>,
    code: u16,
    reason: &str,
) -> usize {
    let mut count = 0;
    for connection in connections {
        connection
            .outbox
            .close_after(last_frame.clone(), code, reason);
        connection.session.do_send(super::session::Closed);
        count += 1;
    }
    count
}

/// A `notice` to every connection; answers how many took it.
#[derive(Message)]
#[rtype(result = "usize")]
pub struct Broadcast {
    pub frame: Frame,
}

impl Handler<Broadcast> for Hub {
    type Result = usize;

    fn handle(&mut self, broadcast: Broadcast, _: &mut Context<Self>) -> usize {
        self.connections
            .values()
            .flat_map(|sessions| sessions.values())
            .filter(|connection| connection.outbox.push(broadcast.frame.clone()))
            .count()
    }
}

/// Starts a bot, or hands a running one its new definition.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InstallBot {
    pub definition: Arc<Definition>,
    pub user: UserRow,
}

impl Handler<InstallBot> for Hub {
    type Result = ();

    fn handle(&mut self, install: InstallBot, ctx: &mut Context<Self>) {
        match self.bots.get_mut(install.definition.id()) {
            Some(entry) if entry.addr.connected() => {
                entry.addr.do_send(Reload {
                    definition: install.definition.clone(),
                    user: install.user.clone(),
                });
                entry.definition = install.definition;
                entry.user = install.user;
            }
            _ => self.start_bot(install.definition, install.user, ctx.address()),
        }
    }
}

/// Stops a bot; answers whether there was one.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct RemoveBot {
    pub id: String,
}

impl Handler<RemoveBot> for Hub {
    type Result = bool;

    fn handle(&mut self, remove: RemoveBot, _: &mut Context<Self>) -> bool {
        match self.bots.remove(&remove.id) {
            Some(entry) => {
                entry.addr.do_send(Retire);
                true
            }
            None => false,
        }
    }
}

/// The user a bot posts as, if the bot exists.
#[derive(Message)]
#[rtype(result = "Option<UserRow>")]
pub struct FindBot {
    pub id: String,
}

impl Handler<FindBot> for Hub {
    type Result = MessageResult<FindBot>;

    fn handle(&mut self, find: FindBot, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.bots.get(&find.id).map(|entry| entry.user.clone()))
    }
}

/// Every bot's definition, by id.
#[derive(Message)]
#[rtype(result = "Vec<Arc<Definition>>")]
pub struct ListBots;

impl Handler<ListBots> for Hub {
    type Result = MessageResult<ListBots>;

    fn handle(&mut self, _: ListBots, _: &mut Context<Self>) -> Self::Result {
        let mut definitions: Vec<Arc<Definition>> = self
            .bots
            .values()
            .map(|entry| entry.definition.clone())
            .collect();
        definitions.sort_by(|a, b| a.id().cmp(b.id()));
        MessageResult(definitions)
    }
}

/// A turn for the bot of a bot room.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ToBot {
    pub bot: String,
    pub room_id: i64,
    pub turn: Turn,
}

impl Handler<ToBot> for Hub {
    type Result = ();

    fn handle(&mut self, to_bot: ToBot, _: &mut Context<Self>) {
        match self.bots.get(&to_bot.bot) {
            Some(entry) => entry.addr.do_send(Converse {
                room_id: to_bot.room_id,
                turn: to_bot.turn,
            }),
            None => log::info!(
                "r_{}: bot {} is gone; nobody answers",
                to_bot.room_id,
                to_bot.bot
            ),
        }
    }
}

/// The running actor of a bot (tests only).
#[cfg(test)]
#[derive(Message)]
#[rtype(result = "Option<Addr<Bot>>")]
pub struct BotAddr {
    pub id: String,
}

#[cfg(test)]
impl Handler<BotAddr> for Hub {
    type Result = Option<Addr<Bot>>;

    fn handle(&mut self, find: BotAddr, _: &mut Context<Self>) -> Option<Addr<Bot>> {
        self.bots.get(&find.id).map(|entry| entry.addr.clone())
    }
}

/// A bot actor died without stopping: start it again with its definition.
#[derive(Message)]
#[rtype(result = "()")]
pub struct BotCrashed {
    pub id: String,
}

impl Handler<BotCrashed> for Hub {
    type Result = ();

    fn handle(&mut self, crashed: BotCrashed, ctx: &mut Context<Self>) {
        if let Some(entry) = self.bots.remove(&crashed.id) {
            log::warn!("restarting bot {}", crashed.id);
            self.start_bot(entry.definition, entry.user, ctx.address());
        }
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

impl Handler<Stats> for Hub {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(HubStats {
            connections: self.connections.values().map(HashMap::len).sum(),
            users_online: self.connections.len(),
            rooms_active: self.rooms.values().filter(|addr| addr.connected()).count(),
            uptime_s: self.started.elapsed().as_secs(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::actors::testing::Fixture;

    async fn connect(
        fixture: &Fixture,
        user: &UserRow,
        session: &str,
    ) -> crate::actors::session::outbox::OutboxDrain {
        let (caller, drain) = fixture.connection(user, session);
        let addr = Session::new(
            caller.session.clone(),
            caller.user.clone(),
            caller.outbox.clone(),
            fixture.hub.clone(),
            fixture.store.clone(),
            fixture.settings.clone(),
        )
        .start();
        // The session registers itself with the hub when it starts.
        let _ = addr;
        drain
    }

    #[actix_rt::test]
    async fn tracks_connections_and_presence_per_user() {
        let fixture = Fixture::new();
        let amy = fixture.user("amy").await;
        let mut phone = connect(&fixture, &amy, "s_phone").await;
        let mut laptop = connect(&fixture, &amy, "s_laptop").await;
        phone.next_json().await;
        laptop.next_json().await;
        let stats = fixture.hub.send(Stats).await.expect("hub");
        assert_eq!((stats.connections, stats.users_online), (2, 1));
        assert!(fixture.presence.is_online(amy.id));
        assert_eq!(fixture.presence.connections(amy.id), 2);
    }

    #[actix_rt::test]
    async fn notifies_a_users_connections_except_the_one_that_acted() {
        let fixture = Fixture::new();
        let amy = fixture.user("amy").await;
        let mut phone = connect(&fixture, &amy, "s_phone").await;
        let mut laptop = connect(&fixture, &amy, "s_laptop").await;
        phone.next_json().await;
        laptop.next_json().await;
        fixture.hub.send(Stats).await.expect("hub");
        fixture
            .hub
            .send(NotifyUser {
                user_id: amy.id,
                except: Some(Arc::from("s_phone")),
                frame: Event::RoomRemoved { room: "r_1".into() }.frame(),
            })
            .await
            .expect("hub");
        assert_eq!(laptop.next_json().await["type"], "room_removed");
        assert_eq!(phone.pending(), 0);
        let delivered = fixture
            .hub
            .send(Broadcast {
                frame: Event::Notice {
                    body: "hello".into(),
                }
                .frame(),
            })
            .await
            .expect("hub");
        assert_eq!(delivered, 2);
        assert_eq!(phone.next_json().await["body"], "hello");
    }

    #[actix_rt::test]
    async fn closes_every_connection_of_a_user() {
        let fixture = Fixture::new();
        let amy = fixture.user("amy").await;
        let bob = fixture.user("bob").await;
        let amy_out = connect(&fixture, &amy, "s_amy").await;
        let bob_out = connect(&fixture, &bob, "s_bob").await;
        fixture.hub.send(Stats).await.expect("hub");
        let closed = fixture
            .hub
            .send(CloseUser {
                user_id: amy.id,
                code: 4001,
                reason: "revoked",
                last_frame: None,
            })
            .await
            .expect("hub");
        assert_eq!(closed, 1);
        assert_eq!(amy_out.close_code(), Some(4001));
        assert_eq!(bob_out.close_code(), None);
    }

    #[actix_rt::test]
    async fn starts_a_room_once_and_stops_it_when_idle() {
        let fixture = Fixture::with_settings(Settings {
            room_idle: Duration::ZERO,
            ..Settings::default()
        });
        let amy = fixture.user("amy").await;
        let id = fixture.group(&amy, &[], false).await;
        let first = fixture.hub.send(GetRoom { id }).await.expect("hub");
        let second = fixture.hub.send(GetRoom { id }).await.expect("hub");
        assert!(first == second, "one actor per room");
        assert_eq!(fixture.hub.send(Stats).await.expect("hub").rooms_active, 1);
        for _ in 0..100 {
            if !first.connected() {
                break;
            }
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!first.connected(), "an idle room stops");
        assert_eq!(fixture.hub.send(Stats).await.expect("hub").rooms_active, 0);
    }
}
