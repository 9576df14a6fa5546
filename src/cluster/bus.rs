//! The cross-node bus: this node's two connections to Redis and the tasks that drive them,
//! on a small runtime of the bus's own (like the store's), so actors never wait on Redis.
//!
//! - Publishing goes through a bounded queue to one task that pipelines it on a
//!   [`ConnectionManager`] (which reconnects by itself). A full queue or a failed publish
//!   drops the event and counts it: a lost publish costs latency, never data, because each
//!   room also reads the store when it is behind (see `cluster/order.rs`).
//! - Subscribing has its own connection (pub/sub needs one). The subscriber task keeps the
//!   set of channels this node needs (its live rooms, its connected users, the all-nodes
//!   channel), each routed to one actor, and hands every event to that actor without
//!   waiting (`try_send`: the actors' mailboxes are bounded). An actor whose mailbox was
//!   full, and every actor after a reconnect, gets [`Inbound::Resync`]: it reads what it
//!   missed from the store.
//! - Presence: the set of users with connections on this node is kept in Redis under a key
//!   that expires unless the node refreshes it, so a killed node's users go offline.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

use super::wire::{channel, Envelope, Event};

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

enum Command {
    Subscribe {
        channel: String,
        route: Recipient<Inbound>,
        id: SubscriptionId,
        /// Answered once Redis confirmed the subscription (true), or at once while Redis is
        /// away (false: the subscription is made, and the actor resynced, on reconnect).
        done: oneshot::Sender<bool>,
    },
    Unsubscribe {
        channel: String,
        id: SubscriptionId,
    },
}

