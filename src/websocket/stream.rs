//! The reader over a connection's request payload: a stream of messages, then the one
//! violation that ends it, if any. It asks for more bytes only when everything read so far
//! was taken, so a connection's memory is the reader's bound plus one chunk in flight. The
//! messages of a chunk wait in a vector made for that chunk and let go once taken, so an
//! idle connection holds none.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use futures_util::Stream;

use super::reader::{Incoming, Limits, Reader, Violation};

pub struct FrameStream {
    payload: Payload,
    reader: Reader,
    /// The messages of the last chunk not yet taken.
    ready: std::vec::IntoIter<Incoming>,
    /// The payload ended or the reader failed: what is in `ready` (then `failed`) is all.
    done: bool,
    failed: Option<Violation>,
}

impl FrameStream {
    pub fn new(payload: Payload, limits: Limits) -> FrameStream {
        FrameStream {
            payload,
            reader: Reader::new(limits),
            ready: Vec::new().into_iter(),
            done: false,
            failed: None,
        }
    }
}

impl Stream for FrameStream {
    type Item = Result<Incoming, Violation>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.ready.next() {
                if this.ready.as_slice().is_empty() {
                    // Let the vector go now rather than when the next chunk comes.
                    this.ready = Vec::new().into_iter();
                }
                return Poll::Ready(Some(Ok(item)));
            }
            if this.done {
                return Poll::Ready(this.failed.take().map(Err));
            }
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => {
                    let mut ready = Vec::new();
                    let read = this.reader.feed(&bytes, &mut ready);
                    this.ready = ready.into_iter();
                    if let Err(violation) = read {
                        this.done = true;
                        this.failed = Some(violation);
                    }
                }
                // The connection went away (a reset, a read error): nothing more to read.
                Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.done = true,
            }
        }
    }
}
