//! The load run: set up users and rooms, open and join every connection at the ramp
//! rate, warm up, measure, let deliveries drain, then tally lost, duplicated and
//! out-of-order messages against each room's last committed `seq`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};

use crate::admin::Admin;
use crate::cli::{Common, LoadArgs};
use crate::conn::{self, Outcome, Pace, Plan};
use crate::procstat;
use crate::promtext::{self, SumCount};
use crate::push_sink::PushSink;
use crate::report::{latency_fields, Report};
use crate::stats::{Failures, Phase, Shared};
use crate::threads;
use crate::ws::Target;

/// Longest wait for in-flight deliveries after the senders stop.
const MAX_DRAIN: Duration = Duration::from_secs(20);
/// The run is drained once no delivery came for this long.
const QUIET: Duration = Duration::from_secs(1);

pub async fn run(common: &Common, args: &LoadArgs) -> Result<Report> {
    let kind = args.kind.as_str();
    if kind == "direct" && args.room_size + args.offline_members != 2 {
        bail!("a direct room has exactly 2 members: --room-size plus --offline-members is 2");
    }
    if args.devices && args.offline_members == 0 {
        bail!("--devices registers the offline members' devices: give --offline-members");
    }
    // Offline members' devices send to this stand-in (the server runs with
    // --push-insecure-endpoints).
    let sink = if args.devices {
        Some(PushSink::start()?)
    } else {
        None
    };
    if args.senders == 0 || args.senders > args.room_size {
        bail!("--senders must be 1 to --room-size");
    }
    let connections = args.rooms * args.room_size;
    let admin = Admin::new(&common.server.to_string(), &common.admin_token);
    let setup_started = Instant::now();
    let (users, rooms) = {
        let admin = admin.clone();
        let (rooms, size, offline) = (args.rooms, args.room_size, args.offline_members);
        let kind = kind.to_string();
        let endpoint = sink.as_ref().map(|sink| sink.url.clone());
        tokio::task::spawn_blocking(move || -> Result<_> {
            admin.wait_healthy(Duration::from_secs(30))?;
            let users = admin.create_users("load", rooms * size)?;
            let absent = admin.create_users("offline", rooms * offline)?;
            let memberships: Vec<Vec<String>> = users
                .chunks(size)
                .enumerate()
                .map(|(room, chunk)| {
                    let away = absent.iter().skip(room * offline).take(offline);
                    chunk
                        .iter()
                        .chain(away)
                        .map(|user| user.id.clone())
                        .collect()
                })
                .collect();
            let rooms = admin.create_rooms(&kind, &memberships)?;
            if let Some(endpoint) = endpoint {
                admin.register_devices(&absent, &endpoint)?;
            }
            Ok((users, rooms))
        })
        .await??
    };
    eprintln!(
        "setup: {} users, {} rooms in {:.1}s ({} admin requests retried after 503)",
        users.len(),
        rooms.len(),
        setup_started.elapsed().as_secs_f64(),
        crate::admin::RETRIED.load(Ordering::Relaxed)
    );
    let total_senders = args.rooms * args.senders;
    let period =
        (args.rate > 0.0).then(|| Duration::from_secs_f64(total_senders as f64 / args.rate));
    let plans: Vec<Plan> = users
        .iter()
        .enumerate()
        .map(|(index, user)| {
            let member = index % args.room_size;
            let sender_index = (index / args.room_size) * args.senders + member;
            let pace = (member < args.senders).then(|| match period {
                Some(period) => Pace::Fixed {
                    period,
                    offset: period.mul_f64(sender_index as f64 / total_senders as f64),
                },
                None => Pace::AsFastAsAcked,
            });
            Plan {
                index,
                token: user.token.clone(),
                room: rooms[index / args.room_size],
                pace,
                window: args.window.max(1),
                body_size: args.body_size,
            }
        })
        .collect();

    let shared = Shared::new();
    let target = Target {
        server: common.server,
        local_ips: common.local_ips,
    };
    let failures = Arc::new(Failures::default());
    let connected = Arc::new(AtomicU64::new(0));
    let ramp_started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for plan in plans {
        if args.ramp > 0.0 {
            let due = ramp_started + Duration::from_secs_f64(plan.index as f64 / args.ramp);
            tokio::time::sleep_until(due.into()).await;
        }
        let (target, shared, failures, connected) = (
            target.clone(),
            shared.clone(),
            failures.clone(),
            connected.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let is_sender = plan.pace.is_some();
            match conn::open(&plan, &target).await {
                Ok(ws) => {
                    if is_sender {
                        shared.senders_busy.fetch_add(1, Ordering::Relaxed);
                    }
                    connected.fetch_add(1, Ordering::Relaxed);
                    Some(conn::drive(plan, ws, shared).await)
                }
                Err(err) => {
                    failures.record(&err);
                    None
                }
            }
        }));
    }
    let ramp_deadline = Instant::now() + Duration::from_secs(60);
    while (connected.load(Ordering::Relaxed) + failures.count()) < connections as u64 {
        if Instant::now() >= ramp_deadline {
            eprintln!("not every connection was made within 60 s of the ramp's end");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramp_secs = ramp_started.elapsed().as_secs_f64();
    eprintln!(
        "connected {} of {connections} in {ramp_secs:.1}s ({} failed)",
        connected.load(Ordering::Relaxed),
        failures.count()
    );
    for sample in failures.samples() {
        eprintln!("  failure: {sample}");
    }

    shared.set_phase(Phase::Warmup);
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let metrics_before = store_metrics(&admin).await?;
    let before = procstat::sample(common.pid)?;
    let bench_before = procstat::sample(Some(std::process::id()))?;
    let threads_before = threads::sample(common.pid)?;
    let measure_started = Instant::now();
    shared.set_phase(Phase::Measure);
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    shared.set_phase(Phase::Drain);
    let measured = measure_started.elapsed().as_secs_f64();
    let after = procstat::sample(common.pid)?;
    let bench_after = procstat::sample(Some(std::process::id()))?;
    let threads_after = threads::sample(common.pid)?;
    let metrics_after = store_metrics(&admin).await?;
    shared
        .last_delivery_us
        .store(shared.now_us(), Ordering::Relaxed);
    let drain_started = Instant::now();
    while drain_started.elapsed() < MAX_DRAIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let quiet_for = shared
            .now_us()
            .saturating_sub(shared.last_delivery_us.load(Ordering::Relaxed));
        if shared.senders_busy.load(Ordering::Relaxed) == 0 && quiet_for >= QUIET.as_micros() as u64
        {
            break;
        }
    }
    // bench/scenarios/profile.sh stops counting here: what follows checks the run, it sends nothing.
    eprintln!("drained in {:.1}s", drain_started.elapsed().as_secs_f64());
    let last_seqs = {
        let (admin, rooms) = (admin.clone(), rooms.clone());
        tokio::task::spawn_blocking(move || admin.last_seqs(&rooms)).await??
    };
    shared.set_phase(Phase::Done);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(tasks.len());
    for task in tasks {
        if let Ok(Some(outcome)) = task.await {
            outcomes.push(outcome);
        }
    }
    let tally = Tally::of(&outcomes, &rooms, &last_seqs);
    let (ack, delivery) = shared.histograms();
    let acks = shared.acks.load(Ordering::Relaxed);
    let deliveries = shared.deliveries.load(Ordering::Relaxed);
    let mut report = Report::new("load");
    report.field("kind", json!(kind));
    report.field("rooms", json!(args.rooms));
    report.field("room_size", json!(args.room_size));
    report.field("senders_per_room", json!(args.senders));
    report.field("offline_members_per_room", json!(args.offline_members));
    if let Some(sink) = sink {
        report.field("pushes_received", json!(sink.count()));
        sink.stop().await;
    }
    report.field(
        "offered_rate",
        json!(if args.rate > 0.0 {
            json!(args.rate)
        } else {
            json!("as fast as acks allow")
        }),
    );
    report.field("window", json!(args.window));
    report.field("connections_made", json!(connected.load(Ordering::Relaxed)));
    report.field("connections_failed", json!(failures.count()));
    report.field("connections_broken", json!(tally.broken));
    report.field("ramp_s", json!(round(ramp_secs)));
    report.field("measured_s", json!(round(measured)));
    report.field("acked_sends_per_s", json!((acks as f64 / measured).round()));
    report.field(
        "deliveries_per_s",
        json!((deliveries as f64 / measured).round()),
    );
    latency_fields(&mut report, "ack", &ack);
    latency_fields(&mut report, "delivery", &delivery);
    report.field("lost", json!(tally.lost));
    report.field("duplicated", json!(tally.duplicated));
    report.field("out_of_order", json!(tally.out_of_order));
    report.field("foreign", json!(tally.foreign));
    report.field(
        "send_errors",
        json!(shared.send_errors.load(Ordering::Relaxed)),
    );
    report.field(
        "sends_skipped",
        json!(shared.sends_skipped.load(Ordering::Relaxed)),
    );
    report.field(
        "setup_retries_503",
        json!(crate::admin::RETRIED.load(Ordering::Relaxed)),
    );
    report.field("messages_committed", json!(last_seqs.iter().sum::<u64>()));
    server_fields(&mut report, common.pid.is_some(), &before, &after, measured);
    if common.pid.is_some() {
        let cpu_us = (after.cpu_secs - before.cpu_secs) * 1e6;
        let per = |count: u64| json!((count > 0).then(|| round(cpu_us / count as f64)));
        report.field("server_cpu_us_per_send", per(acks));
        report.field("server_cpu_us_per_delivery", per(deliveries));
    }
    store_fields(&mut report, &metrics_before, &metrics_after);
    if common.pid.is_some() {
        report.field(
            "server_thread_cpu_pct",
            threads::busy(&threads_before, &threads_after, measured),
        );
    }
    report.field(
        "bench_cpu_pct",
        json!(round(
            100.0 * (bench_after.cpu_secs - bench_before.cpu_secs) / measured
        )),
    );
    report.field(
        "bench_sys_cpu_pct",
        json!(round(
            100.0 * (bench_after.sys_secs - bench_before.sys_secs) / measured
        )),
    );
    Ok(report)
}

