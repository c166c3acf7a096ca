//! The Prometheus remote-write sink ("agent mode"): every scrape's samples, `up` and the
//! other report series, and the agent's own metrics with the RED families, pushed as
//! remote write 1.0 `WriteRequest`s to a receiver (Prometheus, Mimir, Thanos, VictoriaMetrics…)
//! where no Prometheus can scrape vigia.
//!
//! ```text
//!  scrape results ──┐                          ┌─► lane 0 ──► receiver
//!  (each target)    ├─► series, staleness ──► Outbox        (memory or disk buffer,
//!  own metrics ─────┘   (write_relabel,        └─► lane n     retries, Retry-After)
//!  (every interval)      external labels)       a series always in the same lane
//! ```
//!
//! A series that leaves its target's scrape, every series of a target whose scrape failed,
//! and every series at shutdown get a stale marker, as Prometheus writes them, so queries
//! stop showing them at once instead of five minutes later.

pub mod batch;
pub mod config;
pub mod proto;
pub mod series;

use crate::metrics::exposition::family::from_registry;
use crate::metrics::scrape::ScrapeUpdate;
use crate::sink::component::SinkContext;
use crate::sink::delivery::{Admission, Outbox, OutboxParts, lane_of};
use crate::telemetry::remote_write::RemoteWriteMetrics;
use batch::{PendingWrite, WriteClient, WriteEncoder, point_bytes};
use config::RemoteWriteSettings;
use series::{Point, Series, Shaper, Staleness};
use std::sync::Arc;

/// Runs until the pipeline drains (`cx.shutdown`), then writes stale markers for every
/// series and delivers (or, with the disk buffer, stores) what it holds.
pub async fn run(settings: RemoteWriteSettings, cx: SinkContext) -> anyhow::Result<u64> {
    let metrics = cx.agent.remote_write(&cx.id);
    let outbox = Outbox::start(
        OutboxParts {
            settings: settings.delivery.clone(),
            disk_dir: &cx.buffer_dir,
            positions: cx.positions,
            metrics: metrics.delivery.clone(),
            counters: cx.counters,
            health: cx.health.clone(),
        },
        || WriteClient::new(&settings),
        WriteEncoder::default,
    )?;
    let mut subscription = cx.scrape.subscribe();
    let lanes = outbox.lanes();
    let deadline_after = settings.delivery.batch_max_wait;
    let own_labels: Vec<(Arc<str>, String)> = settings
        .self_labels
        .iter()
        .map(|(name, value)| (Arc::from(name.as_str()), value.clone()))
        .collect();
    let mut own_ticker = settings.self_interval.map(|interval| {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    });
    let mut writer = Writer {
        shaper: Shaper {
            write_relabel: settings.write_relabel.clone(),
            external_labels: settings.external_labels.clone(),
        },
        max_samples: settings.max_samples_per_send,
        pending: (0..lanes).map(|_| PendingWrite::default()).collect(),
        outbox,
        staleness: Staleness::default(),
        newest_timestamp: 0,
        metrics,
    };
    let own_origin: Arc<str> = Arc::from("vigia");
    let mut scrapes_open = true;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let deadline_reached = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let own_tick = async {
            match own_ticker.as_mut() {
                Some(ticker) => ticker.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = cx.shutdown.cancelled() => break,
            _ = deadline_reached => {
                deadline = None;
                writer.cut_all().await;
            }
            update = subscription.updates.recv(), if scrapes_open => match update {
                Some(update) => {
                    let missed = subscription.missed.swap(0, std::sync::atomic::Ordering::Relaxed);
                    if missed > 0 {
                        writer.metrics.scrapes_missed.inc_by(missed);
                        tracing::warn!(missed, "remote write fell behind the scrapes; their samples are not sent");
                    }
                    writer.scrape(&update).await;
                }
                None => scrapes_open = false,
            },
            _ = own_tick => {
                let families = from_registry(&cx.agent.gather());
                let now = now_millis();
                let (points, tracked) = series::own_points(&families, &own_labels, now, &writer.shaper);
                writer.round(&own_origin, points, tracked, now).await;
            }
        }
        if !writer.has_pending() {
            deadline = None;
        } else if deadline.is_none() {
            deadline = Some(tokio::time::Instant::now() + deadline_after);
        }
    }
    writer.stale_all().await;
    writer.cut_all().await;
    let delivered = writer.outbox.finish().await?;
    cx.health.finished();
    Ok(delivered)
}

