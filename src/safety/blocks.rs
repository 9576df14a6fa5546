//! Who hides whom in one room (section 13): the blocks the room's members made, as the room
//! keeps them to decide, per receiver, whether a message comes with its content or as
//! `blocked`, and whether a signal (`typing`, `read`) reaches them at all. Built from the
//! room's snapshot (`db/blocks.rs` keeps the store's side); pure, so it is tested here.

use std::collections::{HashMap, HashSet};

/// The blocks of one room's members: for each blocked user, who blocks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Blocks {
    blockers: HashMap<i64, HashSet<i64>>,
}

impl Blocks {
    /// From `(blocker, blocked)` pairs.
    pub fn new(pairs: impl IntoIterator<Item = (i64, i64)>) -> Blocks {
        let mut blockers: HashMap<i64, HashSet<i64>> = HashMap::new();
        for (blocker, blocked) in pairs {
            if blocker != blocked {
                blockers.entry(blocked).or_default().insert(blocker);
            }
        }
        Blocks { blockers }
    }

    /// What `blocker` blocks is now `blocked` (a member who just came in).
    pub fn set_blocker(&mut self, blocker: i64, blocked: impl IntoIterator<Item = i64>) {
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
    pub fn hides(&self, viewer: i64, author: i64) -> bool {
        self.blockers
            .get(&author)
            .is_some_and(|blockers| blockers.contains(&viewer))
    }

    /// Whether anyone blocks `author`: when not, one frame serves every receiver.
    pub fn anyone_hides(&self, author: i64) -> bool {
        self.blockers.contains_key(&author)
    }

    /// Whether a block stands between `a` and `b`, either way.
    pub fn between(&self, a: i64, b: i64) -> bool {
        self.hides(a, b) || self.hides(b, a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_one_users_own() {
        let blocks = Blocks::new([(1, 2)]);
        assert!(blocks.hides(1, 2));
        assert!(
            !blocks.hides(2, 1),
            "the blocked one still sees the blocker"
        );
        assert!(!blocks.hides(3, 2), "others still see the blocked one");
        assert!(blocks.between(1, 2) && blocks.between(2, 1));
        assert!(!blocks.between(1, 3));
        assert!(blocks.anyone_hides(2));
        assert!(!blocks.anyone_hides(1));
    }

    #[test]
    fn a_member_who_comes_in_brings_their_blocks() {
        let mut blocks = Blocks::new([(1, 2), (3, 2)]);
        blocks.set_blocker(3, [4]);
        assert!(blocks.hides(1, 2) && !blocks.hides(3, 2) && blocks.hides(3, 4));
        blocks.set_blocker(1, []);
        assert!(!blocks.anyone_hides(2));
        assert_eq!(blocks, Blocks::new([(3, 4)]));
    }

    #[test]
    fn nothing_blocked_hides_nothing() {
        let blocks = Blocks::default();
        assert!(blocks.is_empty());
        assert!(!blocks.hides(1, 2));
        assert!(!blocks.anyone_hides(2));
    }

    #[test]
    fn several_blockers_of_one_user_and_a_self_block_ignored() {
        let blocks = Blocks::new([(1, 3), (2, 3), (4, 4)]);
        assert!(blocks.hides(1, 3) && blocks.hides(2, 3));
        assert!(!blocks.hides(4, 4));
        assert!(!blocks.anyone_hides(4));
    }
}
