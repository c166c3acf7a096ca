//! Metrics of the delivery machinery every network sink shares (requests, retries, drops,
//! buffers), named per sink kind: `vigia_loki_lines_sent_total`,
//! `vigia_remote_write_samples_sent_total`… Families registered once per kind, handles
//! resolved per sink (`component` label).

use super::register::{register_counter, register_gauge};
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Registry,
};

/// Every sink kind's naming, for tests that check dashboards and rules name real metrics.
pub fn all_namings() -> [Naming; 2] {
    [super::loki::NAMING, super::remote_write::NAMING]
}

/// How a sink kind's delivery metrics are named and described.
#[derive(Debug, Clone, Copy)]
pub struct Naming {
    /// `vigia_loki`, `vigia_remote_write`.
    pub prefix: &'static str,
    /// What a request carries: `lines`, `samples`.
    pub items: &'static str,
    /// Who answers, for the help texts: `Loki`, `the remote-write receiver`.
    pub peer: &'static str,
    /// The drop reasons the sink has besides `rejected_<status>`, for the help text.
    pub drop_reasons: &'static str,
}

#[derive(Clone)]
pub struct DeliveryFamilies {
    requests: IntCounterVec,
    items_sent: IntCounterVec,
    bytes_sent: IntCounterVec,
    retries: IntCounterVec,
    items_dropped: IntCounterVec,
    unexpected_success: IntCounterVec,
    request_duration: HistogramVec,
    buffer_bytes: IntGaugeVec,
    buffer_max_bytes: IntGaugeVec,
    buffer_items: IntGaugeVec,
    disk_corrupted_bytes: IntCounterVec,
    disk_errors: IntCounterVec,
}

/// One sink's handles.
#[derive(Clone)]
pub struct DeliveryMetrics {
    families: DeliveryFamilies,
    component: String,
    pub items_sent: IntCounter,
    pub bytes_sent: IntCounter,
    pub retries: IntCounter,
    pub unexpected_success: IntCounter,
    pub request_duration: Histogram,
    /// Items held in memory.
    pub buffer_bytes: IntGauge,
    pub buffer_items: IntGauge,
    /// Frames on disk not yet delivered.
    pub disk_bytes: IntGauge,
    pub disk_items: IntGauge,
    pub corrupted_bytes: IntCounter,
    pub disk_errors: IntCounter,
}

impl DeliveryMetrics {
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

    /// Items dropped, by reason (`rejected_400`, `buffer_full`…).
    pub fn dropped(&self, reason: &str, items: u64) {
        self.families
            .items_dropped
            .with_label_values(&[&self.component, reason])
            .inc_by(items);
    }

    /// The sink's id.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Items entered the memory buffer.
    pub fn held(&self, bytes: usize, items: usize) {
        self.buffer_bytes.add(bytes as i64);
        self.buffer_items.add(items as i64);
    }

    /// Items left the memory buffer (sent, refused, dropped or written to disk).
    pub fn released(&self, bytes: usize, items: usize) {
        self.buffer_bytes.sub(bytes as i64);
        self.buffer_items.sub(items as i64);
    }
}

impl DeliveryFamilies {
    pub fn register(registry: &Registry, naming: Naming) -> Self {
        let Naming {
            prefix,
            items,
            peer,
            drop_reasons,
        } = naming;
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_counter(registry, &format!("{prefix}_{name}"), help, labels)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register_gauge(registry, &format!("{prefix}_{name}"), help, labels)
        };
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                format!("{prefix}_request_duration_seconds"),
                format!("Time from sending a request to {peer}'s answer."),
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
                "requests_total",
                &format!(
                    "Requests to {peer}, by outcome: the HTTP status, or `error` when none came."
                ),
                &["component", "status"],
            ),
            items_sent: counter(
                &format!("{items}_sent_total"),
                &format!("{} {peer} accepted (a 2xx answer).", capitalized(items)),
                &["component"],
            ),
            bytes_sent: counter(
                "bytes_sent_total",
                &format!("Request body bytes {peer} accepted, as sent (compressed)."),
                &["component"],
            ),
            retries: counter(
                "retries_total",
                "Requests sent again after a 429, a 5xx or a network error.",
                &["component"],
            ),
            items_dropped: counter(
                &format!("{items}_dropped_total"),
                &format!(
                    "{} not delivered, by reason: rejected_<status> ({peer} refused them), \
                     {drop_reasons}.",
                    capitalized(items)
                ),
                &["component", "reason"],
            ),
            unexpected_success: counter(
                "unexpected_success_total",
                &format!(
                    "2xx answers other than 204 (for example 260: ingestion blocked by policy) from {peer}."
                ),
                &["component"],
            ),
            request_duration,
            buffer_bytes: gauge(
                "buffer_bytes",
                &format!(
                    "Bytes waiting for {peer}, by buffer: memory ({items}, bounded by \
                     buffer.max_bytes) or disk (frames, bounded by buffer.disk.max_bytes)."
                ),
                &["component", "buffer"],
            ),
            buffer_max_bytes: gauge(
                "buffer_max_bytes",
                "Capacity of each buffer (buffer.max_bytes, buffer.disk.max_bytes when it is on).",
                &["component", "buffer"],
            ),
            buffer_items: gauge(
                &format!("buffer_{items}"),
                &format!(
                    "{} waiting for {peer}, by buffer: memory or disk.",
                    capitalized(items)
                ),
                &["component", "buffer"],
            ),
            disk_corrupted_bytes: counter(
                "disk_buffer_corrupted_bytes_total",
                "Disk buffer bytes skipped because a frame was cut short (a crash while writing) \
                 or failed its checksum.",
                &["component"],
            ),
            disk_errors: counter(
                "disk_buffer_errors_total",
                "Writes to the disk buffer that failed (the batch was sent from memory instead).",
                &["component"],
            ),
        }
    }

    /// The names of the families a sink kind exports (they are built from its [`Naming`],
    /// so they appear nowhere in the source as literals).
    pub fn names(naming: Naming) -> Vec<String> {
        use prometheus::core::Collector;
        let families = Self::register(&Registry::new(), naming);
        let collectors: [&dyn Collector; 12] = [
            &families.requests,
            &families.items_sent,
            &families.bytes_sent,
            &families.retries,
            &families.items_dropped,
            &families.unexpected_success,
            &families.request_duration,
            &families.buffer_bytes,
            &families.buffer_max_bytes,
            &families.buffer_items,
            &families.disk_corrupted_bytes,
            &families.disk_errors,
        ];
        collectors
            .iter()
            .flat_map(|c| c.desc())
            .map(|desc| desc.fq_name.clone())
            .collect()
    }

    pub fn for_sink(&self, component: &str) -> DeliveryMetrics {
        let one = [component];
        DeliveryMetrics {
            families: self.clone(),
            component: component.to_owned(),
            items_sent: self.items_sent.with_label_values(&one),
            bytes_sent: self.bytes_sent.with_label_values(&one),
            retries: self.retries.with_label_values(&one),
            unexpected_success: self.unexpected_success.with_label_values(&one),
            request_duration: self.request_duration.with_label_values(&one),
            buffer_bytes: self.buffer_bytes.with_label_values(&[component, "memory"]),
            buffer_items: self.buffer_items.with_label_values(&[component, "memory"]),
            disk_bytes: self.buffer_bytes.with_label_values(&[component, "disk"]),
            disk_items: self.buffer_items.with_label_values(&[component, "disk"]),
            corrupted_bytes: self.disk_corrupted_bytes.with_label_values(&one),
            disk_errors: self.disk_errors.with_label_values(&one),
        }
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