enum Outgoing {
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

fn presence_key(node: &str) -> String {
    format!("palaver:online:{node}")
}

impl Bus {
    /// Starts the bus for `node`. Redis need not be up yet: the bus connects (and
    /// reconnects) by itself, and cross-node delivery waits until it does.
    pub fn start(url: &str, node: &str) -> Result<Bus, BusError> {
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
        runtime.spawn(publish_loop(publisher, node.to_string(), outgoing_rx));
        runtime.spawn(subscribe_loop(
            client,
            node.to_string(),
            commands_rx,
            connected.clone(),
        ));
        Ok(Bus {
            inner: Arc::new(Inner {
                node: node.to_string(),
                outgoing,
                commands,
                queries,
                connected,
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

    /// Records that `user_id` has (or no longer has) a connection on this node.
    pub fn set_online(&self, user_id: i64, online: bool) {
        self.queue(Outgoing::Online { user_id, online });
    }

    /// Says this node is alive (every [`HEARTBEAT`], from the hub) and refreshes its
    /// presence key.
    pub fn alive(&self, connections: u64, rooms: u64) {
        self.queue(Outgoing::Heartbeat { connections, rooms });
    }

    /// Writes this node's presence set anew (after Redis lost it).
    pub fn rebuild_online(&self, users: Vec<i64>) {
        self.queue(Outgoing::Rebuild(users));
    }

    fn queue(&self, outgoing: Outgoing) {
        if self.inner.outgoing.try_send(outgoing).is_err() {
            crate::metrics::METRICS.bus_dropped.inc();
        }
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

    /// Every node's presence set as Redis holds it now.
    pub async fn online_sets(&self) -> Result<HashMap<String, Vec<i64>>, BusError> {
        let mut conn = self.inner.queries.clone();
        let work = async move {
            let mut keys: Vec<String> = Vec::new();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(presence_key("*"))
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
            let mut sets = HashMap::new();
            for key in keys {
                let users: Vec<i64> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await?;
                let node = key.trim_start_matches(&presence_key("")).to_string();
                sets.insert(node, users);
            }
            Ok::<_, BusError>(sets)
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

async fn publish_loop(
    mut conn: ConnectionManager,
    node: String,
    mut outgoing: mpsc::Receiver<Outgoing>,
) {
    let key = presence_key(&node);
    let expiry = NODE_EXPIRY.as_secs();
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    // A node starting under a name used before (a restart) begins with no one online.
    let _: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut conn).await;
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

struct Route {
    id: SubscriptionId,
    recipient: Recipient<Inbound>,
    /// An event could not be handed over: tell the actor to resync at the next chance.
    missed: bool,
}

impl Route {
    fn hand(&mut self, inbound: Inbound) -> bool {
        if self.missed {
            match self.recipient.try_send(Inbound::Resync) {
                Ok(()) => self.missed = false,
                Err(SendError::Full(_)) => return true,
                Err(SendError::Closed(_)) => return false,
            }
        }
        match self.recipient.try_send(inbound) {
            Ok(()) => true,
            Err(SendError::Full(_)) => {
                crate::metrics::METRICS.bus_resyncs.inc();
                self.missed = true;
                true
            }
            Err(SendError::Closed(_)) => false,
        }
    }
}

async fn subscribe_loop(
    client: redis::Client,
    node: String,
    mut commands: mpsc::Receiver<Command>,
    connected: Arc<AtomicBool>,
) {
    let mut routes: HashMap<String, Route> = HashMap::new();
    let mut delay = Duration::from_millis(100);
    let mut first = true;
    loop {
        let pubsub = match tokio::time::timeout(REDIS_TIMEOUT, client.get_async_pubsub()).await {
            Ok(Ok(pubsub)) => pubsub,
            failed => {
                if first {
                    let why = match failed {
                        Ok(Err(err)) => err.to_string(),
                        _ => "timed out".into(),
                    };
                    log::warn!(
                        "bus: Redis not reachable ({why}); retrying, cross-node delivery waits"
                    );
                    first = false;
                }
                // Meanwhile subscriptions are recorded, answered "not yet", and made on reconnect.
                let wait = tokio::time::sleep(delay);
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        _ = &mut wait => break,
                        command = commands.recv() => match command {
                            Some(command) => apply_offline(&mut routes, command),
                            None => return,
                        },
                    }
                }
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        delay = Duration::from_millis(100);
        let (mut sink, mut stream) = pubsub.split();
        let channels: Vec<&String> = routes.keys().collect();
        let subscribed = channels.is_empty()
            || matches!(
                tokio::time::timeout(REDIS_TIMEOUT * 2, sink.subscribe(channels)).await,
                Ok(Ok(()))
            );
        if !subscribed {
            log::warn!("bus: cannot subscribe after connecting; reconnecting");
            continue;
        }
        connected.store(true, Ordering::Relaxed);
        log::info!("bus: node {node} subscribed to {} channels", routes.len());
        // Whatever was published while this node was not subscribed is in the store.
        routes.retain(|_, route| route.hand(Inbound::Resync));
        let mut ping = tokio::time::interval(HEARTBEAT);
        ping.tick().await;
        loop {
            tokio::select! {
                message = stream.next() => {
                    let Some(message) = message else { break };
                    dispatch(&node, &mut routes, &message);
                }
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    if !apply(&mut sink, &mut routes, command).await {
                        break;
                    }
                }
                _ = ping.tick() => {
                    let alive = tokio::time::timeout(REDIS_TIMEOUT, sink.ping::<String>()).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        connected.store(false, Ordering::Relaxed);
        crate::metrics::METRICS.bus_reconnects.inc();
        log::warn!(
            "bus: lost the Redis subscription; reconnecting, then catching up from the store"
        );
    }
}

fn dispatch(node: &str, routes: &mut HashMap<String, Route>, message: &redis::Msg) {
    let name = message.get_channel_name();
    let envelope: Envelope = match serde_json::from_slice(message.get_payload_bytes()) {
        Ok(envelope) => envelope,
        Err(err) => {
            log::warn!("bus: unreadable event on {name}: {err}");
            return;
        }
    };
    if envelope.node == node {
        return;
    }
    crate::metrics::METRICS.bus_received.inc();
    let Some(route) = routes.get_mut(name) else {
        return;
    };
    if !route.hand(Inbound::Event(envelope)) {
        routes.remove(name);
    }
}

/// Applies a subscription change; false when the connection broke doing it.
async fn apply(
    sink: &mut redis::aio::PubSubSink,
    routes: &mut HashMap<String, Route>,
    command: Command,
) -> bool {
    match command {
        Command::Subscribe {
            channel,
            route,
            id,
            done,
        } => {
            let fresh = !routes.contains_key(&channel);
            routes.insert(
                channel.clone(),
                Route {
                    id,
                    recipient: route,
                    missed: false,
                },
            );
            let ok = !fresh
                || matches!(
                    tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(&channel)).await,
                    Ok(Ok(()))
                );
            let _ = done.send(ok);
            ok
        }
        Command::Unsubscribe { channel, id } => {
            if routes.get(&channel).is_some_and(|route| route.id == id) {
                routes.remove(&channel);
                return matches!(
                    tokio::time::timeout(REDIS_TIMEOUT, sink.unsubscribe(&channel)).await,
                    Ok(Ok(()))
                );
            }
            true
        }
    }
}

fn apply_offline(routes: &mut HashMap<String, Route>, command: Command) {
    match command {
        Command::Subscribe {
            channel,
            route,
            id,
            done,
        } => {
            routes.insert(
                channel,
                Route {
                    id,
                    recipient: route,
                    missed: false,
                },
            );
            let _ = done.send(false);
        }
        Command::Unsubscribe { channel, id } => {
            if routes.get(&channel).is_some_and(|route| route.id == id) {
                routes.remove(&channel);
            }
        }
    }
}
