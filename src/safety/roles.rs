//! Who may moderate whom in a group (docs/safety.md, "Roles"): the three roles ([`Role`]),
//! what a moderation act is ([`Act`]), the one rule that decides whether an actor of one role
//! may do an act to a member of another ([`may`]), why it may not ([`Denied`]), and the
//! bounded length of a mute ([`MuteMinutes`]) with the one test of whether a mute holds at a
//! given moment ([`muted_at`]). Pure: the store applies the rule inside the transaction of
//! the change, the room applies it early to its copy.

use std::fmt;

use crate::model::UserId;

/// A member's role in a group. The owner is the group's `owner_id` (the store keeps no
/// other record of it); the others are stored on the membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Member,
    Moderator,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Moderator => "moderator",
            Role::Member => "member",
        }
    }

    /// A role `set_role` may give: `moderator` or `member` (never `owner`).
    pub fn settable(text: &str) -> Option<Role> {
        match text {
            "moderator" => Some(Role::Moderator),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// A role as the store keeps it on a membership (`member` or `moderator`); `None` for
    /// anything else (a row this server cannot read).
    pub fn stored(text: &str) -> Option<Role> {
        Role::settable(text)
    }

    /// The role of `user` given the group's owner and the role stored on their membership.
    pub fn of(user: UserId, owner: Option<UserId>, stored: Role) -> Role {
        if owner == Some(user) {
            Role::Owner
        } else {
            stored
        }
    }

    /// The owner and moderators moderate.
    pub fn moderates(self) -> bool {
        self != Role::Member
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A moderation act on one member (or on one of their messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Kick,
    /// Deleting a message someone else sent.
    Delete,
    Mute,
    Ban,
    SetRole,
}

impl Act {
    pub const ALL: [Act; 5] = [Act::Kick, Act::Delete, Act::Mute, Act::Ban, Act::SetRole];

    /// What the act is, as "only the owner and moderators may …" says it.
    pub fn general(self) -> &'static str {
        match self {
            Act::Kick => "kick",
            Act::Delete => "delete others' messages",
            Act::Mute => "mute",
            Act::Ban => "ban",
            Act::SetRole => "set roles",
        }
    }

    /// The act done to someone, as "no one may … the group's owner" says it.
    pub fn on(self) -> &'static str {
        match self {
            Act::Kick => "kick",
            Act::Delete => "delete the messages of",
            Act::Mute => "mute",
            Act::Ban => "ban",
            Act::SetRole => "change the role of",
        }
    }
}

/// Why an act is refused. [`Denied::OnSelf`] is `bad_request` (it makes no sense); every
/// other is `forbidden` (`error.rs` maps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// A plain member moderates no one.
    #[error("only the group's owner and moderators may {}", .0.general())]
    NotModerator(Act),
    /// Roles are the owner's to give.
    #[error("only the group's owner may set roles")]
    OwnerOnly,
    /// No one acts on the owner.
    #[error("no one may {} the group's owner", .0.on())]
    OnOwner(Act),
    /// A moderator acts on members only.
    #[error("a moderator may not {} another moderator", .0.on())]
    OnModerator(Act),
    /// Kicking, muting, banning oneself or setting one's own role.
    #[error("you cannot {} yourself", .0.on())]
    OnSelf(Act),
}

/// Whether an `actor` of role `actor` may do `act` to a member of role `target`; `same`:
/// they are the same person. Deleting one's own message is no moderation and never asked.
pub fn may(actor: Role, act: Act, target: Role, same: bool) -> Result<(), Denied> {
    if act == Act::SetRole && actor != Role::Owner {
        return Err(Denied::OwnerOnly);
    }
    if !actor.moderates() {
        return Err(Denied::NotModerator(act));
    }
    if same {
        return Err(Denied::OnSelf(act));
    }
    match (actor, target) {
        (_, Role::Owner) => Err(Denied::OnOwner(act)),
        (Role::Moderator, Role::Moderator) => Err(Denied::OnModerator(act)),
        _ => Ok(()),
    }
}

/// The longest mute: 30 days.
pub const MAX_MUTE_MINUTES: u32 = 43_200;

/// A mute's length: 0 (lifts a mute) to [`MAX_MUTE_MINUTES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MuteMinutes(u32);

