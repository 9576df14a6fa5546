//! Idle connections: open as many as asked, hold them (answering pings), then report the
//! server's resident memory per connection over its baseline before the first one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::watch;

use crate::admin::Admin;
use crate::cli::{Common, IdleArgs};
use crate::load::round;
use crate::procstat;
use crate::report::Report;
use crate::stats::Failures;
use crate::ws::{self, Target};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(common: &Common, args: &IdleArgs) -> Result<Report> {
    let admin = Admin::new(&common.server.to_string(), &common.admin_token);
    let users = {
        let count = args.users.max(1);
        tokio::task::spawn_blocking(move || -> Result<_> {
            admin.wait_healthy(Duration::from_secs(30))?;
            admin.create_users("idle", count)
        })
        .await??
    };
    let target = Target {
        server: common.server,
        local_ips: common.local_ips,
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = procstat::sample(common.pid)?;
    let failures = Arc::new(Failures::default());
    let open = Arc::new(AtomicU64::new(0));
    let broken = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        if args.ramp > 0.0 {
            let due = started + Duration::from_secs_f64(index as f64 / args.ramp);
            tokio::time::sleep_until(due.into()).await;
        }
        let token = users[index % users.len()].token.clone();
        let (target, failures, open, broken) = (
            target.clone(),
            failures.clone(),
            open.clone(),
            broken.clone(),
        );
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = match ws::connect(&target, index, &token, CONNECT_TIMEOUT).await {
                Ok(ws) => ws,
                Err(err) => return failures.record(&err),
            };
            open.fetch_add(1, Ordering::Relaxed);
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    frame = ws.next() => match frame {
                        Some(Ok(_)) => {}
                        _ => {
                            broken.fetch_add(1, Ordering::Relaxed);
                            open.fetch_sub(1, Ordering::Relaxed);
                            return;
                        }
                    },
                }
            }
            let _ = ws.close(None).await;
        }));
    }
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    while open.load(Ordering::Relaxed) + failures.count() + broken.load(Ordering::Relaxed)
        < args.connections as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramp_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "opened {} of {} in {ramp_secs:.1}s ({} failed); holding {}s",
        open.load(Ordering::Relaxed),
        args.connections,
        failures.count(),
        args.hold
    );
    for sample in failures.samples() {
        eprintln!("  failure: {sample}");
    }
    tokio::time::sleep(Duration::from_secs_f64(args.hold)).await;
    let held = open.load(Ordering::Relaxed);
    let loaded = procstat::sample(common.pid)?;
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let mut report = Report::new("idle");
    report.field("connections_asked", json!(args.connections));
    report.field(
        "connections_made",
        json!(held + broken.load(Ordering::Relaxed)),
    );
    report.field("connections_failed", json!(failures.count()));
    report.field("connections_held", json!(held));
    report.field("connections_broken", json!(broken.load(Ordering::Relaxed)));
    report.field("users", json!(users.len()));
    report.field("ramp_s", round(ramp_secs));
    if common.pid.is_some() {
        let grown = loaded.rss_bytes.saturating_sub(baseline.rss_bytes);
        report.field(
            "server_rss_baseline_mib",
            round(baseline.rss_bytes as f64 / 1048576.0),
        );
        report.field("server_rss_mib", round(loaded.rss_bytes as f64 / 1048576.0));
        report.field(
            "server_rss_per_connection_kib",
            round(grown as f64 / 1024.0 / held.max(1) as f64),
        );
        report.field(
            "server_rss_total_per_connection_kib",
            round(loaded.rss_bytes as f64 / 1024.0 / held.max(1) as f64),
        );
    }
    Ok(report)
}
