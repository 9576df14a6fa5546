//! The soak run: minutes of mixed traffic at a modest fixed rate (direct rooms and groups),
//! with every connection dropping and resuming now and then, slow consumers that stall
//! until the server closes them (4002), and sends retried with their `client_msg_id` through
//! whatever the store does meanwhile (the scenario script restarts PostgreSQL under it).
//! The server's RSS and CPU are sampled throughout. At the end every acked message is
//! checked against what each member of its room received, live or by resuming, and the
//! report gives lost, duplicated and out-of-order counts, retries, reconnects, 4002 closes,
//! the RSS samples and their slope, ack latency, and the windows in which clients saw errors.

mod frames;
mod ledger;
mod member;
mod samples;
mod timeline;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio::sync::watch;

use crate::admin::Admin;
use crate::cli::{Common, SoakArgs};
use crate::load::round;
use crate::procstat;
use crate::report::{latency_fields, Report};
use crate::ws::Target;
use ledger::{RoomAcks, Tally};
use member::{Outcome, Plan, Role};
use samples::Sample;
use timeline::{Event, Timeline};

/// Where the run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Traffic, drops and stalls.
    Run,
    /// No new sends, drops or stalls: retries finish, everyone reconnects and catches up.
    Drain,
    Done,
}

/// Body size of a direct message, in bytes.
const DIRECT_BODY_SIZE: usize = 32;
/// Connections opened per second at the start.
const RAMP_PER_S: f64 = 200.0;
/// The drain is over once no delivery came for this long and every member settled.
const QUIET: Duration = Duration::from_secs(3);
/// Longest wait for the member tasks to hand back their logs once told to stop.
const COLLECT_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_LATENCY_US: u64 = 600_000_000;

pub struct Knobs {
    pub window: usize,
    pub max_tries: u32,
    pub drop_every: Duration,
    pub slow_read: Duration,
    pub slow_stall_max: Duration,
}

/// Counters every member adds to.
#[derive(Default)]
pub struct Counters {
    pub acks: AtomicU64,
    pub retries: AtomicU64,
    pub send_unavailable: AtomicU64,
    pub read_unavailable: AtomicU64,
    pub sends_refused: AtomicU64,
    pub sends_given_up: AtomicU64,
    pub sends_skipped: AtomicU64,
    pub ack_mismatch: AtomicU64,
    pub other_errors: AtomicU64,
    pub drops: AtomicU64,
    pub drops_with_send_in_flight: AtomicU64,
    pub reconnects: AtomicU64,
    pub connections_lost: AtomicU64,
    pub connect_failures: AtomicU64,
    pub closes_4002: AtomicU64,
    pub closes_other: AtomicU64,
    pub joins: AtomicU64,
    pub catch_ups: AtomicU64,
    pub history_pages: AtomicU64,
    pub slow_stalls: AtomicU64,
    pub slow_closed_4002: AtomicU64,
    pub slow_closed_without_4002: AtomicU64,
    pub slow_not_closed: AtomicU64,
    pub deliveries: AtomicU64,
    pub foreign: AtomicU64,
    pub members_gave_up: AtomicU64,
    /// Seconds from a stall's start to the server having closed the connection: count,
    /// sum, min, max.
    stall_secs: Mutex<(u64, f64, f64, f64)>,
}

