//! The stdin source: `some-service | vigia run`.
//!
//! A blocking read of stdin cannot be cancelled, so a dedicated thread only reads chunks and
//! hands them over through a channel of one; the async task frames them (the same framing and
//! multiline stages as files), flushes multiline events on their timeout, numbers the
//! batches and forwards them. On shutdown it stops forwarding (stop reading) and waits for
//! every batch it forwarded to be acknowledged. End of input ends the source the same way.

pub mod config;

use super::SourceContext;
use super::in_flight::InFlight;
use crate::logs::frame::Framer;
use crate::logs::frame::config::Framing;
use crate::logs::normalize::stage::LineOut;
use crate::logs::pipeline::Origin;
use prometheus::IntCounter;
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
    mut out: LineOut,
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
    let mut in_flight = InFlight::new(&context, Some("stdin"));
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
                total += in_flight.forward(&origin, &mut events, context.batch_max_events, &mut out).await;
                break;
            }
            chunk = chunks_rx.recv() => match chunk {
                Some(chunk) => framer.push(&chunk, Instant::now(), &mut events),
                None => {
                    framer.finish(Instant::now(), &mut events);
                    total += in_flight.forward(&origin, &mut events, context.batch_max_events, &mut out).await;
                    break;
                }
            },
            _ = sleep_until(deadline) => framer.flush_expired(Instant::now(), &mut events),
            Some(ack) = in_flight.acks.recv() => in_flight.finished(ack),
        }
        total += in_flight
            .forward(&origin, &mut events, context.batch_max_events, &mut out)
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
