//! The read side of a WebSocket connection as a pure state machine: bytes in, whole messages
//! and control frames out, every RFC 6455 rule checked as early as it can be. Nothing here
//! waits for a whole frame: a frame's header is judged the moment it is complete (a declared
//! length over the read limit fails at once, 1009), payload bytes are unmasked as they come,
//! text is checked for UTF-8 as it comes (1007 at the first bad byte), and a message over the
//! message limit is skipped, not buffered. So one connection holds at most one message of
//! `max_message` bytes, a control frame (125 bytes) and a frame header (14 bytes).
//!
//! Frame headers, opcodes and the close codes the RFC allows come from `tungstenite`.

use std::io::Cursor;

use actix_web::web::Bytes;
use tungstenite::protocol::frame::coding::{self, Control, Data, OpCode};

use super::utf8::{InvalidUtf8, Utf8Check};
use crate::protocol::CloseCode;
use tungstenite::protocol::frame::FrameHeader;

/// Longest control frame payload (RFC 6455 section 5.5).
const MAX_CONTROL: u64 = 125;
/// Longest frame header: 2 bytes, 8 of length, 4 of mask.
const MAX_HEADER: usize = 14;

/// How much a connection may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A message larger than this is skipped as it arrives and reported as
    /// [`Incoming::TooLarge`]; the connection stays open.
    pub max_message: usize,
    /// A message (or a frame header declaring one) larger than this ends the connection
    /// with 1009 the moment its size is known.
    pub max_read: usize,
}

/// What the client sent, once it is complete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incoming {
    Text(String),
    Binary(Bytes),
    /// A data message over `max_message`, read and dropped; `bytes` is its size.
    TooLarge {
        bytes: usize,
        text: bool,
    },
    Ping(Bytes),
    Pong,
    /// The client's close frame: its code and reason, if it gave one.
    Close(Option<(CloseCode, String)>),
}

/// A broken rule: the connection is closed with [`Violation::close_code`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("a message of {0} bytes or more is over the limit")]
    TooBig(u64),
    #[error("a text message or close reason is not valid UTF-8")]
    InvalidUtf8,
    #[error("WebSocket protocol error: {0}")]
    Protocol(&'static str),
}

impl From<InvalidUtf8> for Violation {
    fn from(_: InvalidUtf8) -> Self {
        Violation::InvalidUtf8
    }
}

impl Violation {
    pub fn close_code(&self) -> CloseCode {
        match self {
            Violation::TooBig(_) => CloseCode::TooBig,
            Violation::InvalidUtf8 => CloseCode::InvalidData,
            Violation::Protocol(_) => CloseCode::Protocol,
        }
    }
}

/// The frame being read.
struct Frame {
    opcode: OpCode,
    fin: bool,
    remaining: u64,
    mask: [u8; 4],
    /// Payload bytes unmasked so far (the mask's phase).
    offset: usize,
    /// A control frame's payload.
    control: Vec<u8>,
}

/// The data message being read, over one or more frames.
struct Message {
    text: bool,
    /// Empty while skipping.
    data: Vec<u8>,
    total: usize,
    skipping: bool,
    utf8: Utf8Check,
}

pub struct Reader {
    limits: Limits,
    header: Vec<u8>,
    frame: Option<Frame>,
    message: Option<Message>,
    /// A violation or the client's close ended the connection: nothing more is read.
    ended: bool,
}

impl Reader {
    pub fn new(limits: Limits) -> Reader {
        Reader {
            limits,
            header: Vec::with_capacity(MAX_HEADER),
            frame: None,
            message: None,
            ended: false,
        }
    }

    /// The bytes this reader holds between calls to [`feed`](Self::feed): a partial frame
    /// header, a control frame's payload, the message being read (never one over
    /// `max_message`: that one is skipped) and the start of a UTF-8 character split across
    /// frames. So at most `max_message + 125 + 14 + 3`. Public for the fuzz target
    /// (fuzz/fuzz_targets/websocket_reader.rs), which checks that bound.
    pub fn buffered(&self) -> usize {
        self.header.len()
            + self.frame.as_ref().map_or(0, |frame| frame.control.len())
            + self
                .message
                .as_ref()
                .map_or(0, |message| message.data.len() + message.utf8.pending())
    }

