//! The bus's subscribing task: its own pub/sub connection to Redis, the channels this node
//! needs (each routed to one actor), and the reconnect loop. Every event is handed to its
//! actor with `try_send` (mailboxes are bounded); an actor whose mailbox was full, and every
//! actor after a reconnect, gets [`Inbound::Resync`] and reads what it missed from the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};

use super::{Inbound, SubscriptionId, REDIS_TIMEOUT};
use crate::cluster::wire::Envelope;

/// A change to the subscriptions, from the bus handle.
pub(super) enum Command {
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

struct Route {
    id: SubscriptionId,
    recipient: Recipient<Inbound>,
    /// An event could not be handed over: tell the actor to resync at the next chance.
    missed: bool,
}

impl Route {
    fn new(id: SubscriptionId, recipient: Recipient<Inbound>) -> Route {
        Route {
            id,
            recipient,
            missed: false,
        }
    }

    /// Removes `channel`'s route if it is still subscription `id` (a restarted room may
    /// have subscribed anew since); whether it was.
    fn remove(routes: &mut HashMap<String, Route>, channel: &str, id: SubscriptionId) -> bool {
        let current = routes.get(channel).is_some_and(|route| route.id == id);
        if current {
            routes.remove(channel);
        }
        current
    }

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

/// Waits `delay` while Redis is away. Meanwhile subscriptions are recorded, answered "not
/// yet", and made on reconnect. False when the bus is gone (no more commands).
async fn wait_offline(
    delay: Duration,
    commands: &mut mpsc::Receiver<Command>,
    routes: &mut HashMap<String, Route>,
) -> bool {
    let wait = tokio::time::sleep(delay);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            _ = &mut wait => return true,
            command = commands.recv() => match command {
                Some(command) => apply_offline(routes, command),
                None => return false,
            },
        }
    }
}

pub(super) async fn subscribe_loop(
    client: redis::Client,
    node: String,
    mut commands: mpsc::Receiver<Command>,
    connected: Arc<AtomicBool>,
    ping_every: Duration,
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
                if !wait_offline(delay, &mut commands, &mut routes).await {
                    return;
                }
                delay = (delay * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let channels: Vec<&String> = routes.keys().collect();
        let subscribed = channels.is_empty()
            || matches!(
                tokio::time::timeout(REDIS_TIMEOUT * 2, sink.subscribe(channels)).await,
                Ok(Ok(()))
            );
        if !subscribed {
            log::warn!("bus: cannot subscribe after connecting; reconnecting");
            // Backing off as after a failed connect: a Redis that accepts connections but
            // refuses SUBSCRIBE is not asked again at once.
            if !wait_offline(delay, &mut commands, &mut routes).await {
                return;
            }
            delay = (delay * 2).min(Duration::from_secs(2));
            continue;
        }
        delay = Duration::from_millis(100);
        connected.store(true, Ordering::Relaxed);
        log::info!("bus: node {node} subscribed to {} channels", routes.len());
        // Whatever was published while this node was not subscribed is in the store.
        routes.retain(|_, route| route.hand(Inbound::Resync));
        let mut ping = tokio::time::interval(ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                    // On a subscribed RESP2 connection Redis answers PING with the pub/sub
                    // reply `["pong", ""]`, not `+PONG`: any answer is a live connection
                    // (asking for a String made every ping fail, and the bus reconnect
                    // every time).
                    let alive = tokio::time::timeout(
                        REDIS_TIMEOUT,
                        sink.ping::<redis::Value>(),
                    )
                    .await;
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

/// What a subscription change asks of Redis, once it is recorded in `routes`.
enum Change {
    /// Subscribe to a channel no route had (`fresh`), or to one that had one (nothing to
    /// ask); `done` is answered whether it is confirmed.
    Subscribed {
        channel: String,
        fresh: bool,
        done: oneshot::Sender<bool>,
    },
    /// The channel's route went: unsubscribe.
    Unsubscribed(String),
    /// An unsubscribe from a route that is no longer the one asked about.
    Nothing,
}

/// Records a subscription change in `routes`.
fn record(routes: &mut HashMap<String, Route>, command: Command) -> Change {
    match command {
        Command::Subscribe {
            channel,
            route,
            id,
            done,
        } => {
            let fresh = routes
                .insert(channel.clone(), Route::new(id, route))
                .is_none();
            Change::Subscribed {
                channel,
                fresh,
                done,
            }
        }
        Command::Unsubscribe { channel, id } => {
            if Route::remove(routes, &channel, id) {
                Change::Unsubscribed(channel)
            } else {
                Change::Nothing
            }
        }
    }
}

/// Applies a subscription change; false when the connection broke doing it.
async fn apply(
    sink: &mut redis::aio::PubSubSink,
    routes: &mut HashMap<String, Route>,
    command: Command,
) -> bool {
    match record(routes, command) {
        Change::Subscribed {
            channel,
            fresh,
            done,
        } => {
            let ok = !fresh
                || matches!(
                    tokio::time::timeout(REDIS_TIMEOUT, sink.subscribe(&channel)).await,
                    Ok(Ok(()))
                );
            let _ = done.send(ok);
            ok
        }
        Change::Unsubscribed(channel) => matches!(
            tokio::time::timeout(REDIS_TIMEOUT, sink.unsubscribe(&channel)).await,
            Ok(Ok(()))
        ),
        Change::Nothing => true,
    }
}

/// Records a subscription change while Redis is away; a subscribe is answered "not yet"
/// and made on reconnect.
fn apply_offline(routes: &mut HashMap<String, Route>, command: Command) {
    if let Change::Subscribed { done, .. } = record(routes, command) {
        let _ = done.send(false);
    }
}
