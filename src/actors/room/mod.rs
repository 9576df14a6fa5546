//! One room as an actor: its members, the connections that joined it, and the single
//! order in which its messages are committed and delivered. Started by the hub on demand,
//! stopped when idle, restarted from the store by the hub if it crashes.

mod activity;
mod answer;
mod authz;
mod cluster;
mod conversation;
mod in_turn;
mod membership;
mod moderation;
mod notify;
mod posting;
mod requests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::messages::{
    Inheritance, RoomCrashed, RoomHandle, RoomStopped, RoomSupervisor, SessionKey, Subscriber,
};
use super::presence::Presence;
use crate::cluster::{Bus, SubscriptionId};
use crate::db::models::{RoomKind, RoomRow, RoomSnapshot, UserRow};
use crate::db::{RoomSummary, Store};
use crate::error::ProtoError;
use crate::model::{RoomId, UserId};
use crate::protocol::views::{MemberView, RoomView, UserView};
use crate::protocol::Frame;
use crate::settings::Settings;

pub use authz::{Recheck, Reload};
#[cfg(test)]
pub use requests::Crash;
pub use requests::Subscribers;

/// How often a room checks whether it has been idle long enough to stop.
const IDLE_CHECK: Duration = Duration::from_secs(5);

pub struct Room {
    id: RoomId,
    store: Store,
    supervisor: RoomSupervisor,
    presence: Presence,
    settings: Arc<Settings>,
    state: State,
    subscribers: HashMap<SessionKey, Subscriber>,
    posting: posting::Posting,
    /// The order in which changes to messages (`message_updated`) are delivered.
    revs: conversation::Revs,
    /// Set on a room restarted after a crash: the last rev its predecessor delivered.
    inherited_rev: Option<i64>,
    /// Changes of this node on their way to the store, and whether a read of a `rev` gap is
    /// due (`conversation.rs`).
    changing: usize,
    rev_gap_due: bool,
    /// When each member's last `typing` was passed on.
    typing: crate::limits::typing::TypingFold,
    last_activity: Instant,
    /// False until the room stops on purpose; a room dropped while still running crashed.
    stopped_cleanly: bool,
    /// Multi-node mode: the bus, and this room's subscription to its channel on it.
    bus: Option<Bus>,
    subscription: Option<SubscriptionId>,
    /// Multi-node mode: who is joined to the room on the other nodes, the users this node
    /// said are joined here, and whether a look for users who left is due.
    joins: crate::cluster::joins::RemoteJoins,
    announced: std::collections::HashSet<UserId>,
    sweep_due: bool,
    /// When the other nodes were last asked who is joined (`cluster.rs`).
    joins_asked: Option<Instant>,
}

enum State {
    Loading,
    Missing,
    /// Boxed: what a live room holds is far larger than the other states.
    Live(Box<Loaded>),
}

struct Loaded {
    row: RoomRow,
    kind: RoomKind,
    members: HashMap<UserId, Member>,
    /// The room's `authz_version` when `members` were read (`db/authz.rs`).
    authz_version: i64,
    /// The notification levels members chose (section 12); the others have the default.
    levels: HashMap<UserId, crate::notify::Level>,
    /// Who hides whom here (section 13).
    blocks: crate::safety::blocks::Blocks,
    /// The roles and mutes of members that are not the default (docs/safety.md,
    /// `moderation.rs`); the owner is `row.owner_id`.
    standings: HashMap<UserId, crate::db::safety::Standing>,
}

struct Member {
    user: UserRow,
    read_seq: i64,
}

/// How the caller stands towards the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// The room does not exist or is private to others: answer exactly as for a made-up id.
    Hidden,
    /// A public group the caller is not a member of.
    Outsider,
    Member,
}

impl Room {
    pub fn new(
        id: RoomId,
        store: Store,
        supervisor: RoomSupervisor,
        presence: Presence,
        settings: Arc<Settings>,
        inheritance: Option<Inheritance>,
        bus: Option<Bus>,
    ) -> Room {
        let (subscribers, delivered_seq, delivered_rev) = match inheritance {
            Some(inherited) => (
                inherited.subscribers,
                Some(inherited.delivered_seq),
                Some(inherited.delivered_rev),
            ),
            None => (HashMap::new(), None, None),
        };
        let posting = posting::Posting::new(settings.room_pending, delivered_seq);
        Room {
            id,
            store,
            supervisor,
            presence,
            settings,
            state: State::Loading,
            subscribers,
            posting,
            revs: conversation::revs_from(0),
            inherited_rev: delivered_rev,
            changing: 0,
            rev_gap_due: false,
            typing: Default::default(),
            last_activity: Instant::now(),
            stopped_cleanly: false,
            bus,
            subscription: None,
            joins: crate::cluster::joins::RemoteJoins::new(crate::cluster::bus::NODE_EXPIRY),
            announced: std::collections::HashSet::new(),
            sweep_due: false,
            joins_asked: None,
        }
    }