impl Counters {
    pub fn record_stall(&self, secs: f64) {
        let mut stalls = self
            .stall_secs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (count, sum, min, max) = *stalls;
        *stalls = (
            count + 1,
            sum + secs,
            if count == 0 { secs } else { min.min(secs) },
            max.max(secs),
        );
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// What the members share.
pub struct Ctx {
    pub target: Target,
    pub admin: Admin,
    pub knobs: Knobs,
    pub counters: Counters,
    pub timeline: Timeline,
    pub phase: watch::Sender<Phase>,
    /// Per member: caught up, nothing unacked, while draining.
    pub settled: Vec<AtomicBool>,
    pub epoch: Instant,
    pub seed: u64,
    last_delivery_us: AtomicU64,
    ack_latency: Mutex<Histogram<u64>>,
}

impl Ctx {
    pub fn note_delivery(&self) {
        self.last_delivery_us
            .store(self.epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// An ack, `latency` after the message's first attempt.
    pub fn record_ack(&self, latency: Duration) {
        self.counters.acks.fetch_add(1, Ordering::Relaxed);
        self.timeline.record(Event::Ack);
        let us = (latency.as_micros() as u64).clamp(1, MAX_LATENCY_US);
        self.ack_latency
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .saturating_record(us);
    }

    fn quiet_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_micros() as u64;
        Duration::from_micros(now.saturating_sub(self.last_delivery_us.load(Ordering::Relaxed)))
    }
}

pub async fn run(common: &Common, args: &SoakArgs) -> Result<Report> {
    if args.group_size < 2 || args.slow > args.groups {
        bail!("--group-size must be at least 2 and --slow at most --groups");
    }
    if !(1..=4000).contains(&args.group_body_size) {
        bail!("--group-body-size must be 1 to 4000 (the protocol's body limit)");
    }
    // `!(x > lo && x <= hi)` also refuses NaN; every duration is at most a day.
    let within = |value: f64, high: f64| value > 0.0 && value <= high;
    const DAY: f64 = 24.0 * 60.0 * 60.0;
    if !within(args.minutes, 24.0 * 60.0) || !within(args.rate, 1_000_000.0) {
        bail!("--minutes must be above 0 and at most a day, --rate above 0 and at most 1,000,000");
    }
    for (flag, value) in [
        ("--drop-every-secs", args.drop_every_secs),
        ("--slow-read-secs", args.slow_read_secs),
        ("--slow-stall-max-secs", args.slow_stall_max_secs),
        ("--sample-secs", args.sample_secs),
        ("--drain-max-secs", args.drain_max_secs),
    ] {
        if !within(value, DAY) {
            bail!("{flag} must be above 0 and at most a day (86400), not {value}");
        }
    }
    let admin = Admin::new(&common.server.to_string(), &common.admin_token);
    let setup_started = Instant::now();
    let (users, direct, groups) = {
        let admin = admin.clone();
        let (direct_rooms, groups, size) = (args.direct_rooms, args.groups, args.group_size);
        tokio::task::spawn_blocking(move || -> Result<_> {
            admin.wait_healthy(Duration::from_secs(30))?;
            let users = admin.create_users("soak", direct_rooms * 2 + groups * size)?;
            let ids: Vec<String> = users.iter().map(|user| user.id.clone()).collect();
            let (pairs, rest) = ids.split_at(direct_rooms * 2);
            let direct = admin.create_rooms(
                "direct",
                &pairs.chunks(2).map(<[_]>::to_vec).collect::<Vec<_>>(),
            )?;
            let groups = admin.create_rooms(
                "group",
                &rest.chunks(size).map(<[_]>::to_vec).collect::<Vec<_>>(),
            )?;
            Ok((users, direct, groups))
        })
        .await??
    };
    eprintln!(
        "setup: {} users, {} direct rooms, {} groups in {:.1}s",
        users.len(),
        direct.len(),
        groups.len(),
        setup_started.elapsed().as_secs_f64()
    );
    // Rooms of the members in user order; a slow consumer is the second member of each of
    // the first `slow` groups.
    let mut rooms = Vec::with_capacity(users.len());
    let mut slow = Vec::with_capacity(users.len());
    for room in &direct {
        rooms.extend([*room, *room]);
        slow.extend([false, false]);
    }
    for (g, room) in groups.iter().enumerate() {
        for position in 0..args.group_size {
            rooms.push(*room);
            slow.push(g < args.slow && position == 1);
        }
    }
    let senders = slow.iter().filter(|is_slow| !**is_slow).count();
    let period = Duration::from_secs_f64(senders as f64 / args.rate);
    let mut sender_number = 0;
    let plans: Vec<Plan> = users
        .iter()
        .enumerate()
        .map(|(index, user)| {
            let role = if slow[index] {
                Role::Slow
            } else {
                sender_number += 1;
                Role::Sender {
                    period,
                    offset: period.mul_f64(sender_number as f64 / senders as f64),
                }
            };
            Plan {
                index,
                user_id: user.id.clone(),
                token: user.token.clone(),
                room: rooms[index],
                role,
                body_size: if index < direct.len() * 2 {
                    DIRECT_BODY_SIZE
                } else {
                    args.group_body_size
                },
            }
        })
        .collect();
    let (phase, _) = watch::channel(Phase::Run);
    let ctx = Arc::new(Ctx {
        target: Target {
            server: common.server,
            local_ips: common.local_ips,
        },
        admin: admin.clone(),
        knobs: Knobs {
            window: args.window.max(1),
            max_tries: args.max_tries.max(1),
            drop_every: Duration::from_secs_f64(args.drop_every_secs.max(1.0)),
            slow_read: Duration::from_secs_f64(args.slow_read_secs.max(1.0)),
            slow_stall_max: Duration::from_secs_f64(args.slow_stall_max_secs.max(1.0)),
        },
        counters: Counters::default(),
        timeline: Timeline::default(),
        phase,
        settled: plans.iter().map(|_| AtomicBool::new(false)).collect(),
        epoch: Instant::now(),
        seed: args.seed,
        last_delivery_us: AtomicU64::new(0),
        ack_latency: Mutex::new(Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)?),
    });

    let started = Instant::now();
    let started_unix = timeline::unix_now();
    let mut tasks = Vec::with_capacity(plans.len());
    for plan in plans {
        let due = started + Duration::from_secs_f64(plan.index as f64 / RAMP_PER_S);
        tokio::time::sleep_until(due.into()).await;
        tasks.push(tokio::spawn(member::run(plan, ctx.clone())));
    }
    let traffic = Duration::from_secs_f64(args.minutes * 60.0);
    let samples = sample_until(&ctx, common.pid, args.sample_secs, started, traffic).await?;
    let traffic_secs = started.elapsed().as_secs_f64();

    ctx.phase.send_replace(Phase::Drain);
    eprintln!("traffic over after {traffic_secs:.0}s; draining");
    let drain_started = Instant::now();
    let drain_max = Duration::from_secs_f64(args.drain_max_secs.max(1.0));
    let mut settled_at_end = 0;
    while drain_started.elapsed() < drain_max {
        tokio::time::sleep(Duration::from_millis(200)).await;
        settled_at_end = ctx
            .settled
            .iter()
            .filter(|s| s.load(Ordering::Relaxed))
            .count();
        if settled_at_end == ctx.settled.len() && ctx.quiet_for() >= QUIET {
            break;
        }
    }
    let drain_secs = drain_started.elapsed().as_secs_f64();
    let last_sample = procstat::sample(common.pid)?;
    ctx.phase.send_replace(Phase::Done);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(tasks.len());
    let collect_deadline = tokio::time::Instant::now() + COLLECT_TIMEOUT;
    let mut not_collected = 0u64;
    for task in tasks {
        match tokio::time::timeout_at(collect_deadline, task).await {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            _ => not_collected += 1,
        }
    }
    let room_list: Vec<u64> = direct.iter().chain(groups.iter()).copied().collect();
    let last_seqs: HashMap<u64, u64> = {
        let (admin, rooms) = (admin.clone(), room_list.clone());
        let seqs = tokio::task::spawn_blocking(move || admin.last_seqs(&rooms)).await??;
        room_list.iter().copied().zip(seqs).collect()
    };

    let mut acks: HashMap<u64, RoomAcks> = HashMap::new();
    for outcome in &outcomes {
        let room = acks.entry(outcome.room).or_default();
        for (seq, packed) in &outcome.acks {
            room.ack(*seq, *packed);
        }
    }
    let mut tally = Tally::default();
    let empty = RoomAcks::default();
    for outcome in &outcomes {
        let room_acks = acks.get(&outcome.room).unwrap_or(&empty);
        let last_seq = last_seqs.get(&outcome.room).copied().unwrap_or(0);
        tally.member(&outcome.log, room_acks, last_seq);
    }
    let acked: u64 = acks.values().map(RoomAcks::len).sum();
    let committed: u64 = last_seqs.values().sum();

    let c = &ctx.counters;
    let get = Counters::get;
    let mut report = Report::new("soak");
    report.field("started_unix", json!(started_unix.round() as u64));
    report.field("traffic_s", json!(round(traffic_secs)));
    report.field("drain_s", json!(round(drain_secs)));
    report.field("direct_rooms", json!(direct.len()));
    report.field("groups", json!(groups.len()));
    report.field("group_size", json!(args.group_size));
    report.field("members", json!(ctx.settled.len()));
    report.field("slow_consumers", json!(args.slow));
    report.field("offered_rate", json!(args.rate));
    report.field("group_body_size", json!(args.group_body_size));
    report.field("acked", json!(acked));
    report.field("committed", json!(committed));
    report.field(
        "committed_not_acked",
        json!(committed.saturating_sub(acked)),
    );
    report.field("lost", json!(tally.lost));
    report.field("duplicated", json!(tally.stream.duplicated));
    report.field("out_of_order", json!(tally.stream.out_of_order));
    report.field("missing_committed", json!(tally.missing_committed));
    report.field("live_gaps", json!(tally.stream.live_gaps));
    report.field("resume_gaps", json!(tally.stream.resume_gaps));
    report.field(
        "mismatched",
        json!(tally.stream.mismatched + tally.mismatched_acked),
    );
    report.field(
        "stored_twice",
        json!(
            tally.stored_twice
                + acks
                    .values()
                    .map(|a| a.stored_twice + a.conflicts)
                    .sum::<u64>()
        ),
    );
    report.field("ack_mismatch", json!(get(&c.ack_mismatch)));
    report.field("retries", json!(get(&c.retries)));
    report.field("send_unavailable", json!(get(&c.send_unavailable)));
    report.field("read_unavailable", json!(get(&c.read_unavailable)));
    report.field("sends_given_up", json!(get(&c.sends_given_up)));
    report.field("sends_refused", json!(get(&c.sends_refused)));
    report.field("sends_skipped_window_full", json!(get(&c.sends_skipped)));
    report.field("other_errors", json!(get(&c.other_errors)));
    report.field("reconnects", json!(get(&c.reconnects)));
    report.field("drops", json!(get(&c.drops)));
    report.field(
        "drops_with_send_in_flight",
        json!(get(&c.drops_with_send_in_flight)),
    );
    report.field("connections_lost", json!(get(&c.connections_lost)));
    report.field("connect_failures", json!(get(&c.connect_failures)));
    report.field("closes_4002", json!(get(&c.closes_4002)));
    report.field("closes_other", json!(get(&c.closes_other)));
    report.field("slow_stalls", json!(get(&c.slow_stalls)));
    report.field("slow_closed_4002", json!(get(&c.slow_closed_4002)));
    report.field(
        "slow_closed_without_4002",
        json!(get(&c.slow_closed_without_4002)),
    );
    report.field("slow_not_closed", json!(get(&c.slow_not_closed)));
    {
        let (count, sum, min, max) = *c
            .stall_secs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        report.field(
            "stall_to_close_s",
            json!((count > 0).then(
                || json!({"mean": round(sum / count as f64), "min": round(min), "max": round(max)})
            )),
        );
    }
    report.field("joins", json!(get(&c.joins)));
    report.field("catch_ups_paged", json!(get(&c.catch_ups)));
    report.field("history_pages", json!(get(&c.history_pages)));
    report.field("fill_overlaps", json!(tally.stream.fill_overlaps));
    report.field("refetched", json!(tally.stream.refetched));
    report.field("deliveries", json!(get(&c.deliveries)));
    report.field("foreign", json!(get(&c.foreign)));
    report.field(
        "members_gave_up",
        json!(get(&c.members_gave_up) + not_collected),
    );
    report.field("members_settled_at_end", json!(settled_at_end));
    let ack = ctx
        .ack_latency
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    latency_fields(&mut report, "ack", &ack);
    for (name, value) in samples::fields(&samples) {
        report.field(name, value);
    }
    if common.pid.is_some() {
        report.field(
            "rss_after_drain_mib",
            round(last_sample.rss_bytes as f64 / 1048576.0),
        );
    }
    report.field("disturbances", ctx.timeline.disturbances());
    Ok(report)
}

/// Samples the server every `every` seconds until `traffic` is over, printing a progress
/// line each time; the first sample is taken at once.
async fn sample_until(
    ctx: &Ctx,
    pid: Option<u32>,
    every: f64,
    started: Instant,
    traffic: Duration,
) -> Result<Vec<Sample>> {
    let every = Duration::from_secs_f64(every.max(1.0));
    let mut samples = Vec::new();
    loop {
        let at = started.elapsed();
        let proc = procstat::sample(pid)?;
        if pid.is_some() {
            samples.push(Sample {
                at_s: at.as_secs_f64(),
                rss_kib: proc.rss_bytes / 1024,
                cpu_s: proc.cpu_secs,
            });
        }
        let c = &ctx.counters;
        let get = Counters::get;
        eprintln!(
            "[soak +{:.0}s] rss {:.1} MiB, acked {}, unavailable {}+{}, retries {}, reconnects {}, lost {}, 4002 {}, stalls {}, connect failures {}, given up {}",
            at.as_secs_f64(),
            proc.rss_bytes as f64 / 1048576.0,
            get(&c.acks),
            get(&c.send_unavailable),
            get(&c.read_unavailable),
            get(&c.retries),
            get(&c.reconnects),
            get(&c.connections_lost),
            get(&c.closes_4002),
            get(&c.slow_stalls),
            get(&c.connect_failures),
            get(&c.sends_given_up),
        );
        if at >= traffic {
            return Ok(samples);
        }
        let next = (at + every).min(traffic);
        tokio::time::sleep_until((started + next).into()).await;
    }
}
