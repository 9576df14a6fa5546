//! The pure rules of conversations (docs/protocol.md section 11): search queries, excerpts,
//! emoji, the order of reactions. No I/O: the store (`db/conversation`) and the protocol
//! layer both build on these.

pub mod emoji;
pub mod query;
pub mod reactions;

pub use emoji::{Emoji, EmojiError};
pub use query::{QueryError, SearchCursor, SearchQuery};
pub use reactions::{Reaction, ReactionSet, ReactionView, Toggle};

/// Code points of a message's body a reply quotes.
pub const EXCERPT_CODE_POINTS: usize = 100;
/// Most users one message may mention.
pub const MAX_MENTIONS: usize = 20;
/// Most distinct emojis on one message.
pub const MAX_EMOJIS: usize = 20;

/// What a reply shows of the message it answers: the first
/// [`EXCERPT_CODE_POINTS`] code points of its body (`""` once it is deleted), cut at a
/// code point, never inside one.
pub fn excerpt(body: &str) -> String {
    match body.char_indices().nth(EXCERPT_CODE_POINTS) {
        Some((end, _)) => body[..end].to_string(),
        None => body.to_string(),
    }
}

/// Text as search compares it: each code point lower-cased by Unicode's rules (Korean,
/// digits and symbols, which have no case, are left as they are). Code point by code
/// point, with no regard to context (a final capital sigma is σ, as the stores' own
/// indexes fold it), so a word folds the same alone as inside a text.
pub fn fold(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_excerpt_is_the_first_100_code_points() {
        assert_eq!(excerpt(""), "");
        assert_eq!(excerpt("is x=3 right?"), "is x=3 right?");
        let korean = "삼각형의 넓이".repeat(20);
        let cut = excerpt(&korean);
        assert_eq!(cut.chars().count(), 100);
        assert!(korean.starts_with(&cut));
        let exact = "a".repeat(100);
        assert_eq!(excerpt(&exact), exact);
        // Emoji of several code points are cut at a code point, like any text.
        let flags = "🇰🇷".repeat(60);
        assert_eq!(excerpt(&flags).chars().count(), 100);
    }

    #[test]
    fn fold_lowercases_every_script_that_has_case() {
        assert_eq!(fold("ÉTÉ Straße ΣΟΦΊΑ"), "été straße σοφία");
        assert_eq!(fold("삼각형의 넓이 x²"), "삼각형의 넓이 x²");
        assert_eq!(
            fold("ΟΔΟΣ"),
            "οδοσ",
            "no final-sigma rule: a word folds alike anywhere"
        );
    }

    proptest! {
        #[test]
        fn an_excerpt_is_a_prefix_of_at_most_100_code_points(
            chars in prop::collection::vec(any::<char>(), 0..300)
        ) {
            let body: String = chars.into_iter().collect();
            let cut = excerpt(&body);
            prop_assert!(body.starts_with(&cut));
            prop_assert_eq!(cut.chars().count(), body.chars().count().min(EXCERPT_CODE_POINTS));
        }
    }
}
