//! Connect storm: steps of authenticated connections (upgrade + `hello`) opened by ever
//! more concurrent clients, until a step has failures or the largest concurrency is done.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use crate::admin::{Admin, User};
use crate::cli::{Common, StormArgs};
use crate::load::round;
use crate::procstat;
use crate::report::Report;
use crate::stats::Failures;
use crate::ws::{self, Target, Ws};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause after closing a step's connections, for the server to let them go.
const SETTLE: Duration = Duration::from_secs(2);

struct Step {
    concurrency: usize,
    made: usize,
    failed: u64,
    secs: f64,
    server_cpu_pct: f64,
}

pub async fn run(common: &Common, args: &StormArgs) -> Result<Report> {
    let admin = Admin::new(&common.server.to_string(), &common.admin_token);
    let users = {
        let count = args.users.max(1);
        tokio::task::spawn_blocking(move || -> Result<_> {
            admin.wait_healthy(Duration::from_secs(30))?;
            admin.create_users("storm", count)
        })
        .await??
    };
    let users = Arc::new(users);
    let target = Target {
        server: common.server,
        local_ips: common.local_ips,
    };
    let mut steps = Vec::new();
    let mut concurrency = args.start_concurrency.max(1);
    let mut first_index = 0;
    let mut samples = Vec::new();
    loop {
        let before = procstat::sample(common.pid)?;
        let step = one_step(&target, &users, args.per_step, concurrency, first_index).await;
        let after = procstat::sample(common.pid)?;
        first_index += args.per_step;
        let (made, failed, secs, failures) = step;
        samples.extend(failures.samples());
        let step = Step {
            concurrency,
            made,
            failed: failures.count(),
            secs,
            server_cpu_pct: 100.0 * (after.cpu_secs - before.cpu_secs) / secs,
        };
        eprintln!(
            "concurrency {:>5}: {:>6} made, {:>4} failed in {:.2}s = {:.0}/s (server CPU {:.0}%)",
            step.concurrency,
            step.made,
            failed,
            step.secs,
            step.made as f64 / step.secs,
            step.server_cpu_pct
        );
        let stop = step.failed > 0 || concurrency * 2 > args.max_concurrency;
        steps.push(step);
        if stop {
            break;
        }
        concurrency *= 2;
        tokio::time::sleep(SETTLE).await;
    }
    let best = steps
        .iter()
        .filter(|step| step.failed == 0)
        .map(|step| step.made as f64 / step.secs)
        .fold(0.0, f64::max);
    let mut report = Report::new("storm");
    report.field("per_step", json!(args.per_step));
    report.field("best_connections_per_s", round(best));
    report.field(
        "steps",
        json!(steps
            .iter()
            .map(|step| json!({
                "concurrency": step.concurrency,
                "made": step.made,
                "failed": step.failed,
                "per_s": round(step.made as f64 / step.secs),
                "server_cpu_pct": round(step.server_cpu_pct),
            }))
            .collect::<Vec<_>>()),
    );
    report.field(
        "connections_failed",
        json!(steps.iter().map(|step| step.failed).sum::<u64>()),
    );
    if !samples.is_empty() {
        report.field("failure_samples", json!(samples));
    }
    Ok(report)
}

/// Opens `count` connections with `concurrency` clients; holds them to the step's end.
async fn one_step(
    target: &Target,
    users: &Arc<Vec<User>>,
    count: usize,
    concurrency: usize,
    first_index: usize,
) -> (usize, u64, f64, Arc<Failures>) {
    let next = Arc::new(AtomicUsize::new(0));
    let held: Arc<Mutex<Vec<Ws>>> = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let failures = Arc::new(Failures::default());
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, users, next, held, failures) = (
                target.clone(),
                users.clone(),
                next.clone(),
                held.clone(),
                failures.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return;
                    }
                    let token = &users[index % users.len()].token;
                    match ws::connect(&target, first_index + index, token, CONNECT_TIMEOUT).await {
                        Ok(ws) => held
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner())
                            .push(ws),
                        Err(err) => failures.record(&err),
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let made = {
        let mut held = held.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let made = held.len();
        held.clear();
        made
    };
    (made, failures.count(), secs, failures)
}
