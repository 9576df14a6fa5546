//! The bus's publishing task: everything this node tells the others (events, live
//! connections and presence, heartbeats) comes through one bounded queue and goes to Redis
//! in pipelined batches on a [`ConnectionManager`] that reconnects by itself. A failed batch
//! is dropped and counted; receivers catch up from the store, and a lost write of the live
//! connections marks them stale, for the hub to rewrite in full at its next heartbeat.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redis::aio::ConnectionManager;
use tokio::sync::mpsc;

use super::{connections_key, NODE_EXPIRY, PUBLISH_BATCH};
use crate::cluster::wire::{channel, Envelope, Event};
use crate::model::UserId;

/// What the bus handle queues for the publishing task.
pub(super) enum Outgoing {
    Publish {
        channel: String,
        payload: String,
    },
    /// The user's connections on this node now; `presence`: the first opened or the last
    /// closed.
    Connections {
        user_id: UserId,
        count: usize,
        presence: bool,
    },
    Heartbeat {
        connections: u64,
        rooms: u64,
    },
    /// The node's live connections, rewritten in full (after Redis came back, or a write
    /// of them was lost).
    Rebuild(HashMap<UserId, usize>),
}

pub(super) async fn publish_loop(
    mut conn: ConnectionManager,
    node: String,
    mut outgoing: mpsc::Receiver<Outgoing>,
    stale: Arc<AtomicBool>,
) {
    let key = connections_key(&node);
    let expiry = NODE_EXPIRY.as_secs();
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    // A node starting under a name used before (a restart) begins with no one online.
    let cleared: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut conn).await;
    if let Err(err) = cleared {
        // Rewritten at the hub's next heartbeat after Redis answers.
        log::warn!("bus: cannot clear {key}: {err}");
        stale.store(true, Ordering::Relaxed);
    }
    loop {
        batch.clear();
        if outgoing.recv_many(&mut batch, PUBLISH_BATCH).await == 0 {
            return;
        }
        let mut pipe = redis::pipe();
        let mut events = 0u64;
        let mut writes_connections = false;
        for out in batch.drain(..) {
            match out {
                Outgoing::Publish { channel, payload } => {
                    events += 1;
                    pipe.publish(channel, payload).ignore();
                }
                Outgoing::Connections {
                    user_id,
                    count,
                    presence,
                } => {
                    writes_connections = true;
                    if count > 0 {
                        pipe.hset(&key, user_id.0, count).ignore();
                        pipe.expire(&key, expiry as i64).ignore();
                    } else {
                        pipe.hdel(&key, user_id.0).ignore();
                    }
                    if presence {
                        let event = Envelope {
                            node: node.clone(),
                            event: Event::Presence {
                                user_id,
                                online: count > 0,
                            },
                        };
                        if let Ok(payload) = serde_json::to_string(&event) {
                            pipe.publish(channel::ALL, payload).ignore();
                        }
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
                Outgoing::Rebuild(counts) => {
                    writes_connections = true;
                    pipe.del(&key).ignore();
                    let counts: Vec<(i64, usize)> = counts
                        .into_iter()
                        .filter(|(_, count)| *count > 0)
                        .map(|(UserId(user), count)| (user, count))
                        .collect();
                    if !counts.is_empty() {
                        pipe.hset_multiple(&key, &counts).ignore();
                        pipe.expire(&key, expiry as i64).ignore();
                    }
                }
            }
        }
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => crate::metrics::METRICS.bus_published.inc_by(events),
            Err(err) => {
                if writes_connections {
                    stale.store(true, Ordering::Relaxed);
                }
                crate::metrics::METRICS.bus_dropped.inc_by(events.max(1));
                log::debug!("bus: publish failed (receivers catch up from the store): {err}");
            }
        }
    }
}
