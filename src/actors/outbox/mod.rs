//! A connection's one outbound queue. Rooms, the hub and the session push frames into its
//! [`Outbox`] (each room's event is serialized once and shared); the socket's writer, the
//! WebSocket response body in [`socket`], takes everything queued at once through the
//! [`OutboxDrain`] and hands it to actix-http in one chunk. No task and no other channel sits
//! between them.
//!
//! The queue is bounded: when it is full the client is not keeping up, and the connection is
//! closed with 4002 (the client resumes with `join` + `after_seq`); nothing is dropped
//! silently and memory stays bounded. It allocates nothing until the first frame.

pub mod socket;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use actix_web::web::Bytes;
use futures_util::task::AtomicWaker;

use crate::protocol::{CloseCode, Frame};

/// One frame for the socket.
pub(crate) enum Outgoing {
    Text(Frame),
    /// The chat protocol is text only; binary frames are written for the WebSocket
    /// conformance echo (examples/autobahn_echo.rs), which tests this write path.
    Binary(Bytes),
    Ping,
    Pong(Bytes),
}

/// How the connection is to end: the close code and reason, and a last frame to send
/// before the close (the `unauthorized` error of a revoked token).
pub(crate) struct Ending {
    pub code: CloseCode,
    pub reason: String,
    pub last_frame: Option<Frame>,
    /// The frames queued before the close are sent first (a close that answers the
    /// client's, or a broken rule); otherwise they are dropped.
    pub after_queued: bool,
}

impl Ending {
    /// True when the ending goes out now: it drops the queue, or nothing is left before it.
    fn is_due(&self, queued: usize) -> bool {
        !self.after_queued || queued == 0
    }
}

/// What [`OutboxDrain::poll_take`] found.
pub(crate) enum Taken {
    /// Frames were moved into the caller's batch.
    Frames,
    /// A close was asked for: what was still queued is dropped.
    Ending(Ending),
}

type OnClose = Box<dyn FnOnce() + Send>;

struct State {
    queue: VecDeque<Outgoing>,
    /// Frames the writer has taken and not yet encoded: they count against the capacity
    /// too, so a stalled client holds at most `capacity` frames, queued or taken.
    taken: usize,
    ending: Option<Ending>,
    /// Run once, when a close is asked for or the socket goes away (stops the session).
    on_close: Option<OnClose>,
}

