//! The Loki sink: records in, push requests out, every line acknowledged only once Loki has
//! it (or refused it for good).
//!
//! ```text
//!  records ──► batcher ──(bounded by buffer.max_bytes)──► deliverer ×concurrency ──► Loki
//!              streams by labels,                          one per lane, one request at a
//!              out-of-order policy,                        time each; retries with backoff,
//!              lanes by stream,                            a shared rate limit, acks
//!              cut by size and time
//! ```
//!
//! A stream always goes through the same lane, so its requests go one after the other and it
//! stays in order however many lanes there are.
//!
//! When the buffer is full, `block` stops taking records (the sources pause: a file is read
//! later, nothing is lost) and `drop_newest` drops them, counted. A request that fails is
//! retried until it succeeds or shutdown gives up on it; then its lines are not acknowledged,
//! their checkpoint does not move, and they are read again after a restart.
//!
//! With `disk`, every cut batch is encoded and written to the write-ahead buffer ([`disk`])
//! and its lines count as delivered once it is there; the deliverer is fed from the disk, as
//! fast as the memory buffer allows, and what it finishes is acknowledged on the disk.

pub mod batch;
pub mod client;
pub mod config;
mod deliver;
pub mod disk;
pub mod labels;
pub mod proto;
mod streams;

use crate::pipeline::{Delivery, RecordBatch};
use crate::sink::loki::config::{LokiSettings, WhenFull};
use crate::telemetry::health::ComponentHealth;
use crate::telemetry::loki::LokiMetrics;
use crate::telemetry::metrics::SinkCounters;
use batch::PendingBatch;
use client::LokiClient;
use deliver::{RateLimits, Ready, deliver};
use disk::frame::Frame;
use disk::{DiskBuffer, DiskReader, DiskWriter};
use std::path::Path;
use std::sync::Arc;
use streams::Streams;
use tokio::sync::{Semaphore, mpsc};

/// Runs one Loki sink until its input closes and what it holds is delivered (or, with the
/// disk buffer, written to disk). `disk_dir` is where the disk buffer lives.
pub async fn run(
    mut input: mpsc::Receiver<RecordBatch>,
    mut settings: LokiSettings,
    disk_dir: &Path,
    positions: disk::Positions,
    metrics: LokiMetrics,
    counters: SinkCounters,
    health: ComponentHealth,
) -> anyhow::Result<u64> {
    if settings.when_full == WhenFull::Disk
        && settings.when_full_defaulted
        && let Err(error) = disk::check_writable(disk_dir)
    {
        tracing::warn!(
            dir = %disk_dir.display(),
            %error,
            "data_dir cannot hold the disk buffer: buffering in memory (`when_full: block`); lines of files deleted during a Loki outage can be lost if vigia is killed"
        );
        settings.when_full = WhenFull::Block;
    }
    let memory = Arc::new(Semaphore::new(settings.buffer_max_bytes));
    metrics.buffer_capacity("memory", settings.buffer_max_bytes as u64);
    // One lane per request in flight; the disk buffer is replayed in order, through one.
    let lanes = match settings.when_full {
        WhenFull::Disk => 1,
        _ => settings.concurrency.max(1),
    };
    let limits = Arc::new(RateLimits::new(&settings));
    let mut ready = Vec::with_capacity(lanes);
    let mut deliverers = Vec::with_capacity(lanes);
    for _ in 0..lanes {
        let (ready_tx, ready_rx) = mpsc::unbounded_channel::<Ready>();
        ready.push(ready_tx);
        deliverers.push((ready_rx, LokiClient::new(&settings)?));
    }
    let ready_tx = ready[0].clone();
    let mut disk = None;
    let mut feeder = None;
    if settings.when_full == WhenFull::Disk {
        metrics.buffer_capacity("disk", settings.disk_max_bytes);
        let (writer, reader, recovered) = DiskBuffer::open(
            disk_dir,
            settings.disk_max_bytes,
            settings.disk_sync,
            metrics.clone(),
            positions,
        )
        .map_err(|e| anyhow::anyhow!("cannot open the disk buffer {}: {e}", disk_dir.display()))?;
        if recovered.frames > 0 {
            tracing::info!(
                requests = recovered.frames,
                lines = recovered.lines,
                bytes = recovered.bytes,
                "the disk buffer holds undelivered lines from an earlier run; sending them first"
            );
        }
        disk = Some(writer);
        feeder = Some(tokio::spawn(feed_from_disk(
            reader,
            memory.clone(),
            settings.buffer_max_bytes,
            ready_tx.clone(),
            metrics.clone(),
        )));
    }
    drop(ready_tx);
    health.running();
    let deliverers: Vec<_> = deliverers
        .into_iter()
        .map(|(ready_rx, client)| {
            tokio::spawn(deliver(
                ready_rx,
                client,
                settings.clone(),
                limits.clone(),
                metrics.clone(),
                counters.clone(),
                health.clone(),
            ))
        })
        .collect();

    let mut batcher = Batcher {
        streams: Streams::new(&settings, &metrics),
        settings,
        pending: (0..lanes).map(|_| PendingBatch::default()).collect(),
        memory,
        ready,
        disk,
        encoder: proto::BodyEncoder::default(),
        metrics,
    };
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let next = async {
            match deadline {
                Some(at) => tokio::time::timeout_at(at, input.recv()).await.ok(),
                None => Some(input.recv().await),
            }
        };
        match next.await {
            // The batch waited long enough.
            None => {
                deadline = None;
                batcher.cut().await;
            }
            Some(None) => break,
            Some(Some(batch)) => {
                if !batcher.take(batch).await {
                    break;
                }
                if batcher.cut_full().await && !batcher.has_pending() {
                    deadline = None;
                } else if deadline.is_none() && batcher.has_pending() {
                    deadline = Some(tokio::time::Instant::now() + batcher.settings.batch_max_wait);
                }
            }
        }
    }
    batcher.cut().await;
    if let Some(writer) = batcher.disk.take() {
        writer.finish();
    }
    drop(batcher);
    if let Some(feeder) = feeder {
        feeder.await?;
    }
    let mut delivered = 0;
    for deliverer in deliverers {
        delivered += deliverer.await?;
    }
    health.finished();
    Ok(delivered)
}

