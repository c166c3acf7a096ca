//! The sink side of the component model: a sink's `type` settings implement [`SinkSpec`]
//! (validation, with located diagnostics) and become a [`Sink`] the pipeline runs from a
//! [`SinkContext`]. The registry is [`super::SinkType`].

use super::delivery::disk::Positions;
use crate::logs::pipeline::RecordBatch;
use crate::metrics::scrape::ScrapeStore;
use crate::settings::ValidationContext;
use crate::settings::diagnostics::Diagnostic;
use crate::telemetry::AgentMetrics;
use crate::telemetry::agent_metrics::SinkCounters;
use crate::telemetry::health::ComponentHealth;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A sink's `type` settings as written.
pub trait SinkSpec: fmt::Debug + Send + Sync {
    /// Source ids whose events this sink receives; empty means every source. Sinks of
    /// metrics have none.
    fn inputs(&self) -> &[String] {
        &[]
    }
    fn validate(&self, cx: &ValidationContext<'_>, problems: &mut Vec<Diagnostic>)
    -> Arc<dyn Sink>;
}

/// What a sink takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkInput {
    /// Normalized log events from its `inputs`.
    Logs,
    /// The agent's metrics: scraped targets, its own, the RED families.
    Metrics,
}

/// What a sink is started with.
pub struct SinkContext {
    pub id: Arc<str>,
    pub agent: Arc<AgentMetrics>,
    pub health: ComponentHealth,
    pub counters: SinkCounters,
    /// Its own directory under `data_dir` (the disk buffer's).
    pub buffer_dir: PathBuf,
    /// The read positions its disk buffer recorded, read once at start.
    pub positions: Positions,
    /// Log events (closed at once for a sink of metrics).
    pub logs: mpsc::Receiver<RecordBatch>,
    /// The scrape targets' results.
    pub scrape: Arc<ScrapeStore>,
    /// Cancelled once every source is drained: a sink of metrics sends its last and ends.
    pub shutdown: CancellationToken,
}

/// A sink's task: the items it delivered, or why it failed.
pub type SinkTask = Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send>>;

/// A validated sink.
pub trait Sink: fmt::Debug + Send + Sync {
    fn input(&self) -> SinkInput {
        SinkInput::Logs
    }
    /// Whether it keeps a write-ahead buffer on disk: then what it holds counts as delivered
    /// for its sources, and its buffer's positions are where they resume.
    fn disk_buffered(&self) -> bool {
        false
    }
    fn run(&self, cx: SinkContext) -> SinkTask;
}

/// Where a sink's disk buffer lives.
pub fn buffer_dir(data_dir: &Path, sink: &str) -> PathBuf {
    data_dir.join("buffers").join(sink)
}
