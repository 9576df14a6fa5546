//! The names people give, checked the same way at every edge (a frame, the admin API, the
//! command line, JWT sign-in): a user's name and a group's name. A user's name is kept as
//! NFKC with each run of white space made one space, and may hold no control, format
//! (zero-width, bidirectional), separator or invisible character; [`look_alike`] is the key
//! under which two names read the same (case and confusable letters folded, UTS 39), used to
//! keep the system's and bots' names and ids to themselves. Names that read as a user id
//! (`u_12`, `amy (u_12)`) are the server's. A name refused is a [`NameError`], which
//! `crate::error` answers as `bad_request` with its text. A leaf: the WebSocket commands,
//! `http::admin`, `src/cli` and the store import it, and it imports none of them.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Longest user name, in Unicode code points.
pub const MAX_USER_NAME: usize = 64;

/// Longest group name, in Unicode code points.
pub const MAX_NAME_CHARS: usize = 100;

/// Why a name is refused; its text is what the client is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The code point of the first hidden character ([`is_hidden`]).
    #[error("`name` must not hold control, invisible or direction characters (U+{0:04X})")]
    Hidden(u32),
    #[error("`name` must be 1 to {MAX_USER_NAME} printable characters")]
    UserLength,
    #[error("`name` must not be or end with a user id (u_12): the server keeps that form")]
    NamesAnId,
    #[error("field `name` must be 1 to {MAX_NAME_CHARS} characters")]
    GroupLength,
}

/// A user's name: NFKC, white space runs made one space, trimmed, 1 to [`MAX_USER_NAME`]
/// code points, none of them hidden ([`is_hidden`]), and not the form the server keeps
/// for ids.
pub fn user_name(name: &str) -> Result<String, NameError> {
    let normal: String = name.nfkc().collect();
    if let Some(hidden) = normal.chars().find(|ch| is_hidden(*ch)) {
        return Err(NameError::Hidden(u32::from(hidden)));
    }
    let name = one_space(&normal);
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_USER_NAME {
        return Err(NameError::UserLength);
    }
    if names_an_id(&name) {
        return Err(NameError::NamesAnId);
    }
    Ok(name)
}

/// [`user_name`] for a name from elsewhere (a JWT): what cannot stay is dropped instead of
/// refused, and it is cut to [`MAX_USER_NAME`]; `None` when nothing is left.
pub fn cleaned_user_name(name: &str) -> Option<String> {
    let normal: String = name.nfkc().filter(|ch| !is_hidden(*ch)).collect();
    let mut name: String = one_space(&normal).chars().take(MAX_USER_NAME).collect();
    while names_an_id(&name) {
        name = match name.rsplit_once('(') {
            Some((before, _)) => before.trim_end().to_string(),
            None => String::new(),
        };
    }
    let name = name.trim_end().to_string();
    (!name.is_empty()).then_some(name)
}

/// Whether a character may not be part of a name: controls, formats (zero-width joiners,
/// bidirectional marks and overrides, soft hyphens), line and paragraph separators, private
/// use, unassigned code points, and the letters that show as blanks (Hangul fillers, the
/// blank Braille pattern, variation selectors).
pub fn is_hidden(ch: char) -> bool {
    use unicode_properties::GeneralCategory::*;
    if ch == ' ' {
        return false;
    }
    matches!(
        ch.general_category(),
        Control | Format | Surrogate | PrivateUse | Unassigned | LineSeparator | ParagraphSeparator
    ) || ch.general_category_group() == GeneralCategoryGroup::Separator && !ch.is_whitespace()
        || matches!(
            ch,
            '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{2800}' | '\u{180B}'..='\u{180F}'
                | '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{034F}'
        )
}

/// Runs of white space made one space, trimmed.
fn one_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `u_12`, or a name ending in `(u_12)`: the forms the server gives (docs/auth.md).
fn names_an_id(name: &str) -> bool {
    let is_id = |text: &str| {
        text.strip_prefix("u_")
            .is_some_and(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
    };
    let lower = name.to_lowercase();
    is_id(&lower)
        || lower
            .strip_suffix(')')
            .and_then(|rest| rest.rsplit_once('('))
            .is_some_and(|(_, inner)| is_id(inner.trim()))
}

/// The key under which names read the same: NFKC, lower case, UTS 39 skeleton (Cyrillic
/// `ѕ` reads as `s`, `0` as `O`), lower case again, white space dropped.
pub fn look_alike(name: &str) -> String {
    let lower: String = name.nfkc().collect::<String>().to_lowercase();
    unicode_security::confusable_detection::skeleton(&lower)
        .collect::<String>()
        .to_lowercase()
        .chars()
        .filter(|ch| !ch.is_whitespace() && !is_hidden(*ch))
        .collect()
}

/// A group name: 1 to [`MAX_NAME_CHARS`] code points, not only white space, trimmed.
pub fn group_name(text: &str) -> Result<String, NameError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(NameError::GroupLength);
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
    fn names_are_nfkc_with_one_space_and_nothing_hidden() {
        assert_eq!(
            user_name("Ａｍｙ\u{3000}  Pond"),
            Ok("Amy Pond".to_string())
        );
        assert_eq!(user_name("ﬁona"), Ok("fiona".to_string()));
        for hidden in [
            "sys\u{200B}tem",
            "\u{202E}metsys",
            "amy\u{2066}",
            "a\u{00AD}my",
            "\u{3164}",
            "amy\u{FE0F}",
            "amy\u{E000}",
            "line\u{2028}break",
        ] {
            assert!(user_name(hidden).is_err(), "{hidden:?}");
        }
        assert_eq!(user_name("김민지"), Ok("김민지".to_string()));
        assert_eq!(
            user_name("Zoë O'Brien-Smith"),
            Ok("Zoë O'Brien-Smith".to_string())
        );
    }

    #[test]
    fn id_forms_are_the_servers() {
        for taken in ["u_12", "U_7", "amy (u_12)", "amy(u_3)"] {
            assert!(user_name(taken).is_err(), "{taken}");
        }
        for fine in ["u_", "u_12x", "amy (2)", "user_12 fan"] {
            assert!(user_name(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn cleaning_drops_what_cannot_stay() {
        assert_eq!(
            cleaned_user_name("sys\u{200B}tem\u{202E}"),
            Some("system".into())
        );
        assert_eq!(cleaned_user_name("amy (u_12)"), Some("amy".into()));
        assert_eq!(cleaned_user_name("u_12"), None);
        assert_eq!(cleaned_user_name("\u{200B} \u{3164}"), None);
        assert_eq!(
            cleaned_user_name(&"x".repeat(300)).map(|n| n.chars().count()),
            Some(MAX_USER_NAME)
        );
    }

    #[test]
    fn look_alikes_share_a_key() {
        let system = look_alike("system");
        for imitation in [
            "System",
            "SYSTEM",
            "\u{0455}ystem",
            "Sуstem",
            "ｓｙｓｔｅｍ",
            "sys tem",
        ] {
            assert_eq!(look_alike(imitation), system, "{imitation}");
        }
        assert_ne!(look_alike("systems"), system);
        assert_eq!(look_alike("mathbot"), look_alike("MathBot"));
    }

    #[test]
    fn group_names_are_trimmed_and_bounded() {
        assert_eq!(group_name(" team "), Ok("team".to_string()));
        assert!(group_name(" \t ").is_err());
        assert!(group_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(group_name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
    }
}
