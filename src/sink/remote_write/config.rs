//! The `prometheus_remote_write` sink's configuration: as written, and validated into
//! [`RemoteWriteSettings`].

use crate::metrics::config::{RelabelRule, RelabelSpec, validate_relabel};
use crate::settings::ValidationContext;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use crate::sink::component::{Sink, SinkContext, SinkInput, SinkSpec, SinkTask};
use crate::sink::delivery::config::{
    BatchLimits, BufferSection, DeliverySettings, HttpAuth, HttpDelivery, RetrySection, TlsSection,
    WhenFull, default_concurrency, default_request_timeout, default_unhealthy_after,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteSink {
    /// The receiver's write URL (`http://prometheus:9090/api/v1/write`, Mimir's
    /// `/api/v1/push`…), used as it is.
    pub endpoint: String,
    #[serde(default)]
    pub queue: QueueSection,
    /// vigia's own metrics (and the RED families from logs), sent every `interval`.
    #[serde(default)]
    pub self_metrics: SelfMetricsSection,
    /// Labels added to every series that does not have them (`cluster`, `replica`…).
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// Rules applied to every series before it is sent, in order (the same rules as a
    /// scrape target's `metric_relabel`).
    #[serde(default)]
    pub write_relabel: Vec<RelabelSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Extra request headers; remote write's own (`Content-Type`, `Content-Encoding`,
    /// `X-Prometheus-Remote-Write-Version`, `User-Agent`) cannot be set.
    #[serde(default)]
    pub headers: BTreeMap<String, crate::settings::secret::Secret>,
    /// Prometheus's defaults: 30ms, then doubling up to 5s.
    #[serde(default = "default_retry")]
    pub retry: RetrySection,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// Requests in flight at once (a series always goes through the same one).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub buffer: BufferSection,
    #[serde(default)]
    pub tls: TlsSection,
    /// `/readyz` reports the sink failing after this long without a successful request.
    #[serde(default = "default_unhealthy_after")]
    pub unhealthy_after: HumanDuration,
}

/// Prometheus's `queue_config` names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    /// A request is sent when it holds this many samples…
    #[serde(default = "default_max_samples_per_send")]
    pub max_samples_per_send: usize,
    /// …or when its oldest sample has waited this long.
    #[serde(default = "default_batch_send_deadline")]
    pub batch_send_deadline: HumanDuration,
}

fn default_retry() -> RetrySection {
    RetrySection {
        initial_backoff: HumanDuration::from_millis(30),
        max_backoff: HumanDuration::from_secs(5),
    }
}

fn default_max_samples_per_send() -> usize {
    2000
}

fn default_batch_send_deadline() -> HumanDuration {
    HumanDuration::from_secs(5)
}

impl Default for QueueSection {
    fn default() -> Self {
        Self {
            max_samples_per_send: default_max_samples_per_send(),
            batch_send_deadline: default_batch_send_deadline(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfMetricsSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default = "default_self_interval")]
    pub interval: HumanDuration,
    /// Labels of the agent's own series: `job: vigia` and `instance: <host name>` unless set.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_true() -> bool {
    true
}

fn default_self_interval() -> HumanDuration {
    HumanDuration::from_secs(15)
}

impl Default for SelfMetricsSection {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_self_interval(),
            labels: BTreeMap::new(),
        }
    }
}

/// A validated `prometheus_remote_write` sink.
#[derive(Debug, Clone)]
pub struct RemoteWriteSettings {
    pub url: String,
    pub max_samples_per_send: usize,
    /// `None`: the agent's own metrics are not sent.
    pub self_interval: Option<Duration>,
    /// Sorted by name.
    pub self_labels: Vec<(String, String)>,
    pub external_labels: Vec<(String, String)>,
    pub write_relabel: Vec<RelabelRule>,
    pub delivery: DeliverySettings,
}

/// What a sample costs in the memory buffer besides its labels: its value and timestamp,
/// and the series' bookkeeping.
pub const SAMPLE_OVERHEAD_BYTES: usize = 48;
/// Remote write's own headers: configuration cannot set them.
const PROTOCOL_HEADERS: [&str; 4] = [
    "content-type",
    "content-encoding",
    "x-prometheus-remote-write-version",
    "user-agent",
];

