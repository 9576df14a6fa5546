//! The WebSocket response body, the only writer of a connection's socket. Whenever
//! actix-http's dispatcher asks for more, it takes everything queued in the outbox at once
//! and encodes it into one chunk (at most about [`CHUNK`] bytes; the rest follows on the
//! dispatcher's next call, which comes before its flush), so a burst of frames for one
//! socket is one write and one flush, never one per frame. When a close was asked for it
//! drops what is still queued (or, for [`Outbox::close_after_queued`], first sends it),
//! encodes the last frame (if any) and the close frame, and ends; actix-http's dispatcher
//! then sends its FIN and reads what the client still sends until the client closes (the
//! patch in vendor/actix-http/PATCH.md). Dropping the body (the connection went away) is
//! seen by the outbox.
//!
//! [`Outbox::close_after_queued`]: super::Outbox::close_after_queued
//!
//! Backpressure: the dispatcher stops asking while its write buffer is full (the client is
//! not reading), so the outbox's queue fills and closes the connection with 4002; the close
//! frame follows what the dispatcher already holds as soon as the client reads again. (A
//! client that never reads again keeps its connection's buffers until the kernel gives up
//! on it: the dispatcher cannot be told to drop a connection it is still writing to.)

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use actix_http::body::{BodySize, MessageBody};
use actix_http::ws::{CloseReason, OpCode, Parser};
use actix_web::web::{Bytes, BytesMut};

use super::{Ending, OutboxDrain, Outgoing, Taken};

/// A chunk stops growing once it holds this many bytes (the dispatcher's own write buffer
/// is 32 KiB); the frames left over go into the next chunk.
pub const CHUNK: usize = 32 * 1024;
/// A chunk buffer up to this size is reused for the next chunk (once actix-http has copied
/// it out); a larger one is let go, so an idle connection does not keep a burst's memory.
const KEEP_BUFFER: usize = 4 * 1024;
/// A batch deque with more room than this is let go once empty, for the same reason.
const KEEP_BATCH: usize = 64;
/// RFC 6455: control frame payloads are at most 125 bytes; a close payload is the 2-byte
/// code and the reason.
const MAX_CONTROL: usize = 125;
const MAX_CLOSE_REASON: usize = MAX_CONTROL - 2;
/// The longest header of an unmasked frame.
const MAX_HEADER: usize = 10;

pub struct SocketBody {
    drain: OutboxDrain,
    /// Frames taken from the outbox and not yet encoded (bounded by the outbox's capacity).
    batch: VecDeque<Outgoing>,
    buf: BytesMut,
    done: bool,
}

impl SocketBody {
    pub fn new(drain: OutboxDrain) -> SocketBody {
        SocketBody {
            drain,
            batch: VecDeque::new(),
            buf: BytesMut::new(),
            done: false,
        }
    }

    /// Encodes frames from the batch into one chunk.
    fn chunk_of_batch(&mut self) -> Bytes {
        let mut wanted = 0;
        for item in &self.batch {
            wanted += item.len() + MAX_HEADER;
            if wanted >= CHUNK {
                break;
            }
        }
        self.buf.reserve(wanted);
        let mut count = 0;
        while let Some(item) = self.batch.pop_front() {
            encode(&mut self.buf, item);
            count += 1;
            if self.buf.len() >= CHUNK {
                break;
            }
        }
        self.drain.encoded(count);
        if self.batch.is_empty() && self.batch.capacity() > KEEP_BATCH {
            self.batch = VecDeque::new();
        }
        self.split_chunk()
    }

    /// The last frame, if any, and the close frame.
    fn chunk_of_ending(&mut self, ending: Ending) -> Bytes {
        self.done = true;
        self.batch = VecDeque::new();
        if let Some(frame) = ending.last_frame {
            encode(&mut self.buf, Outgoing::Text(frame));
        }
        let mut reason = ending.reason;
        if reason.len() > MAX_CLOSE_REASON {
            let mut end = MAX_CLOSE_REASON;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        let reason = CloseReason {
            code: u16::from(ending.code).into(),
            description: Some(reason),
        };
        Parser::write_close(&mut self.buf, Some(reason), false);
        self.split_chunk()
    }

    fn split_chunk(&mut self) -> Bytes {
        let chunk = self.buf.split().freeze();
        if chunk.len() > KEEP_BUFFER {
            self.buf = BytesMut::new();
        }
        chunk
    }
}

impl Outgoing {
    fn len(&self) -> usize {
        match self {
            Outgoing::Text(frame) => frame.len(),
            Outgoing::Binary(payload) => payload.len(),
            Outgoing::Ping => 0,
            Outgoing::Pong(payload) => payload.len().min(MAX_CONTROL),
        }
    }
}

fn encode(buf: &mut BytesMut, item: Outgoing) {
    match item {
        Outgoing::Text(frame) => {
            Parser::write_message(buf, frame.as_bytes(), OpCode::Text, true, false)
        }
        Outgoing::Binary(payload) => {
            Parser::write_message(buf, payload, OpCode::Binary, true, false)
        }
        Outgoing::Ping => Parser::write_message(buf, b"", OpCode::Ping, true, false),
        Outgoing::Pong(payload) => {
            let payload = &payload[..payload.len().min(MAX_CONTROL)];
            Parser::write_message(buf, payload, OpCode::Pong, true, false)
        }
    }
}

impl MessageBody for SocketBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(ending) = this.drain.ending(this.batch.len()) {
            return Poll::Ready(Some(Ok(this.chunk_of_ending(ending))));
        }
        if this.batch.is_empty() {
            if let Taken::Ending(ending) = ready!(this.drain.poll_take(cx, &mut this.batch)) {
                return Poll::Ready(Some(Ok(this.chunk_of_ending(ending))));
            }
        }
        Poll::Ready(Some(Ok(this.chunk_of_batch())))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use futures_util::task::{waker, ArcWake};

