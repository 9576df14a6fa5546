//! One WebSocket connection as an actor: it reads frames, enforces the rate limit and the
//! heartbeat, and parses each frame once into a [`Command`](crate::protocol::Command).
//! Consecutive `send`s to one room are pipelined (up to [`pipeline::MAX_IN_FLIGHT`] in
//! flight, answered by the room in order); any other command waits for them and runs to its
//! end before the next frame is read, so replies leave in the order the commands came.

mod blocks;
pub mod dispatch;
mod people;
pub mod pipeline;
pub mod rate_limit;
mod search;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;

use self::rate_limit::{RateLimiter, Verdict};
use super::messages::{
    Caller, Closed, Connect, Disconnect, RoomHandle, SessionKey, SessionSupervisor, Unsubscribe,
};
use super::outbox::Outbox;
use crate::db::models::UserRow;
use crate::db::Store;
use crate::error::{ErrorCode, ProtoError};
use crate::model::RoomId;
use crate::protocol::views::UserView;
use crate::protocol::CloseCode;
use crate::protocol::{command, frames, ReplyId};
use crate::settings::Settings;
use crate::websocket::{Incoming, Violation};

pub struct Session {
    key: SessionKey,
    user: UserRow,
    /// The `pv_` token this connection signed in with (`None` for a JWT).
    token_id: Option<i64>,
    outbox: Outbox,
    hub: SessionSupervisor,
    store: Store,
    settings: Arc<Settings>,
    /// Rooms this connection has joined, to leave them when it closes.
    joined: HashMap<RoomId, RoomHandle>,
    sends: pipeline::SendPipeline,
    limiter: RateLimiter,
    last_heard: Instant,
}

impl Session {
    pub fn new(
        key: SessionKey,
        user: UserRow,
        token_id: Option<i64>,
        outbox: Outbox,
        hub: SessionSupervisor,
        store: Store,
        settings: Arc<Settings>,
    ) -> Session {
        let now = Instant::now();
        Session {
            key,
            user,
            token_id,
            outbox,
            hub,
            store,
            limiter: RateLimiter::new(settings.rate_limit, now),
            settings,
            joined: HashMap::new(),
            sends: pipeline::SendPipeline::default(),
            last_heard: now,
        }
    }

    pub fn new_key() -> SessionKey {
        let mut bytes = [0u8; 6];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        Arc::from(format!("s_{}", hex::encode(bytes)))
    }

    fn caller(&self) -> Caller {
        Caller {
            session: self.key.clone(),
            user: self.user.clone(),
            outbox: self.outbox.clone(),
            received: Instant::now(),
        }
    }

    fn reply_error(&self, id: &ReplyId, err: &ProtoError) {
        self.outbox.push(frames::error(id, err));
    }

    /// Logs a command that failed on the server's side, naming the session, user and room.
    fn log_failure(&self, command: &str, room: Option<&str>, err: &ProtoError) {
        super::origin::log_failure(&self.key, self.user.id, command, room, err);
    }

    fn close(&self, code: CloseCode, reason: &str, ctx: &mut Context<Self>) {
        self.outbox.close(code, reason);
        ctx.stop();
    }

    /// Like [`close`](Self::close), after the frames already queued (the replies to what the
    /// client sent before its close frame or before it broke a rule).
    fn close_after_queued(&self, code: CloseCode, reason: &str, ctx: &mut Context<Self>) {
        self.outbox.close_after_queued(code, reason);
        ctx.stop();
    }

    /// Counts a frame against the rate limit; false when it must not be processed. A
    /// refused text frame's id is echoed when it is small enough to read.
    fn admit(&mut self, text: Option<&str>, ctx: &mut Context<Self>) -> bool {
        match self.limiter.check(Instant::now()) {
            Verdict::Allowed => true,
            Verdict::Limited { retry_after_ms } => {
                let id = text
                    .filter(|text| text.len() <= self.settings.max_frame_bytes)
                    .map(command::peek_id)
                    .unwrap_or_default();
                self.reply_error(&id, &ProtoError::rate_limited(retry_after_ms));
                false
            }
            Verdict::Abusive => {
                log::warn!(
                    "session {} ({}): over the rate limit too long",
                    self.key,
                    self.user.id
                );
                self.close(CloseCode::Policy, "over the rate limit for too long", ctx);
                false
            }
        }
    }

