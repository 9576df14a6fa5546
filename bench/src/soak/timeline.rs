//! What the clients saw, second by second (wall-clock seconds since the Unix epoch, so
//! that the scenario script's PostgreSQL stop and start times line up): acks, refusals,
//! failed connects, lost connections. At the end, the seconds with trouble are merged into
//! windows ("disturbances"), each with its counts and its longest stretch without an ack.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// What happened, as counted per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Ack = 0,
    /// A `send` answered `unavailable`.
    SendUnavailable = 1,
    /// A `join` or `history` answered `unavailable`.
    ReadUnavailable = 2,
    /// A connection attempt failed (refused, HTTP 503 on the upgrade, timed out).
    ConnectFailed = 3,
    /// A connection ended that the client did not end (4002 closes aside).
    ConnectionLost = 4,
    /// Any other error answer.
    OtherError = 5,
}

const KINDS: usize = 6;
const NAMES: [&str; KINDS] = [
    "acks",
    "send_unavailable",
    "read_unavailable",
    "connect_failed",
    "connections_lost",
    "other_errors",
];

/// Seconds without trouble that still belong to the same window.
const MERGE_GAP_S: u64 = 3;

type Buckets = BTreeMap<u64, [u64; KINDS]>;

#[derive(Default)]
pub struct Timeline {
    buckets: Mutex<Buckets>,
}

pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or(0.0)
}

impl Timeline {
    pub fn record(&self, event: Event) {
        let second = unix_now() as u64;
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buckets.entry(second).or_insert([0; KINDS])[event as usize] += 1;
    }

    /// The windows of seconds with trouble, as JSON.
    pub fn disturbances(&self) -> Value {
        let buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Value::Array(windows(&buckets).iter().map(Window::json).collect())
    }
}

#[derive(Debug, PartialEq)]
struct Window {
    first: u64,
    last: u64,
    counts: [u64; KINDS],
    /// The longest run of seconds in the window (and around it) with no ack at all.
    longest_without_ack_s: u64,
}

impl Window {
    fn json(&self) -> Value {
        let mut fields = serde_json::Map::new();
        fields.insert("from_unix".into(), json!(self.first));
        fields.insert("to_unix".into(), json!(self.last));
        fields.insert("secs".into(), json!(self.last - self.first + 1));
        for (name, count) in NAMES.iter().zip(self.counts) {
            fields.insert((*name).into(), json!(count));
        }
        fields.insert(
            "longest_without_ack_s".into(),
            json!(self.longest_without_ack_s),
        );
        Value::Object(fields)
    }
}

fn troubled(counts: &[u64; KINDS]) -> bool {
    counts[1..].iter().any(|count| *count > 0)
}

fn windows(buckets: &Buckets) -> Vec<Window> {
    let mut found: Vec<Window> = Vec::new();
    for second in buckets
        .iter()
        .filter(|(_, counts)| troubled(counts))
        .map(|(second, _)| second)
    {
        match found.last_mut() {
            Some(window) if *second <= window.last + MERGE_GAP_S + 1 => window.last = *second,
            _ => found.push(Window {
                first: *second,
                last: *second,
                counts: [0; KINDS],
                longest_without_ack_s: 0,
            }),
        }
    }
    for window in &mut found {
        let mut run = 0;
        for second in window.first..=window.last {
            let counts = buckets.get(&second).copied().unwrap_or([0; KINDS]);
            for (total, count) in window.counts.iter_mut().zip(counts) {
                *total += count;
            }
            run = if counts[Event::Ack as usize] == 0 {
                run + 1
            } else {
                0
            };
            window.longest_without_ack_s = window.longest_without_ack_s.max(run);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_nearby_trouble_and_measures_the_silence() {
        let mut buckets = Buckets::new();
        buckets.insert(100, [50, 0, 0, 0, 0, 0]);
        buckets.insert(101, [10, 3, 0, 0, 0, 0]);
        // 102 and 103: nothing at all (no acks).
        buckets.insert(104, [0, 0, 2, 1, 0, 0]);
        buckets.insert(105, [40, 0, 0, 0, 0, 0]);
        buckets.insert(200, [5, 0, 0, 0, 1, 0]);
        let found = windows(&buckets);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].first, found[0].last), (101, 104));
        assert_eq!(found[0].counts, [10, 3, 2, 1, 0, 0]);
        assert_eq!(found[0].longest_without_ack_s, 3);
        assert_eq!((found[1].first, found[1].last), (200, 200));
    }
}
