//! How many WebSocket connections one node holds: at most so many per user, per client
//! address and in all (docs/protocol.md section 1, "Connection limits"). A connection takes
//! a [`Slot`] before it is upgraded and gives it back when the slot is dropped (the socket
//! closed); one past a cap is refused with a [`Refused`] that names the cap. Pure: no actor,
//! no I/O; the WebSocket upgrade (`http::ws`) holds the slots.

use crate::model::UserId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The caps, each at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionCaps {
    pub per_user: usize,
    pub per_address: usize,
    pub total: usize,
}

/// Which cap a connection would pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this server holds as many connections as it may ({0}); retry later")]
    Total(usize),
    #[error("this user has {0} connections open, the most one user may; close one first")]
    User(usize),
    #[error(
        "{0} connections are open from this address, the most one address may; close one first"
    )]
    Address(usize),
}

impl Refused {
    /// The cap's name in metrics: `total`, `user` or `address`.
    pub fn cap(&self) -> &'static str {
        match self {
            Refused::Total(_) => "total",
            Refused::User(_) => "user",
            Refused::Address(_) => "address",
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    users: HashMap<UserId, usize>,
    addresses: HashMap<IpAddr, usize>,
}

/// The counts of one node's connections against its caps.
pub struct ConnectionLimits {
    caps: ConnectionCaps,
    counts: Mutex<Counts>,
}

/// One admitted connection; dropping it frees its place under every cap.
pub struct Slot {
    limits: Arc<ConnectionLimits>,
    user: UserId,
    address: Option<IpAddr>,
}

impl ConnectionLimits {
    pub fn new(caps: ConnectionCaps) -> Arc<ConnectionLimits> {
        Arc::new(ConnectionLimits {
            caps,
            counts: Mutex::new(Counts::default()),
        })
    }

    pub fn caps(&self) -> ConnectionCaps {
        self.caps
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Counts are plain integers changed in one step: a panic elsewhere cannot tear them.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more connection of `user` from `address` (`None`: the address is not
    /// known, only the other caps apply), or the cap it would pass. The node's total is
    /// checked first, then the user's, then the address's.
    pub fn admit(self: &Arc<Self>, user: UserId, address: Option<IpAddr>) -> Result<Slot, Refused> {
        let mut counts = self.counts();
        if counts.total >= self.caps.total {
            return Err(Refused::Total(self.caps.total));
        }
        if counts.users.get(&user).copied().unwrap_or(0) >= self.caps.per_user {
            return Err(Refused::User(self.caps.per_user));
        }
        if let Some(address) = address {
            if counts.addresses.get(&address).copied().unwrap_or(0) >= self.caps.per_address {
                return Err(Refused::Address(self.caps.per_address));
            }
            *counts.addresses.entry(address).or_default() += 1;
        }
        *counts.users.entry(user).or_default() += 1;
        counts.total += 1;
        Ok(Slot {
            limits: self.clone(),
            user,
            address,
        })
    }

    /// Connections held now.
    pub fn total(&self) -> usize {
        self.counts().total
    }

    fn release(&self, user: UserId, address: Option<IpAddr>) {
        let mut counts = self.counts();
        counts.total = counts.total.saturating_sub(1);
        decrement(&mut counts.users, user);
        if let Some(address) = address {
            decrement(&mut counts.addresses, address);
        }
    }
}

/// One less for `key`; a key at zero is forgotten, so the maps hold only live connections.
fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: K) {
    if let std::collections::hash_map::Entry::Occupied(mut entry) = map.entry(key) {
        *entry.get_mut() -= 1;
        if *entry.get() == 0 {
            entry.remove();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limits.release(self.user, self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_user: usize, per_address: usize, total: usize) -> Arc<ConnectionLimits> {
        ConnectionLimits::new(ConnectionCaps {
            per_user,
            per_address,
            total,
        })
    }

    fn ip(last: u8) -> Option<IpAddr> {
        Some(IpAddr::from([192, 0, 2, last]))
    }

    #[test]
    fn each_cap_refuses_the_one_past_it_and_a_closed_slot_frees_its_place() {
        let limits = limits(2, 3, 5);
        let first = limits.admit(UserId(1), ip(1)).expect("1st of user 1");
        let _second = limits.admit(UserId(1), ip(1)).expect("2nd of user 1");
        assert_eq!(limits.admit(UserId(1), ip(2)).err(), Some(Refused::User(2)));
        let _third = limits.admit(UserId(2), ip(1)).expect("3rd from address 1");
        assert_eq!(
            limits.admit(UserId(3), ip(1)).err(),
            Some(Refused::Address(3))
        );
        let _fourth = limits.admit(UserId(3), ip(2)).expect("another address");
        let _fifth = limits.admit(UserId(4), None).expect("an unknown address");
        assert_eq!(
            limits.admit(UserId(5), ip(9)).err(),
            Some(Refused::Total(5))
        );
        assert_eq!(limits.total(), 5);
        drop(first);
        assert_eq!(limits.total(), 4);
        assert!(
            limits.admit(UserId(1), ip(1)).is_ok(),
            "user 1 and address 1 have room again"
        );
    }

    #[test]
    fn a_refusal_changes_no_count_and_counts_at_zero_are_forgotten() {
        let limits = limits(1, 1, 10);
        let slot = limits.admit(UserId(7), ip(7)).expect("first");
        assert!(limits.admit(UserId(7), ip(8)).is_err());
        assert!(limits.admit(UserId(8), ip(7)).is_err());
        assert_eq!(limits.total(), 1);
        drop(slot);
        let counts = limits.counts();
        assert!(counts.users.is_empty() && counts.addresses.is_empty() && counts.total == 0);
    }

    #[test]
    fn refusals_name_their_cap() {
        assert!(Refused::User(32)
            .to_string()
            .contains("this user has 32 connections"));
        assert!(Refused::Address(9)
            .to_string()
            .contains("from this address"));
        assert!(Refused::Total(3)
            .to_string()
            .contains("as many connections as it may (3)"));
    }
}