/// The store's commit histograms (latency and batch size) at one moment.
struct StoreMetrics {
    commit_seconds: SumCount,
    batch_size: SumCount,
}

async fn store_metrics(admin: &Admin) -> Result<StoreMetrics> {
    let admin = admin.clone();
    let text = tokio::task::spawn_blocking(move || admin.metrics_text()).await??;
    Ok(StoreMetrics {
        commit_seconds: promtext::histogram(&text, "palaver_store_commit_seconds"),
        batch_size: promtext::histogram(&text, "palaver_store_commit_batch_size"),
    })
}

/// Commits made during the window, their mean latency and their mean batch size.
fn store_fields(report: &mut Report, before: &StoreMetrics, after: &StoreMetrics) {
    report.field(
        "commits",
        json!(after
            .commit_seconds
            .count_since(&before.commit_seconds)
            .round() as u64),
    );
    report.field(
        "commit_mean_ms",
        json!(after
            .commit_seconds
            .mean_since(&before.commit_seconds)
            .map(|secs| round(secs * 1000.0))),
    );
    report.field(
        "commit_batch_mean",
        json!(after.batch_size.mean_since(&before.batch_size).map(round)),
    );
}

/// Server RSS at the end of the window, and its CPU use during it.
pub fn server_fields(
    report: &mut Report,
    known: bool,
    before: &procstat::ProcSample,
    after: &procstat::ProcSample,
    secs: f64,
) {
    if !known {
        return;
    }
    report.field(
        "server_rss_mib",
        json!(round(after.rss_bytes as f64 / 1048576.0)),
    );
    report.field(
        "server_cpu_s",
        json!(round(after.cpu_secs - before.cpu_secs)),
    );
    report.field(
        "server_cpu_pct",
        json!(round(100.0 * (after.cpu_secs - before.cpu_secs) / secs)),
    );
    report.field(
        "server_sys_cpu_pct",
        json!(round(100.0 * (after.sys_secs - before.sys_secs) / secs)),
    );
}

pub fn round(value: f64) -> Value {
    json!((value * 100.0).round() / 100.0)
}

struct Tally {
    lost: u64,
    duplicated: u64,
    out_of_order: u64,
    foreign: u64,
    broken: u64,
}

impl Tally {
    fn of(outcomes: &[Outcome], rooms: &[u64], last_seqs: &[u64]) -> Tally {
        let last: std::collections::HashMap<u64, u64> = rooms
            .iter()
            .copied()
            .zip(last_seqs.iter().copied())
            .collect();
        let mut tally = Tally {
            lost: 0,
            duplicated: 0,
            out_of_order: 0,
            foreign: 0,
            broken: 0,
        };
        for outcome in outcomes {
            let last_seq = last.get(&outcome.room).copied().unwrap_or(0);
            tally.lost += outcome.tracker.lost(last_seq);
            tally.duplicated += outcome.tracker.duplicated;
            tally.out_of_order += outcome.tracker.out_of_order;
            tally.foreign += outcome.foreign;
            tally.broken += u64::from(outcome.broke);
        }
        tally
    }
}
