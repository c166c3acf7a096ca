//! Settings every network sink shares, as written (serde, documented defaults) and validated
//! into [`DeliverySettings`]: authentication, TLS, retries, the buffer and the rate limit.
//! A sink declares the fields it offers, of these types.

use crate::settings::bytesize::ByteSize;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
pub use crate::settings::http_auth::HttpAuth;
use crate::settings::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Requests in flight at most (lanes).
pub const MAX_CONCURRENCY: usize = 64;

/// What every HTTP sink writes besides its own fields, gathered for validation. Each sink
/// declares these fields itself (so unknown fields are still refused with a suggestion);
/// the defaults below are shared.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpDelivery {
    pub auth: Option<HttpAuth>,
    pub headers: BTreeMap<String, Secret>,
    pub retry: RetrySection,
    pub request_timeout: HumanDuration,
    pub concurrency: usize,
    pub buffer: BufferSection,
    pub tls: TlsSection,
    pub unhealthy_after: HumanDuration,
}

pub fn default_concurrency() -> usize {
    1
}

pub fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

pub fn default_unhealthy_after() -> HumanDuration {
    HumanDuration::from_secs(60)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
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

impl Default for RetrySection {
    fn default() -> Self {
        Self {
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferSection {
    /// What waits for the receiver in memory, at most.
    #[serde(default = "default_buffer_bytes")]
    pub max_bytes: ByteSize,
    /// Unset: `disk` (the write-ahead buffer), or `block` with `concurrency` above 1, or when
    /// `data_dir` cannot hold the buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_full: Option<WhenFull>,
    /// The write-ahead buffer of `when_full: disk`.
    #[serde(default)]
    pub disk: DiskBufferSection,
}

fn default_buffer_bytes() -> ByteSize {
    ByteSize::mib(4)
}

impl Default for BufferSection {
    fn default() -> Self {
        Self {
            max_bytes: default_buffer_bytes(),
            when_full: None,
            disk: DiskBufferSection::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskBufferSection {
    /// Bytes on disk at most (frames not yet delivered); when full, the sources pause.
    #[serde(default = "default_disk_bytes")]
    pub max_bytes: ByteSize,
    #[serde(default)]
    pub sync: DiskSync,
}

fn default_disk_bytes() -> ByteSize {
    ByteSize::mib(256)
}

impl Default for DiskBufferSection {
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
    /// Stop taking input: the sources pause (files are read later, nothing is lost unless
    /// rotation deletes a file before it is read, or vigia is killed holding the only handle
    /// on a deleted one).
    Block,
    /// Drop what does not fit (counted).
    DropNewest,
    /// Write every batch to a write-ahead buffer on disk (`buffer.disk`): the sources move on
    /// once their data is on disk, and an outage lasts as long as the disk holds.
    Disk,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
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

/// The shared part of a validated sink.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySettings {
    /// A request is cut when what it carries reaches this size…
    pub batch_max_bytes: usize,
    /// …or when its oldest item has waited this long.
    pub batch_max_wait: Duration,
    pub auth: Option<HttpAuth>,
    /// Extra headers; their values may be credentials (printed redacted).
    pub headers: Vec<(String, Secret)>,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub request_timeout: Duration,
    pub concurrency: usize,
    pub buffer_max_bytes: usize,
    pub when_full: WhenFull,
    /// `when_full` was not written: the disk buffer falls back to memory if `data_dir` is
    /// not writable, with a warning, instead of failing the start.
    pub when_full_defaulted: bool,
    pub disk_max_bytes: u64,
    pub disk_sync: DiskSync,
    /// Shaping, never dropping: bytes and items per second.
    pub rate_limit_bytes: Option<u64>,
    pub rate_limit_items: Option<u64>,
    pub tls: TlsSection,
    pub unhealthy_after: Duration,
}

/// How large a batch may be, for the buffer checks.
pub struct BatchLimits {
    pub max_bytes: u64,
    pub max_wait: Duration,
}

impl HttpDelivery {
    /// Checks the shared sections (`at` is the sink's path, e.g. `sinks.loki`).
    pub fn validate(
        &self,
        at: &str,
        batch: BatchLimits,
        problems: &mut Vec<Diagnostic>,
    ) -> DeliverySettings {
        let mut problem = |field: &str, message: String| {
            problems.push(Diagnostic::new(format!("{at}.{field}"), message));
        };
        match &self.auth {
            Some(HttpAuth::Basic {
                password,
                password_file,
                ..
            }) if password.is_some() == password_file.is_some() => problem(
                "auth.basic",
                "set exactly one of `password` and `password_file`".to_owned(),
            ),
            Some(HttpAuth::Bearer { token, token_file })
                if token.is_some() == token_file.is_some() =>
            {
                problem(
                    "auth.bearer",
                    "set exactly one of `token` and `token_file`".to_owned(),
                )
            }
            _ => {}
        }
        if self.buffer.max_bytes.0 < batch.max_bytes {
            problem(
                "buffer.max_bytes",
                format!(
                    "must hold at least one batch ({})",
                    ByteSize(batch.max_bytes)
                ),
            );
        }
        if self.buffer.disk.max_bytes.0 < 2 * batch.max_bytes {
            problem(
                "buffer.disk.max_bytes",
                format!(
                    "must hold at least two batches (2 × {})",
                    ByteSize(batch.max_bytes)
                ),
            );
        }
        // Durable by default: data counts as delivered for its source once it is on disk,
        // so files rotated away during an outage, and a kill during it, lose nothing. The
        // disk buffer is sent in order through one lane; asking for more lanes asks for memory.
        let when_full = self.buffer.when_full.unwrap_or(if self.concurrency > 1 {
            WhenFull::Block
        } else {
            WhenFull::Disk
        });
        if when_full != WhenFull::Disk && self.buffer.disk != DiskBufferSection::default() {
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
        DeliverySettings {
            batch_max_bytes: batch.max_bytes as usize,
            batch_max_wait: batch.max_wait,
            auth: self.auth.clone(),
            headers: self.headers.clone().into_iter().collect(),
            initial_backoff: self.retry.initial_backoff.0,
            max_backoff: self.retry.max_backoff.0,
            request_timeout: self.request_timeout.0,
            concurrency: self.concurrency,
            buffer_max_bytes: self.buffer.max_bytes.0 as usize,
            when_full,
            when_full_defaulted: self.buffer.when_full.is_none(),
            disk_max_bytes: self.buffer.disk.max_bytes.0,
            disk_sync: self.buffer.disk.sync,
            rate_limit_bytes: None,
            rate_limit_items: None,
            tls: self.tls.clone(),
            unhealthy_after: self.unhealthy_after.0,
        }
    }
}
