//! One soak member: a user with one connection to one room, for the whole run. It
//! (re)connects, joins with `after_seq` = the last seq it has without a gap, pages forwards
//! with `history` after a full page, sends at its pace with a `client_msg_id` and retries a
//! send answered `unavailable` (or cut off by a lost connection) with the same id until it
//! is acked, and drops its connection now and then. A slow consumer stops reading until the
//! server has closed it (4002), then reconnects and catches up the same way. Everything it
//! receives goes into its [`MemberLog`]; its acks are kept for the tally.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use super::frames::{self, ServerFrame, PAGE};
use super::ledger::{self, MemberLog};
use super::timeline::Event;
use super::{Ctx, Phase};
use crate::ws::{self, Ws};

/// Longest wait for the server's answer to a send, join or history before the connection
/// is given up as broken.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connection attempts in a row before the member gives up (with the backoff: minutes).
const CONNECT_TRIES: u32 = 150;
/// `join` or `history` attempts answered `unavailable` before the member gives up.
const READ_TRIES: u32 = 100;
/// How often timers (retries, drops, stalls, the reply watchdog) are looked at.
const TICK: Duration = Duration::from_millis(100);
/// A stalled consumer still sends a `ping` this often, so that the heartbeat does not
/// close it (1000) before its queue overflows (4002).
const STALL_PING: Duration = Duration::from_secs(5);
/// A stalled consumer asks the admin API this often whether it is still connected.
const STALL_CHECK: Duration = Duration::from_secs(1);
/// Receive buffer of a slow consumer's socket, so that it backs up on the server soon.
const SLOW_RECV_BUFFER: u32 = 4096;

/// What a member does besides reading.
#[derive(Clone, Copy, Debug)]
pub enum Role {
    /// Sends one message every `period`, the first at `offset`.
    Sender { period: Duration, offset: Duration },
    /// Reads only, and now and then stops reading until the server closes it.
    Slow,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub index: usize,
    pub user_id: String,
    pub token: String,
    pub room: u64,
    pub role: Role,
    /// Bytes of each message body.
    pub body_size: usize,
}

/// What a member hands back at the end.
pub struct Outcome {
    pub room: u64,
    pub log: MemberLog,
    /// (seq, packed client_msg_id) of every acked send.
    pub acks: Vec<(u64, u64)>,
}

/// Why a connection ended.
enum End {
    Done,
    /// The member dropped it on purpose.
    Dropped,
    /// The server closed it with a close frame (its code).
    Closed(u16),
    /// The socket broke, closed without a close frame, or the server stopped answering.
    Lost(String),
    /// Something that retrying will not fix.
    Fatal(String),
}

/// A send not acked yet.
struct Unacked {
    first_sent: Instant,
    tries: u32,
    /// The request id of the attempt awaiting its answer on this connection.
    in_flight: Option<u64>,
    /// When to try again (after `unavailable`, or on a new connection).
    due: Option<Instant>,
}

/// What a request id was for.
enum Request {
    Send(u32),
    Join,
    History { next: u64, before: u64 },
    Ping,
}

/// The state of one connection.
#[derive(Default)]
struct Session {
    after_seq: u64,
    joined: bool,
    join_tries: u32,
    join_due: Option<Instant>,
    /// Paging forwards: the next seq the fill needs, while a full page is being completed.
    fill: Option<u64>,
    history_tries: u32,
    history_due: Option<Instant>,
    /// The first live event's seq on this connection (a fill stops there).
    first_live: Option<u64>,
    /// A stall of this connection ended with the server having closed it.
    stall_closed: bool,
}

struct Member {
    plan: Plan,
    ctx: Arc<Ctx>,
    log: MemberLog,
    acks: Vec<(u64, u64)>,
    unacked: BTreeMap<u32, Unacked>,
    sent: u32,
    next_id: u64,
    requests: HashMap<u64, (Request, Instant)>,
    rng: fastrand::Rng,
    drop_at: Instant,
    stall_at: Instant,
}

