//! The stdin source: `some-service | vigia run`.
//!
//! A blocking read of stdin cannot be cancelled, so a dedicated thread only reads chunks and
//! hands them over through a channel of one; the async task frames them (the same framing and
//! multiline stages as files), flushes multiline events on their timeout, numbers the
//! batches and forwards them. On shutdown it stops forwarding (stop reading) and waits for
//! every batch it forwarded to be acknowledged. End of input ends the source the same way.

pub mod config;

use super::SourceContext;
use crate::logs::frame::config::Framing;
use crate::logs::frame::{CompleteLine, Framer};
use crate::logs::timestamp::now_nanos;
use crate::pipeline::{Ack, Acker, LineBatch, Origin};
use prometheus::IntCounter;
use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const READ_CHUNK_BYTES: usize = 64 * 1024;

/// Reads `reader` (stdin in production) until end of input or `stop`, then waits for every
/// forwarded batch to be acknowledged. Returns the number of events read.
pub async fn run(
    context: SourceContext,
    reader: impl Read + Send + 'static,
    settings: Framing,
    out: mpsc::Sender<LineBatch>,
    stop: CancellationToken,
) -> u64 {
    let (chunks_tx, mut chunks_rx) = mpsc::channel::<Vec<u8>>(1);
    let counters = context.metrics.source(&context.id);
    let bytes = counters.bytes.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("vigia-{}", context.id))
        .spawn(move || read_chunks(reader, &chunks_tx, &bytes));
    if let Err(error) = spawned {
        context
            .health
            .failing(format!("cannot start the reader thread: {error}"));
        return 0;
    }

    let origin = Arc::new(Origin {
        source_id: context.id.clone(),
        file: None,
        kubernetes: None,
    });
    let mut framer = Framer::new(
        settings.container,
        settings.multiline,
        settings.max_line_bytes,
        0,
    );
    let mut in_flight = InFlight::new(&context);
    let mut events = Vec::new();
    let mut total = 0u64;
    context.health.running();
    loop {
        let deadline = framer.next_deadline();
        tokio::select! {
            _ = stop.cancelled() => {
                // Stop reading, but deliver what was already read: stdin cannot be read again.
                while let Ok(chunk) = chunks_rx.try_recv() {
                    framer.push(&chunk, Instant::now(), &mut events);
                }
                framer.finish(Instant::now(), &mut events);
                total += in_flight.forward(&origin, &mut events, context.batch_max_events, &counters, &out).await;
                break;
            }
            chunk = chunks_rx.recv() => match chunk {
                Some(chunk) => framer.push(&chunk, Instant::now(), &mut events),
                None => {
                    framer.finish(Instant::now(), &mut events);
                    total += in_flight.forward(&origin, &mut events, context.batch_max_events, &counters, &out).await;
                    break;
                }
            },
            _ = sleep_until(deadline) => framer.flush_expired(Instant::now(), &mut events),
            Some(ack) = in_flight.acks.recv() => in_flight.finished(ack),
        }
        total += in_flight
            .forward(
                &origin,
                &mut events,
                context.batch_max_events,
                &counters,
                &out,
            )
            .await;
    }
    drop(out);
    in_flight.drain().await;
    context.health.finished();
    tracing::info!(source = %context.id, events = total, "stdin source finished");
    total
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Batches handed to the pipeline and not yet finished, and the count of events by outcome.
struct InFlight {
    acker: Option<Acker>,
    acks: crate::pipeline::AckReceiver,
    events_by_batch: HashMap<u64, u64>,
    counters: crate::telemetry::metrics::SourceCounters,
}

impl InFlight {
    fn new(context: &SourceContext) -> Self {
        let (acker, acks) = Acker::new();
        Self {
            acker: Some(acker),
            acks,
            events_by_batch: HashMap::new(),
            counters: context.metrics.source(&context.id),
        }
    }

    /// Sends `events` in batches; returns how many were sent.
    async fn forward(
        &mut self,
        origin: &Arc<Origin>,
        events: &mut Vec<CompleteLine>,
        batch_max: usize,
        counters: &crate::telemetry::metrics::SourceCounters,
        out: &mpsc::Sender<LineBatch>,
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
                Some("stdin"),
                counters,
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

    fn finished(&mut self, ack: Ack) {
        let events = self.events_by_batch.remove(&ack.batch).unwrap_or(0);
        self.counters.acknowledged(ack.status, events);
    }

    /// Waits until every issued batch is finished: each one holds the ack channel open.
    async fn drain(&mut self) {
        self.acker = None;
        while let Some(ack) = self.acks.recv().await {
            self.finished(ack);
        }
    }
}

/// The reader thread: hands over chunks as they come; blocks when the pipeline is full.
fn read_chunks(mut reader: impl Read, out: &mpsc::Sender<Vec<u8>>, bytes: &IntCounter) {
    let mut buffer = vec![0u8; READ_CHUNK_BYTES];
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                tracing::error!(%error, "cannot read standard input; treating it as ended");
                return;
            }
        };
        bytes.inc_by(read as u64);
        if out.blocking_send(buffer[..read].to_vec()).is_err() {
            return;
        }
    }
}
