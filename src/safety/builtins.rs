//! The built-in content patterns an operator turns on by id (`contact_phone`,
//! `contact_email`, `link`): the ways someone is asked to move a conversation elsewhere.
//! Each pattern avoids Unicode word boundaries (they stop the regex crate's fast engine on
//! non-ASCII text, such as Korean around a number); `\d` stays Unicode, so full-width
//! digits are numbers too. Their limits are in docs/safety.md.

/// The top-level domains a bare host name (no scheme, no `www.`) must end in to be a link.
const TLDS: &str = "com|net|org|edu|gov|kr|io|me|gg|co|ly|to|app|link|xyz|info|biz|tv|us|uk|\
                    de|jp|cn|ru|page|site|online|shop|store|club|live|fun|top|dev|ai|so|cc|ws|\
                    be|im|chat";

/// A built-in pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    ContactPhone,
    ContactEmail,
    Link,
}

/// Separators people put between the groups of a phone number: spaces, dots, dashes,
/// slashes, underscores, brackets (at most three in a row).
const SEP: &str = r"[\s.\-_/()\[\]]{0,3}";

impl Builtin {
    /// A pattern that matches wherever [`pattern`](Self::pattern) could: text without a
    /// match of the gate has no match of the pattern. Each gate starts with a few literals,
    /// which the regex crate finds with a vectorised search, so a message with nothing like
    /// an address in it costs a fraction of a full scan. `None`: the pattern starts with such
    /// literals itself. (A case-insensitive gate, or one with many alternatives, would not
    /// be searched for as literals.)
    pub fn gate(self) -> Option<String> {
        match self {
            Builtin::ContactPhone => None,
            // Every way the pattern writes the `@`.
            Builtin::ContactEmail => Some(r"@|＠|\(at\)|\[at\]|\(AT\)|\[AT\]".to_string()),
            // A scheme's `://`, or a dot before a letter (`www.`, a host name's last dot).
            Builtin::Link => Some(r"://|\.[a-zA-Z]".to_string()),
        }
    }

    pub const ALL: [Builtin; 3] = [Builtin::ContactPhone, Builtin::ContactEmail, Builtin::Link];

    pub fn id(self) -> &'static str {
        match self {
            Builtin::ContactPhone => "contact_phone",
            Builtin::ContactEmail => "contact_email",
            Builtin::Link => "link",
        }
    }

    pub fn parse(id: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|builtin| builtin.id() == id)
    }

    pub fn description(self) -> &'static str {
        match self {
            Builtin::ContactPhone => {
                "Phone numbers however written: Korean and other national numbers starting \
                 with 0 (010-1234-5678, 010 1234 5678, 010.1234.5678, 01012345678, \
                 02-123-4567) and international ones starting with + (+82 10 1234 5678, \
                 +1 (415) 555-2671), with spaces, dots, dashes, slashes or brackets between \
                 the groups, in ASCII or full-width digits"
            }
            Builtin::ContactEmail => {
                "E-mail addresses, also written with up to three spaces around @ and dots, a full-width ＠, \
                 (at)/[at] or (dot)/[dot]"
            }
            Builtin::Link => {
                "Links: anything with a scheme (https://, http://, ftp://, …), anything \
                 starting with www. and a letter, and bare host names ending in a common top-level domain \
                 (example.com, open.kakao.com/o/…, discord.gg/…, t.me/…, bit.ly/…)"
            }
        }
    }

    /// The pattern, for the regex crate.
    pub fn pattern(self) -> String {
        match self {
            Builtin::ContactPhone => {
                // A national number: 0, a 1-2 digit area or mobile prefix, 3-4 digits, 4
                // digits; an international one: +, then 8 to 15 digits with separators.
                format!(
                    r"(?:(?-u:\b)0|０)\d{{1,2}}{SEP}\d{{3,4}}{SEP}\d{{4}}|[+＋]\s?\d(?:{SEP}\d){{7,14}}"
                )
            }
            Builtin::ContactEmail => concat!(
                r"[a-zA-Z0-9._%+\-]+\s{0,3}(?:@|＠|\(at\)|\[at\]|\(AT\)|\[AT\])\s{0,3}",
                r"[a-zA-Z0-9\-]{1,63}(?:\s{0,3}(?:\.|\(dot\)|\[dot\]|\(DOT\)|\[DOT\])\s{0,3}[a-zA-Z0-9\-]{1,63})+"
            )
            .to_string(),
            Builtin::Link => {
                let tlds = TLDS;
                format!(
                    r"(?i)(?-u:\b)(?:[a-z][a-z0-9+.\-]{{1,15}}://[^\s<>]|www\.[a-z])[^\s<>]*|(?-u:\b)(?:[a-z0-9](?:[a-z0-9\-]{{0,61}}[a-z0-9])?\.)+(?:{tlds})(?-u:\b)(?:[/:?#][^\s<>]*)?"
                )
            }
        }
    }
}
