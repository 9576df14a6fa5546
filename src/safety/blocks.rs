//! Who hides whom in one room (section 13): the blocks the room's members made, as the room
//! keeps them to decide, per receiver, whether a message comes with its content or as
//! `blocked`, and whether a signal (`typing`, `read`) reaches them at all. Built from the
//! room's snapshot (`db/blocks.rs` keeps the store's side); pure, so it is tested here.

use std::collections::{HashMap, HashSet};

use crate::model::UserId;

/// The blocks of one room's members: for each blocked user, who blocks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blocks {
    blockers: HashMap<UserId, HashSet<UserId>>,
}

impl Blocks {
    /// From `(blocker, blocked)` pairs.
    pub fn new(pairs: impl IntoIterator<Item = (UserId, UserId)>) -> Blocks {
        let mut blockers: HashMap<UserId, HashSet<UserId>> = HashMap::new();
        for (blocker, blocked) in pairs {
            if blocker != blocked {
                blockers.entry(blocked).or_default().insert(blocker);
            }
        }
        Blocks { blockers }
    }

    /// What `blocker` blocks is now `blocked` (a member who just came in).
    pub fn set_blocker(&mut self, blocker: UserId, blocked: impl IntoIterator<Item = UserId>) {
        self.blockers.retain(|_, blockers| {
            blockers.remove(&blocker);
            !blockers.is_empty()
        });
        for user in blocked {
            if user != blocker {
                self.blockers.entry(user).or_default().insert(blocker);
            }
        }
    }

    /// Whether no member blocks anyone: every receiver gets every message whole.
    pub fn is_empty(&self) -> bool {
        self.blockers.is_empty()
    }

    /// Whether `viewer` blocks `author`, so that `author`'s messages reach them as
    /// `blocked` and `author`'s signals not at all.
    pub fn hides(&self, viewer: UserId, author: UserId) -> bool {
        self.blockers
            .get(&author)
            .is_some_and(|blockers| blockers.contains(&viewer))
    }

    /// Whether anyone blocks `author`: when not, one frame serves every receiver.
    pub fn anyone_hides(&self, author: UserId) -> bool {
        self.blockers.contains_key(&author)
    }

    /// Whether a block stands between `a` and `b`, either way.
    pub fn between(&self, a: UserId, b: UserId) -> bool {
        self.hides(a, b) || self.hides(b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs<const N: usize>(pairs: [(i64, i64); N]) -> Vec<(UserId, UserId)> {
        pairs.iter().map(|&(a, b)| (UserId(a), UserId(b))).collect()
    }

    #[test]
    fn a_block_is_one_users_own() {
        let blocks = Blocks::new(pairs([(1, 2)]));
        assert!(blocks.hides(UserId(1), UserId(2)));
        assert!(
            !blocks.hides(UserId(2), UserId(1)),
            "the blocked one still sees the blocker"
        );
        assert!(
            !blocks.hides(UserId(3), UserId(2)),
            "others still see the blocked one"
        );
        assert!(blocks.between(UserId(1), UserId(2)) && blocks.between(UserId(2), UserId(1)));
        assert!(!blocks.between(UserId(1), UserId(3)));
        assert!(blocks.anyone_hides(UserId(2)));
        assert!(!blocks.anyone_hides(UserId(1)));
    }

    #[test]
    fn a_member_who_comes_in_brings_their_blocks() {
        let mut blocks = Blocks::new(pairs([(1, 2), (3, 2)]));
        blocks.set_blocker(UserId(3), [UserId(4)]);
        assert!(
            blocks.hides(UserId(1), UserId(2))
                && !blocks.hides(UserId(3), UserId(2))
                && blocks.hides(UserId(3), UserId(4))
        );
        blocks.set_blocker(UserId(1), []);
        assert!(!blocks.anyone_hides(UserId(2)));
        assert_eq!(blocks, Blocks::new(pairs([(3, 4)])));
    }

    #[test]
    fn nothing_blocked_hides_nothing() {
        let blocks = Blocks::default();
        assert!(blocks.is_empty());
        assert!(!blocks.hides(UserId(1), UserId(2)));
        assert!(!blocks.anyone_hides(UserId(2)));
    }

    #[test]
    fn several_blockers_of_one_user_and_a_self_block_ignored() {
        let blocks = Blocks::new(pairs([(1, 3), (2, 3), (4, 4)]));
        assert!(blocks.hides(UserId(1), UserId(3)) && blocks.hides(UserId(2), UserId(3)));
        assert!(!blocks.hides(UserId(4), UserId(4)));
        assert!(!blocks.anyone_hides(UserId(4)));
    }
}
