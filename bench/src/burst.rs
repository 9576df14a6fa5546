//! The notification burst: one message into a group whose other members are all offline
//! with a Web Push device each. Reports how long until the push service stand-in
//! ([`crate::push_sink`]) has every notification, and the sender's ack latency meanwhile:
//! the sender goes on sending into a direct room (whose other side is connected, so those
//! sends notify no one) at a steady rate, one at a time, until the burst is over.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::admin::Admin;
use crate::cli::{BurstArgs, Common};
use crate::procstat;
use crate::push_sink::PushSink;
use crate::report::{latency_fields, Report};
use crate::wire;
use crate::ws::{self, Target, Ws};

/// The most members one `POST /admin/rooms` takes; the rest are added one by one.
const CREATE_MEMBERS: usize = 1000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Members setting their level at once during the setup.
const SETUP_CONNECTIONS: usize = 32;
/// The longest a reply to one send may take.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(common: &Common, args: &BurstArgs) -> Result<Report> {
    if args.members == 0 {
        bail!("--members must be at least 1");
    }
    let sink = PushSink::start()?;
    let admin = Admin::new(&common.server.to_string(), &common.admin_token);
    let setup_started = Instant::now();
    let (sender, partner, offline, group, direct) = {
        let (admin, members, endpoint) = (admin.clone(), args.members, sink.url.clone());
        tokio::task::spawn_blocking(move || -> Result<_> {
            admin.wait_healthy(Duration::from_secs(30))?;
            let users = admin.create_users("burst", members + 2)?;
            let (pair, offline) = users.split_at(2);
            let mut first: Vec<String> = vec![pair[0].id.clone()];
            first.extend(
                offline
                    .iter()
                    .take(CREATE_MEMBERS - 1)
                    .map(|u| u.id.clone()),
            );
            let group = admin.create_rooms("group", &[first])?[0];
            let rest: Vec<String> = offline
                .iter()
                .skip(CREATE_MEMBERS - 1)
                .map(|u| u.id.clone())
                .collect();
            admin.add_members(group, &rest)?;
            let direct =
                admin.create_rooms("direct", &[vec![pair[0].id.clone(), pair[1].id.clone()]])?[0];
            admin.register_devices(offline, &endpoint)?;
            Ok((
                pair[0].clone(),
                pair[1].clone(),
                offline.to_vec(),
                group,
                direct,
            ))
        })
        .await??
    };
    let target = Target {
        server: common.server,
        local_ips: common.local_ips,
    };
    // A group notifies of mentions only by default: each member asks for every message.
    let levels: Vec<Result<()>> = futures_util::stream::iter(offline.iter().enumerate())
        .map(|(index, user)| {
            let target = target.clone();
            async move {
                let mut ws = ws::connect(&target, index + 2, &user.token, CONNECT_TIMEOUT).await?;
                ws::send_text(
                    &mut ws,
                    format!(r#"{{"type":"notify","id":1,"room":"r_{group}","level":"all"}}"#),
                )
                .await?;
                reply(&mut ws).await.context("notify")?;
                let _ = ws.close(None).await;
                Ok(())
            }
        })
        .buffer_unordered(SETUP_CONNECTIONS)
        .collect()
        .await;
    levels.into_iter().collect::<Result<Vec<()>>>()?;
    eprintln!(
        "setup: {} offline members with a device each and level `all`, in {:.1}s",
        args.members,
        setup_started.elapsed().as_secs_f64()
    );
    let mut ws = ws::connect(&target, 0, &sender.token, CONNECT_TIMEOUT).await?;
    for room in [group, direct] {
        ws::send_text(&mut ws, wire::join(room)).await?;
        reply(&mut ws).await.context("joining")?;
    }
    // The direct room's other side is connected: the steady sends notify no one.
    let mut partner_ws = ws::connect(&target, 1, &partner.token, CONNECT_TIMEOUT).await?;
    ws::send_text(&mut partner_ws, wire::join(direct)).await?;
    reply(&mut partner_ws)
        .await
        .context("the partner joining")?;
    let partner_reader = tokio::spawn(async move { while partner_ws.next().await.is_some() {} });

    let before = procstat::sample(common.pid)?;
    let started = Instant::now();
    ws::send_text(&mut ws, wire::send(1, group, &wire::body(0, 32))).await?;
    reply(&mut ws).await.context("the group message")?;
    let burst_ack = started.elapsed();
    let period = Duration::from_secs_f64(1.0 / args.steady_rate.max(0.1));
    let deadline = started + Duration::from_secs_f64(args.timeout);
    let mut steady = Histogram::<u64>::new(3).context("histogram")?;
    let mut next_id = 2u64;
    let mut next_send = Instant::now();
    while sink.count() < args.members as u64 && Instant::now() < deadline {
        tokio::time::sleep_until(next_send.into()).await;
        next_send += period;
        let sent = Instant::now();
        ws::send_text(
            &mut ws,
            wire::send(next_id, direct, &wire::body(next_id, 32)),
        )
        .await?;
        reply(&mut ws).await.context("a steady send")?;
        steady.record(sent.elapsed().as_micros() as u64)?;
        next_id += 1;
    }
    let after = procstat::sample(common.pid)?;
    let times = sink.times();
    let received = sink.count();
    partner_reader.abort();
    sink.stop().await;

    let mut report = Report::new("burst");
    report.field("offline_members", json!(args.members));
    report.field("pushes_received", json!(received));
    report.field("complete", json!(received >= args.members as u64));
    let ms = |at: Instant| json!((at.duration_since(started).as_secs_f64() * 1e4).round() / 10.0);
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        report.field("first_push_ms", ms(*first));
        report.field("last_push_ms", ms(*last));
        let spread = last.duration_since(*first).as_secs_f64();
        if spread > 0.0 {
            report.field("pushes_per_s", json!((times.len() as f64 / spread).round()));
        }
    }
    report.field(
        "burst_send_ack_ms",
        json!((burst_ack.as_secs_f64() * 1e4).round() / 10.0),
    );
    report.field("steady_rate", json!(args.steady_rate));
    report.field("steady_sends", json!(steady.len()));
    latency_fields(&mut report, "steady_ack", &steady);
    if common.pid.is_some() {
        let cpu = after.cpu_secs - before.cpu_secs;
        report.field("server_cpu_s", json!((cpu * 1000.0).round() / 1000.0));
        if received > 0 {
            report.field(
                "server_cpu_us_per_push",
                json!((cpu * 1e6 / received as f64).round()),
            );
        }
    }
    Ok(report)
}

/// Reads until the reply to the command just sent (`ok`, or an error that fails the run);
/// events in between are skipped.
async fn reply(ws: &mut Ws) -> Result<()> {
    tokio::time::timeout(ACK_TIMEOUT, async {
        while let Some(frame) = ws.next().await {
            if let Message::Text(text) = frame.context("reading a reply")? {
                let incoming = wire::parse(text.as_str())?;
                match incoming.kind.as_ref() {
                    "ok" => return Ok(()),
                    "error" => bail!("refused: {:?}", incoming.code),
                    _ => {}
                }
            }
        }
        bail!("the connection closed")
    })
    .await
    .context("no reply in time")?
}