    /// How sessions, bots and the admin API reach the room behind `addr`.
    pub fn handle(addr: &Addr<Room>) -> RoomHandle {
        RoomHandle {
            command: addr.clone().recipient(),
            post: addr.clone().recipient(),
            admin: addr.clone().recipient(),
            unsubscribe: addr.clone().recipient(),
        }
    }

    fn loaded(&self) -> Option<&Loaded> {
        match &self.state {
            State::Live(loaded) => Some(&**loaded),
            _ => None,
        }
    }

    fn access(&self, user_id: UserId) -> Access {
        match self.loaded() {
            None => Access::Hidden,
            Some(loaded) if loaded.members.contains_key(&user_id) => Access::Member,
            Some(loaded) if loaded.kind == RoomKind::Group && loaded.row.public => Access::Outsider,
            Some(_) => Access::Hidden,
        }
    }

    /// The caller must be a member; an outsider of a public group is `forbidden`.
    fn require_member(&self, user_id: UserId, doing: &str) -> Result<(), ProtoError> {
        match self.access(user_id) {
            Access::Member => Ok(()),
            Access::Outsider => Err(ProtoError::forbidden(format!(
                "join the group before you {doing}"
            ))),
            Access::Hidden => Err(ProtoError::no_such_room()),
        }
    }

    fn user_view(&self, user: &UserRow) -> UserView {
        UserView::with_presence(user, self.presence.is_online(user.id))
    }

    fn member_views(&self) -> Vec<MemberView> {
        let Some(loaded) = self.loaded() else {
            return Vec::new();
        };
        let mut members: Vec<&Member> = loaded.members.values().collect();
        members.sort_by_key(|member| member.user.id);
        members
            .into_iter()
            .map(|member| self.member_view(&member.user))
            .collect()
    }

