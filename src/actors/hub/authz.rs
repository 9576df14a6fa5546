//! The one place a node re-reads from the store what it keeps in memory for authorization,
//! and applies it (multi-node mode): every `--authz-sweep-ms`, and after every Redis
//! reconnect, one query (`Store::live_state`) answers for the rooms live here (their
//! `authz_version`), the tokens this node's connections signed in with and its users'
//! deactivation; [`Sweep`] decides, and the hub hands each room whose version moved a
//! [`Recheck`] (it reloads its members, `actors/room/authz.rs`) and closes with 4001 the
//! connections whose token is gone or whose user was deactivated. A kick, a revocation or a
//! deactivation made on another node so takes effect here within a sweep even if its
//! publish never arrives (docs/scale-out.md).

use actix::prelude::*;

use super::Hub;
use crate::actors::room::Recheck;
use crate::cluster::authz::{Asked, Sweep, Verdict};
use crate::error::{ErrorCode, ProtoError};
use crate::model::{RoomId, UserId};
use crate::protocol::{frames, CloseCode, ReplyId};

/// The sweep's state in the hub.
#[derive(Debug, Default)]
pub(super) struct Sweeping {
    sweep: Sweep,
    /// A sweep's query is under way.
    running: bool,
    /// Another sweep was asked for meanwhile (a reconnect): run one more when it is done.
    again: bool,
    /// The last sweep failed (logged once until one succeeds).
    failing: bool,
}

impl Sweeping {
    /// A room's actor started: see [`Sweep::forget_room`].
    pub(super) fn room_started(&mut self, room: RoomId) {
        self.sweep.forget_room(room);
    }
}

impl Hub {
    /// Sweeps every `--authz-sweep-ms` in multi-node mode (a single node applies every
    /// change itself, in its own actors).
    pub(super) fn start_sweeping(&mut self, ctx: &mut Context<Self>) {
        if self.bus.is_none() {
            return;
        }
        ctx.run_interval(self.settings.authz_sweep, |hub, ctx| hub.sweep(ctx));
    }

    /// Re-reads now what this node keeps for authorization and applies it; one sweep at a
    /// time (one asked for meanwhile runs right after).
    pub(super) fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.authz.running {
            self.authz.again = true;
            return;
        }
        let asked = self.asked();
        if asked == Asked::default() {
            return;
        }
        self.authz.running = true;
        let store = self.store.clone();
        let question = asked.clone();
        ctx.spawn(
            async move {
                store
                    .live_state(question.rooms, question.tokens, question.users)
                    .await
            }
            .into_actor(self)
            .map(move |found, hub, ctx| {
                hub.authz.running = false;
                match found {
                    Ok(found) => {
                        if hub.authz.failing {
                            log::info!("authz sweep: the store answers again");
                            hub.authz.failing = false;
                        }
                        let verdict = hub.authz.sweep.judge(&asked, found);
                        hub.apply(verdict);
                    }
                    Err(err) if !hub.authz.failing => {
                        hub.authz.failing = true;
                        log::warn!(
                            "authz sweep: cannot read from the store ({err}); retrying every \
                             sweep, this node keeps what it knew"
                        );
                    }
                    Err(err) => log::debug!("authz sweep: {err}"),
                }
                if std::mem::take(&mut hub.authz.again) {
                    hub.sweep(ctx);
                }
            }),
        );
    }

    fn asked(&self) -> Asked {
        let rooms = self
            .rooms
            .iter()
            .filter(|(_, addr)| addr.connected())
            .map(|(id, _)| *id)
            .collect();
        let tokens = self
            .connections
            .values()
            .flat_map(|sessions| sessions.values())
            .filter_map(|connection| connection.token_id)
            .collect();
        let users = self.connections.keys().copied().collect();
        Asked {
            rooms,
            tokens,
            users,
        }
    }

    fn apply(&mut self, verdict: Verdict) {
        for (room, version) in verdict.recheck {
            if let Some(addr) = self.rooms.get(&room) {
                addr.do_send(Recheck { version });
            }
        }
        for token_id in verdict.revoked {
            let users: Vec<UserId> = self
                .connections
                .iter()
                .filter(|(_, sessions)| {
                    sessions
                        .values()
                        .any(|connection| connection.token_id == Some(token_id))
                })
                .map(|(user, _)| *user)
                .collect();
            for user_id in users {
                let closed = self.close_here(
                    user_id,
                    Some(token_id),
                    Some(unauthorized("your token was revoked; sign in again")),
                    CloseCode::Revoked,
                    "token revoked",
                );
                log::info!(
                    "authz sweep: token t_{token_id} of {user_id} is gone; closed {closed} \
                     connections"
                );
            }
        }
        for user_id in verdict.deactivated {
            let closed = self.close_here(
                user_id,
                None,
                Some(unauthorized("your account was deactivated")),
                CloseCode::Revoked,
                "token revoked",
            );
            log::info!("authz sweep: {user_id} was deactivated; closed {closed} connections");
        }
    }
}

fn unauthorized(why: &str) -> crate::protocol::Frame {
    frames::error(
        &ReplyId::None,
        &ProtoError::new(ErrorCode::Unauthorized, why),
    )
}
