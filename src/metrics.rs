//! Prometheus metrics: one registry for the process, counters and histograms that the
//! actors, the store writer and the HTTP layer update, and the text the `/metrics`
//! endpoint serves.

use std::sync::LazyLock;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub connections_open: IntGauge,
    pub users_online: IntGauge,
    pub rooms_active: IntGauge,
    pub messages_stored: IntCounter,
    pub messages_delivered: IntCounter,
    pub frames_in: IntCounter,
    pub frames_out: IntCounter,
    pub errors: IntCounterVec,
    pub ack_latency: Histogram,
    pub commit_latency: Histogram,
    pub commit_batch: Histogram,
    /// Group-commit batches being committed now (up to `writer::COMMITS_IN_FLIGHT`).
    pub commits_in_flight: IntGauge,
    pub webhook_latency: HistogramVec,
    pub connections_closed: IntCounterVec,
    /// WebSocket upgrades refused by a connection cap, by cap (`user`, `address`, `total`).
    pub connections_refused: IntCounterVec,
    /// Uploads refused before their body was in, by cause (`busy`, `user_slots`, `idle`,
    /// `deadline`).
    pub uploads_refused: IntCounterVec,
    /// Always 1, labelled with this node's `--node-id`.
    pub node: IntGaugeVec,
    pub bus_published: IntCounter,
    pub bus_dropped: IntCounter,
    pub bus_received: IntCounter,
    pub bus_resyncs: IntCounter,
    pub bus_reconnects: IntCounter,
    pub catch_up_reads: IntCounter,
    pub files_uploaded: IntCounter,
    pub file_bytes_stored: IntCounter,
    pub files_deleted: IntCounter,
    /// JWKS fetches for JWT sign-in, by outcome (`ok`, `failed`).
    pub jwks_fetches: IntCounterVec,
    /// Notifications (section 12): decided in commits, per provider sent, given up and
    /// devices dropped, messages folded into another's notification or read before it went,
    /// retries, and the age of the oldest not yet handed to a provider.
    pub push_decided: IntCounter,
    pub push_sent: IntCounterVec,
    pub push_failed: IntCounterVec,
    pub push_dropped_devices: IntCounterVec,
    pub push_retries: IntCounterVec,
    pub push_folded: IntCounter,
    pub push_read: IntCounter,
    pub push_oldest_unsent: Gauge,
    pub retention_deleted: IntCounterVec,
    pub retention_failures: IntCounter,
}

