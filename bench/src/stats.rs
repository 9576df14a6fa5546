//! What every connection task reports into: the run's phase, counters and latency
//! histograms. Tasks batch their records locally ([`Recorder`]) to keep locking rare.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hdrhistogram::Histogram;
use tokio::sync::watch;

/// Where the run is. Latencies and rates count only while `Measure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    Setup = 0,
    Warmup = 1,
    Measure = 2,
    /// Senders have stopped; deliveries still in flight are awaited.
    Drain = 3,
    Done = 4,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Setup,
            1 => Phase::Warmup,
            2 => Phase::Measure,
            3 => Phase::Drain,
            _ => Phase::Done,
        }
    }
}

/// Latencies are recorded in microseconds, up to a minute.
const MAX_LATENCY_US: u64 = 60_000_000;
const BATCH: usize = 512;

pub struct Shared {
    epoch: Instant,
    phase: AtomicU8,
    phase_tx: watch::Sender<Phase>,
    pub acks: AtomicU64,
    pub deliveries: AtomicU64,
    pub send_errors: AtomicU64,
    pub sends_skipped: AtomicU64,
    /// Microseconds since the epoch of the latest delivery seen while draining.
    pub last_delivery_us: AtomicU64,
    /// Senders that have not yet got every reply after the sending stopped.
    pub senders_busy: AtomicU64,
    ack_latency: Mutex<Histogram<u64>>,
    delivery_latency: Mutex<Histogram<u64>>,
}

fn histogram() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts; a failure here is a bug, not input.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        let (phase_tx, _) = watch::channel(Phase::Setup);
        Arc::new(Shared {
            epoch: Instant::now(),
            phase: AtomicU8::new(Phase::Setup as u8),
            phase_tx,
            acks: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            sends_skipped: AtomicU64::new(0),
            last_delivery_us: AtomicU64::new(0),
            senders_busy: AtomicU64::new(0),
            ack_latency: Mutex::new(histogram()),
            delivery_latency: Mutex::new(histogram()),
        })
    }

    /// Microseconds since the run's epoch: the clock that travels in message bodies.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.phase_tx.send_replace(phase);
    }

    pub fn watch_phase(&self) -> watch::Receiver<Phase> {
        self.phase_tx.subscribe()
    }

    /// Copies of the two histograms: (ack, delivery).
    pub fn histograms(&self) -> (Histogram<u64>, Histogram<u64>) {
        let ack = self
            .ack_latency
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let delivery = self
            .delivery_latency
            .lock()
            .map(|h| h.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        (ack, delivery)
    }
}

fn record_all(target: &Mutex<Histogram<u64>>, values: &mut Vec<u64>) {
    if values.is_empty() {
        return;
    }
    let mut histogram = target
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for value in values.drain(..) {
        histogram.saturating_record(value.clamp(1, MAX_LATENCY_US));
    }
}

/// One task's pending records, flushed into [`Shared`] in batches.
pub struct Recorder {
    shared: Arc<Shared>,
    acks: Vec<u64>,
    deliveries: Vec<u64>,
}

impl Recorder {
    pub fn new(shared: Arc<Shared>) -> Recorder {
        Recorder {
            shared,
            acks: Vec::new(),
            deliveries: Vec::new(),
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// An `ok` to a send, `latency_us` after it was sent.
    pub fn ack(&mut self, latency_us: u64) {
        if self.shared.phase() == Phase::Measure {
            self.acks.push(latency_us);
            if self.acks.len() >= BATCH {
                self.flush();
            }
        }
    }

    /// A `message` event, `latency_us` after its sender sent it.
    pub fn delivery(&mut self, latency_us: u64) {
        match self.shared.phase() {
            Phase::Measure => {
                self.deliveries.push(latency_us);
                if self.deliveries.len() >= BATCH {
                    self.flush();
                }
            }
            Phase::Drain => {
                let now = self.shared.now_us();
                self.shared.last_delivery_us.store(now, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    pub fn flush(&mut self) {
        let shared = &self.shared;
        shared
            .acks
            .fetch_add(self.acks.len() as u64, Ordering::Relaxed);
        shared
            .deliveries
            .fetch_add(self.deliveries.len() as u64, Ordering::Relaxed);
        record_all(&shared.ack_latency, &mut self.acks);
        record_all(&shared.delivery_latency, &mut self.deliveries);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Connections that could not be made or broke early, with the first few reasons.
#[derive(Default)]
pub struct Failures {
    count: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Failures {
    pub fn record(&self, why: &anyhow::Error) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut samples = self
            .samples
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if samples.len() < 5 {
            samples.push(format!("{why:#}"));
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples
            .lock()
            .map(|samples| samples.clone())
            .unwrap_or_default()
    }
}
