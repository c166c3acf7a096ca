//! The Loki sink: records in, push requests out, every line acknowledged only once Loki has
//! it (or refused it for good).
//!
//! ```text
//!  records ──► batcher ──(bounded by buffer.max_bytes)──► deliverer ──► Loki
//!              streams by labels,                          one request at a time (per-stream
//!              out-of-order policy,                        order kept), retries with backoff,
//!              cut by size and time                        rate limit, acks
//! ```
//!
//! When the buffer is full, `block` stops taking records (the sources pause: a file is read
//! later, nothing is lost) and `drop_newest` drops them, counted. A request that fails is
//! retried until it succeeds or shutdown gives up on it; then its lines are not acknowledged,
//! their checkpoint does not move, and they are read again after a restart.

pub mod batch;
pub mod client;
pub mod labels;
pub mod proto;
mod streams;

use crate::admin::ComponentHealth;
use crate::config::loki::{LokiSettings, WhenFull};
use crate::pipeline::{Delivery, RecordBatch};
use crate::telemetry::loki::LokiMetrics;
use crate::telemetry::metrics::SinkCounters;
use batch::PendingBatch;
use client::{Answer, LokiClient};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use streams::Streams;
use tokio::sync::{Semaphore, mpsc};

pub async fn run(
    mut input: mpsc::Receiver<RecordBatch>,
    settings: LokiSettings,
    metrics: LokiMetrics,
    counters: SinkCounters,
    health: ComponentHealth,
) -> anyhow::Result<u64> {
    let client = LokiClient::new(&settings)?;
    let buffer = Arc::new(Semaphore::new(settings.buffer_max_bytes));
    let (ready_tx, ready_rx) = mpsc::unbounded_channel::<PendingBatch>();
    health.running();
    let deliverer = tokio::spawn(deliver(
        ready_rx,
        client,
        settings.clone(),
        metrics.clone(),
        counters,
        health.clone(),
    ));

    let mut streams = Streams::new(&settings, &metrics);
    let mut pending = PendingBatch::default();
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
                let full = std::mem::take(&mut pending);
                deadline = None;
                let _ = ready_tx.send(full);
            }
            Some(None) => break,
            Some(Some(batch)) => {
                let bytes = batch
                    .records
                    .as_bytes()
                    .len()
                    .min(settings.buffer_max_bytes);
                let wanted = u32::try_from(bytes).unwrap_or(u32::MAX);
                let permit = match settings.when_full {
                    WhenFull::Block => match buffer.clone().try_acquire_many_owned(wanted) {
                        Ok(permit) => Some(permit),
                        Err(_) => {
                            // Full: what is pending goes out first (its space comes back once
                            // delivered), then this batch waits for room: backpressure.
                            if !pending.is_empty() {
                                deadline = None;
                                let _ = ready_tx.send(std::mem::take(&mut pending));
                            }
                            match buffer.clone().acquire_many_owned(wanted).await {
                                Ok(permit) => Some(permit),
                                Err(_) => break,
                            }
                        }
                    },
                    WhenFull::DropNewest => match buffer.clone().try_acquire_many_owned(wanted) {
                        Ok(permit) => Some(permit),
                        Err(_) => {
                            metrics.dropped("buffer_full", batch.records.len() as u64);
                            batch.ack.resolve(Delivery::Rejected);
                            continue;
                        }
                    },
                };
                metrics.buffer_bytes.add(bytes as i64);
                metrics.buffer_lines.add(batch.records.len() as i64);
                let entries = streams.assign(&batch);
                pending.add(batch.records, batch.origin, batch.ack, permit, entries);
                if pending.bytes >= settings.batch_max_bytes {
                    deadline = None;
                    let _ = ready_tx.send(std::mem::take(&mut pending));
                } else if deadline.is_none() {
                    deadline = Some(tokio::time::Instant::now() + settings.batch_max_wait);
                }
            }
        }
    }
    if !pending.is_empty() {
        let _ = ready_tx.send(pending);
    }
    drop(ready_tx);
    let delivered = deliverer.await?;
    health.finished();
    Ok(delivered)
}

