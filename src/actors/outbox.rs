//! A connection's bounded outbound queue and the task that drains it into the socket.
//!
//! Rooms push events straight into a subscriber's outbox, so a room's fan-out never waits
//! on a session actor. When the queue is full the client is not keeping up: the connection
//! is closed with 4002 and the client resumes with `join` + `after_seq`; nothing is dropped
//! silently and memory stays bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use actix_ws::CloseReason;
use tokio::sync::{mpsc, Notify};

use crate::protocol::{CloseCode, Frame};

/// How long a close frame may wait for a slow client to read what is ahead of it.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

enum Outgoing {
    Text(Frame),
    Ping,
    Pong(Bytes),
}

/// How the connection is to end: the close code and reason, and a last frame to send
/// before the close (the `unauthorized` error of a revoked token).
struct Ending {
    code: CloseCode,
    reason: String,
    last_frame: Option<Frame>,
}

struct Closer {
    requested: Mutex<Option<Ending>>,
    notify: Notify,
    closed: AtomicBool,
}

/// The sending side; cheap to clone, one clone per room the connection has joined.
#[derive(Clone)]
pub struct Outbox {
    queue: mpsc::Sender<Outgoing>,
    closer: Arc<Closer>,
}

/// The receiving side, handed to [`drive`].
pub struct OutboxDrain {
    queue: mpsc::Receiver<Outgoing>,
    closer: Arc<Closer>,
}

impl Outbox {
    pub fn new(capacity: usize) -> (Outbox, OutboxDrain) {
        let (queue, receiver) = mpsc::channel(capacity.max(1));
        let closer = Arc::new(Closer {
            requested: Mutex::new(None),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
        });
        (
            Outbox {
                queue,
                closer: closer.clone(),
            },
            OutboxDrain {
                queue: receiver,
                closer,
            },
        )
    }

    /// Queues a text frame. Returns false when the connection is closing or has just been
    /// closed with 4002 because its queue was full.
    pub fn push(&self, frame: Frame) -> bool {
        self.enqueue(Outgoing::Text(frame))
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
        match self.queue.try_send(item) {
            Ok(()) => {
                crate::metrics::METRICS.frames_out.inc();
                true
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(
                    CloseCode::Lagging,
                    "outbound queue overflowed; reconnect and resume",
                );
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Asks for the connection to be closed with `code`; the first request wins. Frames
    /// already queued are dropped: the close code tells the client what to do.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.close_after(None, code, reason);
    }

    /// Like [`Outbox::close`], with one last frame sent just before the close frame.
    pub fn close_after(&self, last_frame: Option<Frame>, code: CloseCode, reason: &str) {
        if self.closer.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        crate::metrics::METRICS
            .connections_closed
            .with_label_values(&[code.to_string().as_str()])
            .inc();
        if let Ok(mut requested) = self.closer.requested.lock() {
            *requested = Some(Ending {
                code,
                reason: reason.to_string(),
                last_frame,
            });
        }
        self.closer.notify.notify_one();
    }

    pub fn is_closed(&self) -> bool {
        self.closer.closed.load(Ordering::Acquire)
    }
}

/// Writes queued frames to the socket until the connection closes; then calls `closed`
/// (which stops the session actor) and sends the close frame.
pub async fn drive(mut drain: OutboxDrain, mut socket: actix_ws::Session, closed: impl FnOnce()) {
    let closer = drain.closer.clone();
    let closing = closer.notify.notified();
    tokio::pin!(closing);
    // Grows only as far as bursts need: an idle connection keeps it tiny.
    let mut batch = Vec::new();
    'writing: loop {
        tokio::select! {
            biased;
            _ = &mut closing => break 'writing,
            count = drain.queue.recv_many(&mut batch, 64) => {
                if count == 0 {
                    break 'writing;
                }
            }
        }
        for item in batch.drain(..) {
            let sent = tokio::select! {
                biased;
                _ = &mut closing => break 'writing,
                sent = write(&mut socket, item) => sent,
            };
            if !sent {
                return closed();
            }
        }
    }
    closed();
    let requested = drain
        .closer
        .requested
        .lock()
        .ok()
        .and_then(|mut requested| requested.take());
    // The close frame queues behind what the socket already holds; a client that never
    // reads again is dropped after the grace period.
    let _ = tokio::time::timeout(CLOSE_GRACE, async move {
        let reason = match requested {
            Some(ending) => {
                if let Some(frame) = ending.last_frame {
                    let _ = socket.text(frame).await;
                }
                Some(CloseReason {
                    code: actix_ws::CloseCode::from(u16::from(ending.code)),
                    description: Some(ending.reason),
                })
            }
            None => None,
        };
        socket.close(reason).await
    })
    .await;
}

async fn write(socket: &mut actix_ws::Session, item: Outgoing) -> bool {
    match item {
        Outgoing::Text(frame) => socket.text(frame).await.is_ok(),
        Outgoing::Ping => socket.ping(b"").await.is_ok(),
        Outgoing::Pong(payload) => socket.pong(&payload).await.is_ok(),
    }
}

#[cfg(test)]
impl OutboxDrain {
    /// The next text frame as JSON, waiting up to five seconds (tests only).
    pub async fn next_json(&mut self) -> serde_json::Value {
        loop {
            let item = tokio::time::timeout(Duration::from_secs(5), self.queue.recv())
                .await
                .expect("a frame within five seconds")
                .expect("the outbox is open");
            if let Outgoing::Text(frame) = item {
                return serde_json::from_str(&frame).expect("frames are JSON");
            }
        }
    }

    /// The close code asked for, if any (tests only).
    pub fn close_code(&self) -> Option<CloseCode> {
        self.closer
            .requested
            .lock()
            .ok()
            .and_then(|requested| requested.as_ref().map(|ending| ending.code))
    }

    /// Frames queued and not yet taken (tests only).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }
}