pub async fn run(plan: Plan, ctx: Arc<Ctx>) -> Outcome {
    let rng = fastrand::Rng::with_seed(ctx.seed ^ (plan.index as u64).wrapping_mul(0x9e37_79b9));
    let mut member = Member {
        ctx: ctx.clone(),
        log: MemberLog::default(),
        acks: Vec::new(),
        unacked: BTreeMap::new(),
        sent: 0,
        next_id: 0,
        requests: HashMap::new(),
        rng,
        drop_at: Instant::now(),
        stall_at: Instant::now(),
        plan,
    };
    member.drop_at = member.next_drop();
    member.stall_at = member.next_stall();
    let mut phase = ctx.phase.subscribe();
    let mut sessions = 0u64;
    let gave_up = loop {
        if *phase.borrow() == Phase::Done {
            break None;
        }
        let Some(mut ws) = member.connect(&phase).await else {
            break (*phase.borrow() != Phase::Done)
                .then(|| format!("no connection after {CONNECT_TRIES} tries"));
        };
        if sessions > 0 {
            ctx.counters.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        sessions += 1;
        let mut session = Session::default();
        let end = member.session(&mut ws, &mut session, &mut phase).await;
        ctx.settled[member.plan.index].store(false, Ordering::Relaxed);
        member.ended(&session, &end);
        match end {
            End::Done => {
                let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                break None;
            }
            End::Fatal(why) => break Some(why),
            End::Dropped | End::Closed(_) | End::Lost(_) => {}
        }
    };
    if let Some(why) = &gave_up {
        if ctx.counters.members_gave_up.fetch_add(1, Ordering::Relaxed) < 5 {
            eprintln!("member {} gave up: {why}", member.plan.index);
        }
    }
    Outcome {
        room: member.plan.room,
        log: member.log,
        acks: member.acks,
    }
}

/// `base` times a random factor from 0.5 to 1.5.
fn jitter(rng: &mut fastrand::Rng, base: Duration) -> Duration {
    base.mul_f64(0.5 + rng.f64())
}

/// 100 ms doubling per try, at most 2 s, jittered.
fn backoff(rng: &mut fastrand::Rng, tries: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << tries.clamp(1, 6).saturating_sub(1));
    jitter(rng, Duration::from_millis(ms.min(2000)))
}

