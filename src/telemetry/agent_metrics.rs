//! The agent's own metrics, in a registry the agent owns (not a global), so each test gets
//! its own. Handles are resolved once per component, never per event, to keep label lookups
//! off the hot path.

use crate::build_info;
use crate::telemetry::register::{register_counter, register_gauge};
use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

pub struct AgentMetrics {
    registry: Registry,
    events_received: IntCounterVec,
    bytes_received: IntCounterVec,
    events_sent: IntCounterVec,
    events_acknowledged: IntCounterVec,
    lines_truncated: IntCounterVec,
    invalid_utf8_lines: IntCounterVec,
    component_ready: IntGaugeVec,
    files_watched: IntGaugeVec,
    files_open: IntGaugeVec,
    file_rotations: IntCounterVec,
    file_truncations: IntCounterVec,
    checkpoint_writes: IntCounterVec,
    checkpoint_errors: IntCounterVec,
    container_format_errors: IntCounterVec,
    file_unread_released: IntCounterVec,
    file_symlinks_refused: IntCounterVec,
    file_copies_read: IntCounterVec,
    file_read_lag: IntGaugeVec,
    redactions: IntCounterVec,
    loki: super::loki::LokiFamilies,
    remote_write: super::remote_write::RemoteWriteFamilies,
    admin: super::admin::AdminMetrics,
}

/// Metrics of one file source.
#[derive(Clone)]
pub struct FileSourceMetrics {
    pub files_watched: IntGauge,
    pub files_open: IntGauge,
    pub rotations: IntCounter,
    pub truncations: IntCounter,
    pub checkpoint_writes: IntCounter,
    pub checkpoint_write_errors: IntCounter,
    pub checkpoint_corrupt: IntCounter,
    pub container_format_errors: IntCounter,
    /// Symbolic links not followed (`follow_symlinks`).
    pub symlinks_refused: IntCounter,
    /// copytruncate copies whose unread tail was read.
    pub copies_read: IntCounter,
    unread_released: IntCounterVec,
    read_lag: IntGaugeVec,
    component: String,
}

impl FileSourceMetrics {
    /// Bytes of `file` not read yet.
    pub fn set_read_lag(&self, file: &str, bytes: u64) {
        self.read_lag
            .with_label_values(&[self.component.as_str(), file])
            .set(bytes.min(i64::MAX as u64) as i64);
    }

    /// Bytes of a file that vigia had to let go of without reading them, by why.
    pub fn unread_released(&self, reason: &str, bytes: u64) {
        self.unread_released
            .with_label_values(&[self.component.as_str(), reason])
            .inc_by(bytes);
    }

    /// The file is no longer read: its series goes away.
    pub fn forget_file(&self, file: &str) {
        let _ = self
            .read_lag
            .remove_label_values(&[self.component.as_str(), file]);
    }
}

/// Counters of one source.
#[derive(Clone)]
pub struct SourceCounters {
    pub events: IntCounter,
    pub bytes: IntCounter,
    pub truncated: IntCounter,
    /// `vigia_source_acknowledged_events_total` by status.
    pub delivered: IntCounter,
    pub rejected: IntCounter,
    pub failed: IntCounter,
}

/// Counters of one sink.
#[derive(Clone)]
pub struct SinkCounters {
    pub sent: IntCounter,
}

