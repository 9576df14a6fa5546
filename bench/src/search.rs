//! The search benchmark: fill ROOMS direct rooms with MESSAGES messages in all, written
//! through the protocol (each room's other member sends, as fast as acks allow), then one
//! member of every room runs `search` queries one after another and the latency of each is
//! measured. Bodies are sentences of words drawn from a fixed vocabulary (Latin-script words
//! and Korean ones), so that a query word matches a realistic share of the messages.
//! Reports the fill rate and the server's CPU per stored message (the search index is
//! maintained in each message's commit), then search p50/p99 and how many results came.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::admin::Admin;
use crate::cli::{Common, SearchArgs};
use crate::procstat;
use crate::report::{latency_fields, Report};
use crate::wire;
use crate::ws::{self, Target, Ws};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// Sends in flight per sender while filling.
const WINDOW: usize = 16;
/// Senders connected at once during the fill.
const FILLING_AT_ONCE: usize = 200;

/// The kinds of query, in the order they take turns.
const KINDS: [&str; 4] = ["two_common", "korean", "rare", "prefix"];

/// Korean words among the vocabulary (the service's users write Korean).
const KOREAN: [&str; 12] = [
    "삼각형",
    "넓이",
    "밑변",
    "높이",
    "방정식",
    "함수",
    "그래프",
    "분수",
    "소수",
    "확률",
    "각도",
    "원주율",
];

/// The vocabulary: `size` made-up Latin-script words (syllable pairs and triples) and the
/// Korean words, fixed for a given size so that runs are comparable.
fn vocabulary(size: usize) -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ter", "pra", "sun", "vel", "dor", "qui", "ban", "xo", "ri", "tha",
        "gen", "pol", "mur", "fe", "sa", "nix", "ul", "bro", "cy", "da", "wen",
    ];
    let mut words: Vec<String> = KOREAN.iter().map(|word| word.to_string()).collect();
    let mut n = 0usize;
    while words.len() < size {
        let a = SYLLABLES[n % 24];
        let b = SYLLABLES[(n / 24) % 24];
        let c = if n >= 576 {
            SYLLABLES[(n / 576) % 24]
        } else {
            ""
        };
        words.push(format!("{a}{b}{c}"));
        n += 1;
    }
    words
}

