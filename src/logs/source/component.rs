//! The source side of the component model: a source's `type` settings implement
//! [`SourceSpec`] (validation, with located diagnostics) and become a [`Source`] the pipeline
//! starts from a [`SourceRun`]. The registry is [`super::SourceType`].

use super::SourceContext;
use super::file::checkpoint::CheckpointEntry;
use crate::logs::normalize::stage::LineOut;
use crate::logs::parse::Format;
use crate::settings::ValidationContext;
use crate::settings::diagnostics::Diagnostic;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

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
    /// Normalizes the source's batches on its thread and hands them to its sinks.
    pub out: LineOut,
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