    /// Reads `input`, pushing what completes onto `out`. After an error or a close frame
    /// the reader reads nothing more.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<Incoming>) -> Result<(), Violation> {
        while !input.is_empty() && !self.ended {
            let read = match self.frame.is_some() {
                true => self.payload(input, out),
                false => self.head(input, out),
            };
            match read {
                Ok(used) => input = &input[used..],
                Err(violation) => {
                    self.ended = true;
                    self.message = None;
                    self.frame = None;
                    return Err(violation);
                }
            }
        }
        Ok(())
    }

    /// Takes header bytes; returns how many of `input` were used.
    fn head(&mut self, input: &[u8], out: &mut Vec<Incoming>) -> Result<usize, Violation> {
        let had = self.header.len();
        let take = (MAX_HEADER - had).min(input.len());
        self.header.extend_from_slice(&input[..take]);
        let mut cursor = Cursor::new(&self.header[..]);
        let parsed = FrameHeader::parse(&mut cursor)
            .map_err(|_| Violation::Protocol("a reserved opcode"))?;
        let Some((header, length)) = parsed else {
            return Ok(take);
        };
        let used = cursor.position() as usize - had;
        self.header.clear();
        self.start(header, length, out)?;
        Ok(used)
    }

    fn start(
        &mut self,
        header: FrameHeader,
        length: u64,
        out: &mut Vec<Incoming>,
    ) -> Result<(), Violation> {
        if header.rsv1 || header.rsv2 || header.rsv3 {
            return Err(Violation::Protocol(
                "reserved bits set without an extension",
            ));
        }
        let Some(mask) = header.mask else {
            return Err(Violation::Protocol("an unmasked client frame"));
        };
        match header.opcode {
            OpCode::Control(_) if !header.is_final => {
                return Err(Violation::Protocol("a fragmented control frame"))
            }
            OpCode::Control(_) if length > MAX_CONTROL => {
                return Err(Violation::Protocol("a control frame over 125 bytes"))
            }
            OpCode::Control(_) => {}
            OpCode::Data(Data::Continue) => {
                let Some(message) = &mut self.message else {
                    return Err(Violation::Protocol("a continuation frame with no message"));
                };
                // A declared length near 2^64 must not wrap the total under the limit.
                let total = (message.total as u64).saturating_add(length);
                if total > self.limits.max_read as u64 {
                    return Err(Violation::TooBig(total));
                }
                message.total = total as usize;
                if total > self.limits.max_message as u64 && !message.skipping {
                    message.skipping = true;
                    message.data = Vec::new();
                }
            }
            OpCode::Data(data) => {
                if self.message.is_some() {
                    return Err(Violation::Protocol("a new message inside a fragmented one"));
                }
                if length > self.limits.max_read as u64 {
                    return Err(Violation::TooBig(length));
                }
                let skipping = length > self.limits.max_message as u64;
                self.message = Some(Message {
                    text: data == Data::Text,
                    data: Vec::new(),
                    total: length as usize,
                    skipping,
                    utf8: Utf8Check::default(),
                });
            }
        }
        self.frame = Some(Frame {
            opcode: header.opcode,
            fin: header.is_final,
            remaining: length,
            mask,
            offset: 0,
            control: Vec::new(),
        });
        if length == 0 {
            self.finish(out)?;
        }
        Ok(())
    }

    /// Takes payload bytes of the current frame; returns how many of `input` were used.
    fn payload(&mut self, input: &[u8], out: &mut Vec<Incoming>) -> Result<usize, Violation> {
        let Some(frame) = &mut self.frame else {
            return Ok(0);
        };
        let used = (frame.remaining.min(input.len() as u64)) as usize;
        let mut chunk = input[..used].to_vec();
        unmask(&mut chunk, frame.mask, frame.offset);
        frame.offset += used;
        frame.remaining -= used as u64;
        match frame.opcode {
            OpCode::Control(_) => frame.control.extend_from_slice(&chunk),
            OpCode::Data(_) => {
                if let Some(message) = &mut self.message {
                    if message.text {
                        message.utf8.check(&chunk)?;
                    }
                    if !message.skipping {
                        message.data.extend_from_slice(&chunk);
                    }
                }
            }
        }
        if frame.remaining == 0 {
            self.finish(out)?;
        }
        Ok(used)
    }

    /// The current frame is complete.
    fn finish(&mut self, out: &mut Vec<Incoming>) -> Result<(), Violation> {
        let Some(frame) = self.frame.take() else {
            return Ok(());
        };
        match frame.opcode {
            OpCode::Control(Control::Ping) => out.push(Incoming::Ping(frame.control.into())),
            OpCode::Control(Control::Pong) => out.push(Incoming::Pong),
            OpCode::Control(Control::Close) => {
                out.push(Incoming::Close(close_payload(&frame.control)?));
                self.ended = true;
            }
            OpCode::Control(Control::Reserved(_)) | OpCode::Data(Data::Reserved(_)) => {
                return Err(Violation::Protocol("a reserved opcode"))
            }
            OpCode::Data(_) if !frame.fin => {}
            OpCode::Data(_) => {
                let Some(message) = self.message.take() else {
                    return Ok(());
                };
                if message.text {
                    message.utf8.finish()?;
                }
                out.push(match (message.skipping, message.text) {
                    (true, text) => Incoming::TooLarge {
                        bytes: message.total,
                        text,
                    },
                    (false, true) => Incoming::Text(
                        String::from_utf8(message.data).map_err(|_| Violation::InvalidUtf8)?,
                    ),
                    (false, false) => Incoming::Binary(message.data.into()),
                });
            }
        }
        Ok(())
    }
}

