//! Who is online on the other nodes, as this node has heard: each node's set of users with
//! connections, and when the node was last heard from. A node silent for longer than the
//! expiry is taken as gone and its users offline, so a killed node's users go offline by
//! themselves. Pure bookkeeping; the hub feeds it bus events and announces what changes.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::model::UserId;

#[derive(Debug)]
pub struct RemotePresence {
    nodes: HashMap<String, Node>,
    expiry: Duration,
}

#[derive(Debug)]
struct Node {
    users: HashSet<UserId>,
    seen: Instant,
}

impl RemotePresence {
    pub fn new(expiry: Duration) -> RemotePresence {
        RemotePresence {
            nodes: HashMap::new(),
            expiry,
        }
    }

    /// Whether `user_id` has a connection on another live node.
    pub fn is_online(&self, user_id: UserId) -> bool {
        self.nodes
            .values()
            .any(|node| node.users.contains(&user_id))
    }

    /// Whether the node is known; an unknown one's set is read from Redis.
    pub fn knows(&self, node: &str) -> bool {
        self.nodes.contains_key(node)
    }

    /// The node is alive.
    pub fn seen(&mut self, node: &str, now: Instant) {
        self.entry(node, now).seen = now;
    }

    /// The user's first connection on `node` opened (or its last one closed). True when
    /// that changes whether the user is online on any other node.
    pub fn changed(&mut self, node: &str, user_id: UserId, online: bool, now: Instant) -> bool {
        let before = self.is_online(user_id);
        let entry = self.entry(node, now);
        entry.seen = now;
        if online {
            entry.users.insert(user_id);
        } else {
            entry.users.remove(&user_id);
        }
        before != self.is_online(user_id)
    }

    /// Every node's set as Redis holds it (after a reconnect, or on learning of a node).
    /// Returns the users whose online-anywhere-else changed, with their new state.
    pub fn replace(
        &mut self,
        sets: HashMap<String, Vec<UserId>>,
        now: Instant,
    ) -> Vec<(UserId, bool)> {
        let before: HashSet<UserId> = self.users();
        self.nodes = sets
            .into_iter()
            .map(|(name, users)| {
                let users = users.into_iter().collect();
                (name, Node { users, seen: now })
            })
            .collect();
        let after = self.users();
        diff(&before, &after)
    }

    /// Forgets nodes not heard from within the expiry; returns the users that went offline.
    pub fn expire(&mut self, now: Instant) -> Vec<UserId> {
        let before = self.users();
        let expiry = self.expiry;
        self.nodes
            .retain(|_, node| now.saturating_duration_since(node.seen) < expiry);
        let after = self.users();
        before.difference(&after).copied().collect()
    }

    /// Forgets one node (its own set says it has no one, or it was this node's name).
    pub fn forget(&mut self, node: &str) -> Vec<UserId> {
        let before = self.users();
        self.nodes.remove(node);
        let after = self.users();
        before.difference(&after).copied().collect()
    }

    /// The nodes heard from within the expiry.
    pub fn nodes(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }

    pub fn users(&self) -> HashSet<UserId> {
        self.nodes
            .values()
            .flat_map(|node| node.users.iter().copied())
            .collect()
    }

    fn entry(&mut self, node: &str, now: Instant) -> &mut Node {
        self.nodes.entry(node.to_string()).or_insert_with(|| Node {
            users: HashSet::new(),
            seen: now,
        })
    }
}

fn diff(before: &HashSet<UserId>, after: &HashSet<UserId>) -> Vec<(UserId, bool)> {
    let mut changes: Vec<(UserId, bool)> = after
        .difference(before)
        .map(|user| (*user, true))
        .chain(before.difference(after).map(|user| (*user, false)))
        .collect();
    changes.sort_unstable();
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_on_any_node_until_the_last_goes() {
        let now = Instant::now();
        let mut presence = RemotePresence::new(Duration::from_secs(10));
        assert!(presence.changed("a", UserId(1), true, now));
        assert!(
            !presence.changed("b", UserId(1), true, now),
            "already online on a"
        );
        assert!(
            !presence.changed("a", UserId(1), false, now),
            "still online on b"
        );
        assert!(presence.is_online(UserId(1)));
        assert!(presence.changed("b", UserId(1), false, now));
        assert!(!presence.is_online(UserId(1)));
    }

    #[test]
    fn a_silent_node_s_users_go_offline() {
        let start = Instant::now();
        let mut presence = RemotePresence::new(Duration::from_secs(10));
        presence.changed("a", UserId(1), true, start);
        presence.changed("a", UserId(2), true, start);
        presence.changed("b", UserId(2), true, start);
        presence.seen("b", start + Duration::from_secs(8));
        assert!(presence.expire(start + Duration::from_secs(9)).is_empty());
        let mut gone = presence.expire(start + Duration::from_secs(11));
        gone.sort_unstable();
        assert_eq!(gone, [UserId(1)], "2 is still on b");
        assert!(presence.is_online(UserId(2)));
        assert!(!presence.knows("a"));
    }

    #[test]
    fn a_full_read_reports_what_changed() {
        let now = Instant::now();
        let mut presence = RemotePresence::new(Duration::from_secs(10));
        presence.changed("a", UserId(1), true, now);
        let changes = presence.replace(HashMap::from([("b".into(), vec![UserId(2)])]), now);
        assert_eq!(changes, [(UserId(1), false), (UserId(2), true)]);
        assert_eq!(presence.forget("b"), [UserId(2)]);
    }
}
