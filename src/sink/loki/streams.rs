//! Which stream each record goes to, and the time it is sent with: labels rendered from the
//! record's source, a cap on active streams, and the out-of-order policy.

use super::labels::{Template, selector};
use crate::logs::pipeline::{Origin, RecordBatch};
use crate::logs::timestamp::now_nanos;
use crate::sink::loki::config::{LokiSettings, OutOfOrderPolicy};
use crate::telemetry::loki::LokiMetrics;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stream nobody wrote to for this long no longer counts as active.
const STREAM_IDLE: Duration = Duration::from_secs(3600);
/// Loki refuses entries more than this far ahead of its clock (`creation_grace_period`).
const FUTURE_LIMIT_NS: i64 = 10 * 60 * 1_000_000_000;
/// Loki refuses entries older than this (`reject_old_samples_max_age`, 168h by default).
/// Not the out-of-order window: an old line on a new stream is accepted, and backfilled logs
/// keep their times; the window is the out-of-order policy's business.
const OLDEST_ACCEPTED_NS: i64 = 168 * 3600 * 1_000_000_000;
/// The value that templated labels take once `max_streams` is reached.
pub const OVERFLOW: &str = "overflow";

struct StreamState {
    /// The newest time sent on the stream (Unix ns).
    newest: i64,
    last_used: Instant,
}

pub struct Streams {
    labels: Vec<(String, Template)>,
    max_streams: usize,
    policy: OutOfOrderPolicy,
    window_ns: i64,
    host: String,
    active: HashMap<Arc<str>, StreamState>,
    last_pruned: Instant,
    metrics: LokiMetrics,
}

impl Streams {
    pub fn new(settings: &LokiSettings, metrics: &LokiMetrics) -> Self {
        Self {
            labels: settings.labels.clone(),
            max_streams: settings.max_streams,
            policy: settings.out_of_order,
            window_ns: i64::try_from(settings.out_of_order_window.as_nanos()).unwrap_or(i64::MAX),
            host: std::env::var("HOSTNAME").unwrap_or_default(),
            active: HashMap::new(),
            last_pruned: Instant::now(),
            metrics: metrics.clone(),
        }
    }

    /// The stream's selector, and whether it is the overflow stream (the cap was reached).
    fn selector_for(&mut self, origin: &Origin, stream: Option<&str>) -> (Arc<str>, bool) {
        let rendered: Vec<(String, String)> = self
            .labels
            .iter()
            .map(|(name, template)| (name.clone(), template.render(origin, stream, &self.host)))
            .collect();
        let wanted: Arc<str> = Arc::from(selector(&rendered));
        if self.active.contains_key(&wanted) || self.active.len() < self.max_streams {
            return (wanted, false);
        }
        // Past the cap: the values that vary fold into one overflow stream.
        let folded: Vec<(String, String)> = self
            .labels
            .iter()
            .zip(rendered)
            .map(|((_, template), (name, value))| {
                let value = if template.is_static() || value.is_empty() {
                    value
                } else {
                    OVERFLOW.to_owned()
                };
                (name, value)
            })
            .collect();
        (Arc::from(selector(&folded)), true)
    }

    /// Per record: its stream and the time to send it with, or `None` to leave it out.
    pub fn assign(&mut self, batch: &RecordBatch) -> Vec<Option<(Arc<str>, i64)>> {
        if self.last_pruned.elapsed() > Duration::from_secs(60) {
            self.active
                .retain(|_, s| s.last_used.elapsed() < STREAM_IDLE);
            self.last_pruned = Instant::now();
        }
        // Selectors are rendered, and their streams looked up, once per batch and kind of
        // stream (stdout/stderr), not per record: `local` holds each selector's newest time
        // while the batch is assigned.
        let mut by_stream: Vec<(Option<&'static str>, usize)> = Vec::with_capacity(2);
        let mut local: Vec<(Arc<str>, bool, i64)> = Vec::with_capacity(2);
        let mut out = Vec::with_capacity(batch.records.len());
        let (mut rewritten, mut dropped, mut overflowed) = (0u64, 0u64, 0u64);
        let mut out_of_range = 0u64;
        let now = Instant::now();
        let now_ns = now_nanos();
        let accepted =
            now_ns.saturating_sub(OLDEST_ACCEPTED_NS)..=now_ns.saturating_add(FUTURE_LIMIT_NS);
        for (meta, _) in batch.records.iter() {
            let slot = match by_stream.iter().find(|(s, _)| *s == meta.stream) {
                Some(&(_, slot)) => slot,
                None => {
                    let (selector, overflow) = self.selector_for(&batch.origin, meta.stream);
                    let slot = match local.iter().position(|(s, _, _)| *s == selector) {
                        Some(slot) => slot,
                        None => {
                            // In `active` at once: the cap counts it for the next selector.
                            let state =
                                self.active.entry(selector.clone()).or_insert(StreamState {
                                    newest: i64::MIN,
                                    last_used: now,
                                });
                            local.push((selector, overflow, state.newest));
                            local.len() - 1
                        }
                    };
                    by_stream.push((meta.stream, slot));
                    slot
                }
            };
            let (selector, overflow, newest) = &mut local[slot];
            overflowed += u64::from(*overflow);
            let oldest_accepted = newest.saturating_sub(self.window_ns);
            let mut ts = meta.ts;
            if !accepted.contains(&ts) {
                // An event time Loki would refuse, or one that would push the stream's newest
                // time far ahead (a single `2099-…` line would have every later line of the
                // stream refused): sent at read time; the line keeps its own `ts`.
                ts = meta.read_ts.clamp(*accepted.start(), *accepted.end());
                out_of_range += 1;
            }
            if ts < oldest_accepted {
                match self.policy {
                    OutOfOrderPolicy::Accept => {}
                    OutOfOrderPolicy::RewriteTimestamp => {
                        ts = oldest_accepted;
                        rewritten += 1;
                    }
                    OutOfOrderPolicy::Drop => {
                        dropped += 1;
                        out.push(None);
                        continue;
                    }
                }
            }
            *newest = (*newest).max(ts);
            out.push(Some((selector.clone(), ts)));
        }
        for (selector, _, newest) in local {
            self.active.insert(
                selector,
                StreamState {
                    newest,
                    last_used: now,
                },
            );
        }
        if rewritten > 0 {
            self.metrics.rewritten("out_of_order", rewritten);
        }
        if dropped > 0 {
            self.metrics.dropped("out_of_order", dropped);
        }
        if out_of_range > 0 {
            self.metrics
                .rewritten("event_time_out_of_range", out_of_range);
        }
        if overflowed > 0 {
            self.metrics.rewritten("stream_overflow", overflowed);
        }
        self.metrics.active_streams.set(self.active.len() as i64);
        out
    }
}
