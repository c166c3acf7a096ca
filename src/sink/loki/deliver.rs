//! One lane's deliverer: its ready requests sent one at a time, in order (so each of its
//! streams stays in order), with retries, backoff and the shared rate limit; each request's
//! lines acknowledged once Loki answered for good.

use super::batch::PendingBatch;
use super::client::{Answer, LokiClient};
use super::disk::{DiskBuffer, StoredFrame};
use super::proto;
use crate::pipeline::Delivery;
use crate::sink::loki::config::{LokiEncoding, LokiSettings};
use crate::telemetry::health::ComponentHealth;
use crate::telemetry::loki::LokiMetrics;
use crate::telemetry::metrics::SinkCounters;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// A request ready to go.
pub enum Ready {
    /// Built in memory: its record batches' sources are told once Loki answered.
    Memory(PendingBatch),
    /// Read back from the disk buffer: acknowledged there once Loki answered.
    Disk {
        frame: StoredFrame,
        buffer: Arc<DiskBuffer>,
        /// Its share of the memory buffer.
        permit: OwnedSemaphorePermit,
    },
}

impl Ready {
    fn lines(&self) -> usize {
        match self {
            Ready::Memory(batch) => batch.lines,
            Ready::Disk { frame, .. } => frame.lines as usize,
        }
    }

    fn line_bytes(&self) -> usize {
        match self {
            Ready::Memory(batch) => batch.bytes,
            Ready::Disk { frame, .. } => frame.line_bytes as usize,
        }
    }

    fn body(
        &self,
        settings: &LokiSettings,
        encoder: &mut proto::BodyEncoder,
    ) -> (bytes::Bytes, LokiEncoding) {
        match self {
            Ready::Memory(batch) => (
                encoder.encode(
                    settings.encoding,
                    &batch.to_request(&settings.structured_metadata),
                ),
                settings.encoding,
            ),
            Ready::Disk { frame, .. } => (frame.body.clone(), frame.encoding),
        }
    }

    fn resolve(self, delivery: Delivery) {
        match self {
            Ready::Memory(batch) => batch.resolve(delivery),
            Ready::Disk {
                frame,
                buffer,
                permit,
            } => {
                // Refused for good counts as finished too: sending it again would fail alike.
                buffer.acknowledge(
                    frame.end,
                    frame.frame_bytes,
                    u64::from(frame.lines),
                    &frame.positions,
                );
                drop(permit);
            }
        }
    }
}

/// Sends ready requests until every sender is gone.
pub async fn deliver(
    mut ready: mpsc::UnboundedReceiver<Ready>,
    mut client: LokiClient,
    settings: LokiSettings,
    limiters: Arc<RateLimits>,
    metrics: LokiMetrics,
    counters: SinkCounters,
    health: ComponentHealth,
) -> u64 {
    let mut delivered = 0;
    let mut last_success = Instant::now();
    let mut last_refusal_logged: Option<Instant> = None;
    let mut encoder = proto::BodyEncoder::default();
    while let Some(request) = ready.recv().await {
        let (bytes, lines) = (request.line_bytes(), request.lines());
        let released = |metrics: &LokiMetrics| {
            metrics.buffer_bytes.sub(bytes as i64);
            metrics.buffer_lines.sub(lines as i64);
        };
        if lines == 0 {
            // Every line was left out by policy; the acks still go back.
            released(&metrics);
            request.resolve(Delivery::Delivered);
            continue;
        }
        let (body, encoding) = request.body(&settings, &mut encoder);
        limiters.wait(body.len(), lines).await;
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let answer = client.push(body.clone(), encoding).await;
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
                    request.resolve(Delivery::Delivered);
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
                    request.resolve(Delivery::Rejected);
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

/// The optional `rate_limit`, shared by every lane: requests wait (shaping, never dropping).
pub struct RateLimits {
    bytes: Option<(DefaultDirectRateLimiter, u32)>,
    lines: Option<(DefaultDirectRateLimiter, u32)>,
}

impl RateLimits {
    pub fn new(settings: &LokiSettings) -> Self {
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
    use crate::sink::loki::config::LokiSink;

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
