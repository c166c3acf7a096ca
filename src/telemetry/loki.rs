//! Metrics of the Loki sinks: families registered once, handles resolved per sink.

use super::register::{register_counter, register_gauge};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Registry,
};

#[derive(Clone)]
pub struct LokiFamilies {
    requests: IntCounterVec,
    lines_sent: IntCounterVec,
    bytes_sent: IntCounterVec,
    retries: IntCounterVec,
    lines_dropped: IntCounterVec,
    lines_rewritten: IntCounterVec,
    unexpected_success: IntCounterVec,
    request_duration: HistogramVec,
    buffer_bytes: IntGaugeVec,
    buffer_max_bytes: IntGaugeVec,
    buffer_lines: IntGaugeVec,
    active_streams: IntGaugeVec,
    disk_corrupted_bytes: IntCounterVec,
    disk_errors: IntCounterVec,
}

/// One sink's handles.
#[derive(Clone)]
pub struct LokiMetrics {
    families: LokiFamilies,
    component: String,
    pub lines_sent: IntCounter,
    pub bytes_sent: IntCounter,
    pub retries: IntCounter,
    pub unexpected_success: IntCounter,
    pub request_duration: Histogram,
    /// Lines held in memory.
    pub buffer_bytes: IntGauge,
    pub buffer_lines: IntGauge,
    /// Frames on disk not yet delivered.
    pub disk_bytes: IntGauge,
    pub disk_lines: IntGauge,
    pub active_streams: IntGauge,
    pub corrupted_bytes: IntCounter,
    pub disk_errors: IntCounter,
}

impl LokiMetrics {
    /// Publishes a buffer's capacity (`memory` or `disk`).
    pub fn buffer_capacity(&self, buffer: &str, bytes: u64) {
        self.families
            .buffer_max_bytes
            .with_label_values(&[&self.component, buffer])
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Requests by outcome: the HTTP status, or `error` when there was no response.
    pub fn request(&self, status: &str) {
        self.families
            .requests
            .with_label_values(&[&self.component, status])
            .inc();
    }

    /// Lines dropped, by reason (`rejected_400`, `buffer_full`, `out_of_order`…).
    pub fn dropped(&self, reason: &str, lines: u64) {
        self.families
            .lines_dropped
            .with_label_values(&[&self.component, reason])
            .inc_by(lines);
    }

    /// Lines sent with a changed timestamp, by reason.
    pub fn rewritten(&self, reason: &str, lines: u64) {
        self.families
            .lines_rewritten
            .with_label_values(&[&self.component, reason])
            .inc_by(lines);
    }
}

impl LokiFamilies {
    pub fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_counter(registry, name, help, labels)
        };
        let gauge = |name: &str, help: &str| register_gauge(registry, name, help, &["component"]);
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "vigia_loki_request_duration_seconds",
                "Time from sending a push request to Loki's answer.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["component"],
        )
        .expect("static metric definitions are valid");
        registry
            .register(Box::new(request_duration.clone()))
            .expect("each metric is registered once");
        Self {
            requests: counter(
                "vigia_loki_requests_total",
                "Push requests, by outcome: the HTTP status, or `error` when none came.",
                &["component", "status"],
            ),
            lines_sent: counter(
                "vigia_loki_lines_sent_total",
                "Lines Loki accepted (a 2xx answer).",
                &["component"],
            ),
            bytes_sent: counter(
                "vigia_loki_bytes_sent_total",
                "Request body bytes Loki accepted, as sent (compressed).",
                &["component"],
            ),
            retries: counter(
                "vigia_loki_retries_total",
                "Push requests sent again after a 429, a 5xx or a network error.",
                &["component"],
            ),
            lines_dropped: counter(
                "vigia_loki_lines_dropped_total",
                "Lines not delivered, by reason: rejected_<status> (Loki refused them), \
                 buffer_full (the drop_newest policy), out_of_order (the drop policy).",
                &["component", "reason"],
            ),
            lines_rewritten: counter(
                "vigia_loki_lines_rewritten_total",
                "Lines sent changed, by reason: out_of_order (another timestamp), stream_overflow \
                 (templated labels folded into `overflow`).",
                &["component", "reason"],
            ),
            unexpected_success: counter(
                "vigia_loki_unexpected_success_total",
                "2xx answers other than 204 (for example 260: ingestion blocked by policy).",
                &["component"],
            ),
            request_duration,
            buffer_bytes: register_gauge(
                registry,
                "vigia_loki_buffer_bytes",
                "Bytes waiting for Loki, by buffer: memory (lines, bounded by buffer.max_bytes) \
                 or disk (frames, bounded by buffer.disk.max_bytes).",
                &["component", "buffer"],
            ),
            buffer_max_bytes: register_gauge(
                registry,
                "vigia_loki_buffer_max_bytes",
                "Capacity of each buffer (buffer.max_bytes, buffer.disk.max_bytes when it is on).",
                &["component", "buffer"],
            ),
            buffer_lines: register_gauge(
                registry,
                "vigia_loki_buffer_lines",
                "Lines waiting for Loki, by buffer: memory or disk.",
                &["component", "buffer"],
            ),
            active_streams: gauge(
                "vigia_loki_active_streams",
                "Streams (label sets) sent to in the last hour (bounded by max_streams).",
            ),
            disk_corrupted_bytes: counter(
                "vigia_loki_disk_buffer_corrupted_bytes_total",
                "Disk buffer bytes skipped because a frame was cut short (a crash while writing) \
                 or failed its checksum.",
                &["component"],
            ),
            disk_errors: counter(
                "vigia_loki_disk_buffer_errors_total",
                "Writes to the disk buffer that failed (the batch was sent from memory instead).",
                &["component"],
            ),
        }
    }

    pub fn for_sink(&self, component: &str) -> LokiMetrics {
        let one = [component];
        LokiMetrics {
            families: self.clone(),
            component: component.to_owned(),
            lines_sent: self.lines_sent.with_label_values(&one),
            bytes_sent: self.bytes_sent.with_label_values(&one),
            retries: self.retries.with_label_values(&one),
            unexpected_success: self.unexpected_success.with_label_values(&one),
            request_duration: self.request_duration.with_label_values(&one),
            buffer_bytes: self.buffer_bytes.with_label_values(&[component, "memory"]),
            buffer_lines: self.buffer_lines.with_label_values(&[component, "memory"]),
            disk_bytes: self.buffer_bytes.with_label_values(&[component, "disk"]),
            disk_lines: self.buffer_lines.with_label_values(&[component, "disk"]),
            active_streams: self.active_streams.with_label_values(&one),
            corrupted_bytes: self.disk_corrupted_bytes.with_label_values(&one),
            disk_errors: self.disk_errors.with_label_values(&one),
        }
    }
}
