//! The cluster's live connections as the admin API counts them: every node's open
//! connections per user (this node's from its own memory, the others' as each keeps them in
//! Redis, see `bus`), added up. Pure arithmetic.

use std::collections::{HashMap, HashSet};

use crate::model::UserId;

/// Open connections per user, on each node.
#[derive(Debug, Default)]
pub struct LiveCounts {
    nodes: Vec<HashMap<UserId, u64>>,
    /// How many of `nodes`, from the front, are this node (0 or 1).
    here: usize,
}

impl LiveCounts {
    /// This node's counts and the other nodes' (by node name).
    pub fn new(here: HashMap<UserId, u64>, others: HashMap<String, HashMap<UserId, u64>>) -> Self {
        let mut nodes = vec![here];
        nodes.extend(others.into_values());
        LiveCounts { nodes, here: 1 }
    }

    /// The user's connections on every node.
    pub fn connections_of(&self, user_id: UserId) -> u64 {
        self.nodes
            .iter()
            .filter_map(|users| users.get(&user_id))
            .sum()
    }

    /// Every connection on every node.
    pub fn connections(&self) -> u64 {
        self.nodes.iter().flat_map(HashMap::values).sum()
    }

    /// Connections on the other nodes.
    pub fn connections_elsewhere(&self) -> u64 {
        self.nodes[self.here..]
            .iter()
            .flat_map(HashMap::values)
            .sum()
    }

    /// Users with a connection on any node, each counted once.
    pub fn users_online(&self) -> usize {
        self.nodes
            .iter()
            .flat_map(|users| users.iter())
            .filter(|(_, count)| **count > 0)
            .map(|(user, _)| *user)
            .collect::<HashSet<UserId>>()
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(i64, u64)]) -> HashMap<UserId, u64> {
        pairs.iter().map(|&(user, n)| (UserId(user), n)).collect()
    }

    #[test]
    fn every_node_adds_up_and_a_user_on_two_nodes_is_online_once() {
        let live = LiveCounts::new(
            counts(&[(1, 1), (2, 2)]),
            HashMap::from([
                ("n2".to_string(), counts(&[(1, 2), (3, 1)])),
                ("n3".to_string(), counts(&[(1, 1)])),
            ]),
        );
        assert_eq!(live.connections_of(UserId(1)), 4);
        assert_eq!(live.connections_of(UserId(2)), 2);
        assert_eq!(live.connections_of(UserId(9)), 0);
        assert_eq!(live.connections(), 7);
        assert_eq!(live.connections_elsewhere(), 4);
        assert_eq!(live.users_online(), 3);
    }

    #[test]
    fn a_single_node_counts_its_own() {
        let live = LiveCounts::new(counts(&[(5, 3)]), HashMap::new());
        assert_eq!((live.connections(), live.connections_elsewhere()), (3, 0));
        assert_eq!(live.users_online(), 1);
        assert_eq!(LiveCounts::default().connections_elsewhere(), 0);
    }
}
