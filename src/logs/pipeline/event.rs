//! What travels between stages: raw lines from sources, normalized records to sinks.

use super::ack::AckToken;
use crate::logs::kubernetes::KubernetesMeta;
use crate::logs::normalize::RecordMeta;
use crate::logs::source::file::checkpoint::CheckpointEntry;
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
    /// Where the source will be once this batch (and every one before it) is delivered:
    /// a sink that makes the batch durable records it, so a restart resumes from there
    /// rather than from the last checkpoint.
    pub position: Option<Arc<ReadPosition>>,
}

/// A file source's position after a batch: its checkpoint entry for that file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadPosition {
    pub source: String,
    #[serde(flatten)]
    pub entry: CheckpointEntry,
}

/// Normalized records on their way to a sink. The records are shared between the sinks that
/// receive them; each sink holds its own token.
#[derive(Debug)]
pub struct RecordBatch {
    pub origin: Arc<Origin>,
    pub records: Arc<EncodedRecords>,
    pub ack: AckToken,
    pub position: Option<Arc<ReadPosition>>,
}

/// The records of a batch, already written as JSON lines: one buffer for all their text (one
/// allocation per batch, written to a console or a request as it is), and what sinks need of
/// each record besides its line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EncodedRecords {
    lines: Vec<u8>,
    records: Vec<(RecordMeta, usize)>,
}

impl EncodedRecords {
    pub fn with_capacity(records: usize, bytes: usize) -> Self {
        Self {
            lines: Vec::with_capacity(bytes),
            records: Vec::with_capacity(records),
        }
    }

    /// Adds a record: `write` appends its JSON line, `\n` included, and says what it is.
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> RecordMeta) {
        let meta = write(&mut self.lines);
        self.records.push((meta, self.lines.len()));
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every line, each with its `\n`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.lines
    }

    /// Record `index` and its JSON line, without the `\n`.
    pub fn get(&self, index: usize) -> Option<(RecordMeta, &[u8])> {
        let &(meta, end) = self.records.get(index)?;
        let start = index
            .checked_sub(1)
            .map_or(0, |before| self.records[before].1);
        Some((meta, &self.lines[start..end.saturating_sub(1).max(start)]))
    }

    /// Each record and its JSON line, without the `\n`.
    pub fn iter(&self) -> impl Iterator<Item = (RecordMeta, &[u8])> {
        (0..self.len()).filter_map(|index| self.get(index))
    }
}
