//! Where a connection's room command came from. The [`Origin`] travels with the command
//! from the session down to the room; a post's goes on into its pipeline, and
//! [`Origin::answer`] is the one place a post's answer is written: the `ok` or `error` into the connection's outbox, the ack
//! latency, the log line of a server-side failure, and the release of the connection's
//! place in its send pipeline (the [`Ticket`]). Nothing travels back up to the session.
//!
//! [`Caller`] (the connection a command came from) lives here too, so that an `Origin` is
//! made from one. A leaf like `messages.rs` (which re-exports both): it imports no actor.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::outbox::Outbox;
use crate::db::models::{StoredMessage, UserRow};
use crate::db::Store;
use crate::error::{ErrorCode, ProtoError};
use crate::model::UserId;
use crate::protocol::frames;
use crate::protocol::ids::RoomId;
use crate::protocol::views::MessageView;
use crate::protocol::ReplyId;

/// One post of a connection's in flight; dropping it (when the answer is written) frees its
/// place in the connection's send pipeline.
pub struct Ticket(Arc<watch::Sender<usize>>);

impl Ticket {
    /// Takes a place in the pipeline that `in_flight` counts.
    pub fn issue(in_flight: &Arc<watch::Sender<usize>>) -> Ticket {
        in_flight.send_modify(|count| *count += 1);
        Ticket(in_flight.clone())
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
    }
}

/// A connection's id (`s_…`), shared by every actor that refers to it.
pub type SessionKey = Arc<str>;

/// The connection a command came from: who sent it, where its replies go, and when the
/// command was read (for the ack latency metric).
#[derive(Clone)]
pub struct Caller {
    pub session: SessionKey,
    pub user: UserRow,
    pub outbox: Outbox,
    pub received: Instant,
}

/// The connection a room command came from, and what its answer needs. A post's origin
/// ([`Origin::post`]) owes its answer: the room writes it through [`Origin::answer`], and
/// one dropped unanswered is answered `unavailable`. A request's origin
/// ([`Origin::request`]) only says who asks: the session writes the room's reply.
pub struct Origin {
    caller: Caller,
    reply_id: ReplyId,
    /// The command (`send`, `action`, …) and its room, for the logs.
    command: &'static str,
    room: RoomId,
    ticket: Option<Ticket>,
    /// Whether the answer is still to be written through this origin.
    owed: bool,
    /// The `flag` content rules the post matched: reported once it is stored.
    flagged: Option<(Store, Vec<String>)>,
}

impl Origin {
    /// The origin of a post, answered through it.
    pub fn post(caller: Caller, reply_id: ReplyId, command: &'static str, room: RoomId) -> Origin {
        Origin {
            caller,
            reply_id,
            command,
            room,
            ticket: None,
            owed: true,
            flagged: None,
        }
    }

    /// The origin of a request, answered by the session with the room's reply.
    pub fn request(
        caller: Caller,
        reply_id: ReplyId,
        command: &'static str,
        room: RoomId,
    ) -> Origin {
        let mut origin = Origin::post(caller, reply_id, command, room);
        origin.owed = false;
        origin
    }

    /// The room the command names.
    pub fn room(&self) -> RoomId {
        self.room
    }

    /// Who asked and the id to echo, for a request (a post is answered through the origin).
    pub fn into_request(mut self) -> (Caller, ReplyId) {
        (self.caller.clone(), std::mem::take(&mut self.reply_id))
    }

    /// Who sent the post.
    pub fn user(&self) -> &UserRow {
        &self.caller.user
    }

    /// Holds `ticket` until the answer is written.
    pub fn hold(&mut self, ticket: Ticket) {
        self.ticket = Some(ticket);
    }

    /// Reports the post once it is stored, as matching the `flag` content rules `rules`
    /// (`actors/screen.rs`); nothing when there are none.
    pub fn flag(&mut self, store: &Store, rules: Vec<String>) {
        if !rules.is_empty() {
            self.flagged = Some((store.clone(), rules));
        }
    }

    /// Answers the post: `ok` with the stored message, or the error.
    pub fn answer(mut self, answer: Result<StoredMessage, ProtoError>) {
        self.write(answer);
    }

