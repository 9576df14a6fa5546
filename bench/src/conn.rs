//! One benchmark connection as a task: connect, join its room, then until the run is done
//! read every frame (acks, deliveries) and, if it is a sender, send at its pace.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{Phase, Recorder, Shared};
use crate::track::SeqTracker;
use crate::wire;
use crate::ws::{self, Target, Ws};

/// How a sender paces itself.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// One send every `period`, first at `offset` (spreads senders over the period).
    Fixed { period: Duration, offset: Duration },
    /// As fast as replies allow.
    AsFastAsAcked,
}

/// What one connection does.
#[derive(Clone, Debug)]
pub struct Plan {
    pub index: usize,
    pub token: String,
    pub room: u64,
    /// Some for the room's senders.
    pub pace: Option<Pace>,
    /// Sends awaiting their reply at most.
    pub window: usize,
    pub body_size: usize,
}

/// What a connection saw, for the end-of-run tally.
pub struct Outcome {
    pub room: u64,
    pub tracker: SeqTracker,
    /// Message events for a room this connection did not join.
    pub foreign: u64,
    /// The connection ended before the run did.
    pub broke: bool,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects and joins; `None` when that failed (already reported as a failure).
pub async fn open(plan: &Plan, target: &Target) -> Result<Ws> {
    let mut ws = ws::connect(target, plan.index, &plan.token, CONNECT_TIMEOUT).await?;
    ws::send_text(&mut ws, wire::join(plan.room)).await?;
    let joined = tokio::time::timeout(CONNECT_TIMEOUT, async {
        while let Some(frame) = ws.next().await {
            if let Message::Text(text) = frame? {
                let incoming = wire::parse(text.as_str())?;
                match incoming.kind.as_ref() {
                    "ok" => return Ok(()),
                    "error" => bail!("join r_{} refused: {:?}", plan.room, incoming.code),
                    _ => {}
                }
            }
        }
        bail!("closed while joining")
    })
    .await;
    joined.context("timed out joining")??;
    Ok(ws)
}

/// Runs an open connection until the run is done.
pub async fn drive(plan: Plan, mut ws: Ws, shared: Arc<Shared>) -> Outcome {
    let mut conn = Conn {
        plan,
        recorder: Recorder::new(shared.clone()),
        inflight: VecDeque::new(),
        next_id: 0,
        outcome: Outcome {
            room: 0,
            tracker: SeqTracker::default(),
            foreign: 0,
            broke: false,
        },
    };
    conn.outcome.room = conn.plan.room;
    if let Err(err) = conn.run(&mut ws, &shared).await {
        log_break(&shared, &err);
        conn.outcome.broke = true;
    }
    let _ = ws.close(None).await;
    conn.recorder.flush();
    conn.outcome
}

fn log_break(shared: &Shared, err: &anyhow::Error) {
    if shared.phase() < Phase::Done {
        eprintln!("connection broke: {err:#}");
    }
}

struct Conn {
    plan: Plan,
    recorder: Recorder,
    /// Send times of the sends awaiting their reply, oldest first (replies come in order).
    inflight: VecDeque<u64>,
    next_id: u64,
    outcome: Outcome,
}

fn ticker(pace: Option<Pace>) -> Option<Interval> {
    match pace {
        Some(Pace::Fixed { period, offset }) => {
            let mut interval = tokio::time::interval_at(Instant::now() + offset, period);
            // Open loop: a tick missed while this task was not running (a busy machine) is
            // sent late rather than silently dropped, so the offered rate is the rate asked
            // for; only a full window skips a send, and that is counted.
            interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
            Some(interval)
        }
        _ => None,
    }
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn run(&mut self, ws: &mut Ws, shared: &Arc<Shared>) -> Result<()> {
        let mut phase_rx = shared.watch_phase();
        let is_sender = self.plan.pace.is_some();
        let greedy = matches!(self.plan.pace, Some(Pace::AsFastAsAcked));
        let mut interval: Option<Interval> = None;
        let mut finished_sending = false;
        loop {
            let phase = *phase_rx.borrow_and_update();
            if phase == Phase::Done {
                return Ok(());
            }
            let sending = is_sender && matches!(phase, Phase::Warmup | Phase::Measure);
            if sending && interval.is_none() {
                interval = ticker(self.plan.pace);
            }
            if is_sender && phase >= Phase::Drain && self.inflight.is_empty() && !finished_sending {
                finished_sending = true;
                shared.senders_busy.fetch_sub(1, Ordering::Relaxed);
            }
            if sending && greedy && self.inflight.len() < self.plan.window {
                while self.inflight.len() < self.plan.window {
                    let frame = self.next_send();
                    ws.feed(Message::text(frame)).await?;
                }
                ws.flush().await?;
            }
            tokio::select! {
                changed = phase_rx.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                }
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str())?,
                    Some(Ok(Message::Close(reason))) => bail!("closed by the server: {reason:?}"),
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return Err(err).context("reading"),
                    None => bail!("connection closed"),
                },
                _ = tick(&mut interval), if sending && !greedy => {
                    if self.inflight.len() < self.plan.window {
                        let frame = self.next_send();
                        ws.send(Message::text(frame)).await?;
                    } else {
                        shared.sends_skipped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    fn next_send(&mut self) -> String {
        let now = self.recorder.shared().now_us();
        self.next_id += 1;
        self.inflight.push_back(now);
        wire::send(
            self.next_id,
            self.plan.room,
            &wire::body(now, self.plan.body_size),
        )
    }

    fn on_text(&mut self, text: &str) -> Result<()> {
        let incoming = wire::parse(text)?;
        match incoming.kind.as_ref() {
            "ok" => {
                if let Some(sent) = self.inflight.pop_front() {
                    let now = self.recorder.shared().now_us();
                    self.recorder.ack(now.saturating_sub(sent));
                }
            }
            "error" => {
                self.inflight.pop_front();
                let shared = self.recorder.shared();
                if shared.send_errors.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("send refused: {text}");
                }
            }
            "message" => {
                let message = incoming.message()?;
                let room = wire::room_number(&message.room)?;
                if room != self.plan.room {
                    self.outcome.foreign += 1;
                    return Ok(());
                }
                self.outcome.tracker.saw(message.seq);
                let sent = wire::body_time(&message.body)?;
                let now = self.recorder.shared().now_us();
                self.recorder.delivery(now.saturating_sub(sent));
            }
            _ => {}
        }
        Ok(())
    }
}