    use super::*;
    use crate::actors::outbox::Outbox;
    use crate::protocol::{CloseCode, Frame};

    struct Wakes(AtomicUsize);

    impl ArcWake for Wakes {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Writer {
        body: SocketBody,
        wakes: Arc<Wakes>,
    }

    impl Writer {
        fn new(drain: OutboxDrain) -> Writer {
            Writer {
                body: SocketBody::new(drain),
                wakes: Arc::new(Wakes(AtomicUsize::new(0))),
            }
        }

        fn poll(&mut self) -> Poll<Option<Bytes>> {
            let waker = waker(self.wakes.clone());
            let mut cx = Context::from_waker(&waker);
            Pin::new(&mut self.body)
                .poll_next(&mut cx)
                .map(|chunk| chunk.map(|Ok(bytes)| bytes))
        }

        fn chunk(&mut self) -> Bytes {
            match self.poll() {
                Poll::Ready(Some(bytes)) => bytes,
                other => panic!("a chunk, got {other:?}"),
            }
        }

        fn wakes(&self) -> usize {
            self.wakes.0.load(Ordering::SeqCst)
        }
    }

    /// Every frame of `bytes`, as a client reads them.
    fn frames(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some((fin, opcode, payload)) =
            Parser::parse(&mut buf, false, 1 << 20).expect("well-formed frames")
        {
            assert!(fin, "unfragmented");
            out.push((opcode, payload.map(|p| p.to_vec()).unwrap_or_default()));
        }
        assert!(buf.is_empty(), "no partial frame");
        out
    }

    fn text(body: &str) -> Frame {
        Frame::from(body.to_string())
    }

    #[test]
    fn everything_queued_is_one_chunk_in_order() {
        let (outbox, drain) = Outbox::new(16);
        let mut writer = Writer::new(drain);
        assert!(writer.poll().is_pending());
        outbox.push(text("one"));
        outbox.ping();
        outbox.pong(Bytes::from_static(b"p"));
        outbox.push_binary(Bytes::from_static(&[0, 0xff]));
        outbox.push(text("two"));
        assert_eq!(writer.wakes(), 1, "one wake-up for the burst");
        let chunk = writer.chunk();
        assert_eq!(
            frames(&chunk),
            [
                (OpCode::Text, b"one".to_vec()),
                (OpCode::Ping, vec![]),
                (OpCode::Pong, b"p".to_vec()),
                (OpCode::Binary, vec![0, 0xff]),
                (OpCode::Text, b"two".to_vec()),
            ]
        );
        assert!(writer.poll().is_pending(), "nothing more");
        outbox.push(text("three"));
        assert_eq!(writer.wakes(), 2);
        assert_eq!(frames(&writer.chunk()), [(OpCode::Text, b"three".to_vec())]);
    }

    #[test]
    fn a_large_burst_is_cut_into_chunks_of_about_chunk_bytes() {
        let (outbox, drain) = Outbox::new(100);
        let mut writer = Writer::new(drain);
        let body = "x".repeat(1000);
        for i in 0..100 {
            assert!(outbox.push(text(&format!("{i:03}{body}"))));
        }
        let mut seen = Vec::new();
        while let Poll::Ready(Some(chunk)) = writer.poll() {
            assert!(
                chunk.len() < CHUNK + 1010,
                "a chunk is at most CHUNK and one frame"
            );
            seen.extend(frames(&chunk));
        }
        assert_eq!(seen.len(), 100);
        for (i, (opcode, payload)) in seen.iter().enumerate() {
            assert_eq!(*opcode, OpCode::Text);
            assert_eq!(&payload[..3], format!("{i:03}").as_bytes(), "in order");
        }
    }