    fn write(&mut self, answer: Result<StoredMessage, ProtoError>) {
        self.owed = false;
        let Caller {
            session,
            user,
            outbox,
            received,
        } = &self.caller;
        let frame = match answer {
            Ok(message) => {
                crate::metrics::METRICS
                    .ack_latency
                    .observe(received.elapsed().as_secs_f64());
                log::trace!(
                    "session {session}: {} in {}: seq {}",
                    self.command,
                    self.room,
                    message.row.seq
                );
                if let Some((store, rules)) = self.flagged.take() {
                    let report = super::screen::report_flagged(store, message.clone(), rules);
                    match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => drop(runtime.spawn(report)),
                        Err(err) => log::error!("content rules: no runtime to report on: {err}"),
                    }
                }
                frames::sent(&self.reply_id, &MessageView::from_stored(&message))
            }
            Err(err) => {
                let room = self.room.to_string();
                log_failure(session, user.id, self.command, Some(&room), &err);
                frames::error(&self.reply_id, &err)
            }
        };
        outbox.push(frame);
        // Only now, with the answer queued, may the connection's next command run.
        self.ticket = None;
    }
}

impl Drop for Origin {
    /// A post dropped unanswered: its room stopped or crashed with it on board.
    fn drop(&mut self) {
        if self.owed {
            self.write(Err(ProtoError::unavailable(
                "the room restarted while handling this; retry",
            )));
        }
    }
}

/// `unavailable` and `internal` are the server's failures: a warning (an error for a bug)
/// that names where it happened. The client's own mistakes are only debug lines.
pub(crate) fn log_failure(
    session: &str,
    user_id: UserId,
    command: &str,
    room: Option<&str>,
    err: &ProtoError,
) {
    let room = room.unwrap_or("-");
    match err.code {
        ErrorCode::Internal => {
            log::error!("session {session} {user_id} room {room}: {command}: {err}")
        }
        ErrorCode::Unavailable => {
            log::warn!("session {session} {user_id} room {room}: {command}: {err}")
        }
        _ => log::debug!("session {session} {user_id} room {room}: {command}: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::db::models::MessageRow;

    fn origin(outbox: &Outbox) -> Origin {
        let user = UserRow {
            id: UserId(3),
            name: "amy".into(),
            kind: crate::db::models::UserKind::User,
            handle: None,
            created_ms: 0,
        };
        let caller = Caller {
            session: Arc::from("s_test"),
            user,
            outbox: outbox.clone(),
            received: Instant::now(),
        };
        Origin::post(caller, ReplyId::Number(5.into()), "send", RoomId(1))
    }

    #[actix_rt::test]
    async fn the_answer_is_written_once_and_then_frees_the_pipeline_place() {
        let (outbox, mut drain) = Outbox::new(8);
        let in_flight = Arc::new(watch::Sender::new(0));
        let mut sent = origin(&outbox);
        sent.hold(Ticket::issue(&in_flight));
        assert_eq!(*in_flight.borrow(), 1);
        let message = StoredMessage {
            reply_to: None,
            mentions: Vec::new(),
            row: MessageRow {
                room_id: RoomId(1),
                seq: 4,
                sender_id: UserId(3),
                body: "hi".into(),
                template: None,
                client_msg_id: None,
                action: None,
                created_ms: 0,
            },
            sender: sent.user().clone(),
            files: Vec::new(),
        };
        sent.answer(Ok(message));
        assert_eq!(*in_flight.borrow(), 0);
        let ok = drain.next_json().await;
        assert_eq!((ok["type"].as_str(), &ok["id"]), (Some("ok"), &json!(5)));
        assert_eq!(ok["data"]["message"]["seq"], 4);
        assert_eq!(drain.pending(), 0, "answered once");
    }

    #[actix_rt::test]
    async fn a_post_dropped_unanswered_is_answered_unavailable() {
        let (outbox, mut drain) = Outbox::new(8);
        let in_flight = Arc::new(watch::Sender::new(0));
        let mut lost = origin(&outbox);
        lost.hold(Ticket::issue(&in_flight));
        drop(lost);
        assert_eq!(*in_flight.borrow(), 0);
        let error = drain.next_json().await;
        assert_eq!(error["code"], "unavailable");
        assert_eq!(error["id"], 5);
        assert_eq!(drain.pending(), 0);
    }
}
