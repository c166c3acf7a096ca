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
pub mod labels;
pub mod proto;
mod streams;

use crate::logs::pipeline::{Delivery, RecordBatch};
use crate::sink::delivery::disk::Positions;
use crate::sink::delivery::{Admission, Batch, Encoder, Outbox, OutboxParts, lane_of};
use crate::sink::loki::config::{LokiSettings, MetadataField};
use crate::telemetry::agent_metrics::SinkCounters;
use crate::telemetry::health::ComponentHealth;
use crate::telemetry::loki::LokiMetrics;
use batch::PendingBatch;
use client::LokiClient;
use std::path::Path;
use std::sync::Arc;
use streams::Streams;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// Runs one Loki sink until its input closes and what it holds is delivered (or, with the
/// disk buffer, written to disk). `disk_dir` is where the disk buffer lives.
pub async fn run(
    mut input: mpsc::Receiver<RecordBatch>,
    settings: LokiSettings,
    disk_dir: &Path,
    positions: Positions,
    metrics: LokiMetrics,
    counters: SinkCounters,
    health: ComponentHealth,
) -> anyhow::Result<u64> {
    let outbox = Outbox::start(
        OutboxParts {
            settings: settings.delivery.clone(),
            disk_dir,
            positions,
            metrics: metrics.delivery.clone(),
            counters,
            health: health.clone(),
        },
        || LokiClient::new(&settings),
        || LokiEncoder {
            encoding: settings.encoding,
            metadata: settings.structured_metadata.clone(),
            body: proto::BodyEncoder::default(),
            lengths: Vec::new(),
        },
    )?;
    let lanes = outbox.lanes();
    let batch_max_wait = settings.delivery.batch_max_wait;
    let mut batcher = Batcher {
        streams: Streams::new(&settings, &metrics),
        settings,
        pending: (0..lanes).map(|_| PendingBatch::default()).collect(),
        outbox,
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
                    deadline = Some(tokio::time::Instant::now() + batch_max_wait);
                }
            }
        }
    }
    batcher.cut().await;
    let delivered = batcher.outbox.finish().await?;
    health.finished();
    Ok(delivered)
}

/// Loki's request body from a pending batch, in the configured encoding.
struct LokiEncoder {
    encoding: config::LokiEncoding,
    metadata: Vec<MetadataField>,
    body: proto::BodyEncoder,
    lengths: Vec<usize>,
}

impl Encoder for LokiEncoder {
    type Batch = PendingBatch;

    fn encode(&mut self, batch: &PendingBatch) -> (bytes::Bytes, u8) {
        let body = if self.encoding == config::LokiEncoding::Protobuf {
            let (metadata, lengths) = (&self.metadata, &mut self.lengths);
            self.body
                .protobuf_with(|out| batch.encode_protobuf(metadata, out, lengths))
        } else {
            self.body
                .encode(self.encoding, &batch.to_request(&self.metadata))
        };
        (body, self.encoding.code())
    }
}

impl Batch for PendingBatch {
    fn items(&self) -> usize {
        self.lines
    }

    fn bytes(&self) -> usize {
        self.bytes
    }

    fn positions_json(&self) -> Vec<u8> {
        PendingBatch::positions_json(self)
    }

    fn hold(&mut self, permit: OwnedSemaphorePermit) {
        PendingBatch::hold(self, permit);
    }

    fn resolve(self, delivery: Delivery) {
        PendingBatch::resolve(self, delivery);
    }
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
    outbox: Outbox<LokiEncoder>,
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
            .min(self.settings.delivery.buffer_max_bytes);
        let permit = match self.outbox.try_admit(bytes) {
            Admission::Granted(permit) => permit,
            Admission::Wait => {
                // Full: what is pending goes out first (its space comes back once delivered),
                // then this batch waits for room: backpressure.
                self.cut().await;
                match self.outbox.admit(bytes).await {
                    Some(permit) => Some(permit),
                    None => return false,
                }
            }
            Admission::Drop(_) => {
                self.metrics
                    .dropped("buffer_full", batch.records.len() as u64);
                batch.ack.resolve(Delivery::Rejected);
                return true;
            }
        };
        self.metrics.held(bytes, batch.records.len());
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
            .map(|entry| entry.as_ref().map(|(selector, _)| lane_of(selector, lanes)))
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
            if self.pending[index].bytes >= self.settings.delivery.batch_max_bytes {
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
        self.outbox.hand_over(index, batch).await;
    }
}
