//! The cross-node bus: this node's two connections to Redis and the tasks that drive them,
//! on a small runtime of the bus's own (like the store's), so actors never wait on Redis.
//!
//! - Publishing goes through a bounded queue to one task that pipelines it on a
//!   [`ConnectionManager`] (which reconnects by itself). A full queue or a failed publish
//!   drops the event and counts it: a lost publish costs latency, never data, because each
//!   room also reads the store when it is behind (see `posting/order.rs`).
//! - Subscribing has its own connection (pub/sub needs one). The subscriber task keeps the
//!   set of channels this node needs (its live rooms, its connected users, the all-nodes
//!   channel), each routed to one actor, and hands every event to that actor without
//!   waiting (`try_send`: the actors' mailboxes are bounded). An actor whose mailbox was
//!   full, and every actor after a reconnect, gets [`Inbound::Resync`]: it reads what it
//!   missed from the store.
//! - Live connections: how many connections each user has on this node is kept in Redis
//!   under a key of the node's (a hash), written as they open and close and rewritten in
//!   full after a write was lost; it expires unless the node refreshes it, so a killed
//!   node's users go offline. Its users are the node's presence; its counts are what the
//!   admin API adds up across nodes.
//!
//! This file is the handle ([`Bus`]) and what it shares with the two tasks, `publish.rs`
//! and `subscribe.rs`.

mod publish;
mod subscribe;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

use self::publish::{publish_loop, Outgoing};
use self::subscribe::{subscribe_loop, Command};
use super::wire::{Envelope, Event};
use crate::model::UserId;

/// Events queued for publishing before new ones are dropped (and counted).
const PUBLISH_QUEUE: usize = 8192;
/// Most events one Redis round trip carries.
const PUBLISH_BATCH: usize = 256;
/// Subscription changes waiting for the subscriber task.
const COMMAND_QUEUE: usize = 4096;
/// How often the node says it is alive and refreshes its presence key (the hub's timer).
pub const HEARTBEAT: Duration = Duration::from_secs(3);
/// A node not heard from for this long is taken as gone; its presence key expires too.
pub const NODE_EXPIRY: Duration = Duration::from_secs(10);
/// Time a Redis command may take before the connection is taken as broken.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How the bus runs; [`BusOptions::default`] is what a node uses unless told otherwise.
#[derive(Clone, Copy, Debug)]
pub struct BusOptions {
    /// How often the subscribing connection is checked with a `PING`: one not answered
    /// within [`REDIS_TIMEOUT`] reconnects (and every subscriber resyncs from the store).
    pub ping_every: Duration,
}

impl Default for BusOptions {
    fn default() -> Self {
        BusOptions {
            ping_every: HEARTBEAT,
        }
    }
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bad --redis-url: {0}")]
    Url(redis::RedisError),
    #[error("cannot start the bus runtime: {0}")]
    Runtime(std::io::Error),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the bus is shut down")]
    Stopped,
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
}

/// What the bus hands to the actor that subscribed a channel.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum Inbound {
    /// An event another node published on the channel, with the name of that node.
    Event(Envelope),
    /// Events on the channel may have been missed (Redis reconnected, or the actor's
    /// mailbox was full): catch up from the store.
    Resync,
}

/// A subscription's handle, to unsubscribe exactly it (a restarted room subscribes anew
/// before its predecessor's unsubscribe could arrive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionId(u64);

/// A node's handle on the bus; cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    node: String,
    outgoing: mpsc::Sender<Outgoing>,
    commands: mpsc::Sender<Command>,
    queries: ConnectionManager,
    connected: Arc<AtomicBool>,
    /// A write of this node's live connections was lost: rewrite them in full.
    stale: Arc<AtomicBool>,
    next_id: AtomicU64,
    runtime: Runtime,
}

/// Owns the bus runtime; shuts it down without blocking, which is allowed anywhere.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The Redis hash of `node`'s live connections: user id to count.
fn connections_key(node: &str) -> String {
    format!("palaver:connections:{node}")
}

impl Bus {
    /// Starts the bus for `node` with the default options. Redis need not be up yet: the
    /// bus connects (and reconnects) by itself, and cross-node delivery waits until it does.
    pub fn start(url: &str, node: &str) -> Result<Bus, BusError> {
        Bus::start_with(url, node, BusOptions::default())
    }

