//! The bus's publishing task: everything this node tells the others (events, presence,
//! heartbeats) comes through one bounded queue and goes to Redis in pipelined batches on a
//! [`ConnectionManager`] that reconnects by itself. A failed batch is dropped and counted;
//! receivers catch up from the store.

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::{presence_key, NODE_EXPIRY, PUBLISH_BATCH};
use crate::cluster::wire::{channel, Envelope, Event};

/// What the bus handle queues for the publishing task.
pub(super) enum Outgoing {
    Publish {
        channel: String,
        payload: String,
    },
    Online {
        user_id: i64,
        online: bool,
    },
    Heartbeat {
        connections: u64,
        rooms: u64,
    },
    /// After Redis came back: the node's presence set, rebuilt in full.
    Rebuild(Vec<i64>),
}

pub(super) async fn publish_loop(
    mut conn: ConnectionManager,
    node: String,
    mut outgoing: mpsc::Receiver<Outgoing>,
) {
    let key = presence_key(&node);
    let expiry = NODE_EXPIRY.as_secs();
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    // A node starting under a name used before (a restart) begins with no one online.
    let cleared: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut conn).await;
    if let Err(err) = cleared {
        // The old set then stays until it expires (NODE_EXPIRY): users of the last run
        // may show online that long.
        log::warn!("bus: cannot clear {key}: {err}");
    }
    loop {
        batch.clear();
        if outgoing.recv_many(&mut batch, PUBLISH_BATCH).await == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        let mut events = 0u64;
        for out in batch.drain(..) {
            match out {
                Outgoing::Publish { channel, payload } => {
                    events += 1;
                    pipe.publish(channel, payload).ignore();
                }
                Outgoing::Online { user_id, online } => {
                    if online {
                        pipe.sadd(&key, user_id).ignore();
                        pipe.expire(&key, expiry as i64).ignore();
                    } else {
                        pipe.srem(&key, user_id).ignore();
                    }
                    let event = Envelope {
                        node: node.clone(),
                        event: Event::Presence { user_id, online },
                    };
                    if let Ok(payload) = serde_json::to_string(&event) {
                        pipe.publish(channel::ALL, payload).ignore();
                    }
                }
                Outgoing::Heartbeat { connections, rooms } => {
                    pipe.expire(&key, expiry as i64).ignore();
                    let event = Envelope {
                        node: node.clone(),
                        event: Event::Alive { connections, rooms },
                    };
                    if let Ok(payload) = serde_json::to_string(&event) {
                        pipe.publish(channel::ALL, payload).ignore();
                    }
                }
                Outgoing::Rebuild(users) => {
                    pipe.del(&key).ignore();
                    if !users.is_empty() {
                        pipe.sadd(&key, users).ignore();
                        pipe.expire(&key, expiry as i64).ignore();
                    }
                }
            }
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => crate::metrics::METRICS.bus_published.inc_by(events),
            Err(err) => {
                crate::metrics::METRICS.bus_dropped.inc_by(events.max(1));
                log::debug!("bus: publish failed (receivers catch up from the store): {err}");
            }
        }
    }
}
