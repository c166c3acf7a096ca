//! Sources: where lines come from. Each hands [`LineBatch`](crate::logs::pipeline::LineBatch)es to the
//! pipeline through a bounded channel and learns from the ack path when they are delivered.

pub mod component;
pub mod file;
pub mod in_flight;
pub mod stdin;

crate::component_registry! {
    /// The source types: `type` → configuration (see [`component`]).
    SourceType: component::SourceSpec {
        /// Lines from the process's standard input.
        Stdin => stdin::config::StdinSource,
        /// Files matched by globs, tailed through rotation and restarts.
        File => file::config::FileSource,
    }
}

use crate::logs::frame::CompleteLine;
use crate::logs::pipeline::RawLine;
use crate::telemetry::AgentMetrics;
use crate::telemetry::agent_metrics::SourceCounters;
use crate::telemetry::health::ComponentHealth;
use std::sync::Arc;

/// What every source task is given.
#[derive(Clone)]
pub struct SourceContext {
    pub id: Arc<str>,
    pub metrics: Arc<AgentMetrics>,
    pub health: ComponentHealth,
    pub batch_max_events: usize,
}

/// Framed events as the pipeline's raw lines, counted (events, truncated lines).
pub fn raw_lines(
    events: impl Iterator<Item = CompleteLine>,
    read_time_ns: i64,
    default_stream: Option<&'static str>,
    counters: &SourceCounters,
) -> Vec<RawLine> {
    let lines: Vec<RawLine> = events
        .map(|event| RawLine {
            bytes: event.bytes,
            read_time_ns,
            container_time_ns: event.time_ns,
            stream: event.stream.or(default_stream),
            truncated: event.truncated,
        })
        .collect();
    counters.events.inc_by(lines.len() as u64);
    let truncated = lines.iter().filter(|l| l.truncated).count() as u64;
    if truncated > 0 {
        counters.truncated.inc_by(truncated);
    }
    lines
}
