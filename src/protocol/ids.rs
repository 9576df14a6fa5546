//! Ids on the wire: `u_12` (user), `r_3` (room), `m_3_121` (message: room 3, seq 121),
//! `f_` and 32 hex digits (file), and a bot's or the system's handle (`mathbot`, `system`).

use crate::db::models::UserRow;

pub fn room_id(id: i64) -> String {
    format!("r_{id}")
}

pub fn parse_room_id(text: &str) -> Option<i64> {
    parse_number(text.strip_prefix("r_")?)
}

pub fn user_id(user: &UserRow) -> String {
    match &user.handle {
        Some(handle) => handle.clone(),
        None => format!("u_{}", user.id),
    }
}

/// A reference to a user as a client writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    Id(i64),
    Handle(String),
}

pub fn parse_user_ref(text: &str) -> Option<UserRef> {
    match text.strip_prefix("u_") {
        Some(number) => parse_number(number).map(UserRef::Id),
        None if !text.is_empty() => Some(UserRef::Handle(text.to_string())),
        None => None,
    }
}

pub fn message_id(room: i64, seq: i64) -> String {
    format!("m_{room}_{seq}")
}

pub fn parse_message_id(text: &str) -> Option<(i64, i64)> {
    let (room, seq) = text.strip_prefix("m_")?.split_once('_')?;
    Some((parse_number(room)?, parse_number(seq)?))
}

/// Digits of a new file id: 128 random bits, so ids say nothing about other uploads.
pub fn new_file_key() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub fn file_id(key: &str) -> String {
    format!("f_{key}")
}

/// The stored key of a file id; None for anything [`new_file_key`] cannot have made.
pub fn parse_file_id(text: &str) -> Option<&str> {
    let key = text.strip_prefix("f_")?;
    (key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(key)
}

fn parse_number(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_ids_round_trip_and_reject_junk() {
        assert_eq!(parse_room_id(&room_id(42)), Some(42));
        for junk in ["r_", "r_-1", "r_+1", "3", "r_1x", "r_99999999999999999999"] {
            assert_eq!(parse_room_id(junk), None, "{junk}");
        }
    }

    #[test]
    fn message_ids_carry_room_and_seq() {
        assert_eq!(parse_message_id(&message_id(3, 121)), Some((3, 121)));
        assert_eq!(parse_message_id("m_3"), None);
    }

    #[test]
    fn file_ids_are_f_and_32_hex_digits() {
        let key = new_file_key();
        assert_eq!(parse_file_id(&file_id(&key)), Some(key.as_str()));
        for junk in [
            "f_",
            "f_123",
            "F_00000000000000000000000000000000",
            "f_0000000000000000000000000000000G",
        ] {
            assert_eq!(parse_file_id(junk), None, "{junk}");
        }
    }

    #[test]
    fn user_refs() {
        assert_eq!(parse_user_ref("u_7"), Some(UserRef::Id(7)));
        assert_eq!(parse_user_ref("u_x"), None);
        assert_eq!(
            parse_user_ref("mathbot"),
            Some(UserRef::Handle("mathbot".into()))
        );
    }
}
