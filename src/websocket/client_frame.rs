//! Client frames for tests of the read side: what a client puts on the wire, masked and
//! encoded by tungstenite. One copy serves the unit tests of `reader.rs` and
//! tests/websocket_rfc.rs (which includes this file by its path); it is not built into the
//! server.

use tungstenite::protocol::frame::coding::OpCode;
use tungstenite::protocol::frame::{Frame, FrameHeader};

/// A frame masked with `mask`; `first` is its FIN/RSV/opcode byte, taken as it is (reserved
/// bits and opcodes too, to test how they are refused). Encoding into memory does not fail;
/// the tests that call it say so where they unwrap it.
pub fn masked(first: u8, payload: &[u8], mask: [u8; 4]) -> tungstenite::Result<Vec<u8>> {
    let header = FrameHeader {
        is_final: first & 0x80 != 0,
        rsv1: first & 0x40 != 0,
        rsv2: first & 0x20 != 0,
        rsv3: first & 0x10 != 0,
        opcode: OpCode::from(first & 0x0f),
        mask: Some(mask),
    };
    let mut bytes = Vec::new();
    Frame::from_payload(header, payload.to_vec().into()).format(&mut bytes)?;
    Ok(bytes)
}
