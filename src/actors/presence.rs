//! Who is online: a count of open connections per user on this node, and (in multi-node
//! mode) the users with connections on other live nodes. The hub alone writes it; rooms
//! and handlers read it to fill in `online` on User objects without a round trip.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

#[derive(Clone, Default)]
pub struct Presence {
    connections: Arc<RwLock<HashMap<i64, usize>>>,
    elsewhere: Arc<RwLock<HashSet<i64>>>,
}

impl Presence {
    /// Online on any node.
    pub fn is_online(&self, user_id: i64) -> bool {
        self.is_online_here(user_id)
            || self
                .elsewhere
                .read()
                .map(|users| users.contains(&user_id))
                .unwrap_or(false)
    }

    /// Online on this node.
    pub fn is_online_here(&self, user_id: i64) -> bool {
        self.connections
            .read()
            .map(|counts| counts.contains_key(&user_id))
            .unwrap_or(false)
    }

    /// The users with connections on other live nodes, as the hub last heard.
    pub(crate) fn set_elsewhere(&self, users: HashSet<i64>) {
        if let Ok(mut elsewhere) = self.elsewhere.write() {
            *elsewhere = users;
        }
    }

    /// Users online on this node.
    pub(crate) fn here(&self) -> Vec<i64> {
        self.connections
            .read()
            .map(|counts| counts.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Records a new connection; true when it is the user's first.
    pub(crate) fn connected(&self, user_id: i64) -> bool {
        let Ok(mut counts) = self.connections.write() else {
            return false;
        };
        let count = counts.entry(user_id).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Records a closed connection; true when it was the user's last.
    pub(crate) fn disconnected(&self, user_id: i64) -> bool {
        let Ok(mut counts) = self.connections.write() else {
            return false;
        };
        match counts.get_mut(&user_id) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                counts.remove(&user_id);
                true
            }
            None => false,
        }
    }

    pub fn connections(&self, user_id: i64) -> usize {
        self.connections
            .read()
            .map(|counts| counts.get(&user_id).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::Presence;

    #[test]
    fn first_and_last_connection_flip_online() {
        let presence = Presence::default();
        assert!(presence.connected(1));
        assert!(!presence.connected(1));
        assert!(presence.is_online(1));
        assert!(!presence.disconnected(1));
        assert!(presence.disconnected(1));
        assert!(!presence.is_online(1));
        assert!(!presence.disconnected(1));
    }
}
