//! The shared runtime of a source that keeps no read positions (stdin today; a syslog or
//! journald listener tomorrow): batches numbered and handed to the pipeline, their
//! acknowledgements counted by outcome, and a drain that waits for every one on shutdown.
//! (The file source tracks acknowledgements per file to move its checkpoints: `file::progress`.)

use super::SourceContext;
use crate::logs::frame::CompleteLine;
use crate::logs::normalize::stage::LineOut;
use crate::logs::pipeline::{Ack, Acker, LineBatch, Origin};
use crate::logs::timestamp::now_nanos;
use crate::telemetry::agent_metrics::SourceCounters;
use std::collections::HashMap;
use std::sync::Arc;

/// Batches handed to the pipeline and not yet finished, and the count of events by outcome.
pub struct InFlight {
    acker: Option<Acker>,
    /// Where the pipeline says how each batch ended.
    pub acks: crate::logs::pipeline::AckReceiver,
    events_by_batch: HashMap<u64, u64>,
    counters: SourceCounters,
    /// The `stream` of events that do not say (`stdin`).
    default_stream: Option<&'static str>,
}

impl InFlight {
    pub fn new(context: &SourceContext, default_stream: Option<&'static str>) -> Self {
        let (acker, acks) = Acker::new();
        Self {
            acker: Some(acker),
            acks,
            events_by_batch: HashMap::new(),
            counters: context.metrics.source(&context.id),
            default_stream,
        }
    }

    /// Sends `events` in batches of at most `batch_max`; returns how many were sent.
    pub async fn forward(
        &mut self,
        origin: &Arc<Origin>,
        events: &mut Vec<CompleteLine>,
        batch_max: usize,
        out: &mut LineOut,
    ) -> u64 {
        let mut sent = 0;
        if events.is_empty() {
            return 0;
        }
        let read_time_ns = now_nanos();
        let mut drained = events.drain(..).peekable();
        while drained.peek().is_some() {
            let lines = super::raw_lines(
                drained.by_ref().take(batch_max.max(1)),
                read_time_ns,
                self.default_stream,
                &self.counters,
            );
            let count = lines.len() as u64;
            let acker = self
                .acker
                .as_mut()
                .expect("no batches are issued after drain");
            let (batch, ack) = acker.issue();
            self.events_by_batch.insert(batch, count);
            let batch = LineBatch {
                origin: origin.clone(),
                lines,
                ack,
                position: None,
            };
            if out.send(batch).await.is_err() {
                break;
            }
            sent += count;
        }
        sent
    }

    /// Counts a finished batch's events by outcome (`vigia_source_acknowledged_events_total`).
    pub fn finished(&mut self, ack: Ack) {
        let events = self.events_by_batch.remove(&ack.batch).unwrap_or(0);
        ack.status.count(&self.counters, events);
    }

    /// Waits until every issued batch is finished: each one holds the ack channel open.
    pub async fn drain(&mut self) {
        self.acker = None;
        while let Some(ack) = self.acks.recv().await {
            self.finished(ack);
        }
    }
}
