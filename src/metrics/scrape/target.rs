//! Scraping one target on its interval: `Accept` negotiation, gzip, the body read as it
//! arrives and parsed line by line within the body and sample limits.

use super::relabel::{apply, attach_target_labels};
use super::{ScrapeStore, TargetState};
use crate::latency::monitor::ServiceLatency;
use crate::metrics::config::ScrapeSettings;
use crate::metrics::exposition::family::{CollectError, Collected, Collector};
use crate::metrics::exposition::{Format, SCRAPE_ACCEPT};
use crate::metrics::scrape::histogram_feed::HistogramFeed;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Scrapes until `stop`; each result replaces the target's state in `store`.
/// With `latency`, the RED-mapped duration histogram's increments feed the detector.
pub async fn run(
    settings: ScrapeSettings,
    store: Arc<ScrapeStore>,
    latency: Option<ServiceLatency>,
    stop: CancellationToken,
) {
    let mut histogram_feed = HistogramFeed::default();
    let client = match crate::http_client::builder(settings.timeout).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(target = %settings.id, %error, "cannot build the scrape client");
            return;
        }
    };
    let target_labels: Vec<(Arc<str>, String)> = settings
        .target_labels
        .iter()
        .map(|(n, v)| (Arc::from(n.as_str()), v.clone()))
        .collect();
    // Like Prometheus, each target is scraped at its own phase of the interval (from a hash
    // of its name and URL): a hundred targets are not all scraped, parsed and held at once.
    let mut ticker = tokio::time::interval_at(
        tokio::time::Instant::now() + phase(&settings),
        settings.interval,
    );
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let timestamp_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as i64);
        let result = scrape(&client, &settings, &target_labels).await;
        let duration = started.elapsed();
        let state = match result {
            Ok(mut collected) => {
                if last_error.take().is_some() {
                    tracing::info!(target = %settings.id, "scrape succeeds again");
                }
                if let Some(mapping) = &settings.red {
                    let derived = super::red_map::derive(&collected.families, mapping);
                    if let Some(latency) = &latency {
                        histogram_feed.feed(&derived, latency);
                    }
                    collected.families.extend(derived);
                }
                TargetState {
                    timestamp_ms,
                    up: true,
                    duration,
                    scraped: collected.scraped,
                    kept: collected.kept,
                    families: Arc::new(collected.families),
                }
            }
            Err(error) => {
                // Logged when it changes, not on every interval.
                if last_error.as_deref() != Some(error.as_str()) {
                    tracing::warn!(target = %settings.id, url = %settings.url, %error, "scrape failed; its series are not served until it succeeds");
                }
                last_error = Some(error);
                TargetState {
                    timestamp_ms,
                    up: false,
                    duration,
                    scraped: 0,
                    kept: 0,
                    families: Arc::default(),
                }
            }
        };
        store.set(&settings.id, state);
    }
}

/// Where in the interval the target's scrapes fall: the same for the same target, spread
/// across targets (the first scrape waits for it, as in Prometheus), within the first 15 s
/// of a longer interval so a new agent's first scrape is never minutes away.
fn phase(settings: &ScrapeSettings) -> std::time::Duration {
    let mut hasher = rustc_hash::FxHasher::default();
    std::hash::Hash::hash(&(&settings.id, &settings.url), &mut hasher);
    let hash = std::hash::Hasher::finish(&hasher);
    let spread = settings
        .interval
        .min(std::time::Duration::from_secs(15))
        .as_nanos()
        .max(1) as u64;
    std::time::Duration::from_nanos(hash % spread)
}

async fn scrape(
    client: &reqwest::Client,
    settings: &ScrapeSettings,
    target_labels: &[(Arc<str>, String)],
) -> Result<Collected, String> {
    let mut response = client
        .get(&settings.url)
        .header("Accept", SCRAPE_ACCEPT)
        .header(
            "X-Prometheus-Scrape-Timeout-Seconds",
            format!("{}", settings.timeout.as_secs_f64()),
        )
        .send()
        .await
        .map_err(|e| error_text(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP status {}", response.status()));
    }
    let format = response
        .headers()
        .get("Content-Type")
        .and_then(|v| v.to_str().ok())
        .map_or(Format::Text, Format::from_content_type);
    let mut collector = Collector::new(
        format,
        settings.sample_limit,
        |_family: &str, sample: &mut _| {
            attach_target_labels(sample, target_labels, settings.honor_labels);
            apply(&settings.relabel, sample)
        },
    );
    // Whole lines are parsed as they arrive; what is held is one partial line and the kept
    // samples, never the body.
    let mut pending: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let failed = |error: CollectError| error.to_string();
    loop {
        let chunk = tokio::time::timeout(settings.timeout, response.chunk())
            .await
            .map_err(|_| "timed out reading the body".to_owned())?
            .map_err(|e| error_text(&e))?;
        let Some(chunk) = chunk else { break };
        total += chunk.len();
        if total > settings.body_size_limit {
            return Err(format!(
                "body larger than body_size_limit ({} bytes)",
                settings.body_size_limit
            ));
        }
        pending.extend_from_slice(&chunk);
        if let Some(end) = memchr::memrchr(b'\n', &pending) {
            let text = std::str::from_utf8(&pending[..=end])
                .map_err(|_| "the body is not UTF-8".to_owned())?;
            collector.feed(text).map_err(failed)?;
            pending.drain(..=end);
        }
    }
    let rest = std::str::from_utf8(&pending).map_err(|_| "the body is not UTF-8".to_owned())?;
    collector.feed(rest).map_err(failed)?;
    collector.finish().map_err(failed)
}

fn error_text(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
