//! Who is online: a count of open connections per user on this node, and (in multi-node
//! mode) the users with connections on other live nodes. The hub alone writes it; rooms
//! and handlers read it to fill in `online` on User objects without a round trip.

use crate::model::UserId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Clone, Default)]
pub struct Presence {
    connections: Arc<RwLock<HashMap<UserId, usize>>>,
    elsewhere: Arc<RwLock<HashSet<UserId>>>,
    /// The other nodes heard from within the expiry, as the hub last saw.
    live_nodes: Arc<RwLock<HashSet<String>>>,
}

/// A lock a thread panicked while holding. Every update of these maps is a single insert,
/// removal or counter step, so what a panicking writer left is still a consistent map:
/// it is used as it stands, and the poisoning is logged (it means a bug elsewhere), never
/// taken for "nobody is online".
fn poisoned<G>(which: &str, err: PoisonError<G>) -> G {
    log::error!(
        "presence: the {which} lock was poisoned by a panicking thread; using it as it stands"
    );
    err.into_inner()
}

fn read<'a, T>(which: &str, lock: &'a RwLock<T>) -> RwLockReadGuard<'a, T> {
    lock.read().unwrap_or_else(|err| poisoned(which, err))
}

fn write<'a, T>(which: &str, lock: &'a RwLock<T>) -> RwLockWriteGuard<'a, T> {
    lock.write().unwrap_or_else(|err| poisoned(which, err))
}

impl Presence {
    /// Online on any node.
    pub fn is_online(&self, user_id: UserId) -> bool {
        self.is_online_here(user_id) || read("elsewhere", &self.elsewhere).contains(&user_id)
    }

    /// Online on this node.
    pub fn is_online_here(&self, user_id: UserId) -> bool {
        read("connections", &self.connections).contains_key(&user_id)
    }

    /// The users with connections on other live nodes, as the hub last heard.
    pub(crate) fn set_elsewhere(&self, users: HashSet<UserId>) {
        *write("elsewhere", &self.elsewhere) = users;
    }

    /// The other nodes that are alive, as the hub heard at its last heartbeat.
    pub(crate) fn set_live_nodes(&self, nodes: HashSet<String>) {
        *write("live nodes", &self.live_nodes) = nodes;
    }

    /// Whether another node is alive, as the hub last heard.
    pub fn is_live_node(&self, node: &str) -> bool {
        read("live nodes", &self.live_nodes).contains(node)
    }

    /// Each user's connections on this node.
    pub fn snapshot(&self) -> HashMap<UserId, usize> {
        read("connections", &self.connections).clone()
    }

    /// Records a new connection; true when it is the user's first.
    pub(crate) fn connected(&self, user_id: UserId) -> bool {
        let mut counts = write("connections", &self.connections);
        let count = counts.entry(user_id).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// Records a closed connection; true when it was the user's last.
    pub(crate) fn disconnected(&self, user_id: UserId) -> bool {
        let mut counts = write("connections", &self.connections);
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

    pub fn connections(&self, user_id: UserId) -> usize {
        read("connections", &self.connections)
            .get(&user_id)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::Presence;
    use crate::model::UserId;

    #[test]
    fn first_and_last_connection_flip_online() {
        let presence = Presence::default();
        assert!(presence.connected(UserId(1)));
        assert!(!presence.connected(UserId(1)));
        assert!(presence.is_online(UserId(1)));
        assert!(!presence.disconnected(UserId(1)));
        assert!(presence.disconnected(UserId(1)));
        assert!(!presence.is_online(UserId(1)));
        assert!(!presence.disconnected(UserId(1)));
    }

    #[test]
    fn a_poisoned_lock_keeps_its_counts() {
        let presence = Presence::default();
        assert!(presence.connected(UserId(1)));
        let shared = presence.clone();
        let panicked = std::thread::spawn(move || {
            let _held = shared.connections.write();
            panic!("poisoning the lock on purpose");
        })
        .join();
        assert!(panicked.is_err());
        assert!(presence.connections.is_poisoned());
        assert!(
            presence.is_online(UserId(1)),
            "a poisoned lock is not \"nobody online\""
        );
        assert_eq!(presence.connections(UserId(1)), 1);
        assert!(!presence.connected(UserId(1)));
        assert_eq!(presence.connections(UserId(1)), 2);
    }
}