impl AgentMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register_counter(&registry, name, help, labels)
        };
        let events_received = counter(
            "vigia_source_events_total",
            "Events (lines) read by a source.",
            &["component"],
        );
        let bytes_received = counter(
            "vigia_source_bytes_total",
            "Bytes read by a source, before framing.",
            &["component"],
        );
        let events_sent = counter(
            "vigia_sink_events_total",
            "Events written by a sink.",
            &["component"],
        );
        let events_acknowledged = counter(
            "vigia_source_acknowledged_events_total",
            "Events of a source whose delivery finished, by outcome (delivered, rejected, failed).",
            &["component", "status"],
        );
        let lines_truncated = counter(
            "vigia_lines_truncated_total",
            "Lines cut at the source's max_line_bytes.",
            &["component"],
        );
        let invalid_utf8_lines = counter(
            "vigia_invalid_utf8_lines_total",
            "Lines that were not valid UTF-8 (kept, with invalid bytes replaced).",
            &["component"],
        );
        let gauge =
            |name: &str, help: &str, labels: &[&str]| register_gauge(&registry, name, help, labels);
        let files_watched = gauge(
            "vigia_files_watched",
            "Files a file source knows: being read, waiting to be read, or rotated and draining.",
            &["component"],
        );
        let files_open = gauge(
            "vigia_files_open",
            "Files a file source holds open (bounded by max_open_files).",
            &["component"],
        );
        let file_rotations = counter(
            "vigia_file_rotations_total",
            "Rotations seen: a watched path now names a new file.",
            &["component"],
        );
        let file_truncations = counter(
            "vigia_file_truncations_total",
            "Files found shorter than the read offset (copytruncate): reading restarted at 0.",
            &["component"],
        );
        let checkpoint_writes = counter(
            "vigia_checkpoint_writes_total",
            "Checkpoint files written.",
            &["component"],
        );
        let checkpoint_errors = counter(
            "vigia_checkpoint_errors_total",
            "Checkpoint problems, by kind: write (could not write), corrupt (unusable at start).",
            &["component", "kind"],
        );
        let container_format_errors = counter(
            "vigia_container_format_errors_total",
            "Lines of a CRI or Docker log that were not in that format (kept as raw lines).",
            &["component"],
        );
        let file_unread_released = counter(
            "vigia_file_unread_bytes_released_total",
            "Bytes of files let go of unread, by reason: max_open_files (a file left before it could be opened or reopened), truncated (copytruncate with no copy found).",
            &["component", "reason"],
        );
        let file_symlinks_refused = counter(
            "vigia_file_symlinks_refused_total",
            "Symbolic links matched by include but not followed (follow_symlinks).",
            &["component"],
        );
        let file_copies_read = counter(
            "vigia_file_copytruncate_copies_total",
            "copytruncate copies found after a truncation, whose unread tail was read before the live file.",
            &["component"],
        );
        let file_read_lag = gauge(
            "vigia_file_read_lag_bytes",
            "Bytes of a file not read yet (its size minus the read offset).",
            &["component", "file"],
        );
        let redactions = counter(
            "vigia_redactions_total",
            "Secrets replaced by a redaction rule, by rule.",
            &["rule"],
        );
        let component_ready = IntGaugeVec::new(
            Opts::new(
                "vigia_component_ready",
                "1 when a pipeline component is running and healthy, 0 otherwise.",
            ),
            &["component"],
        )
        .expect("static metric definitions are valid");
        registry
            .register(Box::new(component_ready.clone()))
            .expect("each metric is registered once");

        let build = IntGaugeVec::new(
            Opts::new(
                "vigia_build_info",
                "Always 1; the labels say which vigia build is running.",
            ),
            &["version", "commit", "build_date"],
        )
        .expect("static metric definitions are valid");
        build
            .with_label_values(&[
                build_info::VERSION,
                build_info::GIT_COMMIT,
                build_info::BUILD_DATE,
            ])
            .set(1);
        registry
            .register(Box::new(build))
            .expect("each metric is registered once");
        // vigia_process_cpu_seconds_total, vigia_process_resident_memory_bytes, open fds…: the
        // agent dashboard's memory and CPU panels. Prefixed: the service's own `process_*`
        // series are re-served on the same /metrics.
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::new(
                    std::process::id() as i32,
                    "vigia",
                ),
            ))
            .expect("the process collector is registered once");

        let loki = super::loki::LokiFamilies::register(&registry);
        let remote_write = super::remote_write::RemoteWriteFamilies::register(&registry);
        let admin = super::admin::AdminMetrics::register(&registry);
        Self {
            admin,
            loki,
            remote_write,
            registry,
            events_received,
            bytes_received,
            events_sent,
            events_acknowledged,
            lines_truncated,
            invalid_utf8_lines,
            component_ready,
            files_watched,
            files_open,
            file_rotations,
            file_truncations,
            checkpoint_writes,
            checkpoint_errors,
            container_format_errors,
            file_unread_released,
            file_symlinks_refused,
            file_copies_read,
            file_read_lag,
            redactions,
        }
    }

    pub fn loki(&self, component: &str) -> super::loki::LokiMetrics {
        self.loki.for_sink(component)
    }

    pub fn remote_write(&self, component: &str) -> super::remote_write::RemoteWriteMetrics {
        self.remote_write.for_sink(component)
    }

    /// The admin server's own metrics (auth, connections, TLS reloads).
    pub fn admin(&self) -> &super::admin::AdminMetrics {
        &self.admin
    }

    pub fn redactions(&self, rule: &str) -> IntCounter {
        self.redactions.with_label_values(&[rule])
    }

    pub fn file_source(&self, component: &str) -> FileSourceMetrics {
        FileSourceMetrics {
            files_watched: self.files_watched.with_label_values(&[component]),
            files_open: self.files_open.with_label_values(&[component]),
            rotations: self.file_rotations.with_label_values(&[component]),
            truncations: self.file_truncations.with_label_values(&[component]),
            checkpoint_writes: self.checkpoint_writes.with_label_values(&[component]),
            checkpoint_write_errors: self
                .checkpoint_errors
                .with_label_values(&[component, "write"]),
            checkpoint_corrupt: self
                .checkpoint_errors
                .with_label_values(&[component, "corrupt"]),
            container_format_errors: self.container_format_errors.with_label_values(&[component]),
            symlinks_refused: self.file_symlinks_refused.with_label_values(&[component]),
            copies_read: self.file_copies_read.with_label_values(&[component]),
            unread_released: self.file_unread_released.clone(),
            read_lag: self.file_read_lag.clone(),
            component: component.to_owned(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn source(&self, component: &str) -> SourceCounters {
        SourceCounters {
            events: self.events_received.with_label_values(&[component]),
            bytes: self.bytes_received.with_label_values(&[component]),
            truncated: self.lines_truncated.with_label_values(&[component]),
            delivered: self.acknowledged(component, "delivered"),
            rejected: self.acknowledged(component, "rejected"),
            failed: self.acknowledged(component, "failed"),
        }
    }

    pub fn sink(&self, component: &str) -> SinkCounters {
        SinkCounters {
            sent: self.events_sent.with_label_values(&[component]),
        }
    }

    pub fn acknowledged(&self, component: &str, status: &str) -> IntCounter {
        self.events_acknowledged
            .with_label_values(&[component, status])
    }

    pub fn invalid_utf8(&self, component: &str) -> IntCounter {
        self.invalid_utf8_lines.with_label_values(&[component])
    }

    pub fn set_ready(&self, component: &str, ready: bool) {
        self.component_ready
            .with_label_values(&[component])
            .set(i64::from(ready));
    }

    /// The agent's own metric families.
    pub fn gather(&self) -> Vec<prometheus::proto::MetricFamily> {
        self.registry.gather()
    }
}

impl Default for AgentMetrics {
    fn default() -> Self {
        Self::new()
    }
}