fn now_millis() -> i64 {
    crate::logs::timestamp::now_nanos() / 1_000_000
}

/// Gathers points into requests, one being filled per lane.
struct Writer {
    shaper: Shaper,
    max_samples: usize,
    pending: Vec<PendingWrite>,
    outbox: Outbox<WriteEncoder>,
    staleness: Staleness,
    /// The newest timestamp written: shutdown's stale markers come after it.
    newest_timestamp: i64,
    metrics: RemoteWriteMetrics,
}

impl Writer {
    async fn scrape(&mut self, update: &ScrapeUpdate) {
        let (points, tracked) = series::scrape_points(update, &self.shaper);
        self.round(&update.target, points, tracked, update.state.timestamp_ms)
            .await;
    }

    /// One origin's round (a scrape, or the agent's own metrics): its points, then a stale
    /// marker at the round's time for each of its series that ended.
    async fn round(
        &mut self,
        origin: &Arc<str>,
        mut points: Vec<Point>,
        tracked: Vec<Series>,
        timestamp: i64,
    ) {
        let ended = self.staleness.replace(origin, tracked);
        self.metrics.stale_markers.inc_by(ended.len() as u64);
        points.extend(ended.into_iter().map(|series| Point {
            series,
            value: proto::stale_nan(),
            timestamp,
        }));
        self.metrics.active_series.set(self.staleness.len() as i64);
        self.push(points).await;
    }

    /// Stale markers for every live series, after everything written.
    async fn stale_all(&mut self) {
        let timestamp = now_millis().max(self.newest_timestamp + 1);
        let ended = self.staleness.take_all();
        self.metrics.stale_markers.inc_by(ended.len() as u64);
        self.metrics.active_series.set(0);
        let points = ended
            .into_iter()
            .map(|series| Point {
                series,
                value: proto::stale_nan(),
                timestamp,
            })
            .collect();
        self.push(points).await;
    }

    /// Takes the points into the lanes' requests, a request's worth at a time, within the
    /// buffer's bounds.
    async fn push(&mut self, points: Vec<Point>) {
        let lanes = self.pending.len();
        let mut points = points.into_iter().peekable();
        while points.peek().is_some() {
            let chunk: Vec<Point> = points.by_ref().take(self.max_samples).collect();
            let bytes: usize = chunk.iter().map(point_bytes).sum();
            let permit = match self.outbox.try_admit(bytes) {
                Admission::Granted(permit) => permit,
                Admission::Wait => {
                    // Full: what is pending goes out first, then this waits for room.
                    self.cut_all().await;
                    match self.outbox.admit(bytes).await {
                        Some(permit) => Some(permit),
                        None => return,
                    }
                }
                Admission::Drop(_) => {
                    self.metrics
                        .delivery
                        .dropped("buffer_full", chunk.len() as u64);
                    continue;
                }
            };
            self.metrics.delivery.held(bytes, chunk.len());
            let permit = permit.map(Arc::new);
            let mut used = vec![false; lanes];
            for point in chunk {
                self.newest_timestamp = self.newest_timestamp.max(point.timestamp);
                let lane = if lanes == 1 {
                    0
                } else {
                    lane_of(&point.series, lanes)
                };
                used[lane] = true;
                self.pending[lane].add(point);
            }
            let touched: Vec<usize> = (0..lanes).filter(|lane| used[*lane]).collect();
            for lane in touched {
                if let Some(permit) = &permit {
                    self.pending[lane].share(permit.clone());
                }
                if self.pending[lane].samples >= self.max_samples {
                    self.cut(lane).await;
                }
            }
        }
    }

    fn has_pending(&self) -> bool {
        self.pending.iter().any(|p| !p.is_empty())
    }

    async fn cut_all(&mut self) {
        for lane in 0..self.pending.len() {
            self.cut(lane).await;
        }
    }

    async fn cut(&mut self, lane: usize) {
        if self.pending[lane].is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending[lane]);
        self.outbox.hand_over(lane, batch).await;
    }
}