/// Gathers records into the requests being filled and hands each on when it is cut.
///
/// With `concurrency` above 1 there is one request being filled, and one in flight, per lane;
/// a stream always goes to the same lane (by a hash of its labels), so each stream's requests
/// still go one after the other, in order, while different streams' go side by side.
struct Batcher {
    settings: LokiSettings,
    streams: Streams,
    /// One per lane.
    pending: Vec<PendingBatch>,
    memory: Arc<Semaphore>,
    /// Each lane's deliverer.
    ready: Vec<mpsc::UnboundedSender<Ready>>,
    /// With `when_full: disk`, where cut batches go.
    disk: Option<DiskWriter>,
    /// Encodes the requests written to the disk buffer.
    encoder: proto::BodyEncoder,
    metrics: LokiMetrics,
}

impl Batcher {
    /// Adds a record batch to the pending request, applying the full-buffer policy; `false`
    /// once the sink is closing.
    async fn take(&mut self, batch: RecordBatch) -> bool {
        let bytes = batch
            .records
            .as_bytes()
            .len()
            .min(self.settings.buffer_max_bytes);
        let wanted = u32::try_from(bytes).unwrap_or(u32::MAX);
        let permit = match self.settings.when_full {
            WhenFull::Block => match self.memory.clone().try_acquire_many_owned(wanted) {
                Ok(permit) => Some(permit),
                Err(_) => {
                    // Full: what is pending goes out first (its space comes back once
                    // delivered), then this batch waits for room: backpressure.
                    self.cut().await;
                    match self.memory.clone().acquire_many_owned(wanted).await {
                        Ok(permit) => Some(permit),
                        Err(_) => return false,
                    }
                }
            },
            WhenFull::DropNewest => match self.memory.clone().try_acquire_many_owned(wanted) {
                Ok(permit) => Some(permit),
                Err(_) => {
                    self.metrics
                        .dropped("buffer_full", batch.records.len() as u64);
                    batch.ack.resolve(Delivery::Rejected);
                    return true;
                }
            },
            // The pending request is bounded by the batch size; it leaves memory when cut.
            WhenFull::Disk => None,
        };
        self.metrics.buffer_bytes.add(bytes as i64);
        self.metrics.buffer_lines.add(batch.records.len() as i64);
        let entries = self.streams.assign(&batch);
        let permit = permit.map(Arc::new);
        if self.pending.len() == 1 {
            self.pending[0].add(
                batch.records,
                batch.origin,
                batch.ack,
                permit,
                batch.position,
                entries,
            );
            return true;
        }
        // Split across lanes: each lane that gets lines holds a share of the acknowledgement
        // and of the buffer space.
        let lanes = self.pending.len();
        let lane_of: Vec<Option<usize>> = entries
            .iter()
            .map(|entry| entry.as_ref().map(|(selector, _)| lane(selector, lanes)))
            .collect();
        let mut used = vec![false; lanes];
        for index in lane_of.iter().flatten() {
            used[*index] = true;
        }
        if !used.contains(&true) {
            // Every line left out by policy: the acknowledgement goes through lane 0.
            used[0] = true;
        }
        for (index, pending) in self.pending.iter_mut().enumerate() {
            if !used[index] {
                continue;
            }
            let mine = entries
                .iter()
                .zip(&lane_of)
                .map(|(entry, at)| entry.clone().filter(|_| *at == Some(index)));
            pending.add(
                batch.records.clone(),
                batch.origin.clone(),
                batch.ack.fork(),
                permit.clone(),
                batch.position.clone(),
                mine,
            );
        }
        // The lanes' shares carry the outcome.
        batch.ack.resolve(Delivery::Delivered);
        true
    }

    fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| !p.is_empty())
    }

    /// Cuts the lanes whose request is full; says whether any was.
    async fn cut_full(&mut self) -> bool {
        let mut cut = false;
        for index in 0..self.pending.len() {
            if self.pending[index].bytes >= self.settings.batch_max_bytes {
                self.cut_lane(index).await;
                cut = true;
            }
        }
        cut
    }

    /// Hands every pending request on.
    async fn cut(&mut self) {
        for index in 0..self.pending.len() {
            self.cut_lane(index).await;
        }
    }

    /// Hands a lane's pending request on: to its deliverer, or to the disk buffer.
    async fn cut_lane(&mut self, index: usize) {
        if self.pending[index].is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending[index]);
        if self.disk.is_some() {
            self.write_to_disk(batch).await;
        } else {
            let _ = self.ready[index].send(Ready::Memory(batch));
        }
    }

    async fn write_to_disk(&mut self, mut batch: PendingBatch) {
        let (bytes, lines) = (batch.bytes, batch.lines);
        let release = |metrics: &LokiMetrics| {
            metrics.buffer_bytes.sub(bytes as i64);
            metrics.buffer_lines.sub(lines as i64);
        };
        if lines == 0 {
            release(&self.metrics);
            batch.resolve(Delivery::Delivered);
            return;
        }
        let encoded = Frame {
            lines: lines as u32,
            line_bytes: bytes as u32,
            encoding: self.settings.encoding,
            positions: batch.positions_json(),
            body: self.encoder.encode(
                self.settings.encoding,
                &batch.to_request(&self.settings.structured_metadata),
            ),
        }
        .encode();
        let mut writer = self.disk.take().expect("called with a disk buffer");
        writer.wait_for_room(encoded.len() as u64).await;
        let (writer, written) = match tokio::task::spawn_blocking(move || {
            let written = writer.append(&encoded, lines as u32);
            (writer, written)
        })
        .await
        {
            Ok(done) => done,
            Err(error) => std::panic::resume_unwind(error.into_panic()),
        };
        self.disk = Some(writer);
        match written {
            Ok(_) => {
                release(&self.metrics);
                batch.resolve(Delivery::Delivered);
            }
            Err(error) => {
                // The disk failed (full, read-only, broken): this batch goes through memory,
                // bounded like any other, and is acknowledged only by Loki.
                self.metrics.disk_errors.inc();
                tracing::error!(%error, "cannot write to the disk buffer; sending this batch from memory");
                let wanted =
                    u32::try_from(bytes.min(self.settings.buffer_max_bytes)).unwrap_or(u32::MAX);
                if let Ok(permit) = self.memory.clone().acquire_many_owned(wanted).await {
                    batch.hold(permit);
                }
                let _ = self.ready[0].send(Ready::Memory(batch));
            }
        }
    }
}

/// The lane of a stream: the same for every request of the stream.
fn lane(selector: &str, lanes: usize) -> usize {
    let mut hasher = rustc_hash::FxHasher::default();
    std::hash::Hash::hash(selector, &mut hasher);
    (std::hash::Hasher::finish(&hasher) % lanes as u64) as usize
}

/// Reads the disk buffer in order and hands each request to the deliverer, holding as much of
/// the memory buffer as its lines would.
async fn feed_from_disk(
    mut reader: DiskReader,
    memory: Arc<Semaphore>,
    memory_max: usize,
    ready: mpsc::UnboundedSender<Ready>,
    metrics: LokiMetrics,
) {
    loop {
        let (returned, frame) = reader.next().await;
        reader = returned;
        let Some(frame) = frame else {
            break;
        };
        let wanted = u32::try_from((frame.line_bytes as usize).min(memory_max)).unwrap_or(u32::MAX);
        let Ok(permit) = memory.clone().acquire_many_owned(wanted).await else {
            break;
        };
        metrics.buffer_bytes.add(i64::from(frame.line_bytes));
        metrics.buffer_lines.add(i64::from(frame.lines));
        let request = Ready::Disk {
            frame,
            buffer: reader.buffer().clone(),
            permit,
        };
        if ready.send(request).is_err() {
            break;
        }
    }
}
