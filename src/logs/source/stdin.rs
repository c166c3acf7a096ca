//! The stdin source: `some-service | vigia run`.
//!
//! A blocking read of stdin cannot be cancelled, so a dedicated thread reads and frames lines
//! and hands them to an async task through a channel of one; the async task numbers the
//! batches, forwards them into the pipeline and, on shutdown, stops forwarding (stop reading)
//! and then waits for every batch it forwarded to be acknowledged. End of input ends the
//! source the same way.

use super::SourceContext;
use crate::logs::frame::{FramedLine, LineSplitter};
use crate::logs::timestamp::now_nanos;
use crate::pipeline::{Ack, Acker, BatchStatus, LineBatch, Origin, RawLine};
use prometheus::IntCounter;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Reads `reader` (stdin in production) until end of input or `stop`, then waits for every
/// forwarded batch to be acknowledged. Returns the number of events read.
pub async fn run(
    context: SourceContext,
    reader: impl Read + Send + 'static,
    max_line_bytes: usize,
    out: mpsc::Sender<LineBatch>,
    stop: CancellationToken,
) -> u64 {
    let (lines_tx, mut lines_rx) = mpsc::channel::<Vec<RawLine>>(1);
    let counters = context.metrics.source(&context.id);
    let reader_counters = counters.clone();
    let batch_max = context.batch_max_events;
    let spawned = std::thread::Builder::new()
        .name(format!("vigia-{}", context.id))
        .spawn(move || {
            read_lines(
                reader,
                max_line_bytes,
                batch_max,
                &lines_tx,
                &reader_counters,
            )
        });
    if let Err(error) = spawned {
        context
            .health
            .failing(format!("cannot start the reader thread: {error}"));
        return 0;
    }

    let origin = Arc::new(Origin {
        source_id: context.id.clone(),
        stream: Some(Arc::from("stdin")),
        file: None,
    });
    let mut in_flight = InFlight::new(&context);
    context.health.running();
    let mut events = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                // Stop reading, but keep what the reader thread already framed.
                while let Ok(lines) = lines_rx.try_recv() {
                    events += lines.len() as u64;
                    let _ = out.send(in_flight.batch(&origin, lines)).await;
                }
                break;
            }
            lines = lines_rx.recv() => match lines {
                Some(lines) => {
                    events += lines.len() as u64;
                    if out.send(in_flight.batch(&origin, lines)).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            Some(ack) = in_flight.acks.recv() => in_flight.finished(ack),
        }
    }
    drop(out);
    in_flight.drain().await;
    context.health.finished();
    tracing::info!(source = %context.id, events, "stdin source finished");
    events
}

/// Batches handed to the pipeline and not yet finished, and the count of events by outcome.
struct InFlight {
    acker: Option<Acker>,
    acks: crate::pipeline::AckReceiver,
    events_by_batch: HashMap<u64, u64>,
    delivered: IntCounter,
    rejected: IntCounter,
    failed: IntCounter,
}

impl InFlight {
    fn new(context: &SourceContext) -> Self {
        let (acker, acks) = Acker::new();
        Self {
            acker: Some(acker),
            acks,
            events_by_batch: HashMap::new(),
            delivered: context.metrics.acknowledged(&context.id, "delivered"),
            rejected: context.metrics.acknowledged(&context.id, "rejected"),
            failed: context.metrics.acknowledged(&context.id, "failed"),
        }
    }

    fn batch(&mut self, origin: &Arc<Origin>, lines: Vec<RawLine>) -> LineBatch {
        let acker = self
            .acker
            .as_mut()
            .expect("no batches are issued after drain");
        let (batch, ack) = acker.issue();
        self.events_by_batch.insert(batch, lines.len() as u64);
        LineBatch {
            origin: origin.clone(),
            lines,
            ack,
        }
    }

    fn finished(&mut self, ack: Ack) {
        let events = self.events_by_batch.remove(&ack.batch).unwrap_or(0);
        match ack.status {
            BatchStatus::Delivered => self.delivered.inc_by(events),
            BatchStatus::Rejected => self.rejected.inc_by(events),
            BatchStatus::Failed => self.failed.inc_by(events),
        }
    }

    /// Waits until every issued batch is finished: each one holds the ack channel open.
    async fn drain(&mut self) {
        self.acker = None;
        while let Some(ack) = self.acks.recv().await {
            self.finished(ack);
        }
    }
}

/// The reader thread: frames lines and sends them in batches; blocks when the pipeline is full.
fn read_lines(
    mut reader: impl Read,
    max_line_bytes: usize,
    batch_max: usize,
    out: &mpsc::Sender<Vec<RawLine>>,
    counters: &crate::telemetry::metrics::SourceCounters,
) {
    let mut splitter = LineSplitter::new(max_line_bytes);
    let mut buffer = vec![0u8; READ_CHUNK_BYTES];
    let mut framed = Vec::new();
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::error!(%error, "cannot read standard input; treating it as ended");
                break;
            }
        };
        counters.bytes.inc_by(read as u64);
        splitter.push(&buffer[..read], &mut framed);
        if !send_framed(&mut framed, batch_max, out, counters) {
            return;
        }
    }
    framed.extend(splitter.finish());
    send_framed(&mut framed, batch_max, out, counters);
}

/// Returns false when the pipeline is gone.
fn send_framed(
    framed: &mut Vec<FramedLine>,
    batch_max: usize,
    out: &mpsc::Sender<Vec<RawLine>>,
    counters: &crate::telemetry::metrics::SourceCounters,
) -> bool {
    if framed.is_empty() {
        return true;
    }
    let read_time_ns = now_nanos();
    let mut lines = framed.drain(..).map(|line| RawLine {
        bytes: line.bytes,
        read_time_ns,
        truncated: line.truncated,
    });
    loop {
        let batch: Vec<RawLine> = lines.by_ref().take(batch_max).collect();
        if batch.is_empty() {
            return true;
        }
        counters.events.inc_by(batch.len() as u64);
        let truncated = batch.iter().filter(|l| l.truncated).count() as u64;
        if truncated > 0 {
            counters.truncated.inc_by(truncated);
            tracing::debug!(truncated, "lines longer than max_line_bytes were truncated");
        }
        if out.blocking_send(batch).is_err() {
            return false;
        }
    }
}
