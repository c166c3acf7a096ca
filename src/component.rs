//! The component model. A source or a sink is one folder holding its configuration type (the
//! settings of its `type`, with serde defaults) and what it runs. The configuration type
//! implements [`SourceSpec`] or [`SinkSpec`]: validation, with located diagnostics, into a
//! [`Source`] or [`Sink`], which the pipeline starts from a context (id, metrics, health,
//! data dir, shutdown). The registries (`logs::source::SourceType`, `sink::SinkType`) map
//! each `type` name to its configuration type: adding a component is one folder and one
//! line there.

use crate::config::diagnostics::Diagnostic;
use crate::config::raw::Role;
use crate::logs::parse::Format;
use crate::logs::source::SourceContext;
use crate::logs::source::file::checkpoint::CheckpointEntry;
use crate::metrics::scrape::ScrapeStore;
use crate::pipeline::{LineBatch, RecordBatch};
use crate::sink::delivery::disk::Positions;
use crate::telemetry::AgentMetrics;
use crate::telemetry::agent_metrics::SinkCounters;
use crate::telemetry::health::ComponentHealth;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What validating a component may depend on besides its own section.
pub struct ValidationContext<'a> {
    /// Where the component is in the file (`sources.app`), for diagnostics.
    pub at: &'a str,
    pub role: Role,
}

/// A source's `type` settings as written.
pub trait SourceSpec: fmt::Debug + Send + Sync {
    /// Checks the settings; problems go to `problems` (the result is then not run).
    fn validate(
        &self,
        cx: &ValidationContext<'_>,
        problems: &mut Vec<Diagnostic>,
    ) -> Arc<dyn Source>;
}

/// What a source is started with.
pub struct SourceRun {
    pub context: SourceContext,
    pub out: mpsc::Sender<LineBatch>,
    /// Cancelled when the agent shuts down: stop reading (and drain what was read).
    pub stop: CancellationToken,
    pub data_dir: PathBuf,
    pub grace_period: Duration,
    /// Positions newer than the source's own checkpoint, recorded by the disk buffers of
    /// every sink it feeds (see `app::durable_positions`).
    pub durable: Vec<CheckpointEntry>,
}

/// A validated source.
pub trait Source: fmt::Debug + Send + Sync {
    /// The parse format its lines are normalized with.
    fn format(&self) -> Format;
    /// Reads the process's standard input (at most one source can).
    fn reads_stdin(&self) -> bool {
        false
    }
    /// Starts the source's task(s) in `tasks`; each returns the events it read.
    fn spawn(&self, run: SourceRun, tasks: &mut JoinSet<u64>);
}

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

/// Declares a registry: an enum of the component types (serde-tagged by `type`, snake_case
/// names), each variant one configuration type implementing `$spec`.
#[macro_export]
macro_rules! component_registry {
    ($(#[$meta:meta])* $name:ident: $spec:path { $($(#[$doc:meta])* $variant:ident => $ty:ty,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum $name {
            $($(#[$doc])* $variant(Box<$ty>),)+
        }

        impl $name {
            /// The component's configuration.
            pub fn spec(&self) -> &dyn $spec {
                match self {
                    $(Self::$variant(spec) => &**spec,)+
                }
            }
        }
    };
}
