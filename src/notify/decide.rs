//! Who is notified when a message commits (docs/protocol.md section 12): each member other
//! than its sender who has no connection joined to the room on any node, if the room's level
//! for them says so. `all` is the default of direct and bot rooms, `mentions` of groups (a
//! message that mentions them, or replies to one of theirs); `none` is never.

use serde::{Deserialize, Serialize};

use crate::model::UserId;
use crate::model::{RoomKind, UserKind};

/// A member's notification level for one room (the `notify` command).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    All,
    Mentions,
    None,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::All => "all",
            Level::Mentions => "mentions",
            Level::None => "none",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "all" => Some(Level::All),
            "mentions" => Some(Level::Mentions),
            "none" => Some(Level::None),
            _ => None,
        }
    }

    /// The level of a member who never chose one.
    pub fn default_for(kind: RoomKind) -> Level {
        match kind {
            RoomKind::Direct | RoomKind::Bot => Level::All,
            RoomKind::Group => Level::Mentions,
        }
    }

    /// The level in force: the member's choice, or the room kind's default.
    pub fn effective(chosen: Option<Level>, kind: RoomKind) -> Level {
        chosen.unwrap_or_else(|| Level::default_for(kind))
    }
}

/// A member of the room, as the decision needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: UserId,
    pub kind: UserKind,
    /// What they chose with `notify`; `None`: the room kind's default.
    pub level: Option<Level>,
    /// They block the sender (section 13): never notified of what the sender posts.
    pub blocks_sender: bool,
}

/// What of a committed message matters to the decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Notable<'a> {
    pub sender: UserId,
    /// Users the message mentions (section 11).
    pub mentions: &'a [UserId],
    /// The sender of the message it replies to, if it replies to one (section 11).
    pub reply_to_sender: Option<UserId>,
}

impl Notable<'_> {
    /// Whether the message calls on `user`: mentions them or answers one of theirs.
    fn calls_on(&self, user: UserId) -> bool {
        self.mentions.contains(&user) || self.reply_to_sender == Some(user)
    }
}

/// The members to notify of `message` in a room of `kind`, ascending by id: people (never a
/// bot or the system) other than the sender, with no connection joined to the room (`joined`
/// answers for every node), whose level lets the message through.
pub fn recipients<'a>(
    kind: RoomKind,
    members: impl IntoIterator<Item = &'a Candidate>,
    message: &Notable<'_>,
    joined: impl Fn(UserId) -> bool,
) -> Vec<UserId> {
    let mut chosen: Vec<UserId> = members
        .into_iter()
        .filter(|member| member.kind == UserKind::User && member.user_id != message.sender)
        .filter(|member| !member.blocks_sender)
        .filter(|member| match Level::effective(member.level, kind) {
            Level::All => true,
            Level::Mentions => message.calls_on(member.user_id),
            Level::None => false,
        })
        .map(|member| member.user_id)
        .filter(|user| !joined(*user))
        .collect();
    chosen.sort_unstable();
    chosen.dedup();
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(user_id: i64, level: Option<Level>) -> Candidate {
        Candidate {
            user_id: UserId(user_id),
            kind: UserKind::User,
            level,
            blocks_sender: false,
        }
    }

    #[test]
    fn who_blocks_the_sender_is_never_notified() {
        let mut blocker = person(2, Some(Level::All));
        blocker.blocks_sender = true;
        let members = [person(1, None), blocker, person(3, Some(Level::All))];
        let mentions = [UserId(2), UserId(3)];
        let message = Notable {
            sender: UserId(1),
            mentions: &mentions,
            reply_to_sender: Some(UserId(2)),
        };
        assert_eq!(
            recipients(RoomKind::Group, &members, &message, |_| false),
            [UserId(3)],
            "not even when mentioned or answered"
        );
        let direct = [person(1, None), blocker];
        assert!(recipients(RoomKind::Direct, &direct, &message, |_| false).is_empty());
    }

    #[test]
    fn levels_read_and_write_as_the_wire_names_them() {
        for level in [Level::All, Level::Mentions, Level::None] {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
        assert_eq!(Level::parse("ALL"), None);
        assert_eq!(Level::parse(""), None);
    }

    #[test]
    fn direct_and_bot_rooms_default_to_all_groups_to_mentions() {
        assert_eq!(Level::default_for(RoomKind::Direct), Level::All);
        assert_eq!(Level::default_for(RoomKind::Bot), Level::All);
        assert_eq!(Level::default_for(RoomKind::Group), Level::Mentions);
        assert_eq!(
            Level::effective(Some(Level::None), RoomKind::Direct),
            Level::None
        );
    }

    #[test]
    fn in_a_direct_room_the_other_party_is_notified_unless_joined() {
        let members = [person(1, None), person(2, None)];
        let message = Notable {
            sender: UserId(1),
            ..Notable::default()
        };
        assert_eq!(
            recipients(RoomKind::Direct, &members, &message, |_| false),
            [UserId(2)]
        );
        assert!(recipients(RoomKind::Direct, &members, &message, |user| user
            == UserId(2))
        .is_empty());
        // The sender's own joins change nothing for the others.
        assert_eq!(
            recipients(RoomKind::Direct, &members, &message, |user| user
                == UserId(1)),
            [UserId(2)]
        );
    }

    #[test]
    fn in_a_group_only_mentions_and_replies_by_default() {
        let members = [
            person(1, None),
            person(2, None),
            person(3, None),
            person(4, None),
        ];
        let plain = Notable {
            sender: UserId(1),
            ..Notable::default()
        };
        assert!(recipients(RoomKind::Group, &members, &plain, |_| false).is_empty());
        let mentions = [UserId(3), UserId(1)];
        let calling = Notable {
            sender: UserId(1),
            mentions: &mentions,
            reply_to_sender: Some(UserId(4)),
        };
        assert_eq!(
            recipients(RoomKind::Group, &members, &calling, |_| false),
            [UserId(3), UserId(4)],
            "the sender mentioning themselves is not notified"
        );
    }

    #[test]
    fn a_chosen_level_overrides_the_default() {
        let members = [
            person(1, None),
            person(2, Some(Level::All)),
            person(3, Some(Level::None)),
            person(4, Some(Level::Mentions)),
        ];
        let mentions = [UserId(3), UserId(4)];
        let message = Notable {
            sender: UserId(1),
            mentions: &mentions,
            reply_to_sender: None,
        };
        assert_eq!(
            recipients(RoomKind::Group, &members, &message, |_| false),
            [UserId(2), UserId(4)],
            "`none` is never notified, even when mentioned"
        );
        let direct = [person(1, None), person(2, Some(Level::Mentions))];
        let plain = Notable {
            sender: UserId(1),
            ..Notable::default()
        };
        assert!(recipients(RoomKind::Direct, &direct, &plain, |_| false).is_empty());
    }

    #[test]
    fn bots_and_the_system_are_never_notified() {
        let members = [
            person(1, None),
            Candidate {
                user_id: UserId(2),
                kind: UserKind::Bot,
                level: None,
                blocks_sender: false,
            },
        ];
        let from_user = Notable {
            sender: UserId(1),
            ..Notable::default()
        };
        assert!(recipients(RoomKind::Bot, &members, &from_user, |_| false).is_empty());
        let from_bot = Notable {
            sender: UserId(2),
            ..Notable::default()
        };
        assert_eq!(
            recipients(RoomKind::Bot, &members, &from_bot, |_| false),
            [UserId(1)]
        );
    }
}