    #[test]
    fn frames_taken_and_not_yet_encoded_count_against_the_capacity() {
        let (outbox, drain) = Outbox::new(4);
        let mut writer = Writer::new(drain);
        let big = "x".repeat(CHUNK);
        for _ in 0..4 {
            assert!(outbox.push(text(&big)));
        }
        // The first chunk holds one frame; three stay taken in the writer's batch.
        assert_eq!(frames(&writer.chunk()).len(), 1);
        assert!(outbox.push(text("fits: 3 taken + 1 queued")));
        assert!(
            !outbox.push(text("over")),
            "3 taken + 1 queued is the capacity"
        );
        assert!(outbox.is_closed());
        let ending = writer.chunk();
        assert_eq!(frames(&ending).last().map(|f| f.0), Some(OpCode::Close));
    }

    #[test]
    fn a_close_drops_the_queue_and_ends_with_the_last_frame_and_the_close_frame() {
        let (outbox, drain) = Outbox::new(16);
        let mut writer = Writer::new(drain);
        outbox.push(text("dropped"));
        outbox.close_after(Some(text("last")), CloseCode::Revoked, "token revoked");
        let chunk = writer.chunk();
        let mut close = 4001u16.to_be_bytes().to_vec();
        close.extend(b"token revoked");
        assert_eq!(
            frames(&chunk),
            [(OpCode::Text, b"last".to_vec()), (OpCode::Close, close)]
        );
        assert!(
            matches!(writer.poll(), Poll::Ready(None)),
            "then the body ends"
        );
    }

    #[test]
    fn a_close_after_queued_sends_everything_queued_and_taken_first_and_nothing_after() {
        let (outbox, drain) = Outbox::new(100);
        let mut writer = Writer::new(drain);
        let big = "x".repeat(CHUNK / 2);
        for i in 0..4 {
            assert!(outbox.push(text(&format!("{i}{big}"))));
        }
        // The first chunk takes the queue into the writer's batch and encodes two frames.
        let mut seen = frames(&writer.chunk());
        assert_eq!(seen.len(), 2);
        outbox.push(text("queued before the close"));
        outbox.close_after_queued(CloseCode::Protocol, "broken rule");
        assert!(
            !outbox.push(text("after")),
            "nothing is queued after the close"
        );
        while let Poll::Ready(Some(chunk)) = writer.poll() {
            seen.extend(frames(&chunk));
        }
        let texts: Vec<_> = seen
            .iter()
            .filter(|(opcode, _)| *opcode == OpCode::Text)
            .map(|(_, payload)| payload[..1].to_vec())
            .collect();
        assert_eq!(texts, [b"0", b"1", b"2", b"3", b"q"]);
        let (opcode, payload) = seen.last().expect("frames");
        assert_eq!(*opcode, OpCode::Close);
        assert_eq!(&payload[..2], 1002u16.to_be_bytes());
    }

    #[test]
    fn a_close_reason_is_cut_to_fit_a_control_frame() {
        let (outbox, drain) = Outbox::new(16);
        let mut writer = Writer::new(drain);
        outbox.close(CloseCode::Lagging, &"é".repeat(100));
        let frames = frames(&writer.chunk());
        let (opcode, payload) = &frames[0];
        assert_eq!(*opcode, OpCode::Close);
        assert_eq!(&payload[..2], 4002u16.to_be_bytes());
        assert!(payload.len() <= MAX_CONTROL);
        let reason = std::str::from_utf8(&payload[2..]).expect("cut at a char boundary");
        assert_eq!(reason, "é".repeat(61));
    }

    #[test]
    fn a_close_while_idle_wakes_the_writer() {
        let (outbox, drain) = Outbox::new(16);
        let mut writer = Writer::new(drain);
        assert!(writer.poll().is_pending());
        outbox.close(CloseCode::Normal, "closing");
        assert_eq!(writer.wakes(), 1);
        assert_eq!(frames(&writer.chunk())[0].0, OpCode::Close);
    }

    #[test]
    fn a_pong_payload_is_cut_to_125_bytes() {
        let (outbox, drain) = Outbox::new(16);
        let mut writer = Writer::new(drain);
        outbox.pong(Bytes::from(vec![7u8; 200]));
        assert_eq!(frames(&writer.chunk()), [(OpCode::Pong, vec![7u8; 125])]);
    }

    #[test]
    fn dropping_the_body_closes_the_outbox() {
        let (outbox, drain) = Outbox::new(16);
        drop(Writer::new(drain));
        assert!(outbox.is_closed());
        assert!(!outbox.push(text("late")));
    }
}
