//! The `loki` sink's configuration: as written, and validated into [`LokiSettings`].

use super::labels::{self, MAX_LABELS, Template};
use crate::config::bytesize::ByteSize;
use crate::config::diagnostics::Diagnostic;
use crate::config::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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
    pub auth: Option<LokiAuth>,
    /// Extra request headers (a gateway's own, for example).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
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
    pub retry: LokiRetry,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// Requests in flight at once, each stream's still in order.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default)]
    pub buffer: LokiBuffer,
    #[serde(default)]
    pub rate_limit: Option<LokiRateLimit>,
    #[serde(default)]
    pub out_of_order: LokiOutOfOrder,
    /// Most streams at once; the label values of streams past it fold into `overflow`.
    #[serde(default = "default_max_streams")]
    pub max_streams: usize,
    #[serde(default)]
    pub tls: LokiTls,
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

fn default_concurrency() -> usize {
    1
}

/// More lanes than this only split the batches thinner.
const MAX_CONCURRENCY: usize = 64;

fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_max_streams() -> usize {
    1000
}

fn default_unhealthy_after() -> HumanDuration {
    HumanDuration::from_secs(60)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum LokiAuth {
    Basic {
        username: String,
        #[serde(default)]
        password: Option<String>,
        /// Read at each request when it changed (a rotated Kubernetes secret).
        #[serde(default)]
        password_file: Option<String>,
    },
    Bearer {
        #[serde(default)]
        token: Option<String>,
        #[serde(default)]
        token_file: Option<String>,
    },
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
pub struct LokiRetry {
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: HumanDuration,
    #[serde(default = "default_max_backoff")]
    pub max_backoff: HumanDuration,
}

fn default_initial_backoff() -> HumanDuration {
    HumanDuration::from_millis(500)
}

fn default_max_backoff() -> HumanDuration {
    HumanDuration::from_secs(300)
}

impl Default for LokiRetry {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiBuffer {
    /// Lines waiting for Loki, at most (their JSON size).
    #[serde(default = "default_buffer_bytes")]
    pub max_bytes: ByteSize,
    /// Unset: `disk` (the write-ahead buffer), or `block` with `concurrency` above 1, or when
    /// `data_dir` cannot hold the buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_full: Option<WhenFull>,
    /// The write-ahead buffer of `when_full: disk`.
    #[serde(default)]
    pub disk: LokiDiskBuffer,
}

fn default_buffer_bytes() -> ByteSize {
    ByteSize::mib(4)
}

impl Default for LokiBuffer {
    fn default() -> Self {
        Self {
            max_bytes: default_buffer_bytes(),
            when_full: None,
            disk: LokiDiskBuffer::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiDiskBuffer {
    /// Bytes on disk at most (frames not yet delivered); when full, the sources pause.
    #[serde(default = "default_disk_bytes")]
    pub max_bytes: ByteSize,
    #[serde(default)]
    pub sync: DiskSync,
}

fn default_disk_bytes() -> ByteSize {
    ByteSize::mib(256)
}

impl Default for LokiDiskBuffer {
    fn default() -> Self {
        Self {
            max_bytes: default_disk_bytes(),
            sync: DiskSync::default(),
        }
    }
}

/// When a frame written to the disk buffer counts as safe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskSync {
    /// After an fsync: survives a crash of the machine, not only of vigia.
    #[default]
    Full,
    /// Once written to the operating system: survives vigia being killed, not a power loss;
    /// much cheaper on slow disks.
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Stop taking lines: the sources pause (files are read later, nothing is lost unless
    /// rotation deletes a file before it is read, or vigia is killed holding the only handle
    /// on a deleted one).
    Block,
    /// Drop the lines that do not fit (counted).
    DropNewest,
    /// Write every batch to a write-ahead buffer on disk (`buffer.disk`): the sources move on
    /// once their lines are on disk, and an outage lasts as long as the disk holds.
    Disk,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LokiTls {
    /// CA certificates (PEM) to trust in addition to the system's.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// Client certificate and key (PEM), for mutual TLS.
    #[serde(default)]
    pub cert_file: Option<String>,
    #[serde(default)]
    pub key_file: Option<String>,
    /// Turns certificate verification off. For tests only: never in production.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// A validated `loki` sink.
#[derive(Debug, Clone, PartialEq)]
pub struct LokiSettings {
    pub push_url: String,
    pub tenant: Option<String>,
    pub auth: Option<LokiAuth>,
    pub headers: Vec<(String, String)>,
    pub encoding: LokiEncoding,
    pub labels: Vec<(String, Template)>,
    pub structured_metadata: Vec<MetadataField>,
    pub batch_max_bytes: usize,
    pub batch_max_wait: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
    pub concurrency: usize,
    pub buffer_max_bytes: usize,
    pub when_full: WhenFull,
    /// `when_full` was not set: without a usable `data_dir`, the sink falls back to `block`.
    pub when_full_defaulted: bool,
    pub disk_max_bytes: u64,
    pub disk_sync: DiskSync,
    pub rate_limit: Option<LokiRateLimit>,
    pub out_of_order: OutOfOrderPolicy,
    pub out_of_order_window: Duration,
    pub max_streams: usize,
    pub tls: LokiTls,
    pub unhealthy_after: Duration,
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
        match &self.auth {
            Some(LokiAuth::Basic {
                password,
                password_file,
                ..
            }) if password.is_some() == password_file.is_some() => problem(
                "auth.basic",
                "set exactly one of `password` and `password_file`".to_owned(),
            ),
            Some(LokiAuth::Bearer { token, token_file })
                if token.is_some() == token_file.is_some() =>
            {
                problem(
                    "auth.bearer",
                    "set exactly one of `token` and `token_file`".to_owned(),
                )
            }
            _ => {}
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
        if self.buffer.max_bytes.0 < batch_bytes {
            problem(
                "buffer.max_bytes",
                format!("must hold at least one batch ({})", self.batch.max_bytes),
            );
        }
        if self.buffer.disk.max_bytes.0 < 2 * batch_bytes {
            problem(
                "buffer.disk.max_bytes",
                format!(
                    "must hold at least two batches (2 × {})",
                    self.batch.max_bytes
                ),
            );
        }
        // Durable by default: a line counts as delivered for its source once it is on disk,
        // so files rotated away during an outage, and a kill during it, lose nothing. The
        // disk buffer is sent in order through one lane; asking for more lanes asks for memory.
        let when_full = self.buffer.when_full.unwrap_or(if self.concurrency > 1 {
            WhenFull::Block
        } else {
            WhenFull::Disk
        });
        if when_full != WhenFull::Disk && self.buffer.disk != LokiDiskBuffer::default() {
            problem("buffer.disk", "used only with `when_full: disk`".to_owned());
        }
        if self.retry.initial_backoff.0.is_zero()
            || self.retry.initial_backoff > self.retry.max_backoff
        {
            problem(
                "retry",
                "initial_backoff must be above zero and at most max_backoff".to_owned(),
            );
        }
        if self.request_timeout.0.is_zero() {
            problem("request_timeout", "must be above zero".to_owned());
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            problem(
                "concurrency",
                format!("must be between 1 and {MAX_CONCURRENCY}"),
            );
        } else if self.concurrency > 1 && self.buffer.when_full == Some(WhenFull::Disk) {
            problem(
                "concurrency",
                "the disk buffer is sent in order, one request at a time: leave it at 1 with `when_full: disk`".to_owned(),
            );
        }
        if self.max_streams == 0 {
            problem("max_streams", "must be at least 1".to_owned());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            problem("tls", "`cert_file` and `key_file` go together".to_owned());
        }
        for name in self.headers.keys() {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                problem(
                    &format!("headers.{name}"),
                    "not a valid header name".to_owned(),
                );
            }
        }
        if let Some(limit) = &self.rate_limit
            && (limit.bytes_per_second.is_some_and(|b| b.0 == 0)
                || limit.lines_per_second == Some(0))
        {
            problem("rate_limit", "limits must be above zero".to_owned());
        }
        LokiSettings {
            push_url,
            tenant: self.tenant.clone(),
            auth: self.auth.clone(),
            headers: self.headers.clone().into_iter().collect(),
            encoding: self.encoding,
            labels,
            structured_metadata: self.structured_metadata.clone(),
            batch_max_bytes: batch_bytes as usize,
            batch_max_wait: self.batch.max_wait.0,
            initial_backoff: self.retry.initial_backoff.0,
            max_backoff: self.retry.max_backoff.0,
            request_timeout: self.request_timeout.0,
            concurrency: self.concurrency,
            buffer_max_bytes: self.buffer.max_bytes.0 as usize,
            when_full,
            when_full_defaulted: self.buffer.when_full.is_none(),
            disk_max_bytes: self.buffer.disk.max_bytes.0,
            disk_sync: self.buffer.disk.sync,
            rate_limit: self.rate_limit.clone(),
            out_of_order: self.out_of_order.policy,
            out_of_order_window: self.out_of_order.window.0,
            max_streams: self.max_streams,
            tls: self.tls.clone(),
            unhealthy_after: self.unhealthy_after.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(settings.batch_max_bytes, 1 << 20);
        assert_eq!(settings.buffer_max_bytes, 4 << 20);
        assert_eq!(settings.when_full, WhenFull::Disk, "durable by default");
        assert!(settings.when_full_defaulted);
        assert_eq!(settings.disk_max_bytes, 256 << 20);
        assert_eq!(settings.disk_sync, DiskSync::Full);
        assert_eq!(settings.concurrency, 1);

        // More lanes than one ask for the memory buffer (the disk buffer has one lane).
        let sink: LokiSink =
            serde_saphyr::from_str("endpoint: http://loki:3100\nconcurrency: 4").unwrap();
        let settings = sink.validate("sinks.loki", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.when_full, WhenFull::Block);
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
