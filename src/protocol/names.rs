//! The names people give, checked the same way at every edge (a frame, the admin API, the
//! command line, JWT sign-in): a user's name and a group's name. A leaf: the WebSocket
//! commands, `http::admin` and `src/cli` all import it, and it imports none of them.

use super::fields::char_count;
use crate::db::MAX_USER_NAME;
use crate::error::ProtoError;

/// Longest group name, in Unicode code points.
pub const MAX_NAME_CHARS: usize = 100;

/// A user's name: 1 to [`MAX_USER_NAME`] printable code points, trimmed.
pub fn user_name(name: &str) -> Result<String, ProtoError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_USER_NAME || name.chars().any(char::is_control) {
        return Err(ProtoError::bad_request(format!(
            "`name` must be 1 to {MAX_USER_NAME} printable characters"
        )));
    }
    Ok(name.to_string())
}

/// A group name: 1 to [`MAX_NAME_CHARS`] code points, not only white space, trimmed.
pub fn group_name(text: &str) -> Result<String, ProtoError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || char_count(trimmed) > MAX_NAME_CHARS {
        return Err(ProtoError::bad_request(format!(
            "field `name` must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_trimmed_printable_and_bounded() {
        assert_eq!(user_name("  amy "), Ok("amy".to_string()));
        assert_eq!(
            user_name(&"é".repeat(MAX_USER_NAME)).map(|n| n.chars().count()),
            Ok(MAX_USER_NAME)
        );
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(MAX_USER_NAME + 1)] {
            assert!(user_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn group_names_are_trimmed_and_bounded() {
        assert_eq!(group_name(" team "), Ok("team".to_string()));
        assert!(group_name(" \t ").is_err());
        assert!(group_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(group_name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
    }
}
