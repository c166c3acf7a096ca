//! The `loki` sink's configuration: as written, and validated into [`LokiSettings`].

use super::labels::{self, MAX_LABELS, Template};
use crate::settings::ValidationContext;
use crate::settings::bytesize::ByteSize;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use crate::sink::component::{Sink, SinkContext, SinkSpec, SinkTask};
use crate::sink::delivery::config::WhenFull;
use crate::sink::delivery::config::{
    BatchLimits, BufferSection, DeliverySettings, HttpAuth, HttpDelivery, RetrySection, TlsSection,
    default_concurrency, default_request_timeout, default_unhealthy_after,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiSink {
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Loki's address (`http://loki:3100`) or the full push URL.
    pub endpoint: String,
    /// Sent as `X-Scope-OrgID`.
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    /// Extra request headers (a gateway's own, for example).
    #[serde(default)]
    pub headers: BTreeMap<String, crate::settings::secret::Secret>,
    #[serde(default)]
    pub encoding: LokiEncoding,
    /// Stream labels: name → value, with `{{ field }}` taken from the event's source.
    #[serde(default = "default_labels")]
    pub labels: BTreeMap<String, String>,
    /// Per-event values sent as structured metadata, never as labels.
    #[serde(default = "default_structured_metadata")]
    pub structured_metadata: Vec<MetadataField>,
    #[serde(default)]
    pub batch: LokiBatch,
    #[serde(default)]
    pub retry: RetrySection,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// Requests in flight at once, each stream's still in order.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub buffer: BufferSection,
    #[serde(default)]
    pub rate_limit: Option<LokiRateLimit>,
    #[serde(default)]
    pub out_of_order: LokiOutOfOrder,
    /// Most streams at once; the label values of streams past it fold into `overflow`.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    #[serde(default)]
    pub tls: TlsSection,
    /// `/readyz` reports the sink failing after this long without a successful push.
    #[serde(default = "default_unhealthy_after")]
    pub unhealthy_after: HumanDuration,
}

fn default_labels() -> BTreeMap<String, String> {
    [
        ("service_name", "{{ source }}"),
        ("namespace", "{{ kubernetes.namespace }}"),
        ("pod", "{{ kubernetes.pod }}"),
        ("container", "{{ kubernetes.container }}"),
        ("stream", "{{ stream }}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn default_structured_metadata() -> Vec<MetadataField> {
    vec![MetadataField::TraceId, MetadataField::SpanId]
}

fn default_max_streams() -> usize {
    1000
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LokiEncoding {
    /// protobuf in a snappy block, as Loki's clients send.
    #[default]
    Protobuf,
    /// JSON, for gateways and debugging.
    Json,
    /// JSON compressed with gzip.
    JsonGzip,
}

impl LokiEncoding {
    /// Its code in the disk buffer's frames (the values earlier versions wrote).
    pub fn code(self) -> u8 {
        match self {
            LokiEncoding::Protobuf => 1,
            LokiEncoding::Json => 2,
            LokiEncoding::JsonGzip => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(LokiEncoding::Protobuf),
            2 => Some(LokiEncoding::Json),
            3 => Some(LokiEncoding::JsonGzip),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataField {
    TraceId,
    SpanId,
    PodUid,
    File,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiBatch {
    /// A request is sent when its lines reach this size…
    #[serde(default = "default_batch_bytes")]
    pub max_bytes: ByteSize,
    /// …or when its oldest line has waited this long.
    #[serde(default = "default_batch_wait")]
    pub max_wait: HumanDuration,
}

fn default_batch_bytes() -> ByteSize {
    ByteSize::mib(1)
}

fn default_batch_wait() -> HumanDuration {
    HumanDuration::from_secs(1)
}

impl Default for LokiBatch {
    fn default() -> Self {
        Self {
            max_bytes: default_batch_bytes(),
            max_wait: default_batch_wait(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiRateLimit {
    #[serde(default)]
    pub bytes_per_second: Option<ByteSize>,
    #[serde(default)]
    pub lines_per_second: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiOutOfOrder {
    /// What to do with a line older than its stream's newest line minus `window`.
    #[serde(default)]
    pub policy: OutOfOrderPolicy,
    /// Loki's out-of-order window: half its `max_chunk_age` (1h by default).
    #[serde(default = "default_window")]
    pub window: HumanDuration,
}

fn default_window() -> HumanDuration {
    HumanDuration::from_secs(3600)
}

impl Default for LokiOutOfOrder {
    fn default() -> Self {
        Self {
            policy: OutOfOrderPolicy::default(),
            window: default_window(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutOfOrderPolicy {
    /// Send it as it is (Loki rejects it with a 400, counted).
    Accept,
    /// Send it with the stream's oldest accepted time (the line keeps its own `ts`).
    #[default]
    RewriteTimestamp,
    /// Drop it (counted).
    Drop,
}

/// A validated `loki` sink.
#[derive(Debug, Clone, PartialEq)]
pub struct LokiSettings {
    pub push_url: String,
    pub tenant: Option<String>,
    pub encoding: LokiEncoding,
    pub labels: Vec<(String, Template)>,
    pub structured_metadata: Vec<MetadataField>,
    pub out_of_order: OutOfOrderPolicy,
    pub out_of_order_window: Duration,
    pub max_streams: usize,
    /// Batching, retries, buffers, rate limit, auth, TLS: the shared delivery machinery's.
    pub delivery: DeliverySettings,
}

/// Loki refuses a compressed body over 100 MiB; a batch stays well under.
const MAX_BATCH_BYTES: u64 = 64 << 20;

impl LokiSink {
    pub fn validate(&self, at: &str, problems: &mut Vec<Diagnostic>) -> LokiSettings {
        let mut problem = |field: &str, message: String| {
            problems.push(Diagnostic::new(format!("{at}.{field}"), message));
        };
        let endpoint = self.endpoint.trim().trim_end_matches('/');
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            problem(
                "endpoint",
                format!("`{endpoint}` is not an http:// or https:// URL"),
            );
        }
        let push_url = if endpoint.ends_with("/loki/api/v1/push") {
            endpoint.to_owned()
        } else {
            format!("{endpoint}/loki/api/v1/push")
        };
        if let Some(tenant) = &self.tenant
            && (tenant.is_empty() || tenant.contains(':'))
        {
            problem(
                "tenant",
                "a tenant id must be non-empty and cannot contain `:`".to_owned(),
            );
        }
        let mut labels = Vec::new();
        for (name, value) in &self.labels {
            if let Err(message) = labels::check_name(name) {
                problem(&format!("labels.{name}"), message);
            }
            match Template::parse(value) {
                Ok(template) => labels.push((name.clone(), template)),
                Err(message) => problem(&format!("labels.{name}"), message),
            }
            if value.len() > labels::MAX_VALUE_BYTES {
                problem(
                    &format!("labels.{name}"),
                    format!("longer than Loki's {} bytes", labels::MAX_VALUE_BYTES),
                );
            }
        }
        if self.labels.len() > MAX_LABELS {
            problem(
                "labels",
                format!(
                    "{} labels: Loki accepts at most {MAX_LABELS} per stream",
                    self.labels.len()
                ),
            );
        }
        if self.labels.is_empty() {
            problem("labels", "a stream needs at least one label".to_owned());
        }
        let batch_bytes = self.batch.max_bytes.0;
        if !(1024..=MAX_BATCH_BYTES).contains(&batch_bytes) {
            problem(
                "batch.max_bytes",
                format!("must be between 1KiB and {}", ByteSize(MAX_BATCH_BYTES)),
            );
        }
        if self.max_streams == 0 {
            problem("max_streams", "must be at least 1".to_owned());
        }
        if let Some(limit) = &self.rate_limit
            && (limit.bytes_per_second.is_some_and(|b| b.0 == 0)
                || limit.lines_per_second == Some(0))
        {
            problem("rate_limit", "limits must be above zero".to_owned());
        }
        let mut delivery = HttpDelivery {
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
                max_wait: self.batch.max_wait.0,
            },
            problems,
        );
        if let Some(limit) = &self.rate_limit {
            delivery.rate_limit_bytes = limit.bytes_per_second.map(|b| b.0);
            delivery.rate_limit_items = limit.lines_per_second.map(u64::from);
        }
        LokiSettings {
            push_url,
            tenant: self.tenant.clone(),
            encoding: self.encoding,
            labels,
            structured_metadata: self.structured_metadata.clone(),
            out_of_order: self.out_of_order.policy,
            out_of_order_window: self.out_of_order.window.0,
            max_streams: self.max_streams,
            delivery,
        }
    }
}

impl SinkSpec for LokiSink {
    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn validate(
        &self,
        cx: &ValidationContext<'_>,
        problems: &mut Vec<Diagnostic>,
    ) -> Arc<dyn Sink> {
        Arc::new(LokiComponent(LokiSink::validate(self, cx.at, problems)))
    }
}

/// A validated `loki` sink.
#[derive(Debug)]
pub struct LokiComponent(pub LokiSettings);

impl Sink for LokiComponent {
    fn disk_buffered(&self) -> bool {
        self.0.delivery.when_full == WhenFull::Disk
    }

    fn run(&self, cx: SinkContext) -> SinkTask {
        let settings = self.0.clone();
        Box::pin(async move {
            let metrics = cx.agent.loki(&cx.id);
            super::run(
                cx.logs,
                settings,
                &cx.buffer_dir,
                cx.positions,
                metrics,
                cx.counters,
                cx.health,
            )
            .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::delivery::config::DiskSync;

    /// The fields that `yaml` (a `loki` sink) gets wrong.
    fn problems(yaml: &str) -> Vec<String> {
        let sink: LokiSink = serde_saphyr::from_str(yaml).unwrap();
        let mut problems = Vec::new();
        sink.validate("sinks.loki", &mut problems);
        problems
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn a_minimal_sink_is_valid_with_documented_defaults() {
        let sink: LokiSink = serde_saphyr::from_str("endpoint: http://loki:3100/").unwrap();
        let mut problems = Vec::new();
        let settings = sink.validate("sinks.loki", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.push_url, "http://loki:3100/loki/api/v1/push");
        assert_eq!(settings.delivery.batch_max_bytes, 1 << 20);
        assert_eq!(settings.delivery.buffer_max_bytes, 4 << 20);
        assert_eq!(
            settings.delivery.when_full,
            WhenFull::Disk,
            "durable by default"
        );
        assert!(settings.delivery.when_full_defaulted);
        assert_eq!(settings.delivery.disk_max_bytes, 256 << 20);
        assert_eq!(settings.delivery.disk_sync, DiskSync::Full);
        assert_eq!(settings.delivery.concurrency, 1);

        // More lanes than one ask for the memory buffer (the disk buffer has one lane).
        let sink: LokiSink =
            serde_saphyr::from_str("endpoint: http://loki:3100\nconcurrency: 4").unwrap();
        let settings = sink.validate("sinks.loki", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.delivery.when_full, WhenFull::Block);
    }

    #[test]
    fn what_loki_would_refuse_is_refused_at_config_time() {
        let cases = [
            ("endpoint: loki:3100", "sinks.loki.endpoint"),
            (
                "endpoint: http://l\nlabels: {__name: x}",
                "sinks.loki.labels.__name",
            ),
            (
                "endpoint: http://l\nlabels: {app-name: x}",
                "sinks.loki.labels.app-name",
            ),
            ("endpoint: http://l\ntenant: \"a:b\"", "sinks.loki.tenant"),
            (
                "endpoint: http://l\nauth: {bearer: {token: a, token_file: /t}}",
                "sinks.loki.auth.bearer",
            ),
            (
                "endpoint: http://l\nbatch: {max_bytes: 4MiB}\nbuffer: {max_bytes: 1MiB}",
                "sinks.loki.buffer.max_bytes",
            ),
            (
                "endpoint: http://l\nbuffer: {when_full: disk, disk: {max_bytes: 1MiB}}",
                "sinks.loki.buffer.disk.max_bytes",
            ),
            (
                "endpoint: http://l\nbuffer: {when_full: block, disk: {sync: normal}}",
                "sinks.loki.buffer.disk",
            ),
            (
                "endpoint: http://l\nconcurrency: 0",
                "sinks.loki.concurrency",
            ),
            (
                "endpoint: http://l\nconcurrency: 65",
                "sinks.loki.concurrency",
            ),
            (
                "endpoint: http://l\nconcurrency: 2\nbuffer: {when_full: disk}",
                "sinks.loki.concurrency",
            ),
        ];
        for (yaml, field) in cases {
            let found = problems(yaml);
            assert!(
                found.iter().any(|p| p.starts_with(field)),
                "{yaml}: expected a problem at {field}, got {found:?}"
            );
        }
        let many: String = (0..16).map(|i| format!("l{i}: x, ")).collect();
        assert!(
            problems(&format!("endpoint: http://l\nlabels: {{{many}}}"))
                .iter()
                .any(|p| p.contains("at most 15"))
        );
        assert!(
            problems("endpoint: http://l\nbuffer: {when_full: disk, disk: {sync: normal}}")
                .is_empty()
        );
    }
}