/// Unmasks `chunk`, which starts `offset` bytes into the payload.
fn unmask(chunk: &mut [u8], mask: [u8; 4], offset: usize) {
    for (index, byte) in chunk.iter_mut().enumerate() {
        *byte ^= mask[(offset + index) % 4];
    }
}

/// A close frame's payload: nothing, or a code the RFC allows and a UTF-8 reason.
fn close_payload(payload: &[u8]) -> Result<Option<(CloseCode, String)>, Violation> {
    match payload {
        [] => Ok(None),
        [_] => Err(Violation::Protocol("a close payload of one byte")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            if !coding::CloseCode::from(code).is_allowed() || !(1000..5000).contains(&code) {
                return Err(Violation::Protocol("a close code the RFC does not allow"));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Violation::InvalidUtf8)?;
            Ok(Some((CloseCode::from(code), reason.to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_message: 16,
        max_read: 64,
    };
    const MASK: [u8; 4] = [1, 2, 3, 4];

    /// A masked client frame.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        crate::websocket::client_frame::masked(first, payload, MASK).expect("a frame in memory")
    }

    fn read_all(bytes: &[u8], step: usize) -> (Vec<Incoming>, Result<(), Violation>) {
        let mut reader = Reader::new(LIMITS);
        let mut out = Vec::new();
        for piece in bytes.chunks(step.max(1)) {
            if let Err(violation) = reader.feed(piece, &mut out) {
                return (out, Err(violation));
            }
        }
        (out, Ok(()))
    }

    #[test]
    fn reads_text_in_any_split_and_fragments_with_a_ping_between() {
        let mut bytes = frame(0x01, "héllo ".as_bytes());
        bytes.extend(frame(0x89, b"p"));
        bytes.extend(frame(0x80, "wörld".as_bytes()));
        bytes.extend(frame(0x82, &[0, 1]));
        for step in [1, 2, 3, 7, 1000] {
            let (out, result) = read_all(&bytes, step);
            assert_eq!(result, Ok(()));
            assert_eq!(
                out,
                vec![
                    Incoming::Ping(Bytes::from_static(b"p")),
                    Incoming::Text("héllo wörld".into()),
                    Incoming::Binary(Bytes::from_static(&[0, 1])),
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn a_declared_length_over_the_read_limit_fails_at_the_header() {
        let header = [
            0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ];
        let mut reader = Reader::new(LIMITS);
        let mut out = Vec::new();
        let result = reader.feed(&header, &mut out);
        assert!(matches!(result, Err(Violation::TooBig(_))), "{result:?}");
        assert_eq!(result.map_err(|v| u16::from(v.close_code())), Err(1009));
        // Fragments adding up past the limit fail at the header that crosses it.
        let mut bytes = frame(0x01, &[b'a'; 40]);
        bytes.extend(&frame(0x80, &[b'a'; 40])[..8]);
        let (_, result) = read_all(&bytes, 1000);
        assert_eq!(result, Err(Violation::TooBig(80)));
    }

    #[test]
    fn a_continuation_declaring_2_to_the_64_fails_at_its_header_instead_of_wrapping_the_total() {
        // Found by the websocket_reader fuzz target: the total of the fragments overflowed
        // (a panic in debug builds; in release it wrapped under the limit, and the frame's
        // 2^64 - 1 bytes were kept as they came).
        let mut bytes = frame(0x01, b"a");
        bytes.extend([
            0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ]);
        bytes.extend([b'a'; 100]);
        let (out, result) = read_all(&bytes, 1000);
        assert_eq!(result, Err(Violation::TooBig(u64::MAX)));
        assert!(out.is_empty());
    }

    #[test]
    fn a_message_over_the_message_limit_is_skipped_not_kept() {
        let mut bytes = frame(0x81, &[b'a'; 40]);
        bytes.extend(frame(0x81, b"ok"));
        let (out, result) = read_all(&bytes, 5);
        assert_eq!(result, Ok(()));
        assert_eq!(
            out,
            vec![
                Incoming::TooLarge {
                    bytes: 40,
                    text: true
                },
                Incoming::Text("ok".into())
            ]
        );
    }

    #[test]
    fn every_rfc_violation_has_its_close_code() {
        let unmasked = vec![0x81, 0x01, b'a'];
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (frame(0x81, &[0xce, 0xba, 0xff]), 1007),
            (
                frame(0x01, &[0xf0, 0x9f])
                    .into_iter()
                    .chain(frame(0x80, &[0x41]))
                    .collect(),
                1007,
            ),
            (unmasked, 1002),
            (frame(0xC1, b"a"), 1002),
            (frame(0x83, b"a"), 1002),
            (frame(0x8B, b"a"), 1002),
            (frame(0x89, &[0; 126]), 1002),
            (frame(0x09, b"a"), 1002),
            (frame(0x80, b"a"), 1002),
            (
                frame(0x01, b"a")
                    .into_iter()
                    .chain(frame(0x81, b"b"))
                    .collect(),
                1002,
            ),
            (frame(0x88, &[3]), 1002),
            (frame(0x88, &1005u16.to_be_bytes()), 1002),
            (frame(0x88, &999u16.to_be_bytes()), 1002),
            (frame(0x88, &5000u16.to_be_bytes()), 1002),
            (frame(0x88, &[0x03, 0xe8, 0xff]), 1007),
        ];
        for (bytes, code) in cases {
            let (_, result) = read_all(&bytes, 1000);
            let got = result.map_err(|violation| u16::from(violation.close_code()));
            assert_eq!(got, Err(code), "{bytes:02x?}");
        }
    }

    #[test]
    fn a_close_frame_ends_reading() {
        let mut bytes = frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']);
        bytes.extend(frame(0x81, b"late"));
        let (out, result) = read_all(&bytes, 1000);
        assert_eq!(result, Ok(()));
        assert_eq!(
            out,
            vec![Incoming::Close(Some((CloseCode::Normal, "bye".into())))]
        );
    }
}
