//! Which users have a connection joined to one room on the other nodes, as this node's room
//! has heard (for notifications: a member joined anywhere is not notified). Each node's room
//! announces its own changes (`Joined`) and answers a newcomer's question (`JoinsWanted`) with
//! its whole set (`Joins`); a node not heard from within the expiry, here or by the hub, is
//! taken as gone with its connections. Pure bookkeeping; the room feeds it bus events.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::model::UserId;

#[derive(Debug)]
pub struct RemoteJoins {
    nodes: HashMap<String, Node>,
    expiry: Duration,
}

#[derive(Debug)]
struct Node {
    users: HashSet<UserId>,
    heard: Instant,
}

impl RemoteJoins {
    pub fn new(expiry: Duration) -> RemoteJoins {
        RemoteJoins {
            nodes: HashMap::new(),
            expiry,
        }
    }

    fn node(&mut self, node: &str, now: Instant) -> &mut Node {
        let entry = self.nodes.entry(node.to_string()).or_insert_with(|| Node {
            users: HashSet::new(),
            heard: now,
        });
        entry.heard = now;
        entry
    }

    /// A user's first connection joined the room on `node`, or their last one left it.
    pub fn changed(&mut self, node: &str, user_id: UserId, joined: bool, now: Instant) {
        let entry = self.node(node, now);
        if joined {
            entry.users.insert(user_id);
        } else {
            entry.users.remove(&user_id);
        }
    }

    /// Everyone joined on `node`, as it answered.
    pub fn replace(&mut self, node: &str, users: Vec<UserId>, now: Instant) {
        self.node(node, now).users = users.into_iter().collect();
    }

    /// The users joined on a node that is alive: heard from within the expiry, or said to
    /// be alive by `live` (the hub's view of the cluster).
    pub fn joined(&self, now: Instant, live: impl Fn(&str) -> bool) -> HashSet<UserId> {
        self.nodes
            .iter()
            .filter(|(name, node)| {
                now.saturating_duration_since(node.heard) < self.expiry || live(name)
            })
            .flat_map(|(_, node)| node.users.iter().copied())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_count_while_their_node_lives() {
        let start = Instant::now();
        let mut joins = RemoteJoins::new(Duration::from_secs(10));
        joins.changed("a", UserId(1), true, start);
        joins.replace("b", vec![UserId(2), UserId(3)], start);
        joins.changed("b", UserId(3), false, start);
        let all = joins.joined(start, |_| false);
        assert_eq!(all, HashSet::from([UserId(1), UserId(2)]));
        let later = start + Duration::from_secs(11);
        assert!(joins.joined(later, |_| false).is_empty(), "both silent");
        assert_eq!(
            joins.joined(later, |node| node == "a"),
            HashSet::from([UserId(1)]),
            "the hub still hears a"
        );
    }
}
