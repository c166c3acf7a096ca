//! One lane's deliverer: its ready requests sent one at a time, in order (so whatever the
//! lane carries stays in order), with retries, backoff and the shared rate limit; each
//! request's items acknowledged once the receiver answered for good.

use super::config::DeliverySettings;
use super::disk::{DiskBuffer, StoredFrame};
use super::rate::RateLimits;
use super::{Answer, Batch, Client, Encoder};
use crate::logs::pipeline::Delivery;
use crate::telemetry::agent_metrics::SinkCounters;
use crate::telemetry::delivery::DeliveryMetrics;
use crate::telemetry::health::ComponentHealth;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, mpsc};

/// A request ready to go.
pub enum Ready<B> {
    /// Built in memory: its sources are told once the receiver answered.
    Memory(B),
    /// Read back from the disk buffer: acknowledged there once the receiver answered.
    Disk {
        frame: StoredFrame,
        buffer: Arc<DiskBuffer>,
        /// Its share of the memory buffer.
        permit: OwnedSemaphorePermit,
    },
}

impl<B: Batch> Ready<B> {
    fn lines(&self) -> usize {
        match self {
            Ready::Memory(batch) => batch.items(),
            Ready::Disk { frame, .. } => frame.lines as usize,
        }
    }

    fn line_bytes(&self) -> usize {
        match self {
            Ready::Memory(batch) => batch.bytes(),
            Ready::Disk { frame, .. } => frame.line_bytes as usize,
        }
    }

    fn body<E: Encoder<Batch = B>>(&self, encoder: &mut E) -> (bytes::Bytes, u8) {
        match self {
            Ready::Memory(batch) => encoder.encode(batch),
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

/// What a deliverer shares with the sink.
pub struct Lane<C, E> {
    pub client: C,
    pub encoder: E,
    pub settings: DeliverySettings,
    pub limiters: Arc<RateLimits>,
    pub metrics: DeliveryMetrics,
    pub counters: SinkCounters,
    pub health: ComponentHealth,
}

/// Sends ready requests until every sender is gone; returns the items delivered.
pub async fn deliver<C: Client, E: Encoder>(
    mut ready: mpsc::UnboundedReceiver<Ready<E::Batch>>,
    lane: Lane<C, E>,
) -> u64 {
    let Lane {
        mut client,
        mut encoder,
        settings,
        limiters,
        metrics,
        counters,
        health,
    } = lane;
    let peer = client.peer();
    let mut delivered = 0;
    let mut last_success = Instant::now();
    let mut last_refusal_logged: Option<Instant> = None;
    while let Some(request) = ready.recv().await {
        let (bytes, lines) = (request.line_bytes(), request.lines());
        let released = |metrics: &DeliveryMetrics| metrics.released(bytes, lines);
        if lines == 0 {
            // Every line was left out by policy; the acks still go back.
            released(&metrics);
            request.resolve(Delivery::Delivered);
            continue;
        }
        let (body, encoding) = request.body(&mut encoder);
        limiters.wait(body.len(), lines).await;
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let answer = client.send(body.clone(), encoding).await;
            metrics
                .request_duration
                .observe(started.elapsed().as_secs_f64());
            match answer {
                Answer::Accepted { status, unexpected } => {
                    metrics.request(&status.to_string());
                    if unexpected {
                        metrics.unexpected_success.inc();
                        tracing::warn!(status, peer, "the receiver answered with an unusual 2xx");
                    }
                    metrics.items_sent.inc_by(lines as u64);
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
                        tracing::warn!(status, peer, %body, items = lines, "the receiver refused a request; what it carried is dropped (not retried)");
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
                        health.degraded(format!(
                            "no successful request for {}s: {reason}",
                            last_success.elapsed().as_secs()
                        ));
                    }
                    tracing::debug!(?status, peer, %reason, wait_ms = wait.as_millis() as u64, "request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
    delivered
}

/// Exponential backoff with full jitter: a random wait up to `initial × 2^attempt`, capped.
fn backoff(settings: &DeliverySettings, attempt: u32) -> Duration {
    let ceiling = settings
        .initial_backoff
        .saturating_mul(1u32 << attempt.min(20))
        .min(settings.max_backoff);
    ceiling.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::loki::config::LokiSink;

    fn settings() -> DeliverySettings {
        let sink: LokiSink = serde_saphyr::from_str("endpoint: http://127.0.0.1:3100").unwrap();
        let mut problems = Vec::new();
        let settings = sink.validate("sinks.loki", &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        settings.delivery
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