/// Sends ready batches one at a time, in order, until the batcher is done.
async fn deliver(
    mut ready: mpsc::UnboundedReceiver<PendingBatch>,
    mut client: LokiClient,
    settings: LokiSettings,
    metrics: LokiMetrics,
    counters: SinkCounters,
    health: ComponentHealth,
) -> u64 {
    let limiters = RateLimits::new(&settings);
    let mut delivered = 0;
    let mut last_success = Instant::now();
    let mut last_refusal_logged: Option<Instant> = None;
    while let Some(batch) = ready.recv().await {
        let (bytes, lines) = (batch.bytes, batch.lines);
        let released = |metrics: &LokiMetrics| {
            metrics.buffer_bytes.sub(bytes as i64);
            metrics.buffer_lines.sub(lines as i64);
        };
        if lines == 0 {
            // Every line was left out by policy; the acks still go back.
            released(&metrics);
            batch.resolve(Delivery::Delivered);
            continue;
        }
        let body = client.body(&batch.to_request(&settings.structured_metadata));
        limiters.wait(body.len(), lines).await;
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let answer = client.push(body.clone()).await;
            metrics
                .request_duration
                .observe(started.elapsed().as_secs_f64());
            match answer {
                Answer::Accepted { status, unexpected } => {
                    metrics.request(&status.to_string());
                    if unexpected {
                        metrics.unexpected_success.inc();
                        tracing::warn!(status, "Loki answered a push with a 2xx other than 204");
                    }
                    metrics.lines_sent.inc_by(lines as u64);
                    counters.sent.inc_by(lines as u64);
                    metrics.bytes_sent.inc_by(body.len() as u64);
                    delivered += lines as u64;
                    last_success = Instant::now();
                    health.running();
                    released(&metrics);
                    batch.resolve(Delivery::Delivered);
                    break;
                }
                Answer::Refused { status, body } => {
                    metrics.request(&status.to_string());
                    metrics.dropped(&format!("rejected_{status}"), lines as u64);
                    // One body a minute: enough to see why, not a log flood.
                    if last_refusal_logged.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                        last_refusal_logged = Some(Instant::now());
                        tracing::warn!(status, %body, lines, "Loki refused a push; its lines are dropped (not retried)");
                    }
                    last_success = Instant::now();
                    released(&metrics);
                    batch.resolve(Delivery::Rejected);
                    break;
                }
                Answer::Retry {
                    status,
                    retry_after,
                    reason,
                } => {
                    metrics.request(&status.map_or("error".to_owned(), |s| s.to_string()));
                    metrics.retries.inc();
                    let wait = retry_after
                        .map(|after| after.min(settings.max_backoff))
                        .unwrap_or_else(|| backoff(&settings, attempt));
                    attempt = attempt.saturating_add(1);
                    if last_success.elapsed() >= settings.unhealthy_after {
                        health.failing(format!(
                            "no successful push for {}s: {reason}",
                            last_success.elapsed().as_secs()
                        ));
                    }
                    tracing::debug!(?status, %reason, wait_ms = wait.as_millis() as u64, "Loki push failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
    delivered
}

/// Exponential backoff with full jitter: a random wait up to `initial × 2^attempt`, capped.
fn backoff(settings: &LokiSettings, attempt: u32) -> Duration {
    let ceiling = settings
        .initial_backoff
        .saturating_mul(1u32 << attempt.min(20))
        .min(settings.max_backoff);
    ceiling.mul_f64(fastrand::f64())
}

/// The optional `rate_limit`: requests wait (shaping, never dropping).
struct RateLimits {
    bytes: Option<(DefaultDirectRateLimiter, u32)>,
    lines: Option<(DefaultDirectRateLimiter, u32)>,
}

impl RateLimits {
    fn new(settings: &LokiSettings) -> Self {
        let limiter = |per_second: u64| {
            let rate = NonZeroU32::new(per_second.clamp(1, u64::from(u32::MAX)) as u32)?;
            Some((RateLimiter::direct(Quota::per_second(rate)), rate.get()))
        };
        let limit = settings.rate_limit.as_ref();
        Self {
            bytes: limit
                .and_then(|l| l.bytes_per_second)
                .and_then(|b| limiter(b.0)),
            lines: limit
                .and_then(|l| l.lines_per_second)
                .and_then(|n| limiter(u64::from(n))),
        }
    }

    async fn wait(&self, bytes: usize, lines: usize) {
        for (limiter, amount) in [(&self.bytes, bytes), (&self.lines, lines)] {
            let Some((limiter, burst)) = limiter else {
                continue;
            };
            // A request larger than one second's worth waits in one-second steps.
            let mut left = amount as u64;
            while left > 0 {
                let step = left.min(u64::from(*burst)) as u32;
                if let Some(step) = NonZeroU32::new(step) {
                    let _ = limiter.until_n_ready(step).await;
                }
                left -= u64::from(step);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::loki::LokiSink;

    fn settings() -> LokiSettings {
        let sink: LokiSink = serde_saphyr::from_str("endpoint: http://127.0.0.1:3100").unwrap();
        let mut problems = Vec::new();
        let settings = sink.validate("sinks.loki", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        settings
    }

    #[test]
    fn backoff_grows_with_full_jitter_and_a_cap() {
        let settings = settings();
        for attempt in 0..30 {
            let wait = backoff(&settings, attempt);
            let ceiling = (Duration::from_millis(500) * 2u32.pow(attempt.min(20)))
                .min(Duration::from_secs(300));
            assert!(wait <= ceiling, "{attempt}: {wait:?}");
        }
        let late: Vec<Duration> = (0..50).map(|_| backoff(&settings, 12)).collect();
        assert!(late.iter().any(|w| *w > Duration::from_secs(60)));
        assert!(late.iter().any(|w| *w != late[0]), "jittered");
    }
}