fn sender_ticker(role: Role) -> Option<Interval> {
    match role {
        Role::Sender { period, offset } => {
            let mut interval = tokio::time::interval_at(Instant::now() + offset, period);
            // A fixed offered rate: ticks missed while the window is full are skipped.
            interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
            Some(interval)
        }
        Role::Slow => None,
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

impl Member {
    fn next_drop(&mut self) -> Instant {
        Instant::now() + jitter(&mut self.rng, self.ctx.knobs.drop_every)
    }

    fn next_stall(&mut self) -> Instant {
        Instant::now() + jitter(&mut self.rng, self.ctx.knobs.slow_read)
    }

    fn is_slow(&self) -> bool {
        matches!(self.plan.role, Role::Slow)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    async fn connect(&mut self, phase: &watch::Receiver<Phase>) -> Option<Ws> {
        let recv_buffer = self.is_slow().then_some(SLOW_RECV_BUFFER);
        let counters = &self.ctx.counters;
        for attempt in 1..=CONNECT_TRIES {
            if *phase.borrow() == Phase::Done {
                return None;
            }
            let (target, index, token) = (&self.ctx.target, self.plan.index, &self.plan.token);
            match ws::connect_with(target, index, token, CONNECT_TIMEOUT, recv_buffer).await {
                Ok(ws) => return Some(ws),
                Err(err) => {
                    self.ctx.timeline.record(Event::ConnectFailed);
                    if counters.connect_failures.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("connect failed (member {index}): {err:#}");
                    }
                    let wait = backoff(&mut self.rng, attempt);
                    tokio::time::sleep(wait).await;
                }
            }
        }
        None
    }

    /// Counts how the connection ended.
    fn ended(&mut self, session: &Session, end: &End) {
        let counters = &self.ctx.counters;
        let code = match end {
            End::Closed(code) => Some(*code),
            _ => None,
        };
        if code == Some(4002) {
            counters.closes_4002.fetch_add(1, Ordering::Relaxed);
        } else if let End::Closed(code) = end {
            if counters.closes_other.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!(
                    "member {}: closed by the server with {code}",
                    self.plan.index
                );
            }
        }
        if session.stall_closed {
            if code == Some(4002) {
                counters.slow_closed_4002.fetch_add(1, Ordering::Relaxed);
            } else {
                counters
                    .slow_closed_without_4002
                    .fetch_add(1, Ordering::Relaxed);
            }
        } else if let End::Lost(why) = end {
            self.ctx.timeline.record(Event::ConnectionLost);
            if counters.connections_lost.fetch_add(1, Ordering::Relaxed) < 5 {
                eprintln!("member {}: connection lost: {why}", self.plan.index);
            }
        }
        // What was in flight is retried on the next connection, with the same id.
        let now = Instant::now();
        for unacked in self.unacked.values_mut() {
            unacked.in_flight = None;
            unacked.due = Some(now);
        }
        self.requests.clear();
    }

    async fn session(
        &mut self,
        ws: &mut Ws,
        session: &mut Session,
        phase: &mut watch::Receiver<Phase>,
    ) -> End {
        session.after_seq = self.log.watermark();
        self.log.begin(session.after_seq);
        if let Err(end) = self.join(ws, session).await {
            return end;
        }
        let mut sending = sender_ticker(self.plan.role);
        let mut timers = tokio::time::interval(TICK);
        timers.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let running = *phase.borrow() == Phase::Run;
            let result = tokio::select! {
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_text(ws, session, text.as_str()).await,
                    Some(Ok(Message::Close(frame))) => {
                        Err(End::Closed(frame.map(|f| u16::from(f.code)).unwrap_or(u16::from(CloseCode::Status))))
                    }
                    Some(Ok(_)) => Ok(()),
                    Some(Err(err)) => Err(End::Lost(format!("reading: {err}"))),
                    None => Err(End::Lost("closed without a close frame".into())),
                },
                _ = tick(&mut sending), if running && session.joined => self.send_new(ws).await,
                _ = timers.tick() => self.on_timers(ws, session, phase).await,
            };
            if let Err(end) = result {
                return end;
            }
        }
    }

    async fn write(&mut self, ws: &mut Ws, frame: String) -> Result<(), End> {
        ws.send(Message::text(frame))
            .await
            .map_err(|err| End::Lost(format!("writing: {err}")))
    }

    async fn join(&mut self, ws: &mut Ws, session: &mut Session) -> Result<(), End> {
        session.join_tries += 1;
        session.join_due = None;
        let id = self.id();
        self.requests.insert(id, (Request::Join, Instant::now()));
        self.write(ws, frames::join(id, self.plan.room, session.after_seq))
            .await
    }

    async fn history(&mut self, ws: &mut Ws, session: &mut Session) -> Result<(), End> {
        session.history_due = None;
        let Some(next) = session.fill else {
            return Ok(());
        };
        let mut before = next + PAGE;
        if let Some(first_live) = session.first_live {
            before = before.min(first_live);
        }
        if before <= next {
            session.fill = None;
            return Ok(());
        }
        session.history_tries += 1;
        self.ctx
            .counters
            .history_pages
            .fetch_add(1, Ordering::Relaxed);
        let id = self.id();
        self.requests
            .insert(id, (Request::History { next, before }, Instant::now()));
        self.write(ws, frames::history(id, self.plan.room, before))
            .await
    }

    /// A new message, if the window has room.
    async fn send_new(&mut self, ws: &mut Ws) -> Result<(), End> {
        if self.unacked.len() >= self.ctx.knobs.window {
            self.ctx
                .counters
                .sends_skipped
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.sent += 1;
        let n = self.sent;
        self.unacked.insert(
            n,
            Unacked {
                first_sent: Instant::now(),
                tries: 0,
                in_flight: None,
                due: None,
            },
        );
        self.attempt(ws, n).await
    }

    /// Sends message `n` (again), or gives it up after too many tries.
    async fn attempt(&mut self, ws: &mut Ws, n: u32) -> Result<(), End> {
        let max_tries = self.ctx.knobs.max_tries;
        let Some(unacked) = self.unacked.get_mut(&n) else {
            return Ok(());
        };
        if unacked.tries >= max_tries {
            self.unacked.remove(&n);
            self.ctx
                .counters
                .sends_given_up
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        if unacked.tries > 0 {
            self.ctx.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        unacked.tries += 1;
        unacked.due = None;
        self.next_id += 1;
        let id = self.next_id;
        unacked.in_flight = Some(id);
        self.requests.insert(id, (Request::Send(n), Instant::now()));
        let body = crate::wire::body(
            self.ctx.epoch.elapsed().as_micros() as u64,
            self.plan.body_size,
        );
        let cmid = ledger::cmid(self.plan.index, n);
        self.write(ws, frames::send(id, self.plan.room, &body, &cmid))
            .await
    }

    async fn on_timers(
        &mut self,
        ws: &mut Ws,
        session: &mut Session,
        phase: &watch::Receiver<Phase>,
    ) -> Result<(), End> {
        let now = Instant::now();
        let current = *phase.borrow();
        if current == Phase::Done {
            return Err(End::Done);
        }
        if let Some(oldest) = self
            .requests
            .values()
            .filter(|(request, _)| !matches!(request, Request::Ping))
            .map(|(_, sent)| *sent)
            .min()
        {
            if now.duration_since(oldest) > REPLY_TIMEOUT {
                return Err(End::Lost(format!(
                    "no answer for {}s",
                    REPLY_TIMEOUT.as_secs()
                )));
            }
        }
        if session.join_due.is_some_and(|due| now >= due) {
            self.join(ws, session).await?;
        }
        if session.history_due.is_some_and(|due| now >= due) {
            self.history(ws, session).await?;
        }
        if session.joined {
            let due: Vec<u32> = self
                .unacked
                .iter()
                .filter(|(_, unacked)| unacked.in_flight.is_none())
                .filter(|(_, unacked)| unacked.due.is_some_and(|due| now >= due))
                .map(|(n, _)| *n)
                .collect();
            for n in due {
                self.attempt(ws, n).await?;
            }
        }
        if current == Phase::Run && session.joined && session.fill.is_none() {
            if self.is_slow() && now >= self.stall_at {
                self.stall(ws, session, phase).await?;
                self.stall_at = self.next_stall();
            } else if !self.is_slow() && now >= self.drop_at {
                self.drop_at = self.next_drop();
                return Err(self.drop_connection(ws).await);
            }
        }
        let settled = current == Phase::Drain
            && session.joined
            && session.fill.is_none()
            && self.unacked.is_empty();
        self.ctx.settled[self.plan.index].store(settled, Ordering::Relaxed);
        Ok(())
    }

    /// Drops the connection: half the time after a send whose answer it will not wait for,
    /// half the time without a close frame.
    async fn drop_connection(&mut self, ws: &mut Ws) -> End {
        self.ctx.counters.drops.fetch_add(1, Ordering::Relaxed);
        if matches!(self.plan.role, Role::Sender { .. }) && self.rng.bool() {
            let _ = self.send_new(ws).await;
        }
        if self
            .unacked
            .values()
            .any(|unacked| unacked.in_flight.is_some())
        {
            self.ctx
                .counters
                .drops_with_send_in_flight
                .fetch_add(1, Ordering::Relaxed);
        }
        if self.rng.bool() {
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
        }
        End::Dropped
    }

    /// A slow consumer stops reading (it still sends a `ping` now and then) until the admin
    /// API says the server has closed its connection, or the longest stall is over.
    async fn stall(
        &mut self,
        ws: &mut Ws,
        session: &mut Session,
        phase: &watch::Receiver<Phase>,
    ) -> Result<(), End> {
        let counters = &self.ctx.counters;
        counters.slow_stalls.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let mut next_ping = started;
        let mut next_check = started + STALL_CHECK;
        while started.elapsed() < self.ctx.knobs.slow_stall_max && *phase.borrow() == Phase::Run {
            let now = Instant::now();
            if now >= next_ping {
                next_ping = now + STALL_PING;
                let id = self.id();
                self.requests.insert(id, (Request::Ping, now));
                let write = ws.send(Message::text(frames::ping(id)));
                match tokio::time::timeout(Duration::from_secs(2), write).await {
                    Ok(Ok(())) => {}
                    // The server no longer reads: it has closed, or is about to.
                    _ => break,
                }
            }
            if now >= next_check {
                next_check = now + STALL_CHECK;
                if self.user_connections().await == Some(0) {
                    session.stall_closed = true;
                    let secs = started.elapsed().as_secs_f64();
                    self.ctx.counters.record_stall(secs);
                    return Ok(());
                }
            }
            tokio::time::sleep(TICK).await;
        }
        self.ctx
            .counters
            .slow_not_closed
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn user_connections(&self) -> Option<u64> {
        let (admin, user) = (self.ctx.admin.clone(), self.plan.user_id.clone());
        let asked = tokio::task::spawn_blocking(move || admin.user_connections(&user));
        match tokio::time::timeout(Duration::from_secs(5), asked).await {
            Ok(Ok(Ok(count))) => Some(count),
            _ => None,
        }
    }

    async fn on_text(&mut self, ws: &mut Ws, session: &mut Session, text: &str) -> Result<(), End> {
        let frame = match frames::parse(text) {
            Ok(frame) => frame,
            Err(err) => return Err(End::Fatal(format!("{err:#}"))),
        };
        match frame.kind.as_str() {
            "message" => {
                if let Some(message) = frame.message() {
                    if message.room == format!("r_{}", self.plan.room) {
                        session.first_live.get_or_insert(message.seq);
                        self.log
                            .live(message.seq, ledger::pack(message.client_msg_id.as_deref()));
                        self.ctx.counters.deliveries.fetch_add(1, Ordering::Relaxed);
                        self.ctx.note_delivery();
                    } else {
                        self.ctx.counters.foreign.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            }
            "ok" => self.on_ok(ws, session, frame).await,
            "error" => self.on_error(session, frame),
            _ => Ok(()),
        }
    }

    async fn on_ok(
        &mut self,
        ws: &mut Ws,
        session: &mut Session,
        frame: ServerFrame,
    ) -> Result<(), End> {
        let Some((request, _)) = frame.id.and_then(|id| self.requests.remove(&id)) else {
            return Ok(());
        };
        // An `ok` always carries `data` (docs/protocol.md section 2): one without is the
        // server's failure, counted, not taken for an empty answer.
        let Some(data) = frame.data else {
            self.ctx
                .counters
                .ack_mismatch
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        match request {
            Request::Send(n) => {
                let Some(unacked) = self.unacked.remove(&n) else {
                    return Ok(());
                };
                let expected = ledger::cmid(self.plan.index, n);
                match data.message {
                    Some(message)
                        if message.client_msg_id.as_deref() == Some(expected.as_str()) =>
                    {
                        self.acks.push((message.seq, ledger::pack(Some(&expected))));
                        self.ctx.record_ack(unacked.first_sent.elapsed());
                    }
                    _ => {
                        self.ctx
                            .counters
                            .ack_mismatch
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            }
            Request::Join => {
                for message in &data.messages {
                    self.log
                        .page(message.seq, ledger::pack(message.client_msg_id.as_deref()));
                }
                self.log.page_done(data.has_more);
                session.joined = true;
                self.ctx.counters.joins.fetch_add(1, Ordering::Relaxed);
                if data.has_more {
                    self.ctx.counters.catch_ups.fetch_add(1, Ordering::Relaxed);
                    let high = data
                        .messages
                        .iter()
                        .map(|m| m.seq)
                        .max()
                        .unwrap_or(session.after_seq);
                    session.fill = Some(high + 1);
                    self.history(ws, session).await?;
                }
                Ok(())
            }
            Request::History { next, before } => {
                let mut high = None;
                for message in data
                    .messages
                    .iter()
                    .filter(|m| m.seq >= next && m.seq < before)
                {
                    self.log
                        .fill(message.seq, ledger::pack(message.client_msg_id.as_deref()));
                    high = high.max(Some(message.seq));
                }
                let reached_live = session.first_live.is_some_and(|first| before >= first);
                if high == Some(before - 1) && !reached_live {
                    session.fill = Some(before);
                    self.history(ws, session).await?;
                } else {
                    // Filled up to the live stream, or the room has nothing further.
                    session.fill = None;
                }
                Ok(())
            }
            Request::Ping => Ok(()),
        }
    }

    fn on_error(&mut self, session: &mut Session, frame: ServerFrame) -> Result<(), End> {
        let code = frame.code.as_deref().unwrap_or("");
        let retry = matches!(code, "unavailable" | "rate_limited");
        let Some((request, _)) = frame.id.and_then(|id| self.requests.remove(&id)) else {
            self.ctx.timeline.record(Event::OtherError);
            self.ctx
                .counters
                .other_errors
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        };
        let counters = &self.ctx.counters;
        let pause = |rng: &mut fastrand::Rng, tries: u32| match frame.retry_after_ms {
            Some(ms) if code == "rate_limited" => Duration::from_millis(ms),
            _ => backoff(rng, tries),
        };
        match request {
            Request::Send(n) => {
                if !retry {
                    self.unacked.remove(&n);
                    if counters.sends_refused.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("member {}: send refused: {code}", self.plan.index);
                    }
                    return Ok(());
                }
                counters.send_unavailable.fetch_add(1, Ordering::Relaxed);
                self.ctx.timeline.record(Event::SendUnavailable);
                if let Some(unacked) = self.unacked.get_mut(&n) {
                    unacked.in_flight = None;
                    unacked.due = Some(Instant::now() + pause(&mut self.rng, unacked.tries));
                }
                Ok(())
            }
            Request::Join | Request::History { .. } => {
                let is_join = matches!(request, Request::Join);
                let tries = if is_join {
                    session.join_tries
                } else {
                    session.history_tries
                };
                if !retry || tries >= READ_TRIES {
                    return Err(End::Fatal(format!(
                        "{} refused after {tries} tries: {code}",
                        if is_join { "join" } else { "history" }
                    )));
                }
                counters.read_unavailable.fetch_add(1, Ordering::Relaxed);
                self.ctx.timeline.record(Event::ReadUnavailable);
                let due = Some(Instant::now() + pause(&mut self.rng, tries));
                if is_join {
                    session.join_due = due;
                } else {
                    session.history_due = due;
                }
                Ok(())
            }
            Request::Ping => Ok(()),
        }
    }
}
