//! Sources: where lines come from. Each hands [`LineBatch`](crate::pipeline::LineBatch)es to the
//! pipeline through a bounded channel and learns from the ack path when they are delivered.

pub mod file;
pub mod stdin;

use crate::admin::ComponentHealth;
use crate::telemetry::AgentMetrics;
use std::sync::Arc;

/// What every source task is given.
#[derive(Clone)]
pub struct SourceContext {
    pub id: Arc<str>,
    pub metrics: Arc<AgentMetrics>,
    pub health: ComponentHealth,
    pub batch_max_events: usize,
}
