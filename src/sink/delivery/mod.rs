//! The delivery machinery every network sink shares: a sink builds requests its own way (Loki
//! streams, remote-write series) and hands them to an [`Outbox`], which holds them within
//! the buffer's bounds, writes them ahead to disk when asked, and sends them lane by lane
//! with retries, backoff, `Retry-After` and the rate limit, acknowledging each once the
//! receiver answered for good.
//!
//! ```text
//!  sink's batcher ──admit──► Outbox ──► lane 0: deliverer ──► receiver
//!  (what goes in a          (memory    ──► lane 1: deliverer ──►
//!   request, which lane)     buffer,          one request at a time per lane,
//!                            or disk ──feeder──► lane 0)  in order
//! ```
//!
//! A sink supplies three things: its in-memory request ([`Batch`]: items, bytes, what to
//! acknowledge), how to encode one ([`Encoder`]), and how to send a body ([`Client`]).
//! Everything a request carries goes through one lane, so what the sink keys to a lane (a
//! Loki stream, a series) stays in order however many lanes there are.
//!
//! When the memory buffer is full, `block` makes [`Outbox::admit`] wait (the sources pause)
//! and `drop_newest` refuses (the sink counts the drop). With `disk`, every request is encoded
//! and written to the write-ahead buffer ([`disk`]) and counts as delivered once there; the
//! deliverer is fed from the disk, as fast as the memory buffer allows, and what it finishes
//! is acknowledged on the disk.

pub mod config;
mod deliver;
pub mod disk;
pub mod http;
pub mod rate;
pub mod snappy;

use crate::logs::pipeline::Delivery;
use crate::telemetry::agent_metrics::SinkCounters;
use crate::telemetry::delivery::DeliveryMetrics;
use crate::telemetry::health::ComponentHealth;
use config::{DeliverySettings, WhenFull};
use deliver::{Lane, Ready, deliver};
use disk::frame::Frame;
use disk::{DiskBuffer, DiskReader, DiskWriter};
use rate::RateLimits;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

/// What to do with a request after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Taken (a 2xx; `unexpected` when it is not the receiver's usual one: counted).
    Accepted { status: u16, unexpected: bool },
    /// Refused for good: retrying would fail the same way. Its items are dropped, counted.
    Refused { status: u16, body: String },
    /// Worth another try (429, 5xx, no answer), after `retry_after` if the server said so.
    Retry {
        status: Option<u16>,
        retry_after: Option<Duration>,
        reason: String,
    },
}

/// A request being built in memory.
pub trait Batch: Send + 'static {
    /// Items carried (lines, samples).
    fn items(&self) -> usize;
    /// Their size, as the buffer counts it.
    fn bytes(&self) -> usize;
    /// Where the sources will resume once it is safe (JSON), kept with it on disk.
    fn positions_json(&self) -> Vec<u8>;
    /// Holds buffer space until it is finished with.
    fn hold(&mut self, permit: OwnedSemaphorePermit);
    /// Tells its sources how it ended.
    fn resolve(self, delivery: Delivery);
}

/// Turns a batch into the body sent, and its encoding's code (below 0x80, never 0; kept in
/// disk frames so a body is sent as it was written).
pub trait Encoder: Send + 'static {
    type Batch: Batch;
    fn encode(&mut self, batch: &Self::Batch) -> (bytes::Bytes, u8);
}

/// Sends one body; one per lane.
pub trait Client: Send + 'static {
    fn send(&mut self, body: bytes::Bytes, encoding: u8) -> impl Future<Output = Answer> + Send;

    /// Names the receiver in logs.
    fn peer(&self) -> &'static str {
        "receiver"
    }
}

/// Where a sink's requests go: the memory buffer, the lanes, and the disk buffer.
pub struct Outbox<E: Encoder> {
    settings: DeliverySettings,
    memory: Arc<Semaphore>,
    lanes: Vec<mpsc::UnboundedSender<Ready<E::Batch>>>,
    disk: Option<DiskWriter>,
    encoder: E,
    metrics: DeliveryMetrics,
    deliverers: Vec<JoinHandle<u64>>,
    feeder: Option<JoinHandle<()>>,
}

