//! A reaction's emoji as `react` takes it: 1 to 16 code points, not only whitespace, no
//! control characters. Any text that passes is stored as it was sent (no normalisation), so
//! the same emoji sent the same way counts once.

use std::fmt;

/// Most code points of one emoji (a family or a flag with modifiers fits).
pub const MAX_EMOJI_CODE_POINTS: usize = 16;

/// A checked emoji.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emoji(String);

/// Why a text is not an emoji (`bad_request`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmojiError {
    #[error("emoji is empty")]
    Empty,
    #[error("emoji is longer than {MAX_EMOJI_CODE_POINTS} code points")]
    TooLong,
    #[error("emoji is only whitespace")]
    Blank,
    #[error("emoji contains a control character")]
    Control,
}

impl Emoji {
    pub fn parse(text: &str) -> Result<Emoji, EmojiError> {
        let count = text.chars().count();
        if count == 0 {
            return Err(EmojiError::Empty);
        }
        if count > MAX_EMOJI_CODE_POINTS {
            return Err(EmojiError::TooLong);
        }
        if text.chars().all(char::is_whitespace) {
            return Err(EmojiError::Blank);
        }
        if text.chars().any(char::is_control) {
            return Err(EmojiError::Control);
        }
        Ok(Emoji(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emoji_of_1_to_16_code_points_are_taken_as_sent() {
        for text in ["👍", "🎉", "👨‍👩‍👧‍👦", "🇰🇷", "+1", "ok", "x"] {
            assert_eq!(Emoji::parse(text).map(|e| e.into_string()), Ok(text.into()));
        }
        let sixteen = "😀".repeat(16);
        assert!(Emoji::parse(&sixteen).is_ok());
    }

    #[test]
    fn empty_long_blank_and_control_texts_are_refused() {
        assert_eq!(Emoji::parse(""), Err(EmojiError::Empty));
        assert_eq!(Emoji::parse(&"😀".repeat(17)), Err(EmojiError::TooLong));
        assert_eq!(Emoji::parse(" "), Err(EmojiError::Blank));
        assert_eq!(Emoji::parse("\u{3000}\t"), Err(EmojiError::Blank));
        assert_eq!(Emoji::parse("👍\n"), Err(EmojiError::Control));
        assert_eq!(Emoji::parse("\u{0}"), Err(EmojiError::Control));
    }

    proptest! {
        #[test]
        fn what_is_taken_obeys_every_rule(chars in prop::collection::vec(any::<char>(), 0..24)) {
            let text: String = chars.iter().collect();
            match Emoji::parse(&text) {
                Ok(emoji) => {
                    prop_assert_eq!(emoji.as_str(), text.as_str());
                    prop_assert!((1..=MAX_EMOJI_CODE_POINTS).contains(&chars.len()));
                    prop_assert!(!chars.iter().all(|c| c.is_whitespace()));
                    prop_assert!(!chars.iter().any(|c| c.is_control()));
                }
                Err(_) => prop_assert!(
                    chars.is_empty()
                        || chars.len() > MAX_EMOJI_CODE_POINTS
                        || chars.iter().all(|c| c.is_whitespace())
                        || chars.iter().any(|c| c.is_control())
                ),
            }
        }
    }
}