    /// [`Bus::start`] with `options`.
    pub fn start_with(url: &str, node: &str, options: BusOptions) -> Result<Bus, BusError> {
        let client = redis::Client::open(url).map_err(BusError::Url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("palaver-bus")
            .enable_all()
            .build()
            .map_err(BusError::Runtime)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(2);
        let (publisher, queries) = {
            let _entered = runtime.enter();
            (
                ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?,
                ConnectionManager::new_lazy_with_config(client.clone(), config)?,
            )
        };
        let (outgoing, outgoing_rx) = mpsc::channel(PUBLISH_QUEUE);
        let (commands, commands_rx) = mpsc::channel(COMMAND_QUEUE);
        let connected = Arc::new(AtomicBool::new(false));
        let stale = Arc::new(AtomicBool::new(false));
        runtime.spawn(publish_loop(
            publisher,
            node.to_string(),
            outgoing_rx,
            stale.clone(),
        ));
        runtime.spawn(subscribe_loop(
            client,
            node.to_string(),
            commands_rx,
            connected.clone(),
            options.ping_every,
        ));
        Ok(Bus {
            inner: Arc::new(Inner {
                node: node.to_string(),
                outgoing,
                commands,
                queries,
                connected,
                stale,
                next_id: AtomicU64::new(1),
                runtime: Runtime(Some(runtime)),
            }),
        })
    }

    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Whether the subscriber connection is up (for health and metrics).
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Relaxed)
    }

    /// Publishes `event` on `channel` without waiting; dropped (and counted) if the queue
    /// is full.
    pub fn publish(&self, channel: String, event: Event) {
        let envelope = Envelope {
            node: self.inner.node.clone(),
            event,
        };
        let payload = match serde_json::to_string(&envelope) {
            Ok(payload) => payload,
            Err(err) => {
                log::error!("bus: cannot encode an event for {channel}: {err}");
                return;
            }
        };
        self.queue(Outgoing::Publish { channel, payload });
    }

    /// Records that `user_id` has `count` connections on this node now; `presence`: the
    /// first opened or the last closed (the other nodes are told).
    pub fn set_connections(&self, user_id: UserId, count: usize, presence: bool) {
        let queued = self.queue(Outgoing::Connections {
            user_id,
            count,
            presence,
        });
        if !queued {
            self.inner.stale.store(true, Ordering::Relaxed);
        }
    }

    /// Says this node is alive (every [`HEARTBEAT`], from the hub) and refreshes its
    /// presence key.
    pub fn alive(&self, connections: u64, rooms: u64) {
        self.queue(Outgoing::Heartbeat { connections, rooms });
    }

    /// Writes this node's live connections anew (after Redis lost them, or a write of
    /// them was lost).
    pub fn rebuild_connections(&self, counts: HashMap<UserId, usize>) {
        self.inner.stale.store(false, Ordering::Relaxed);
        if !self.queue(Outgoing::Rebuild(counts)) {
            self.inner.stale.store(true, Ordering::Relaxed);
        }
    }

    /// Whether a write of this node's live connections was lost since the last rebuild.
    pub fn connections_stale(&self) -> bool {
        self.inner.stale.load(Ordering::Relaxed)
    }

    /// Queues for the publishing task; false (counted) when the queue is full.
    fn queue(&self, outgoing: Outgoing) -> bool {
        let queued = self.inner.outgoing.try_send(outgoing).is_ok();
        if !queued {
            crate::metrics::METRICS.bus_dropped.inc();
        }
        queued
    }

    /// Subscribes `route` to `channel`; resolves once Redis confirmed it (true) or, while
    /// Redis is away, at once (false). Subscribe before reading the store: whatever is
    /// committed after the read then arrives on the channel.
    pub async fn subscribe(
        &self,
        channel: String,
        route: Recipient<Inbound>,
    ) -> (SubscriptionId, bool) {
        let id = SubscriptionId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let (done, confirmed) = oneshot::channel();
        let command = Command::Subscribe {
            channel,
            route,
            id,
            done,
        };
        if self.inner.commands.send(command).await.is_err() {
            return (id, false);
        }
        (id, confirmed.await.unwrap_or(false))
    }

    pub fn unsubscribe(&self, channel: String, id: SubscriptionId) {
        if self
            .inner
            .commands
            .try_send(Command::Unsubscribe { channel, id })
            .is_err()
        {
            log::warn!("bus: subscription queue full; an unsubscribe waits for a reconnect");
        }
    }

    /// Every node's live connections as Redis holds them now: node name to user id to
    /// count.
    pub async fn connection_counts(
        &self,
    ) -> Result<HashMap<String, HashMap<UserId, u64>>, BusError> {
        let mut conn = self.inner.queries.clone();
        let work = async move {
            let mut keys: Vec<String> = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(connections_key("*"))
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut conn)
                    .await?;
                keys.extend(batch);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
            let mut nodes = HashMap::new();
            for key in keys {
                let counts: HashMap<i64, u64> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await?;
                let node = key.trim_start_matches(&connections_key("")).to_string();
                let counts = counts.into_iter().map(|(user, n)| (UserId(user), n));
                nodes.insert(node, counts.collect());
            }
            Ok::<_, BusError>(nodes)
        };
        self.on_runtime(work).await
    }

    /// Runs `work` on the bus runtime (where the Redis connections live), bounded in time.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, BusError>> + Send + 'static,
    ) -> Result<T, BusError> {
        let Some(runtime) = self.inner.runtime.0.as_ref() else {
            return Err(BusError::Stopped);
        };
        let limit = REDIS_TIMEOUT * 4;
        let task = runtime.spawn(async move {
            tokio::time::timeout(limit, work)
                .await
                .map_err(|_| BusError::Timeout(limit))?
        });
        task.await.map_err(|_| BusError::Stopped)?
    }
}