/// What an [`Outbox`] needs to start.
pub struct OutboxParts<'a> {
    pub settings: DeliverySettings,
    /// Where the disk buffer lives (`data_dir/buffers/<sink>`).
    pub disk_dir: &'a Path,
    /// The read positions found in `disk_dir` at start (see [`disk::Positions::read`]).
    pub positions: disk::Positions,
    pub metrics: DeliveryMetrics,
    pub counters: SinkCounters,
    pub health: ComponentHealth,
}

/// The memory buffer is full and the policy is `drop_newest`.
#[derive(Debug)]
pub struct Full;

impl<E: Encoder> Outbox<E> {
    /// Opens the disk buffer (if asked: falls back to memory with a warning when `data_dir`
    /// cannot hold it and the policy was not written), then starts one deliverer per lane,
    /// each with a client and an encoder from the makers.
    pub fn start<C: Client>(
        parts: OutboxParts<'_>,
        mut new_client: impl FnMut() -> anyhow::Result<C>,
        mut new_encoder: impl FnMut() -> E,
    ) -> anyhow::Result<Self> {
        let OutboxParts {
            mut settings,
            disk_dir,
            positions,
            metrics,
            counters,
            health,
        } = parts;
        if settings.when_full == WhenFull::Disk
            && settings.when_full_defaulted
            && let Err(error) = disk::check_writable(disk_dir)
        {
            tracing::warn!(
                dir = %disk_dir.display(),
                %error,
                "data_dir cannot hold the disk buffer: buffering in memory (`when_full: block`); data of files deleted during an outage can be lost if vigia is killed"
            );
            settings.when_full = WhenFull::Block;
        }
        let memory = Arc::new(Semaphore::new(settings.buffer_max_bytes));
        metrics.buffer_capacity("memory", settings.buffer_max_bytes as u64);
        // One lane per request in flight; the disk buffer is replayed in order, through one.
        let lane_count = match settings.when_full {
            WhenFull::Disk => 1,
            _ => settings.concurrency.max(1),
        };
        let limiters = Arc::new(RateLimits::new(
            settings.rate_limit_bytes,
            settings.rate_limit_items,
        ));
        let mut lanes = Vec::with_capacity(lane_count);
        let mut receivers = Vec::with_capacity(lane_count);
        for _ in 0..lane_count {
            let (ready_tx, ready_rx) = mpsc::unbounded_channel();
            lanes.push(ready_tx);
            receivers.push((ready_rx, new_client()?));
        }
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
            .map_err(|e| {
                anyhow::anyhow!("cannot open the disk buffer {}: {e}", disk_dir.display())
            })?;
            if recovered.frames > 0 {
                tracing::info!(
                    requests = recovered.frames,
                    items = recovered.lines,
                    bytes = recovered.bytes,
                    "the disk buffer holds undelivered data from an earlier run; sending it first"
                );
            }
            disk = Some(writer);
            feeder = Some(tokio::spawn(feed_from_disk(
                reader,
                memory.clone(),
                settings.buffer_max_bytes,
                lanes[0].clone(),
                metrics.clone(),
            )));
        }
        health.running();
        let deliverers = receivers
            .into_iter()
            .map(|(ready_rx, client)| {
                tokio::spawn(deliver(
                    ready_rx,
                    Lane {
                        client,
                        encoder: new_encoder(),
                        settings: settings.clone(),
                        limiters: limiters.clone(),
                        metrics: metrics.clone(),
                        counters: counters.clone(),
                        health: health.clone(),
                    },
                ))
            })
            .collect();
        Ok(Self {
            settings,
            memory,
            lanes,
            disk,
            encoder: new_encoder(),
            metrics,
            deliverers,
            feeder,
        })
    }

    pub fn lanes(&self) -> usize {
        self.lanes.len()
    }

    /// Whether `bytes` more may enter the memory buffer now, under the `when_full` policy
    /// (with the disk buffer, always: a request leaves memory once written).
    pub fn try_admit(&self, bytes: usize) -> Admission {
        let wanted = self.wanted(bytes);
        match self.settings.when_full {
            WhenFull::Disk => Admission::Granted(None),
            WhenFull::Block => match self.memory.clone().try_acquire_many_owned(wanted) {
                Ok(permit) => Admission::Granted(Some(permit)),
                Err(_) => Admission::Wait,
            },
            WhenFull::DropNewest => match self.memory.clone().try_acquire_many_owned(wanted) {
                Ok(permit) => Admission::Granted(Some(permit)),
                Err(_) => Admission::Drop(Full),
            },
        }
    }

    /// Waits for room for `bytes` (the `block` policy); `None` once the sink is closing.
    pub async fn admit(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        self.memory
            .clone()
            .acquire_many_owned(self.wanted(bytes))
            .await
            .ok()
    }

    fn wanted(&self, bytes: usize) -> u32 {
        u32::try_from(bytes.min(self.settings.buffer_max_bytes)).unwrap_or(u32::MAX)
    }

    /// Hands a cut request on: to its lane's deliverer, or to the disk buffer. Its items
    /// were counted into the memory buffer's gauges by the sink (`metrics.held`).
    pub async fn hand_over(&mut self, lane: usize, batch: E::Batch) {
        if self.disk.is_some() {
            self.write_to_disk(batch).await;
        } else {
            let _ = self.lanes[lane].send(Ready::Memory(batch));
        }
    }

    async fn write_to_disk(&mut self, mut batch: E::Batch) {
        let (bytes, items) = (batch.bytes(), batch.items());
        if items == 0 {
            self.metrics.released(bytes, items);
            batch.resolve(Delivery::Delivered);
            return;
        }
        let (body, encoding) = self.encoder.encode(&batch);
        let encoded = Frame {
            lines: items as u32,
            line_bytes: bytes as u32,
            encoding,
            positions: batch.positions_json(),
            body,
        }
        .encode();
        let mut writer = self.disk.take().expect("called with a disk buffer");
        writer.wait_for_room(encoded.len() as u64).await;
        let (writer, written) = match tokio::task::spawn_blocking(move || {
            let written = writer.append(&encoded, items as u32);
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
                self.metrics.released(bytes, items);
                batch.resolve(Delivery::Delivered);
            }
            Err(error) => {
                // The disk failed (full, read-only, broken): this request goes through memory,
                // bounded like any other, and is acknowledged only by the receiver.
                self.metrics.disk_errors.inc();
                tracing::error!(%error, "cannot write to the disk buffer; sending this request from memory");
                if let Some(permit) = self.admit(bytes).await {
                    batch.hold(permit);
                }
                let _ = self.lanes[0].send(Ready::Memory(batch));
            }
        }
    }

    /// No more requests: waits until every one was delivered (or written to disk and sent
    /// from there); returns the items delivered.
    pub async fn finish(mut self) -> anyhow::Result<u64> {
        if let Some(writer) = self.disk.take() {
            writer.finish();
        }
        self.lanes.clear();
        if let Some(feeder) = self.feeder.take() {
            feeder.await?;
        }
        let mut delivered = 0;
        for deliverer in std::mem::take(&mut self.deliverers) {
            delivered += deliverer.await?;
        }
        Ok(delivered)
    }
}

/// Whether a request may enter the memory buffer.
pub enum Admission {
    /// Yes, holding this much of it (none with the disk buffer).
    Granted(Option<OwnedSemaphorePermit>),
    /// Full, `block`: cut what is pending, then wait with [`Outbox::admit`].
    Wait,
    /// Full, `drop_newest`: drop it, counted.
    Drop(Full),
}

/// The lane of a key (a stream's selector, a series' labels): the same for every request
/// carrying it.
pub fn lane_of<K: std::hash::Hash + ?Sized>(key: &K, lanes: usize) -> usize {
    let mut hasher = rustc_hash::FxHasher::default();
    std::hash::Hash::hash(key, &mut hasher);
    (std::hash::Hasher::finish(&hasher) % lanes as u64) as usize
}

/// Reads the disk buffer in order and hands each request to the deliverer, holding as much of
/// the memory buffer as its items would.
async fn feed_from_disk<B: Batch>(
    mut reader: DiskReader,
    memory: Arc<Semaphore>,
    memory_max: usize,
    ready: mpsc::UnboundedSender<Ready<B>>,
    metrics: DeliveryMetrics,
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
        metrics.held(frame.line_bytes as usize, frame.lines as usize);
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
