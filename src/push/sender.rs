//! The sender task of a node: in turns, it composes the notifications that are due (into one
//! delivery per device) and sends the due deliveries it could claim, at most
//! `--push-concurrency` in flight per provider, recording each answer: taken (done), device
//! gone (removed), try again (back-off, `Retry-After`) or give up (a log line that says why).
//! It is woken when this node commits a notification, and looks anyway every
//! [`POLL`] for windows that ended, retries and what other nodes left. A turn a commit wakes
//! starts no sooner than [`TURN_GAP`] after the one before: under a steady stream of commits
//! the sender works in one turn what many commits decided, instead of a turn (four store
//! calls) for each commit; a turn that had more to do than it could take goes on at once.
//!
//! Deliveries done with are written off together, at the start of each turn (or as soon as
//! [`FINISH_BATCH`] are waiting): one store write for many instead of one each, since the
//! store's writer is also what commits messages. Until then their lease keeps them from
//! being sent again; a node that dies first sends them again when the lease ends (at least
//! once, as for any crash mid-send).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use super::apns::Apns;
use super::fcm::Fcm;
use super::provider::Answer;
use super::retry::{self, Next};
use super::webpush::WebPush;
use super::PushSettings;
use crate::db::push_queue::{ComposeRules, Delivery};
use crate::db::Store;
use crate::notify::device::DeviceKind;

/// How often the sender looks for due work when not woken, and reads the age of the oldest
/// notification not sent (`palaver_push_oldest_unsent_seconds`).
pub const POLL: Duration = Duration::from_millis(250);
/// Shortest time from one turn's start to the next one's, unless a turn was full.
pub const TURN_GAP: Duration = Duration::from_millis(50);
/// User and room pairs composed a turn.
const COMPOSE_BATCH: i64 = 256;
/// Deliveries done with that wake the sender to write them off before its next turn.
pub const FINISH_BATCH: usize = 256;

/// The providers this node can send with; a kind without one is given up at once.
#[derive(Clone, Default)]
pub struct Providers {
    pub webpush: Option<WebPush>,
    pub fcm: Option<Fcm>,
    pub apns: Option<Apns>,
}

pub struct Sender {
    store: Store,
    settings: PushSettings,
    providers: Providers,
    client: awc::Client,
    wake: Arc<Notify>,
    turns: HashMap<DeviceKind, Arc<Semaphore>>,
    /// Deliveries done with, not yet written off (at most those in flight since the last
    /// turn: bounded by `--push-concurrency` per provider and the turn's length).
    done: RefCell<Vec<i64>>,
    /// Rung when [`FINISH_BATCH`] deliveries are waiting to be written off.
    full: Notify,
}

impl Sender {
    /// `client` makes the providers' requests (outbound HTTPS).
    pub fn new(
        store: Store,
        settings: PushSettings,
        providers: Providers,
        client: awc::Client,
    ) -> Sender {
        let turns = DeviceKind::ALL
            .into_iter()
            .map(|kind| (kind, Arc::new(Semaphore::new(settings.concurrency.max(1)))))
            .collect();
        Sender {
            wake: store.push_wake(),
            store,
            settings,
            providers,
            client,
            turns,
            done: RefCell::new(Vec::new()),
            full: Notify::new(),
        }
    }

