//! The active probe: an HTTP request to a configured URL every interval, giving
//! `vigia_probe_success` and `vigia_probe_duration_seconds` — the availability signal when the
//! service exports nothing — and feeding its durations to the detector as route `probe`.

use super::monitor::ServiceLatency;
use crate::latency::config::ProbeSettings;
use crate::telemetry::register::{register_counter, register_gauge};
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, Registry};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The probe's metrics, for one service.
pub struct ProbeMetrics {
    success: IntGauge,
    duration: Histogram,
    failures: prometheus::IntCounterVec,
    service: String,
}

impl ProbeMetrics {
    pub fn register(registry: &Registry, service: &str) -> Self {
        let success = register_gauge(
            registry,
            "vigia_probe_success",
            "1 if the last probe of the service answered an expected status in time.",
            &["service"],
        );
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "vigia_probe_duration_seconds",
                "Duration of the probe's requests, answered or not.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["service"],
        )
        .expect("valid histogram");
        registry
            .register(Box::new(duration.clone()))
            .expect("registered once");
        let failures = register_counter(
            registry,
            "vigia_probe_failures_total",
            "Failed probes by reason: status (unexpected), timeout, connect, other.",
            &["service", "reason"],
        );
        Self {
            success: success.with_label_values(&[service]),
            duration: duration.with_label_values(&[service]),
            failures,
            service: service.to_owned(),
        }
    }

    fn failure(&self, reason: &str) -> IntCounter {
        self.failures.with_label_values(&[&self.service, reason])
    }
}

/// Probes until `stop`.
pub async fn run(
    settings: ProbeSettings,
    metrics: ProbeMetrics,
    latency: Option<ServiceLatency>,
    stop: CancellationToken,
) {
    let client = match crate::http_client::builder(settings.timeout)
        .user_agent(concat!("vigia-probe/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the probe's HTTP client");
            return;
        }
    };
    let mut ticker = tokio::time::interval(settings.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_up = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let result = client
            .request(settings.method.clone(), &settings.url)
            .send()
            .await;
        let seconds = started.elapsed().as_secs_f64();
        metrics.duration.observe(seconds);
        let failure = match result {
            Ok(response) if settings.is_success(response.status().as_u16()) => {
                // The body is not needed; dropping the response closes or recycles the connection.
                if let Some(latency) = &latency {
                    latency.observe("probe", seconds);
                }
                None
            }
            Ok(response) => Some(("status", format!("unexpected status {}", response.status()))),
            Err(error) if error.is_timeout() => Some((
                "timeout",
                format!("no answer within {:?}", settings.timeout),
            )),
            Err(error) if error.is_connect() => Some(("connect", error.to_string())),
            Err(error) => Some(("other", error.to_string())),
        };
        let up = failure.is_none();
        metrics.success.set(i64::from(up));
        if let Some((reason, message)) = &failure {
            metrics.failure(reason).inc();
            if was_up != Some(false) {
                tracing::warn!(url = %settings.url, reason, %message, "probe failed");
            }
        } else if was_up == Some(false) {
            tracing::info!(url = %settings.url, "probe succeeds again");
        }
        was_up = Some(up);
    }
}
