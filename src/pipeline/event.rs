//! What travels between stages: raw lines from sources, normalized records to sinks.

use super::ack::AckToken;
use crate::logs::kubernetes::KubernetesMeta;
use crate::logs::record::Record;
use std::sync::Arc;

/// One framed line, before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// The line without its terminator, at most the source's `max_line_bytes`.
    pub bytes: Vec<u8>,
    /// When the agent read it (Unix nanoseconds); the event's own time is preferred later.
    pub read_time_ns: i64,
    /// The container runtime's time for the line (CRI, Docker), when there is one.
    pub container_time_ns: Option<i64>,
    /// `stdout` / `stderr` for container logs, `stdin` for the stdin source.
    pub stream: Option<&'static str>,
    /// The line was longer than `max_line_bytes` and was cut.
    pub truncated: bool,
}

/// Where a batch of lines comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub source_id: Arc<str>,
    pub file: Option<Arc<str>>,
    /// From the path of a Kubernetes container log.
    pub kubernetes: Option<Arc<KubernetesMeta>>,
}

/// Lines a source hands to the pipeline at once; acknowledged as one.
#[derive(Debug)]
pub struct LineBatch {
    pub origin: Arc<Origin>,
    pub lines: Vec<RawLine>,
    pub ack: AckToken,
}

/// Normalized records on their way to a sink. The records are shared between the sinks that
/// receive them; each sink holds its own token.
#[derive(Debug)]
pub struct RecordBatch {
    pub origin: Arc<Origin>,
    pub records: Arc<Vec<Record>>,
    pub ack: AckToken,
}
