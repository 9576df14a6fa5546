//! The sweep's decisions, as plain logic: given what a node holds that authorization rests on
//! (its live rooms, the tokens its connections signed in with, its connected users) and what
//! the store says about them now (`db/authz.rs`'s [`LiveState`]), which rooms must compare
//! their copy with the store's version, and which connections must be closed. The hub runs
//! it (`actors/hub/authz.rs`) every `--authz-sweep-ms` and after every Redis reconnect, so
//! that a change made on another node takes effect here whether or not its publish arrived.
//!
//! Anything new a node keeps for authorization (bans, blocks, mutes, roles) joins here: a
//! room-level fact moves the room's `authz_version` when it changes (the rooms then reload
//! it), a connection-level fact is a row of `live_state` and a field of [`Verdict`].

use std::collections::{HashMap, HashSet};

use crate::db::authz::LiveState;
use crate::model::{RoomId, UserId};

/// What a node holds that the sweep asks the store about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// Rooms with a live actor here.
    pub rooms: Vec<RoomId>,
    /// Tokens the connections here signed in with (`pv_` tokens; a JWT has none).
    pub tokens: Vec<i64>,
    /// Users with a connection here.
    pub users: Vec<UserId>,
}

/// What the node must do after a sweep.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Rooms to hand the store's `authz_version` (`None`: the room is gone); each reloads
    /// itself if its copy is older.
    pub recheck: Vec<(RoomId, Option<i64>)>,
    /// Tokens that no longer exist (revoked, or their user deactivated): close the
    /// connections signed in with them (4001).
    pub revoked: Vec<i64>,
    /// Users who were deactivated: close all their connections (4001), JWT ones too.
    pub deactivated: Vec<UserId>,
}

impl Verdict {
    pub fn is_empty(&self) -> bool {
        self.recheck.is_empty() && self.revoked.is_empty() && self.deactivated.is_empty()
    }
}

/// The sweep's memory between runs: the version each live room was last handed, so that a
/// room hears only of a version it has not been told (a quiet cluster sends rooms nothing).
#[derive(Debug, Default)]
pub struct Sweep {
    told: HashMap<RoomId, i64>,
}

impl Sweep {
    /// Decides what the store's answer `found` to `asked` asks of the node.
    pub fn judge(&mut self, asked: &Asked, found: LiveState) -> Verdict {
        let live: HashSet<RoomId> = asked.rooms.iter().copied().collect();
        self.told.retain(|room, _| live.contains(room));
        let versions: HashMap<RoomId, i64> = found.rooms.into_iter().collect();
        let mut recheck = Vec::new();
        for &room in &asked.rooms {
            match versions.get(&room) {
                Some(&version) if self.told.get(&room) == Some(&version) => {}
                Some(&version) => {
                    self.told.insert(room, version);
                    recheck.push((room, Some(version)));
                }
                None => {
                    self.told.remove(&room);
                    recheck.push((room, None));
                }
            }
        }
        let existing: HashSet<i64> = found.tokens.into_iter().collect();
        let mut revoked: Vec<i64> = asked
            .tokens
            .iter()
            .copied()
            .filter(|token| !existing.contains(token))
            .collect();
        revoked.sort_unstable();
        revoked.dedup();
        let asked_users: HashSet<UserId> = asked.users.iter().copied().collect();
        let mut deactivated: Vec<UserId> = found
            .deactivated
            .into_iter()
            .filter(|user| asked_users.contains(user))
            .collect();
        deactivated.sort_unstable();
        deactivated.dedup();
        Verdict {
            recheck,
            revoked,
            deactivated,
        }
    }

    /// A room's actor started (again): it read the store's version itself, but it is told
    /// the next one found all the same, so that nothing rests on which actor was told.
    pub fn forget_room(&mut self, room: RoomId) {
        self.told.remove(&room);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(rooms: &[i64], tokens: &[i64], users: &[i64]) -> Asked {
        Asked {
            rooms: rooms.iter().copied().map(RoomId).collect(),
            tokens: tokens.to_vec(),
            users: users.iter().copied().map(UserId).collect(),
        }
    }

    fn found(rooms: &[(i64, i64)], tokens: &[i64], deactivated: &[i64]) -> LiveState {
        LiveState {
            rooms: rooms.iter().map(|&(room, v)| (RoomId(room), v)).collect(),
            tokens: tokens.to_vec(),
            deactivated: deactivated.iter().copied().map(UserId).collect(),
        }
    }

    /// `(room, version)` as the verdict holds them.
    fn rechecks(pairs: &[(i64, Option<i64>)]) -> Vec<(RoomId, Option<i64>)> {
        pairs.iter().map(|&(room, v)| (RoomId(room), v)).collect()
    }

    #[test]
    fn rooms_hear_only_of_versions_they_were_not_told() {
        let mut sweep = Sweep::default();
        let live = asked(&[1, 2, 3], &[], &[]);
        let first = sweep.judge(&live, found(&[(1, 0), (2, 4), (3, 0)], &[], &[]));
        assert_eq!(
            first.recheck,
            rechecks(&[(1, Some(0)), (2, Some(4)), (3, Some(0))])
        );
        let quiet = sweep.judge(&live, found(&[(1, 0), (2, 4), (3, 0)], &[], &[]));
        assert!(quiet.is_empty(), "{quiet:?}");
        // Room 2 changed, room 3 was deleted.
        let changed = sweep.judge(&live, found(&[(1, 0), (2, 5)], &[], &[]));
        assert_eq!(changed.recheck, rechecks(&[(2, Some(5)), (3, None)]));
        // A restarted actor is told again; a room no longer live is forgotten.
        sweep.forget_room(RoomId(1));
        let after = sweep.judge(&asked(&[1], &[], &[]), found(&[(1, 0)], &[], &[]));
        assert_eq!(after.recheck, rechecks(&[(1, Some(0))]));
        let back = sweep.judge(&live, found(&[(1, 0), (2, 5)], &[], &[]));
        assert_eq!(back.recheck, rechecks(&[(2, Some(5)), (3, None)]));
    }

    #[test]
    fn tokens_that_are_gone_and_users_deactivated_are_closed() {
        let mut sweep = Sweep::default();
        let verdict = sweep.judge(
            &asked(&[], &[7, 8, 9, 8], &[1, 2, 3]),
            found(&[], &[8], &[2, 5]),
        );
        assert_eq!(verdict.revoked, vec![7, 9]);
        // User 5 has no connection here (it left since it was asked about): nothing to close.
        assert_eq!(verdict.deactivated, vec![UserId(2)]);
        assert!(verdict.recheck.is_empty());
    }

    #[test]
    fn a_token_not_asked_about_is_never_taken_for_revoked() {
        // A connection that opened after the question was asked is not judged by its answer.
        let mut sweep = Sweep::default();
        let verdict = sweep.judge(&asked(&[], &[7], &[1]), found(&[], &[7], &[]));
        assert!(verdict.is_empty(), "{verdict:?}");
    }
}
