//! A message's reactions: per emoji, the users who reacted with it, in the order each emoji
//! was first used. An emoji whose count falls to 0 leaves; used again, it goes last. The
//! store keeps this order as each emoji's `emoji_rev`, the room `rev` of the change that
//! brought it onto the message ([`ReactionSet::from_rows`] reads it back).

use super::MAX_EMOJIS;
use crate::model::UserId;

/// One emoji on a message and who reacted with it, earliest first.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reaction {
    pub emoji: String,
    pub users: Vec<UserId>,
}

/// What one user sees of a reaction (the wire's `{"emoji","count","me"}`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ReactionView {
    pub emoji: String,
    pub count: i64,
    pub me: bool,
}

/// What a reaction change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Toggle {
    /// The reaction was added or taken away.
    Changed,
    /// It was already there (`on`) or not there (`off`): nothing changes, no `rev` is taken.
    Unchanged,
    /// A new emoji on a message that has [`MAX_EMOJIS`] already.
    TooMany,
}

/// The reactions of one message, in order of first use.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReactionSet {
    reactions: Vec<Reaction>,
}

impl ReactionSet {
    /// From stored rows `(emoji, user, emoji_rev, created_ms)`, in any order: emojis by
    /// `emoji_rev`, each emoji's users by `created_ms` (then id).
    pub fn from_rows(rows: impl IntoIterator<Item = (String, UserId, i64, i64)>) -> ReactionSet {
        let mut rows: Vec<(String, UserId, i64, i64)> = rows.into_iter().collect();
        rows.sort_by(|a, b| (a.2, &a.0, a.3, a.1).cmp(&(b.2, &b.0, b.3, b.1)));
        let mut set = ReactionSet::default();
        for (emoji, user, _, _) in rows {
            match set.reactions.last_mut() {
                Some(last) if last.emoji == emoji => last.users.push(user),
                _ => set.reactions.push(Reaction {
                    emoji,
                    users: vec![user],
                }),
            }
        }
        set
    }

    pub fn reactions(&self) -> &[Reaction] {
        &self.reactions
    }

    pub fn is_empty(&self) -> bool {
        self.reactions.is_empty()
    }

    /// Whether `user` reacted with `emoji`.
    pub fn has(&self, emoji: &str, user: UserId) -> bool {
        self.reactions
            .iter()
            .any(|reaction| reaction.emoji == emoji && reaction.users.contains(&user))
    }

    /// Whether anyone reacted with `emoji`.
    pub fn contains(&self, emoji: &str) -> bool {
        self.reactions
            .iter()
            .any(|reaction| reaction.emoji == emoji)
    }

    /// Adds (`on`) or takes away `user`'s `emoji`, by the rules of section 11.
    pub fn toggle(&mut self, emoji: &str, user: UserId, on: bool) -> Toggle {
        let found = self.reactions.iter().position(|r| r.emoji == emoji);
        match (on, found) {
            (true, Some(index)) => {
                let users = &mut self.reactions[index].users;
                if users.contains(&user) {
                    return Toggle::Unchanged;
                }
                users.push(user);
                Toggle::Changed
            }
            (true, None) if self.reactions.len() >= MAX_EMOJIS => Toggle::TooMany,
            (true, None) => {
                self.reactions.push(Reaction {
                    emoji: emoji.to_string(),
                    users: vec![user],
                });
                Toggle::Changed
            }
            (false, Some(index)) => {
                let users = &mut self.reactions[index].users;
                let Some(at) = users.iter().position(|u| *u == user) else {
                    return Toggle::Unchanged;
                };
                users.remove(at);
                if users.is_empty() {
                    self.reactions.remove(index);
                }
                Toggle::Changed
            }
            (false, None) => Toggle::Unchanged,
        }
    }