    /// The Room object as `viewer` sees it (`None`: the admin API, no one's own read
    /// position or level), from what the room holds in memory.
    fn view_for(&self, viewer: Option<UserId>) -> Option<RoomView> {
        let loaded = self.loaded()?;
        let display_name = (loaded.kind != RoomKind::Group).then(|| {
            let mut others: Vec<&Member> = loaded
                .members
                .values()
                .filter(|member| Some(member.user.id) != viewer)
                .collect();
            others.sort_by_key(|member| member.user.id);
            others
                .iter()
                .map(|member| member.user.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        });
        let summary = RoomSummary {
            room: loaded.row.clone(),
            members_count: loaded.members.len() as i64,
            last_seq: self.posting.delivered_seq(),
            read_seq: viewer
                .and_then(|viewer| loaded.members.get(&viewer))
                .map(|member| member.read_seq)
                .unwrap_or(0),
            display_name,
            notify: viewer.and_then(|viewer| loaded.levels.get(&viewer).copied()),
        };
        let mut view = RoomView::from_summary(&summary);
        view.last_rev = self.revs.delivered();
        Some(view)
    }

    /// Whether `viewer` blocks `author` here (section 13).
    fn hides(&self, viewer: UserId, author: UserId) -> bool {
        self.loaded()
            .is_some_and(|loaded| loaded.blocks.hides(viewer, author))
    }

    /// In a direct room: whether a block stands between `user` and the other member, so
    /// neither may post (section 13; the commit checks it again in the store).
    fn blocked_direct(&self, user: UserId) -> bool {
        self.loaded().is_some_and(|loaded| {
            loaded.kind == RoomKind::Direct
                && loaded
                    .members
                    .keys()
                    .any(|other| *other != user && loaded.blocks.between(user, *other))
        })
    }

    /// Whether anyone here blocks `author`.
    fn anyone_hides(&self, author: UserId) -> bool {
        self.loaded()
            .is_some_and(|loaded| loaded.blocks.anyone_hides(author))
    }

    /// Sends a frame about `author`'s message: `whole` to every joined connection, except
    /// those of users who block `author`, who get `hidden` (section 13). Made once each.
    fn broadcast_message(
        &mut self,
        author: UserId,
        whole: &Frame,
        hidden: impl FnOnce() -> Frame,
    ) -> u64 {
        if !self.anyone_hides(author) {
            return self.broadcast(whole, |_, _| true);
        }
        let Some(loaded) = self.loaded() else {
            return 0;
        };
        let blockers: std::collections::HashSet<UserId> = self
            .subscribers
            .values()
            .map(|subscriber| subscriber.user_id)
            .filter(|user| loaded.blocks.hides(*user, author))
            .collect();
        let hidden = hidden();
        let mut delivered = self.broadcast(whole, |_, subscriber| {
            !blockers.contains(&subscriber.user_id)
        });
        delivered += self.broadcast(&hidden, |_, subscriber| {
            blockers.contains(&subscriber.user_id)
        });
        delivered
    }

    /// Sends a signal of `author`'s (`typing`, `read`) to the joined connections `include`
    /// accepts, except those of users who block `author` (section 13).
    fn broadcast_signal(
        &mut self,
        author: UserId,
        frame: &Frame,
        include: impl Fn(&SessionKey, &Subscriber) -> bool,
    ) -> u64 {
        if !self.anyone_hides(author) {
            return self.broadcast(frame, include);
        }
        let blocks = self
            .loaded()
            .map(|loaded| loaded.blocks.clone())
            .unwrap_or_default();
        self.broadcast(frame, |key, subscriber| {
            include(key, subscriber) && !blocks.hides(subscriber.user_id, author)
        })
    }

    /// Sends a frame to every joined connection that `include` accepts. Connections whose
    /// queue overflowed are closed by their outbox and dropped from the room here.
    fn broadcast(
        &mut self,
        frame: &Frame,
        include: impl Fn(&SessionKey, &Subscriber) -> bool,
    ) -> u64 {
        let mut delivered = 0;
        self.subscribers.retain(|key, subscriber| {
            if !include(key, subscriber) {
                return !subscriber.outbox.is_closed();
            }
            let pushed = subscriber.outbox.push(frame.clone());
            delivered += u64::from(pushed);
            pushed
        });
        delivered
    }

    fn unsubscribe_user(&mut self, user_id: UserId) {
        self.subscribers
            .retain(|_, subscriber| subscriber.user_id != user_id);
    }

    fn apply_snapshot(&mut self, snapshot: Option<RoomSnapshot>) {
        match snapshot {
            None => {
                self.state = State::Missing;
                self.subscribers.clear();
            }
            Some(snapshot) => {
                let members = snapshot
                    .members
                    .into_iter()
                    .map(|(user, read_seq)| (user.id, Member { user, read_seq }))
                    .collect();
                self.posting.loaded(snapshot.last_seq);
                self.state = State::Live(Box::new(Loaded {
                    kind: snapshot.room.kind,
                    row: snapshot.room,
                    members,
                    authz_version: snapshot.authz_version,
                    levels: snapshot.levels.into_iter().collect(),
                    blocks: crate::safety::blocks::Blocks::new(snapshot.blocks),
                    standings: snapshot.standings.into_iter().collect(),
                }));
            }
        }
    }

    fn is_idle(&self) -> bool {
        self.subscribers.is_empty()
            && self.posting.is_idle()
            && self.last_activity.elapsed() >= self.settings.room_idle
    }

    fn stop_cleanly(&mut self, ctx: &mut Context<Self>) {
        self.stopped_cleanly = true;
        self.leave_bus();
        self.supervisor.stopped.do_send(RoomStopped {
            id: self.id,
            room: Room::handle(&ctx.address()),
        });
        ctx.stop();
    }
}

impl Actor for Room {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.settings.room_pending.max(16));
        let store = self.store.clone();
        let id = self.id;
        // In multi-node mode, subscribe first, then read the tail: whatever commits after
        // the read arrives on the bus, and nothing falls in between.
        let subscribing = self.subscribe_bus(ctx);
        ctx.wait(
            async move {
                let subscription = match subscribing {
                    Some(subscribing) => Some(subscribing.await),
                    None => None,
                };
                let loaded = match store.load_room(id).await {
                    Ok(snapshot) => store
                        .room_last_rev(id)
                        .await
                        .map(|last_rev| (snapshot, last_rev.unwrap_or(0)))
                        .map_err(|err| err.into_read_error()),
                    Err(err) => Err(err),
                };
                (subscription, loaded)
            }
            .into_actor(self)
            .map(move |(subscription, loaded), room, ctx| {
                room.subscription = subscription;
                room.ask_joins();
                match loaded {
                    Ok((snapshot, last_rev)) => {
                        // A restarted room still delivers what its predecessor did not.
                        let delivered = room.inherited_rev.take().unwrap_or(last_rev);
                        room.revs = conversation::revs_from(delivered.min(last_rev));
                        room.apply_snapshot(snapshot);
                        room.fill_gap(ctx);
                        room.revs_committed_upto(last_rev, ctx);
                    }
                    Err(err) => {
                        log::warn!("room {id}: cannot load from the store: {err}");
                        room.stop_cleanly(ctx);
                    }
                }
            }),
        );
        self.check_position_periodically(ctx);
        ctx.run_interval(IDLE_CHECK, |room, ctx| {
            // Connections that closed without saying so (their session crashed) go here.
            room.subscribers
                .retain(|_, subscriber| !subscriber.outbox.is_closed());
            room.sweep_joins(ctx);
            if matches!(room.state, State::Missing) || room.is_idle() {
                room.stop_cleanly(ctx);
            }
        });
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        if self.stopped_cleanly {
            return;
        }
        log::error!("room {}: actor crashed", self.id);
        self.leave_bus();
        self.supervisor.crashed.do_send(RoomCrashed {
            id: self.id,
            inheritance: Inheritance {
                subscribers: std::mem::take(&mut self.subscribers),
                delivered_seq: self.posting.delivered_seq(),
                delivered_rev: self.revs.delivered(),
            },
        });
    }
}