impl MuteMinutes {
    pub fn new(minutes: i64) -> Option<MuteMinutes> {
        u32::try_from(minutes)
            .ok()
            .filter(|minutes| *minutes <= MAX_MUTE_MINUTES)
            .map(MuteMinutes)
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// When a mute of this length made at `now_ms` ends; `None`: the mute is lifted.
    pub fn until(self, now_ms: i64) -> Option<i64> {
        (self.0 > 0).then(|| now_ms + i64::from(self.0) * 60_000)
    }
}

/// Whether a member muted until `until` (ms) is muted at `now_ms`: a mute ends by itself.
pub fn muted_at(until: Option<i64>, now_ms: i64) -> bool {
    until.is_some_and(|until| until > now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 3] = [Role::Owner, Role::Moderator, Role::Member];

    /// Every actor, act, target and self-or-not, against the table of docs/safety.md.
    #[test]
    fn the_rule_for_every_actor_act_and_target() {
        for actor in ROLES {
            for act in Act::ALL {
                for target in ROLES {
                    for same in [false, true] {
                        let expected = match (actor, act, target, same) {
                            (Role::Member | Role::Moderator, Act::SetRole, _, _) => {
                                Err(Denied::OwnerOnly)
                            }
                            (Role::Member, act, _, _) => Err(Denied::NotModerator(act)),
                            (_, act, _, true) => Err(Denied::OnSelf(act)),
                            (_, act, Role::Owner, false) => Err(Denied::OnOwner(act)),
                            (Role::Moderator, act, Role::Moderator, false) => {
                                Err(Denied::OnModerator(act))
                            }
                            (Role::Owner, _, _, false) => Ok(()),
                            (Role::Moderator, _, Role::Member, false) => Ok(()),
                        };
                        assert_eq!(
                            may(actor, act, target, same),
                            expected,
                            "{actor} {act:?} {target} same={same}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_owner_may_do_everything_to_moderators_and_members() {
        for act in Act::ALL {
            assert_eq!(may(Role::Owner, act, Role::Moderator, false), Ok(()));
            assert_eq!(may(Role::Owner, act, Role::Member, false), Ok(()));
        }
    }

    #[test]
    fn a_moderator_may_do_all_but_set_roles_to_members() {
        for act in [Act::Kick, Act::Delete, Act::Mute, Act::Ban] {
            assert_eq!(may(Role::Moderator, act, Role::Member, false), Ok(()));
        }
        assert_eq!(
            may(Role::Moderator, Act::SetRole, Role::Member, false),
            Err(Denied::OwnerOnly)
        );
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(
            Denied::NotModerator(Act::Mute).to_string(),
            "only the group's owner and moderators may mute"
        );
        assert_eq!(
            Denied::OnOwner(Act::Ban).to_string(),
            "no one may ban the group's owner"
        );
        assert_eq!(
            Denied::OnModerator(Act::Delete).to_string(),
            "a moderator may not delete the messages of another moderator"
        );
        assert_eq!(
            Denied::OnSelf(Act::Kick).to_string(),
            "you cannot kick yourself"
        );
        assert_eq!(
            Denied::NotModerator(Act::Delete).to_string(),
            "only the group's owner and moderators may delete others' messages"
        );
        assert_eq!(
            Denied::OwnerOnly.to_string(),
            "only the group's owner may set roles"
        );
    }

    #[test]
    fn the_owner_is_the_groups_owner_whatever_is_stored() {
        assert_eq!(
            Role::of(UserId(3), Some(UserId(3)), Role::Member),
            Role::Owner
        );
        assert_eq!(
            Role::of(UserId(3), Some(UserId(3)), Role::Moderator),
            Role::Owner
        );
        assert_eq!(
            Role::of(UserId(4), Some(UserId(3)), Role::Moderator),
            Role::Moderator
        );
        assert_eq!(Role::of(UserId(4), None, Role::Member), Role::Member);
    }

    #[test]
    fn set_role_gives_moderator_or_member_only() {
        assert_eq!(Role::settable("moderator"), Some(Role::Moderator));
        assert_eq!(Role::settable("member"), Some(Role::Member));
        for text in ["owner", "Moderator", "", "admin"] {
            assert_eq!(Role::settable(text), None, "{text}");
        }
    }

    #[test]
    fn a_mute_lasts_0_to_43200_minutes() {
        assert_eq!(MuteMinutes::new(0).map(MuteMinutes::get), Some(0));
        assert_eq!(MuteMinutes::new(43_200).map(MuteMinutes::get), Some(43_200));
        for bad in [-1, 43_201, i64::MAX, i64::MIN] {
            assert_eq!(MuteMinutes::new(bad), None, "{bad}");
        }
        let now = 1_000_000;
        assert_eq!(MuteMinutes::new(0).and_then(|m| m.until(now)), None);
        assert_eq!(
            MuteMinutes::new(10).and_then(|m| m.until(now)),
            Some(now + 600_000)
        );
    }

    #[test]
    fn a_mute_ends_by_itself() {
        assert!(!muted_at(None, 5));
        assert!(muted_at(Some(6), 5));
        assert!(!muted_at(Some(5), 5), "it ends at its end");
        assert!(!muted_at(Some(4), 5));
    }
}