    fn too_large(&self, bytes: usize) -> ProtoError {
        ProtoError::too_large(format!(
            "the frame has {bytes} bytes; at most {} are allowed",
            self.settings.max_frame_bytes
        ))
    }

    fn on_text(&mut self, text: &str, ctx: &mut Context<Self>) {
        if text.len() > self.settings.max_frame_bytes {
            let error = self.too_large(text.len());
            return self.reply_error_in_turn(ReplyId::None, error, ctx);
        }
        match command::parse(text) {
            Ok(frame) => self.execute(frame, ctx),
            Err(rejected) => self.reply_error_in_turn(rejected.id, rejected.error, ctx),
        }
    }

    /// Answers a frame that could not be run with an error, after the answers of the sends
    /// still in flight: commands are answered in the order they came (docs/protocol.md
    /// section 2), and no further frame is read meanwhile.
    fn reply_error_in_turn(&mut self, id: ReplyId, error: ProtoError, ctx: &mut Context<Self>) {
        if self.sends.is_idle() {
            return self.reply_error(&id, &error);
        }
        let drained = self.sends.drained();
        ctx.wait(
            drained
                .into_actor(self)
                .map(move |(), session, _| session.reply_error(&id, &error)),
        );
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        crate::metrics::METRICS.connections_open.inc();
        ctx.set_mailbox_capacity(64);
        let hello = frames::hello(
            &self.key,
            &UserView::sender(&self.user),
            self.settings.heartbeat.as_secs(),
        );
        self.outbox.push(hello);
        self.hub.connect.do_send(Connect {
            user: self.user.clone(),
            session: self.key.clone(),
            token_id: self.token_id,
            outbox: self.outbox.clone(),
            closed: ctx.address().recipient(),
        });
        ctx.run_interval(self.settings.heartbeat, |session, ctx| {
            if session.outbox.is_closed() {
                return ctx.stop();
            }
            if session.last_heard.elapsed() > session.settings.heartbeat * 3 {
                log::info!(
                    "session {} ({}): heartbeat timed out",
                    session.key,
                    session.user.id
                );
                return session.close(
                    CloseCode::Normal,
                    "no frame or pong for three heartbeats",
                    ctx,
                );
            }
            session.outbox.ping();
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        crate::metrics::METRICS.connections_open.dec();
        self.outbox.close(CloseCode::Normal, "closing");
        for room in self.joined.values() {
            room.unsubscribe.do_send(Unsubscribe {
                session: self.key.clone(),
            });
        }
        self.hub.disconnect.do_send(Disconnect {
            user: self.user.clone(),
            session: self.key.clone(),
        });
    }
}

impl StreamHandler<Result<Incoming, Violation>> for Session {
    fn handle(&mut self, item: Result<Incoming, Violation>, ctx: &mut Context<Self>) {
        self.last_heard = Instant::now();
        crate::metrics::METRICS.frames_in.inc();
        match item {
            Ok(Incoming::Text(text)) => {
                if self.admit(Some(&text), ctx) {
                    self.on_text(&text, ctx);
                }
            }
            Ok(Incoming::Binary(_) | Incoming::TooLarge { text: false, .. }) => {
                if self.admit(None, ctx) {
                    let err = ProtoError::new(
                        ErrorCode::UnsupportedFrame,
                        "binary frames are not supported; send JSON in text frames",
                    );
                    self.reply_error(&ReplyId::None, &err);
                }
            }
            Ok(Incoming::TooLarge { bytes, text: true }) => {
                if self.admit(None, ctx) {
                    self.reply_error(&ReplyId::None, &self.too_large(bytes));
                }
            }
            Ok(Incoming::Ping(payload)) => {
                self.outbox.pong(payload);
            }
            Ok(Incoming::Pong) => {}
            // The close is answered with the client's own code (1000 when it gave none).
            Ok(Incoming::Close(reason)) => {
                let code = reason.map_or(CloseCode::Normal, |(code, _)| code);
                self.close_after_queued(code, "", ctx);
            }
            // A client's mistake: a debug line, never an error.
            Err(violation) => {
                log::debug!("session {}: {violation}", self.key);
                self.close_after_queued(violation.close_code(), &violation.to_string(), ctx);
            }
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl Handler<Closed> for Session {
    type Result = ();

    fn handle(&mut self, _: Closed, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
