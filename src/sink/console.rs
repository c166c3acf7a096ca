//! The console sink: one compact JSON record per line on stdout. A batch is acknowledged
//! after it has been written and flushed, which is what the console can promise.

use super::component::{Sink, SinkContext, SinkSpec, SinkTask};
use crate::logs::pipeline::{Delivery, RecordBatch};
use crate::settings::ValidationContext;
use crate::settings::diagnostics::Diagnostic;
use crate::telemetry::agent_metrics::SinkCounters;
use crate::telemetry::health::ComponentHealth;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// The `console` sink's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSink {
    #[serde(default)]
    pub inputs: Vec<String>,
}

impl SinkSpec for ConsoleSink {
    fn inputs(&self) -> &[String] {
        &self.inputs
    }

    fn validate(&self, _: &ValidationContext<'_>, _: &mut Vec<Diagnostic>) -> Arc<dyn Sink> {
        Arc::new(ConsoleComponent)
    }
}

/// A validated `console` sink: stdout.
#[derive(Debug)]
pub struct ConsoleComponent;

impl Sink for ConsoleComponent {
    fn run(&self, cx: SinkContext) -> SinkTask {
        Box::pin(async move {
            run(cx.logs, tokio::io::stdout(), cx.counters, cx.health)
                .await
                .map_err(anyhow::Error::from)
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("cannot write to the console: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes every batch to `writer` until the input closes. A write error (a closed pipe) ends
/// the sink with an error; the batch being written is not acknowledged.
pub async fn run(
    mut input: mpsc::Receiver<RecordBatch>,
    mut writer: impl AsyncWrite + Unpin,
    counters: SinkCounters,
    health: ComponentHealth,
) -> Result<u64, ConsoleError> {
    health.running();
    let mut written = 0u64;
    while let Some(batch) = input.recv().await {
        let result = async {
            writer.write_all(batch.records.as_bytes()).await?;
            writer.flush().await
        }
        .await;
        if let Err(error) = result {
            health.failing(format!("cannot write to the console: {error}"));
            return Err(error.into());
        }
        let count = batch.records.len() as u64;
        written += count;
        counters.sent.inc_by(count);
        batch.ack.resolve(Delivery::Delivered);
    }
    health.finished();
    Ok(written)
}