    /// The reactions as `viewer` sees them (`me`: the viewer is among the users).
    pub fn view(&self, viewer: Option<UserId>) -> Vec<ReactionView> {
        self.reactions
            .iter()
            .map(|reaction| ReactionView {
                emoji: reaction.emoji.clone(),
                count: reaction.users.len() as i64,
                me: viewer.is_some_and(|viewer| reaction.users.contains(&viewer)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn emojis(set: &ReactionSet) -> Vec<&str> {
        set.reactions().iter().map(|r| r.emoji.as_str()).collect()
    }

    #[test]
    fn emojis_keep_the_order_of_first_use_and_a_returning_one_goes_last() {
        let mut set = ReactionSet::default();
        assert_eq!(set.toggle("👍", UserId(1), true), Toggle::Changed);
        assert_eq!(set.toggle("🎉", UserId(2), true), Toggle::Changed);
        assert_eq!(set.toggle("👍", UserId(2), true), Toggle::Changed);
        assert_eq!(set.toggle("👍", UserId(1), false), Toggle::Changed);
        assert_eq!(emojis(&set), vec!["👍", "🎉"], "👍 never fell to 0");
        assert_eq!(set.toggle("👍", UserId(2), false), Toggle::Changed);
        assert_eq!(emojis(&set), vec!["🎉"]);
        assert_eq!(set.toggle("👍", UserId(1), true), Toggle::Changed);
        assert_eq!(emojis(&set), vec!["🎉", "👍"], "used again: last");
        assert_eq!(
            set.view(Some(UserId(1))),
            vec![
                ReactionView {
                    emoji: "🎉".into(),
                    count: 1,
                    me: false
                },
                ReactionView {
                    emoji: "👍".into(),
                    count: 1,
                    me: true
                },
            ]
        );
    }

    #[test]
    fn the_same_reaction_counts_once_and_absent_ones_change_nothing() {
        let mut set = ReactionSet::default();
        assert_eq!(set.toggle("👍", UserId(1), true), Toggle::Changed);
        assert_eq!(set.toggle("👍", UserId(1), true), Toggle::Unchanged);
        assert_eq!(set.toggle("🎉", UserId(1), false), Toggle::Unchanged);
        assert_eq!(set.toggle("👍", UserId(2), false), Toggle::Unchanged);
        assert_eq!(set.view(None)[0].count, 1);
    }

    #[test]
    fn the_21st_emoji_is_refused_but_more_users_of_one_are_not() {
        let mut set = ReactionSet::default();
        for n in 0..MAX_EMOJIS {
            assert_eq!(
                set.toggle(&format!("e{n}"), UserId(1), true),
                Toggle::Changed
            );
        }
        assert_eq!(set.toggle("e20", UserId(1), true), Toggle::TooMany);
        assert_eq!(set.toggle("e0", UserId(2), true), Toggle::Changed);
        assert_eq!(set.reactions().len(), MAX_EMOJIS);
    }

    #[derive(Clone, Debug)]
    struct Step {
        emoji: usize,
        user: UserId,
        on: bool,
    }

    fn step() -> impl Strategy<Value = Step> {
        (0usize..24, 1i64..5, prop::bool::weighted(0.6)).prop_map(|(emoji, user, on)| Step {
            emoji,
            user: UserId(user),
            on,
        })
    }

    proptest! {
        /// The store's rows (each emoji's `emoji_rev` taken when it comes onto the message
        /// and shared while it stays, the rows of a taken-back reaction deleted) read back
        /// as the rule's order, after every step.
        #[test]
        fn stored_rows_read_back_in_the_order_of_the_rule(
            steps in prop::collection::vec(step(), 0..120)
        ) {
            let mut model = ReactionSet::default();
            let mut rows: HashMap<(String, UserId), (i64, i64)> = HashMap::new();
            let mut rev = 0i64;
            for (clock, step) in steps.iter().enumerate() {
                let emoji = format!("e{}", step.emoji);
                let present = rows.keys().any(|(e, _)| *e == emoji);
                let distinct: std::collections::HashSet<&String> =
                    rows.keys().map(|(e, _)| e).collect();
                let outcome = model.toggle(&emoji, step.user, step.on);
                let key = (emoji.clone(), step.user);
                let expected = if step.on {
                    if rows.contains_key(&key) {
                        Toggle::Unchanged
                    } else if !present && distinct.len() >= MAX_EMOJIS {
                        Toggle::TooMany
                    } else {
                        rev += 1;
                        let emoji_rev = rows
                            .iter()
                            .find(|((e, _), _)| *e == emoji)
                            .map(|(_, (r, _))| *r)
                            .unwrap_or(rev);
                        rows.insert(key, (emoji_rev, clock as i64));
                        Toggle::Changed
                    }
                } else if rows.remove(&key).is_some() {
                    rev += 1;
                    Toggle::Changed
                } else {
                    Toggle::Unchanged
                };
                prop_assert_eq!(outcome, expected);
                let stored = ReactionSet::from_rows(
                    rows.iter().map(|((e, u), (r, c))| (e.clone(), *u, *r, *c)),
                );
                prop_assert_eq!(&stored, &model);
                prop_assert!(model.reactions().len() <= MAX_EMOJIS);
                prop_assert!(model.reactions().iter().all(|r| !r.users.is_empty()));
            }
        }
    }
}