impl RemoteWriteSink {
    pub fn validate(&self, at: &str, problems: &mut Vec<Diagnostic>) -> RemoteWriteSettings {
        let mut problem = |field: &str, message: String| {
            problems.push(Diagnostic::new(format!("{at}.{field}"), message));
        };
        let url = self.endpoint.trim().to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problem(
                "endpoint",
                format!("`{url}` is not an http:// or https:// URL"),
            );
        }
        if !(1..=100_000).contains(&self.queue.max_samples_per_send) {
            problem(
                "queue.max_samples_per_send",
                "must be between 1 and 100000".to_owned(),
            );
        }
        if self.queue.batch_send_deadline.0.is_zero() {
            problem("queue.batch_send_deadline", "must be above zero".to_owned());
        }
        if self.self_metrics.interval.0 < Duration::from_secs(1) {
            problem("self_metrics.interval", "must be at least 1s".to_owned());
        }
        for (section, labels) in [
            ("external_labels", &self.external_labels),
            ("self_metrics.labels", &self.self_metrics.labels),
        ] {
            for (name, value) in labels {
                if !crate::metrics::exposition::is_label_name(name) || name.starts_with("__") {
                    problem(
                        &format!("{section}.{name}"),
                        "not a valid label name".to_owned(),
                    );
                }
                if value.is_empty() {
                    problem(
                        &format!("{section}.{name}"),
                        "a label value cannot be empty".to_owned(),
                    );
                }
            }
        }
        for name in self.headers.keys() {
            if PROTOCOL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                problem(
                    &format!("headers.{name}"),
                    "remote write sets this header itself".to_owned(),
                );
            }
        }
        let write_relabel = validate_relabel(at, "write_relabel", &self.write_relabel, problems);
        // What a full request holds in memory, roughly: for the buffer's checks.
        let batch_bytes =
            (self.queue.max_samples_per_send.max(1) * 2 * SAMPLE_OVERHEAD_BYTES) as u64;
        let delivery = HttpDelivery {
            auth: self.auth.clone(),
            headers: self.headers.clone(),
            retry: self.retry.clone(),
            request_timeout: self.request_timeout,
            concurrency: self.concurrency,
            buffer: self.buffer.clone(),
            tls: self.tls.clone(),
            unhealthy_after: self.unhealthy_after,
        }
        .validate(
            at,
            BatchLimits {
                max_bytes: batch_bytes,
                max_wait: self.queue.batch_send_deadline.0,
            },
            problems,
        );
        let mut self_labels = self.self_metrics.labels.clone();
        self_labels
            .entry("job".to_owned())
            .or_insert_with(|| "vigia".to_owned());
        self_labels
            .entry("instance".to_owned())
            .or_insert_with(host_name);
        RemoteWriteSettings {
            url,
            max_samples_per_send: self.queue.max_samples_per_send,
            self_interval: self
                .self_metrics
                .enabled
                .then_some(self.self_metrics.interval.0),
            self_labels: self_labels.into_iter().collect(),
            external_labels: self.external_labels.clone().into_iter().collect(),
            write_relabel,
            delivery,
        }
    }
}

/// The host name (`HOSTNAME`, else the kernel's): the pod's name in Kubernetes.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
        })
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl SinkSpec for RemoteWriteSink {
    fn validate(
        &self,
        cx: &ValidationContext<'_>,
        problems: &mut Vec<Diagnostic>,
    ) -> Arc<dyn Sink> {
        Arc::new(RemoteWriteComponent(RemoteWriteSink::validate(
            self, cx.at, problems,
        )))
    }
}

/// A validated `prometheus_remote_write` sink.
#[derive(Debug)]
pub struct RemoteWriteComponent(pub RemoteWriteSettings);

impl Sink for RemoteWriteComponent {
    fn input(&self) -> SinkInput {
        SinkInput::Metrics
    }

    fn disk_buffered(&self) -> bool {
        self.0.delivery.when_full == WhenFull::Disk
    }

    fn run(&self, cx: SinkContext) -> SinkTask {
        Box::pin(super::run(self.0.clone(), cx))
    }
}