/// Latency buckets from 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Adds `metric` to `registry`. Only a name registered twice can fail: a mistake in this
/// file, which `renders_every_family` catches.
fn register(registry: &Registry, metric: impl prometheus::core::Collector + 'static) {
    if let Err(err) = registry.register(Box::new(metric)) {
        unreachable!("metric registered twice: {err}");
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge =
        IntGauge::new(name, help).unwrap_or_else(|err| unreachable!("metric {name}: {err}"));
    register(registry, gauge.clone());
    gauge
}

fn float_gauge(registry: &Registry, name: &str, help: &str) -> Gauge {
    let gauge = Gauge::new(name, help).unwrap_or_else(|err| unreachable!("metric {name}: {err}"));
    register(registry, gauge.clone());
    gauge
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    let counter =
        IntCounter::new(name, help).unwrap_or_else(|err| unreachable!("metric {name}: {err}"));
    register(registry, counter.clone());
    counter
}

fn counter_vec(registry: &Registry, name: &str, help: &str, label: &str) -> IntCounterVec {
    let counter = IntCounterVec::new(Opts::new(name, help), &[label])
        .unwrap_or_else(|err| unreachable!("metric {name}: {err}"));
    register(registry, counter.clone());
    counter
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let histogram = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .unwrap_or_else(|err| unreachable!("metric {name}: {err}"));
    register(registry, histogram.clone());
    histogram
}

impl Metrics {
    // The names and options are constants, so creating the metrics cannot fail.
    fn new() -> Metrics {
        let registry = Registry::new();
        let webhook_latency = HistogramVec::new(
            HistogramOpts::new("palaver_webhook_seconds", "Webhook bot calls, by outcome")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["outcome"],
        )
        .unwrap_or_else(|err| unreachable!("metric palaver_webhook_seconds: {err}"));
        register(&registry, webhook_latency.clone());
        let node = IntGaugeVec::new(
            Opts::new("palaver_node", "This node, named by its --node-id label"),
            &["node"],
        )
        .unwrap_or_else(|err| unreachable!("metric palaver_node: {err}"));
        register(&registry, node.clone());
        Metrics {
            node,
            bus_published: counter(
                &registry,
                "palaver_bus_published_total",
                "Events published to other nodes over Redis",
            ),
            bus_dropped: counter(
                &registry,
                "palaver_bus_dropped_total",
                "Events not published (queue full or Redis away); receivers read the store",
            ),
            bus_received: counter(
                &registry,
                "palaver_bus_received_total",
                "Events received from other nodes over Redis",
            ),
            bus_resyncs: counter(
                &registry,
                "palaver_bus_resyncs_total",
                "Events an actor's full mailbox could not take; it catches up from the store",
            ),
            bus_reconnects: counter(
                &registry,
                "palaver_bus_reconnects_total",
                "Redis subscription connections lost",
            ),
            catch_up_reads: counter(
                &registry,
                "palaver_catch_up_reads_total",
                "Store reads by rooms filling a gap in the seq order",
            ),
            connections_open: gauge(
                &registry,
                "palaver_connections_open",
                "WebSocket connections open",
            ),
            users_online: gauge(
                &registry,
                "palaver_users_online",
                "Users with at least one connection",
            ),
            rooms_active: gauge(&registry, "palaver_rooms_active", "Room actors running"),
            messages_stored: counter(
                &registry,
                "palaver_messages_stored_total",
                "Messages committed",
            ),
            messages_delivered: counter(
                &registry,
                "palaver_messages_delivered_total",
                "Message events queued to joined connections",
            ),
            frames_in: counter(
                &registry,
                "palaver_frames_in_total",
                "WebSocket frames received",
            ),
            frames_out: counter(
                &registry,
                "palaver_frames_out_total",
                "WebSocket text frames queued to clients",
            ),
            errors: counter_vec(
                &registry,
                "palaver_errors_total",
                "Errors answered, by protocol code",
                "code",
            ),
            ack_latency: histogram(
                &registry,
                "palaver_ack_latency_seconds",
                "From a send's frame read to its ok queued, after the commit",
                LATENCY_BUCKETS,
            ),
            commit_latency: histogram(
                &registry,
                "palaver_store_commit_seconds",
                "One group commit of the store writer",
                LATENCY_BUCKETS,
            ),
            commit_batch: histogram(
                &registry,
                "palaver_store_commit_batch_size",
                "Messages in one group commit",
                BATCH_BUCKETS,
            ),
            commits_in_flight: gauge(
                &registry,
                "palaver_store_commits_in_flight",
                "Group-commit batches of the store writer being committed now",
            ),
            webhook_latency,
            connections_closed: counter_vec(
                &registry,
                "palaver_connections_closed_total",
                "Connections the server closed, by close code",
                "code",
            ),
            connections_refused: counter_vec(
                &registry,
                "palaver_connections_refused_total",
                "WebSocket upgrades refused with 503 by a connection cap, by cap",
                "cap",
            ),
            uploads_refused: counter_vec(
                &registry,
                "palaver_uploads_refused_total",
                "Uploads refused while their body was read, by cause",
                "cause",
            ),
            files_uploaded: counter(
                &registry,
                "palaver_files_uploaded_total",
                "Uploads committed",
            ),
            file_bytes_stored: counter(
                &registry,
                "palaver_file_bytes_stored_total",
                "Bytes of uploads committed",
            ),
            files_deleted: counter(
                &registry,
                "palaver_files_deleted_total",
                "Uploads deleted: unreferenced after a day, or with their room",
            ),
            jwks_fetches: counter_vec(
                &registry,
                "palaver_jwks_fetches_total",
                "JWKS fetches for JWT sign-in, by outcome (ok, failed)",
                "outcome",
            ),
            push_decided: counter(
                &registry,
                "palaver_push_decided_total",
                "Notifications decided by commits (a message, a user with a device)",
            ),
            push_sent: counter_vec(
                &registry,
                "palaver_push_sent_total",
                "Notifications a provider took, by provider",
                "provider",
            ),
            push_failed: counter_vec(
                &registry,
                "palaver_push_failed_total",
                "Notifications given up (refused, or the TTL passed), by provider",
                "provider",
            ),
            push_dropped_devices: counter_vec(
                &registry,
                "palaver_push_dropped_devices_total",
                "Devices removed because the provider answered 404 or 410, by provider",
                "provider",
            ),
            push_retries: counter_vec(
                &registry,
                "palaver_push_retries_total",
                "Deliveries tried again later (429, 5xx, no answer), by provider",
                "provider",
            ),
            push_folded: counter(
                &registry,
                "palaver_push_folded_total",
                "Messages folded into one notification with newer ones",
            ),
            push_read: counter(
                &registry,
                "palaver_push_read_total",
                "Messages read before their notification went: not sent",
            ),
            push_oldest_unsent: float_gauge(
                &registry,
                "palaver_push_oldest_unsent_seconds",
                "Age of the oldest notification not yet handed to a provider",
            ),
            retention_deleted: counter_vec(
                &registry,
                "palaver_retention_deleted_total",
                "Messages and files deleted by --retention-days, by what (messages, files)",
                "what",
            ),
            retention_failures: counter(
                &registry,
                "palaver_retention_failures_total",
                "Retention rounds that stopped on a store error (tried again next round)",
            ),
            registry,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        String::from_utf8(buffer).map_err(|err| prometheus::Error::Msg(err.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::METRICS;

    #[test]
    fn renders_every_family() {
        METRICS.errors.with_label_values(&["bad_request"]).inc();
        METRICS.ack_latency.observe(0.002);
        let text = METRICS.render().expect("the metrics render");
        for name in [
            "palaver_connections_open",
            "palaver_messages_stored_total",
            "palaver_errors_total{code=\"bad_request\"}",
            "palaver_ack_latency_seconds_bucket",
            "palaver_store_commit_seconds",
            "palaver_store_commits_in_flight",
            "palaver_files_uploaded_total",
            "palaver_file_bytes_stored_total",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
