//! The file source: tails files matched by globs, through rotation, truncation and restarts,
//! without losing a line. The [`tailer::Tailer`] does the work; this module drives it on a
//! thread of its own (file reads block), waking on inotify events or a poll interval.

pub mod checkpoint;
pub mod discovery;
pub mod identity;
pub mod progress;
pub mod tailer;
mod wakeup;

use super::SourceContext;
use crate::pipeline::LineBatch;
use checkpoint::CheckpointStore;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tailer::{Notice, Tailer, TailerSettings};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct FileSourceSettings {
    pub tailer: TailerSettings,
    pub data_dir: PathBuf,
    /// How often the globs are matched again (inotify events also trigger it).
    pub discovery_interval: Duration,
    /// How often open files are checked for new data when no event says so.
    pub poll_interval: Duration,
    /// How often acknowledged progress is written; zero writes on every change.
    pub checkpoint_interval: Duration,
}

/// Runs the source until `stop`, then waits for in-flight batches to be acknowledged (as long
/// as the process lets it) and writes the final checkpoint. Blocking: run it on its own thread.
pub fn run_blocking(
    context: SourceContext,
    settings: FileSourceSettings,
    out: mpsc::Sender<LineBatch>,
    stop: CancellationToken,
) -> u64 {
    let store = CheckpointStore::new(&settings.data_dir, &context.id);
    let counters = context.metrics.source(&context.id);
    let metrics = context.metrics.file_source(&context.id);
    let mut tailer = match Tailer::new(settings.tailer.clone(), store, counters.clone(), metrics) {
        Ok(tailer) => tailer,
        Err(error) => {
            context.health.failing(format!("invalid glob: {error}"));
            return 0;
        }
    };
    for notice in tailer.take_notices() {
        match notice {
            Notice::CheckpointPrevious(reason) => tracing::warn!(
                source = %context.id,
                reason,
                "checkpoint unusable; resuming from the previous checkpoint generation (lines acknowledged since then are sent again)"
            ),
            Notice::CheckpointReset(reason) => tracing::error!(
                source = %context.id,
                reason,
                "both checkpoint generations are unusable; moved aside as *.corrupt, starting as on a first start (read_from applies)"
            ),
        }
    }
    let wakeup = wakeup::Wakeup::new(&tailer.base_dirs());
    if !wakeup.watching() {
        tracing::info!(source = %context.id, "no inotify watch; polling for changes");
    }
    context.health.running();
    let events_before = counters.events.get();
    let runtime = tokio::runtime::Handle::current();
    let mut checkpoints = Checkpointing::new(settings.checkpoint_interval);
    let mut next_discovery = Instant::now();
    'running: while !stop.is_cancelled() {
        let now = Instant::now();
        tailer.handle_acks();
        if now >= next_discovery || wakeup.rescan_requested() {
            tailer.discover(now);
            next_discovery = now + settings.discovery_interval;
        }
        for batch in tailer.poll(now) {
            if !send(&runtime, &out, batch, &mut tailer, &mut checkpoints) {
                break 'running;
            }
        }
        tailer.handle_acks();
        checkpoints.maybe_save(&mut tailer);
        if !tailer.has_backlog() {
            let mut wait = settings
                .poll_interval
                .min(next_discovery.saturating_duration_since(Instant::now()));
            if let Some(deadline) = tailer.next_deadline() {
                wait = wait.min(deadline.saturating_duration_since(Instant::now()));
            }
            if tailer.checkpoint_dirty() {
                wait = wait.min(checkpoints.next.saturating_duration_since(Instant::now()));
            }
            wakeup.wait(wait.max(Duration::from_millis(1)));
        }
    }
    drop(out);
    tailer.drain(None);
    context.health.finished();
    let events = counters.events.get() - events_before;
    tracing::info!(source = %context.id, events, "file source stopped; checkpoint written");
    events
}

/// Writes the checkpoint when progress moved, at most once per interval.
struct Checkpointing {
    interval: Duration,
    next: Instant,
}

impl Checkpointing {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: Instant::now(),
        }
    }

    fn maybe_save(&mut self, tailer: &mut Tailer) {
        if tailer.checkpoint_dirty() && Instant::now() >= self.next {
            tailer.save_checkpoint();
            self.next = Instant::now() + self.interval;
        }
    }
}

/// Sends one batch, waiting for room; while it waits, acks keep being applied and the
/// checkpoint kept current, so a crash during backpressure replays only what is in flight.
/// Returns false when the pipeline is gone.
fn send(
    runtime: &tokio::runtime::Handle,
    out: &mpsc::Sender<LineBatch>,
    batch: LineBatch,
    tailer: &mut Tailer,
    checkpoints: &mut Checkpointing,
) -> bool {
    let mut batch = batch;
    loop {
        match out.try_send(batch) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(back)) => batch = back,
        }
        tailer.handle_acks();
        checkpoints.maybe_save(tailer);
        let reserved = runtime.block_on(async {
            tokio::time::timeout(Duration::from_millis(20), out.reserve()).await
        });
        match reserved {
            Ok(Ok(permit)) => {
                permit.send(batch);
                return true;
            }
            Ok(Err(_closed)) => return false,
            Err(_timeout) => {}
        }
    }
}
