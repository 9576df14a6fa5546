//! Who can find whom (`--directory`, section 13): whether the `users` command lists a person
//! to a caller, and whether a caller may name them in `open_direct`, `create_group` and
//! `invite`. A service for minors sets `shared`: people find only those they already share a
//! room with (and bots).

use std::str::FromStr;

/// `--directory`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Directory {
    /// Every active person, and bots (the default).
    #[default]
    All,
    /// The people who share a room with the caller, and bots.
    Shared,
    /// Bots only.
    None,
}

impl Directory {
    pub fn as_str(self) -> &'static str {
        match self {
            Directory::All => "all",
            Directory::Shared => "shared",
            Directory::None => "none",
        }
    }

    /// Whether a caller may find a person, given whether the two share a room (asked only
    /// when it matters: see [`Directory::needs_shared_room`]).
    pub fn finds(self, share_a_room: bool) -> bool {
        match self {
            Directory::All => true,
            Directory::Shared => share_a_room,
            Directory::None => false,
        }
    }

    /// Whether the answer depends on the two sharing a room.
    pub fn needs_shared_room(self) -> bool {
        self == Directory::Shared
    }
}

impl FromStr for Directory {
    type Err = String;

    fn from_str(text: &str) -> Result<Directory, String> {
        match text {
            "all" => Ok(Directory::All),
            "shared" => Ok(Directory::Shared),
            "none" => Ok(Directory::None),
            other => Err(format!(
                "`{other}` is not a directory scope: all, shared or none"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_finds_whom_it_says() {
        assert!(Directory::All.finds(false) && Directory::All.finds(true));
        assert!(Directory::Shared.finds(true) && !Directory::Shared.finds(false));
        assert!(!Directory::None.finds(true) && !Directory::None.finds(false));
        assert!(Directory::Shared.needs_shared_room());
        assert!(!Directory::All.needs_shared_room() && !Directory::None.needs_shared_room());
    }

    #[test]
    fn scopes_read_as_the_flag_names_them() {
        for scope in [Directory::All, Directory::Shared, Directory::None] {
            assert_eq!(scope.as_str().parse(), Ok(scope));
        }
        assert!("ALL".parse::<Directory>().is_err());
        assert!("".parse::<Directory>().is_err());
    }
}
