//! Bytes from a client after the handshake → the WebSocket read side's frame reader
//! (src/websocket/reader.rs), fed in chunks as the network splits them. The first input
//! byte picks the chunk sizes; the rest is the stream. It is read with the server's limits
//! (Settings::default: 64 KiB messages, 1 MiB reads) and with tiny ones (16 / 64 bytes), so
//! that short inputs reach the skip and close-1009 paths too. Checks:
//! - the reader never holds more than a message of `max_message`, a control frame's payload
//!   (125), a frame header (14) and a split UTF-8 character (3);
//! - what it reads does not depend on how the bytes were split: the same messages, the
//!   same violation;
//! - every message is within its limit (text and binary ≤ `max_message`, a skipped one
//!   over it and ≤ `max_read`, a ping ≤ 125), text is UTF-8, a close is the last thing
//!   read, a message that is too big is over `max_read`; after a violation or a close,
//!   nothing more is read.

#![no_main]

use libfuzzer_sys::fuzz_target;
use palaver::settings::Settings;
use palaver::websocket::{Incoming, Limits, Reader, Violation};

/// What the reader may hold beyond one message: a control payload, a header, a split char.
const OVERHEAD: usize = 125 + 14 + 3;

fuzz_target!(|data: &[u8]| {
    let Some((&split, stream)) = data.split_first() else {
        return;
    };
    let settings = Settings::default();
    let server = Limits {
        max_message: settings.max_frame_bytes,
        max_read: settings.max_read_bytes,
    };
    let tiny = Limits {
        max_message: 16,
        max_read: 64,
    };
    for limits in [server, tiny] {
        let whole = read(stream, limits, &mut std::iter::repeat(usize::MAX));
        let chunked = read(stream, limits, &mut Chunks::new(split));
        assert_eq!(whole, chunked, "read differently when split ({split})");
        let bytewise = read(stream, limits, &mut std::iter::repeat(1));
        assert_eq!(whole, bytewise, "read differently byte by byte");
    }
});

/// Everything read from `stream` fed in pieces of the sizes `sizes` gives.
fn read(
    stream: &[u8],
    limits: Limits,
    sizes: &mut dyn Iterator<Item = usize>,
) -> (Vec<Incoming>, Option<Violation>) {
    let mut reader = Reader::new(limits);
    let mut out = Vec::new();
    let mut violation = None;
    let mut rest = stream;
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(1).clamp(1, rest.len());
        let (piece, after) = rest.split_at(size);
        rest = after;
        let before = out.len();
        let ended = violation.is_some() || matches!(out.last(), Some(Incoming::Close(_)));
        let result = reader.feed(piece, &mut out);
        if ended {
            assert_eq!(result, Ok(()), "a violation after the end");
            assert_eq!(out.len(), before, "read after a violation or a close");
        }
        assert!(
            reader.buffered() <= limits.max_message + OVERHEAD,
            "holds {} bytes with {limits:?}",
            reader.buffered()
        );
        if let Err(err) = result {
            violation = Some(err);
        }
    }
    for (index, incoming) in out.iter().enumerate() {
        match incoming {
            Incoming::Text(text) => assert!(text.len() <= limits.max_message),
            Incoming::Binary(bytes) => assert!(bytes.len() <= limits.max_message),
            Incoming::TooLarge { bytes, .. } => {
                assert!(*bytes > limits.max_message && *bytes <= limits.max_read)
            }
            Incoming::Ping(payload) => assert!(payload.len() <= 125),
            Incoming::Pong => {}
            Incoming::Close(_) => assert_eq!(index + 1, out.len(), "read past a close"),
        }
    }
    if let Some(Violation::TooBig(bytes)) = violation {
        assert!(bytes > limits.max_read as u64, "1009 for {bytes} bytes");
    }
    (out, violation)
}

/// Chunk sizes from 1 to 2 KiB, from a small generator seeded by `seed`.
struct Chunks(u32);

impl Chunks {
    fn new(seed: u8) -> Chunks {
        Chunks(u32::from(seed).wrapping_mul(2_654_435_761) | 1)
    }
}

impl Iterator for Chunks {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        // xorshift32
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        // Mostly small pieces (a header split, a char split), now and then a large one.
        let size = match self.0 % 8 {
            0 => self.0 >> 21,
            _ => (self.0 >> 8) % 16,
        };
        Some(size as usize + 1)
    }
}
