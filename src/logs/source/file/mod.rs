//! The file source: tails files matched by globs, through rotation, truncation and restarts,
//! without losing a line. The [`tailer::Tailer`] does the work; this module drives it on a
//! thread of its own (file reads block), waking on inotify events or a poll interval.

pub mod checkpoint;
pub mod config;
pub mod copies;
pub mod discovery;
pub mod identity;
pub mod progress;
pub mod tailer;
mod wakeup;

use super::SourceContext;
use crate::logs::normalize::stage::{LineOut, NoRoom};
use crate::logs::pipeline::LineBatch;
use checkpoint::CheckpointStore;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tailer::{Notice, Tailer, TailerSettings};
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
    /// On shutdown, how long the source may go on reading its files to their end (what is
    /// left of the grace period is for delivering what it read).
    pub shutdown_read: Duration,
    /// Newer positions than the checkpoint's, recorded by the sinks' disk buffers.
    pub durable: Vec<checkpoint::CheckpointEntry>,
}

/// Runs the source until `stop`, reads its files to their current end (within
/// `shutdown_read`), then waits for in-flight batches to be acknowledged (as long as the
/// process lets it) and writes the final checkpoint. Blocking: run it on its own thread.
pub fn run_blocking(
    context: SourceContext,
    settings: FileSourceSettings,
    out: LineOut,
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
    if !settings.durable.is_empty() {
        tracing::info!(
            source = %context.id,
            files = settings.durable.len(),
            "resuming from the read positions the disk buffer recorded (lines already in it are not read again)"
        );
        tailer.resume_durable(settings.durable.clone());
    }
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
    let mut driver = Driver {
        runtime: tokio::runtime::Handle::current(),
        out,
        housekeeping: Housekeeping::new(&settings, context.health.clone()),
        wakeup,
    };
    'running: while !stop.is_cancelled() {
        driver.housekeeping.tick(&mut tailer, &driver.wakeup);
        for batch in tailer.poll(Instant::now()) {
            if !driver.send(batch, &mut tailer, None) {
                break 'running;
            }
        }
        driver.housekeeping.tick(&mut tailer, &driver.wakeup);
        if !tailer.has_backlog() {
            driver.wait(&tailer, settings.poll_interval);
        }
    }
    if stop.is_cancelled() {
        driver.read_to_end(
            &mut tailer,
            Instant::now() + settings.shutdown_read,
            &context.id,
        );
    }
    drop(driver);
    tailer.drain(None);
    context.health.finished();
    let events = counters.events.get() - events_before;
    tracing::info!(source = %context.id, events, "file source stopped; checkpoint written");
    events
}

/// What keeps the source's view current whatever else it is doing (reading, or waiting on a
/// full pipeline): acks applied, files discovered and opened, the checkpoint written.
struct Housekeeping {
    checkpoint_interval: Duration,
    next_checkpoint: Instant,
    discovery_interval: Duration,
    next_discovery: Instant,
    health: crate::telemetry::health::ComponentHealth,
    degraded: bool,
}

impl Housekeeping {
    fn new(
        settings: &FileSourceSettings,
        health: crate::telemetry::health::ComponentHealth,
    ) -> Self {
        Self {
            checkpoint_interval: settings.checkpoint_interval,
            next_checkpoint: Instant::now(),
            discovery_interval: settings.discovery_interval,
            next_discovery: Instant::now(),
            health,
            degraded: false,
        }
    }

    fn tick(&mut self, tailer: &mut Tailer, wakeup: &wakeup::Wakeup) {
        let now = Instant::now();
        tailer.handle_acks();
        // Discovery goes on while the pipeline is full: a file created and rotated away during
        // an outage is opened now, and its open handle keeps its bytes readable.
        if now >= self.next_discovery || wakeup.rescan_requested() {
            tailer.discover(now);
            self.next_discovery = now + self.discovery_interval;
        }
        if tailer.checkpoint_dirty() && now >= self.next_checkpoint {
            tailer.save_checkpoint();
            self.next_checkpoint = Instant::now() + self.checkpoint_interval;
            self.report(tailer);
        }
    }

    /// A checkpoint that cannot be written is a degraded source (`/readyz` says why): on a
    /// restart its lines would be sent again from the last checkpoint that was written.
    fn report(&mut self, tailer: &Tailer) {
        match (tailer.checkpoint_error(), self.degraded) {
            (Some(error), _) => {
                self.health
                    .failing(format!("cannot write the checkpoint: {error}"));
                self.degraded = true;
            }
            (None, true) => {
                self.health.running();
                self.degraded = false;
            }
            (None, false) => {}
        }
    }

    fn next_due(&self, tailer: &Tailer) -> Instant {
        let mut due = self.next_discovery;
        if tailer.checkpoint_dirty() {
            due = due.min(self.next_checkpoint);
        }
        due
    }
}

struct Driver {
    runtime: tokio::runtime::Handle,
    out: LineOut,
    housekeeping: Housekeeping,
    wakeup: wakeup::Wakeup,
}

impl Driver {
    /// Sleeps until there may be something to do: an inotify event, the poll interval, a
    /// multiline timeout, discovery or a checkpoint falling due.
    fn wait(&self, tailer: &Tailer, poll_interval: Duration) {
        let now = Instant::now();
        let mut until = now + poll_interval;
        until = until.min(self.housekeeping.next_due(tailer));
        if let Some(deadline) = tailer.next_deadline() {
            until = until.min(deadline);
        }
        self.wakeup.wait(
            until
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        );
    }

    /// Sends one batch, waiting for room (until `deadline`, if any); while it waits,
    /// housekeeping goes on, so a crash during backpressure replays only what is in flight
    /// and files keep being discovered. Returns false when the pipeline is gone or the
    /// deadline passed.
    fn send(&mut self, batch: LineBatch, tailer: &mut Tailer, deadline: Option<Instant>) -> bool {
        loop {
            match self.out.try_room() {
                Ok(room) => {
                    self.out.send_in(room, batch);
                    return true;
                }
                Err(NoRoom::Closed) => return false,
                Err(NoRoom::Full) => {}
            }
            self.housekeeping.tick(tailer, &self.wakeup);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            let out = &self.out;
            let reserved = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(20), out.room()).await
            });
            match reserved {
                Ok(Ok(room)) => {
                    self.out.send_in(room, batch);
                    return true;
                }
                Ok(Err(_closed)) => return false,
                Err(_timeout) => {}
            }
        }
    }

    /// Shutdown: the files are read up to the size they have now and what the framers hold
    /// is emitted, so a service's last lines before it exited are delivered. Bounded by
    /// `deadline`.
    fn read_to_end(&mut self, tailer: &mut Tailer, deadline: Instant, source: &str) {
        let targets = tailer.sizes();
        loop {
            if tailer.read_up_to(&targets) {
                break;
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    source,
                    "shutdown: the grace period ran out before the files were read to their end; the rest is read on the next start"
                );
                return;
            }
            let batches = tailer.poll(Instant::now());
            if batches.is_empty() && !tailer.has_backlog() {
                // Nothing readable right now (a read error, say): no busy loop to the deadline.
                std::thread::sleep(Duration::from_millis(10));
            }
            for batch in batches {
                if !self.send(batch, tailer, Some(deadline)) {
                    return;
                }
            }
            tailer.handle_acks();
        }
        for batch in tailer.finish_all(Instant::now()) {
            if !self.send(batch, tailer, Some(deadline)) {
                return;
            }
        }
    }
}
