//! WebSocket close codes (docs/protocol.md section 2) as one type: the ones the server
//! chooses by name, and any code a client closed with, which is echoed back as it came.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u16", into = "u16")]
pub enum CloseCode {
    /// 1000: the connection is done (idle, closed by its client).
    Normal,
    /// 1001: the server is shutting down.
    GoingAway,
    /// 1002: the client broke RFC 6455.
    Protocol,
    /// 1007: a text message was not UTF-8.
    InvalidData,
    /// 1008: over the rate limit for too long.
    Policy,
    /// 1009: a message over the frame limit.
    TooBig,
    /// 4001: the token was revoked or the user deactivated; do not reconnect with it.
    Revoked,
    /// 4002: the client fell behind (or its room restarted); reconnect and resume.
    Lagging,
    /// Any other code, as a client sent it (echoed in the server's close frame).
    Other(u16),
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        match code {
            CloseCode::Normal => 1000,
            CloseCode::GoingAway => 1001,
            CloseCode::Protocol => 1002,
            CloseCode::InvalidData => 1007,
            CloseCode::Policy => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::Revoked => 4001,
            CloseCode::Lagging => 4002,
            CloseCode::Other(code) => code,
        }
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        match code {
            1000 => CloseCode::Normal,
            1001 => CloseCode::GoingAway,
            1002 => CloseCode::Protocol,
            1007 => CloseCode::InvalidData,
            1008 => CloseCode::Policy,
            1009 => CloseCode::TooBig,
            4001 => CloseCode::Revoked,
            4002 => CloseCode::Lagging,
            other => CloseCode::Other(other),
        }
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", u16::from(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_number() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 3000, 4001, 4002, 4999,
        ] {
            assert_eq!(u16::from(CloseCode::from(code)), code);
        }
        assert_eq!(CloseCode::from(4001), CloseCode::Revoked);
        assert_eq!(CloseCode::from(3000), CloseCode::Other(3000));
        assert_eq!(
            serde_json::to_string(&CloseCode::Lagging).ok().as_deref(),
            Some("4002")
        );
        assert_eq!(
            serde_json::from_str::<CloseCode>("1001").ok(),
            Some(CloseCode::GoingAway)
        );
    }
}