/// A body of 6 to 20 words; word `i` is drawn with weight ~ 1/(i+1) (Zipf-like), so a few
/// words are common and most are rare, as in real text.
fn sentence(rng: &mut fastrand::Rng, words: &[String]) -> String {
    let count = rng.usize(6..=20);
    (0..count)
        .map(|_| {
            let skew = rng.f64().powi(3);
            words[(skew * words.len() as f64) as usize % words.len()].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn run(common: &Common, args: &SearchArgs) -> Result<Report> {
    if args.rooms == 0 || args.messages < args.rooms {
        bail!("--messages must be at least --rooms, and --rooms at least 1");
    }
    let admin = Admin::new(&common.server.to_string(), &common.admin_token);
    let (searcher, senders, rooms) = {
        let (admin, count) = (admin.clone(), args.rooms);
        tokio::task::spawn_blocking(move || -> Result<_> {
            admin.wait_healthy(Duration::from_secs(30))?;
            let searcher = admin.create_users("searcher", 1)?.remove(0);
            let senders = admin.create_users("writer", count)?;
            let pairs: Vec<Vec<String>> = senders
                .iter()
                .map(|sender| vec![sender.id.clone(), searcher.id.clone()])
                .collect();
            let rooms = admin.create_rooms("direct", &pairs)?;
            Ok((searcher, senders, rooms))
        })
        .await??
    };
    let target = Target {
        server: common.server,
        local_ips: common.local_ips,
    };
    let words = Arc::new(vocabulary(args.vocabulary));

    // The fill: every room's writer sends its share, `WINDOW` in flight at a time.
    let per_room = args.messages / args.rooms;
    let stored = Arc::new(AtomicU64::new(0));
    let before = procstat::sample(common.pid)?;
    let fill_started = Instant::now();
    let fills: Vec<Result<()>> = futures_util::stream::iter(senders.iter().zip(&rooms).enumerate())
        .map(|(index, (sender, &room))| {
            let (target, words, stored) = (target.clone(), words.clone(), stored.clone());
            async move {
                let mut ws =
                    ws::connect(&target, index + 1, &sender.token, CONNECT_TIMEOUT).await?;
                let mut rng = fastrand::Rng::with_seed(index as u64);
                let (mut sent, mut acked) = (0usize, 0usize);
                while acked < per_room {
                    while sent < per_room && sent - acked < WINDOW {
                        let body = sentence(&mut rng, &words);
                        let frame =
                            json!({"type":"send","id":sent,"room":format!("r_{room}"),"body":body});
                        ws::send_text(&mut ws, frame.to_string()).await?;
                        sent += 1;
                    }
                    reply(&mut ws).await?;
                    acked += 1;
                    stored.fetch_add(1, Ordering::Relaxed);
                }
                let _ = ws.close(None).await;
                Ok(())
            }
        })
        .buffer_unordered(FILLING_AT_ONCE)
        .collect()
        .await;
    fills.into_iter().collect::<Result<Vec<()>>>()?;
    let fill_secs = fill_started.elapsed().as_secs_f64();
    let after = procstat::sample(common.pid)?;
    let stored = stored.load(Ordering::Relaxed);
    eprintln!("filled {stored} messages in {fill_secs:.1}s");
    if let Some(command) = &args.after_fill {
        let status = std::process::Command::new("sh")
            .args(["-c", command])
            .status()
            .with_context(|| format!("--after-fill {command:?}"))?;
        if !status.success() {
            bail!("--after-fill {command:?}: {status}");
        }
    }

    // The searches: one connection, one query at a time, words from the whole vocabulary.
    let mut ws = ws::connect(&target, 0, &searcher.token, CONNECT_TIMEOUT).await?;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut latency = Histogram::<u64>::new(3).context("histogram")?;
    // The same, per kind of query (`KINDS`), to tell which kind makes the tail.
    let mut by_kind = Vec::new();
    for _ in KINDS {
        by_kind.push(Histogram::<u64>::new(3).context("histogram")?);
    }
    let (mut results, mut empty) = (0u64, 0u64);
    for id in 0..args.queries {
        let kind = id % KINDS.len();
        let query = match kind {
            // Two words, both common-ish: every word must match.
            0 => format!("{} {}", words[rng.usize(0..20)], words[rng.usize(0..200)]),
            // A Korean word (substring of longer text).
            1 => KOREAN[rng.usize(0..KOREAN.len())].to_string(),
            // A rare word, or part of one (substring match).
            2 => words[rng.usize(0..words.len())].clone(),
            _ => words[rng.usize(0..words.len())].chars().take(3).collect(),
        };
        let frame = json!({"type":"search","id":id,"query":query,"limit":20});
        let started = Instant::now();
        ws::send_text(&mut ws, frame.to_string()).await?;
        let data = reply(&mut ws).await?;
        let took = started.elapsed().as_micros() as u64;
        latency.record(took)?;
        by_kind[kind].record(took)?;
        let found = data["messages"].as_array().map_or(0, Vec::len) as u64;
        results += found;
        empty += u64::from(found == 0);
    }

    let mut report = Report::new("search");
    report.field("rooms", json!(args.rooms));
    report.field("messages", json!(stored));
    report.field("vocabulary", json!(words.len()));
    report.field("fill_s", json!((fill_secs * 10.0).round() / 10.0));
    report.field(
        "fill_messages_per_s",
        json!((stored as f64 / fill_secs).round()),
    );
    if common.pid.is_some() && stored > 0 {
        report.field(
            "server_cpu_us_per_stored_message",
            json!(((after.cpu_secs - before.cpu_secs) * 1e6 / stored as f64).round()),
        );
        report.field("server_rss_mib", json!(after.rss_bytes / 1_048_576));
    }
    report.field("queries", json!(args.queries));
    latency_fields(&mut report, "search", &latency);
    for (kind, histogram) in KINDS.iter().zip(&by_kind) {
        latency_fields(&mut report, &format!("search_{kind}"), histogram);
    }
    report.field(
        "results_mean",
        json!((results as f64 / args.queries.max(1) as f64 * 10.0).round() / 10.0),
    );
    report.field("queries_without_results", json!(empty));
    Ok(report)
}

/// Reads until the next reply (events skipped); answers its `data`, or fails on an error.
async fn reply(ws: &mut Ws) -> Result<Value> {
    tokio::time::timeout(REPLY_TIMEOUT, async {
        while let Some(frame) = ws.next().await {
            if let Message::Text(text) = frame.context("reading a reply")? {
                let incoming = wire::parse(text.as_str())?;
                match incoming.kind.as_ref() {
                    "ok" => {
                        let value: Value = serde_json::from_str(text.as_str())?;
                        return Ok(value["data"].clone());
                    }
                    "error" => bail!("refused: {}", text.as_str()),
                    _ => {}
                }
            }
        }
        bail!("the connection closed")
    })
    .await
    .context("no reply in time")?
}