    /// Runs until the process ends (on the actix runtime: awc's client lives on it).
    pub async fn run(self) {
        let this = Rc::new(self);
        let mut measured: Option<Instant> = None;
        loop {
            let started = Instant::now();
            this.write_off().await;
            let more = this.compose().await | this.deliver().await;
            if measured.is_none_or(|at| at.elapsed() >= POLL) {
                this.measure().await;
                measured = Some(Instant::now());
            }
            if more {
                // A full turn: more may be due already (a burst), go on.
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = this.full.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
            // Commits made during the gap are the next turn's work, all at once.
            tokio::time::sleep_until((started + TURN_GAP).into()).await;
        }
    }

    /// Composes what is due; true when it took a full batch.
    async fn compose(&self) -> bool {
        let now_ms = crate::clock::now_ms();
        let window_ms = millis(self.settings.coalesce);
        let due = match self
            .store
            .due_notifications(now_ms, window_ms, COMPOSE_BATCH)
            .await
        {
            Ok(due) if due.is_empty() => return false,
            Ok(due) => due,
            Err(err) => {
                log::warn!("notifications: cannot read what is due: {err}");
                return false;
            }
        };
        let mut full = due.len() as i64 >= COMPOSE_BATCH;
        let rules = ComposeRules {
            now_ms,
            window_ms,
            preview: self.settings.preview,
            ttl_ms: millis(self.settings.ttl),
        };
        match self.store.compose_notifications(due, rules).await {
            Ok(done) => {
                // Nothing done (another node holds them): no hurry.
                full &= done.notifications + done.read > 0;
                let metrics = &crate::metrics::METRICS;
                metrics.push_folded.inc_by(done.folded.max(0) as u64);
                metrics.push_read.inc_by(done.read.max(0) as u64);
            }
            Err(err) => log::warn!("notifications: cannot compose: {err}"),
        }
        full
    }

    /// Claims and starts due deliveries; true when it claimed as many as it could take.
    async fn deliver(self: &Rc<Self>) -> bool {
        let free: usize = self
            .turns
            .values()
            .map(|turns| turns.available_permits())
            .min()
            .unwrap_or(0);
        if free == 0 {
            return false;
        }
        let now_ms = crate::clock::now_ms();
        let lease_ms = millis(self.settings.lease());
        let claimed = match self
            .store
            .claim_deliveries(now_ms, lease_ms, free as i64)
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                log::warn!("notifications: cannot claim deliveries: {err}");
                return false;
            }
        };
        let full = claimed.len() >= free;
        for delivery in claimed {
            let this = self.clone();
            actix_web::rt::spawn(async move { this.send(delivery).await });
        }
        full
    }

    /// Sends one delivery and records what became of it.
    async fn send(&self, delivery: Delivery) {
        let kind = match delivery.device.kind() {
            Ok(kind) => kind,
            Err(err) => {
                log::error!("notifications: delivery {}: {err}; given up", delivery.id);
                return self.finish(&delivery);
            }
        };
        let Some(turns) = self.turns.get(&kind).cloned() else {
            return;
        };
        let Ok(_turn) = turns.acquire_owned().await else {
            return;
        };
        let now_ms = crate::clock::now_ms();
        let left = Duration::from_millis(u64::try_from(delivery.expires_ms - now_ms).unwrap_or(0));
        let providers = &self.providers;
        let sending: std::pin::Pin<Box<dyn std::future::Future<Output = Answer>>> =
            match (kind, providers) {
                (
                    DeviceKind::Webpush,
                    Providers {
                        webpush: Some(webpush),
                        ..
                    },
                ) => Box::pin(webpush.send(&self.client, &delivery, left)),
                (DeviceKind::Fcm, Providers { fcm: Some(fcm), .. }) => {
                    Box::pin(fcm.send(&self.client, &delivery, left))
                }
                (
                    DeviceKind::Apns,
                    Providers {
                        apns: Some(apns), ..
                    },
                ) => Box::pin(apns.send(&self.client, &delivery, left)),
                (kind, _) => {
                    let why = format!("{} is not configured on this node", kind.as_str());
                    Box::pin(async move { Answer::Refused { why } })
                }
            };
        let answer = match tokio::time::timeout(self.settings.timeout, sending).await {
            Ok(answer) => answer,
            Err(_) => Answer::unreachable(format!("no answer within {:?}", self.settings.timeout)),
        };
        self.record(kind, &delivery, answer).await;
    }

    async fn record(&self, kind: DeviceKind, delivery: &Delivery, answer: Answer) {
        let metrics = &crate::metrics::METRICS;
        let provider = [kind.as_str()];
        let device = delivery.device.id;
        match answer {
            Answer::Taken => {
                metrics.push_sent.with_label_values(&provider).inc();
                self.finish(delivery);
            }
            Answer::Gone { status } => {
                metrics
                    .push_dropped_devices
                    .with_label_values(&provider)
                    .inc();
                log::info!(
                    "notifications: {} device d_{device} of {} is gone (HTTP {status}); removed",
                    kind.as_str(),
                    delivery.device.user_id
                );
                if let Err(err) = self.store.drop_device(device).await {
                    log::warn!("notifications: cannot remove device d_{device}: {err}");
                }
            }
            Answer::Retry { after, why } => {
                let attempts = delivery.attempts + 1;
                let now_ms = crate::clock::now_ms();
                match retry::next(attempts, after, now_ms, delivery.expires_ms) {
                    Next::At(at) => {
                        metrics.push_retries.with_label_values(&provider).inc();
                        log::debug!(
                            "notifications: delivery {} to d_{device} not taken ({why}); again in {} ms",
                            delivery.id,
                            at - now_ms
                        );
                        if let Err(err) = self.store.retry_delivery(delivery.id, at).await {
                            log::warn!(
                                "notifications: cannot reschedule delivery {}: {err}",
                                delivery.id
                            );
                        }
                    }
                    Next::GiveUp => {
                        metrics.push_failed.with_label_values(&provider).inc();
                        log::warn!(
                            "notifications: gave up delivery {} to {} device d_{device} after {attempts} attempts: its TTL ends before the next ({why})",
                            delivery.id,
                            kind.as_str()
                        );
                        self.finish(delivery);
                    }
                }
            }
            Answer::Refused { why } => {
                metrics.push_failed.with_label_values(&provider).inc();
                log::warn!(
                    "notifications: gave up delivery {} to {} device d_{device}: {why}",
                    delivery.id,
                    kind.as_str()
                );
                self.finish(delivery);
            }
        }
    }

    /// A delivery is done with: written off with the others at the next turn.
    fn finish(&self, delivery: &Delivery) {
        let mut done = self.done.borrow_mut();
        done.push(delivery.id);
        if done.len() == FINISH_BATCH {
            self.full.notify_one();
        }
    }

    /// Writes off, in one store write, the deliveries done with since the last turn.
    async fn write_off(&self) {
        let ids = std::mem::take(&mut *self.done.borrow_mut());
        let count = ids.len();
        if let Err(err) = self.store.finish_deliveries(ids).await {
            // Their leases run out and they are sent again: at least once, never lost.
            log::warn!("notifications: cannot record {count} deliveries as done: {err}");
        }
    }

    async fn measure(&self) {
        let age = match self.store.oldest_unsent_ms().await {
            Ok(Some(oldest)) => (crate::clock::now_ms() - oldest).max(0) as f64 / 1000.0,
            Ok(None) => 0.0,
            Err(_) => return,
        };
        crate::metrics::METRICS.push_oldest_unsent.set(age);
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