struct Shared {
    state: Mutex<State>,
    capacity: usize,
    /// The socket writer, woken when the queue stops being empty or a close is asked for.
    writer: AtomicWaker,
    /// A close was asked for (the first request wins).
    closing: AtomicBool,
    /// The socket's writer is gone: the connection ended.
    gone: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side; cheap to clone, one clone per room the connection has joined.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The receiving side, owned by the socket's writer ([`socket::SocketBody`]). Dropping it
/// means the connection is gone: the outbox refuses frames and the session is stopped.
pub struct OutboxDrain {
    shared: Arc<Shared>,
}

impl Outbox {
    pub fn new(capacity: usize) -> (Outbox, OutboxDrain) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                taken: 0,
                ending: None,
                on_close: None,
            }),
            capacity: capacity.max(1),
            writer: AtomicWaker::new(),
            closing: AtomicBool::new(false),
            gone: AtomicBool::new(false),
        });
        (
            Outbox {
                shared: shared.clone(),
            },
            OutboxDrain { shared },
        )
    }

    /// Runs `on_close` once, when a close is asked for or the socket goes away (at once if
    /// either already happened).
    pub fn when_closed(&self, on_close: impl FnOnce() + Send + 'static) {
        let mut state = self.shared.lock();
        if state.ending.is_some() || self.shared.gone.load(Ordering::Acquire) {
            drop(state);
            return on_close();
        }
        state.on_close = Some(Box::new(on_close));
    }

    /// Queues a text frame. Returns false when the connection is closing or has just been
    /// closed with 4002 because its queue was full.
    pub fn push(&self, frame: Frame) -> bool {
        self.enqueue(Outgoing::Text(frame))
    }

    /// Queues a binary frame (not part of the chat protocol: the conformance echo's).
    pub fn push_binary(&self, payload: Bytes) -> bool {
        self.enqueue(Outgoing::Binary(payload))
    }

    pub fn ping(&self) -> bool {
        self.enqueue(Outgoing::Ping)
    }

    pub fn pong(&self, payload: Bytes) -> bool {
        self.enqueue(Outgoing::Pong(payload))
    }

    fn enqueue(&self, item: Outgoing) -> bool {
        if self.is_closed() {
            return false;
        }
        let mut state = self.shared.lock();
        if state.queue.len() + state.taken >= self.shared.capacity {
            drop(state);
            self.close(
                CloseCode::Lagging,
                "outbound queue overflowed; reconnect and resume",
            );
            return false;
        }
        let was_empty = state.queue.is_empty();
        state.queue.push_back(item);
        drop(state);
        crate::metrics::METRICS.frames_out.inc();
        // The writer takes the whole queue each time, so it needs a wake-up only when the
        // queue stops being empty: a burst into one connection costs one wake-up.
        if was_empty {
            self.shared.writer.wake();
        }
        true
    }

    /// Asks for the connection to be closed with `code`; the first request wins. Frames
    /// still queued are dropped: the close code tells the client what to do.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.close_after(None, code, reason);
    }

    /// Like [`Outbox::close`], with one last frame sent just before the close frame.
    pub fn close_after(&self, last_frame: Option<Frame>, code: CloseCode, reason: &str) {
        self.end(last_frame, false, code, reason);
    }

    /// Like [`Outbox::close`], but the frames already queued are sent before the close
    /// frame (nothing is queued after it): the answer to the client's close, or to a broken
    /// rule, follows the replies to what the client sent before.
    pub fn close_after_queued(&self, code: CloseCode, reason: &str) {
        self.end(None, true, code, reason);
    }

    fn end(&self, last_frame: Option<Frame>, after_queued: bool, code: CloseCode, reason: &str) {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        crate::metrics::METRICS
            .connections_closed
            .with_label_values(&[code.to_string().as_str()])
            .inc();
        let on_close = {
            let mut state = self.shared.lock();
            state.ending = Some(Ending {
                code,
                reason: reason.to_string(),
                last_frame,
                after_queued,
            });
            state.on_close.take()
        };
        self.shared.writer.wake();
        if let Some(on_close) = on_close {
            on_close();
        }
    }

    /// True once a close was asked for or the connection went away.
    pub fn is_closed(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire) || self.shared.gone.load(Ordering::Acquire)
    }
}

impl OutboxDrain {
    /// Moves everything queued into `batch` (which must be empty: the two swap, so neither
    /// allocates again), or answers the ending once it is due (a close was asked for, and
    /// either it drops the queue or the queue is empty). Pending, with the writer to be
    /// woken, when there is neither.
    pub(crate) fn poll_take(
        &mut self,
        cx: &mut Context<'_>,
        batch: &mut VecDeque<Outgoing>,
    ) -> Poll<Taken> {
        debug_assert!(batch.is_empty(), "the batch is taken whole before the next");
        self.shared.writer.register(cx.waker());
        let mut state = self.shared.lock();
        let queued = state.queue.len();
        if let Some(ending) = state.ending.take_if(|ending| ending.is_due(queued)) {
            state.queue = VecDeque::new();
            return Poll::Ready(Taken::Ending(ending));
        }
        if state.queue.is_empty() {
            return Poll::Pending;
        }
        std::mem::swap(&mut state.queue, batch);
        state.taken = batch.len();
        Poll::Ready(Taken::Frames)
    }

    /// The writer encoded `count` of the frames it took: they no longer count against the
    /// capacity.
    pub(crate) fn encoded(&mut self, count: usize) {
        let mut state = self.shared.lock();
        state.taken = state.taken.saturating_sub(count);
    }

    /// The ending, if a close was asked for since the last look and it is due with
    /// `taken` frames still in the writer's batch (one atomic load if no close was asked).
    pub(crate) fn ending(&mut self, taken: usize) -> Option<Ending> {
        if !self.shared.closing.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.shared.lock();
        let queued = state.queue.len() + taken;
        let ending = state.ending.take_if(|ending| ending.is_due(queued));
        if ending.is_some() {
            state.queue = VecDeque::new();
        }
        ending
    }
}

impl Drop for OutboxDrain {
    fn drop(&mut self) {
        let on_close = {
            let mut state = self.shared.lock();
            self.shared.gone.store(true, Ordering::Release);
            state.queue = VecDeque::new();
            state.on_close.take()
        };
        if let Some(on_close) = on_close {
            on_close();
        }
    }
}

#[cfg(test)]
impl OutboxDrain {
    /// The next text frame as JSON, waiting up to five seconds (tests only: frames queued
    /// before a close are still read, as a test reads them without a socket).
    pub async fn next_json(&mut self) -> serde_json::Value {
        let next = std::future::poll_fn(|cx| {
            self.shared.writer.register(cx.waker());
            let mut state = self.shared.lock();
            while let Some(item) = state.queue.pop_front() {
                if let Outgoing::Text(frame) = item {
                    return Poll::Ready(frame);
                }
            }
            Poll::Pending
        });
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), next)
            .await
            .expect("a frame within five seconds");
        serde_json::from_str(&frame).expect("frames are JSON")
    }

    /// The close code asked for, if any (tests only).
    pub fn close_code(&self) -> Option<CloseCode> {
        self.shared.lock().ending.as_ref().map(|ending| ending.code)
    }

    /// Frames queued and not yet taken (tests only).
    pub fn pending(&self) -> usize {
        self.shared.lock().queue.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use futures_util::task::noop_waker_ref;

    use super::*;

    fn text(body: &str) -> Frame {
        Frame::from(body.to_string())
    }

    fn take(drain: &mut OutboxDrain) -> Poll<Taken> {
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut batch = VecDeque::new();
        let taken = drain.poll_take(&mut cx, &mut batch);
        if let Poll::Ready(Taken::Frames) = taken {
            assert!(!batch.is_empty());
        }
        taken
    }

    #[test]
    fn takes_everything_queued_at_once() {
        let (outbox, mut drain) = Outbox::new(8);
        assert!(matches!(take(&mut drain), Poll::Pending));
        assert!(outbox.push(text("a")) && outbox.ping() && outbox.push(text("b")));
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut batch = VecDeque::new();
        assert!(matches!(
            drain.poll_take(&mut cx, &mut batch),
            Poll::Ready(Taken::Frames)
        ));
        let kinds: Vec<_> = batch
            .iter()
            .map(|item| match item {
                Outgoing::Text(frame) => frame.to_string(),
                Outgoing::Binary(_) => "binary".to_string(),
                Outgoing::Ping => "ping".to_string(),
                Outgoing::Pong(_) => "pong".to_string(),
            })
            .collect();
        assert_eq!(kinds, ["a", "ping", "b"]);
        assert_eq!(drain.pending(), 0);
    }

    #[test]
    fn a_full_queue_closes_with_4002_and_stops_the_session() {
        let (outbox, mut drain) = Outbox::new(2);
        let stopped = Arc::new(AtomicUsize::new(0));
        let counter = stopped.clone();
        outbox.when_closed(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert!(outbox.push(text("1")) && outbox.push(text("2")));
        assert!(!outbox.push(text("3")), "the third frame does not fit");
        assert!(outbox.is_closed());
        assert!(!outbox.push(text("4")), "nothing is queued after the close");
        assert_eq!(
            stopped.load(Ordering::SeqCst),
            1,
            "the session is told at once"
        );
        match take(&mut drain) {
            Poll::Ready(Taken::Ending(ending)) => {
                assert_eq!(ending.code, CloseCode::Lagging);
                assert!(ending.last_frame.is_none());
            }
            _ => panic!("the ending comes first, the queued frames are dropped"),
        }
        outbox.close(CloseCode::Normal, "later");
        assert_eq!(stopped.load(Ordering::SeqCst), 1, "told once");
    }

    #[test]
    fn the_first_close_wins() {
        let (outbox, drain) = Outbox::new(2);
        outbox.close_after(Some(text("bye")), CloseCode::Revoked, "revoked");
        outbox.close(CloseCode::Normal, "closing");
        assert_eq!(drain.close_code(), Some(CloseCode::Revoked));
    }

    #[test]
    fn a_gone_socket_refuses_frames_and_stops_the_session() {
        let (outbox, drain) = Outbox::new(2);
        let stopped = Arc::new(AtomicUsize::new(0));
        let counter = stopped.clone();
        outbox.when_closed(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        drop(drain);
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
        assert!(outbox.is_closed());
        assert!(!outbox.push(text("late")));
        // A hook set after the fact runs at once.
        let late = Arc::new(AtomicUsize::new(0));
        let counter = late.clone();
        outbox.when_closed(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(late.load(Ordering::SeqCst), 1);
    }
}
