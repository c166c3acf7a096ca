//! Scraping services' `/metrics` and keeping the latest result of each target for the
//! agent's own `/metrics`; every result is also published to subscribers (remote write).

pub mod histogram_feed;
pub mod red_map;
pub mod relabel;
pub mod target;

use crate::metrics::config::ScrapeSettings;
use crate::metrics::exposition::MetricType;
use crate::metrics::exposition::family::{MetricFamily, OwnedSample};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A target's last scrape.
#[derive(Debug, Clone)]
pub struct TargetState {
    /// When the scrape started (Unix milliseconds): its samples' timestamp.
    pub timestamp_ms: i64,
    pub up: bool,
    pub duration: Duration,
    pub scraped: usize,
    pub kept: usize,
    /// Empty after a failed scrape: series are not served as if current.
    pub families: Arc<Vec<MetricFamily>>,
}

/// The targets, and their last results.
pub struct ScrapeStore {
    targets: Mutex<BTreeMap<String, (TargetLabels, Option<TargetState>)>>,
    subscribers: Mutex<Vec<Subscriber>>,
}

/// A subscriber's end of the results: a bounded queue, and the results it missed.
struct Subscriber {
    updates: tokio::sync::mpsc::Sender<ScrapeUpdate>,
    missed: Arc<std::sync::atomic::AtomicU64>,
}

/// What [`ScrapeStore::subscribe`] hands out.
pub struct Subscription {
    pub updates: tokio::sync::mpsc::Receiver<ScrapeUpdate>,
    /// Results not queued because the subscriber was `UPDATES_CAPACITY` behind.
    pub missed: Arc<std::sync::atomic::AtomicU64>,
}

/// The labels every series of a target gets.
pub type TargetLabels = Arc<Vec<(Arc<str>, String)>>;

/// One scrape's result, as published to subscribers.
#[derive(Debug, Clone)]
pub struct ScrapeUpdate {
    pub target: Arc<str>,
    pub labels: TargetLabels,
    pub state: TargetState,
}

/// Results a slow subscriber may fall behind by before it misses some (and counts them). A
/// result leaves memory once taken: a queue, not a ring that keeps the last ones.
pub const UPDATES_CAPACITY: usize = 256;

impl Default for ScrapeStore {
    /// No targets.
    fn default() -> Self {
        Self::new(&[])
    }
}

impl ScrapeStore {
    pub fn new(settings: &[ScrapeSettings]) -> Self {
        let targets = settings
            .iter()
            .map(|s| {
                let labels = s
                    .target_labels
                    .iter()
                    .map(|(n, v)| (Arc::from(n.as_str()), v.clone()))
                    .collect();
                (s.id.clone(), (Arc::new(labels), None))
            })
            .collect();
        Self {
            targets: Mutex::new(targets),
            subscribers: Mutex::new(Vec::new()),
        }
    }

    pub fn set(&self, target: &str, state: TargetState) {
        let mut targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = targets.get_mut(target) {
            let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
            subscribers.retain(|subscriber| !subscriber.updates.is_closed());
            for subscriber in subscribers.iter() {
                let update = ScrapeUpdate {
                    target: Arc::from(target),
                    labels: entry.0.clone(),
                    state: state.clone(),
                };
                if subscriber.updates.try_send(update).is_err() {
                    subscriber
                        .missed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            entry.1 = Some(state);
        }
    }

    /// Every result from now on, in the order the scrapes finished.
    pub fn subscribe(&self) -> Subscription {
        let (updates, receiver) = tokio::sync::mpsc::channel(UPDATES_CAPACITY);
        let missed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Subscriber {
                updates,
                missed: missed.clone(),
            });
        Subscription {
            updates: receiver,
            missed,
        }
    }

    /// The scraped families (merged across targets by name), then `up`,
    /// `scrape_duration_seconds`, `scrape_samples_scraped` and
    /// `scrape_samples_post_metric_relabeling` per target scraped at least once.
    pub fn families(&self) -> Vec<MetricFamily> {
        let targets = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        let mut merged: Vec<MetricFamily> = Vec::new();
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let synthesized: [(&str, &str); 4] = [
            (
                "up",
                "1 if the target's last scrape succeeded, 0 if it failed.",
            ),
            (
                "scrape_duration_seconds",
                "How long the target's last scrape took.",
            ),
            (
                "scrape_samples_scraped",
                "Samples the target exposed in its last scrape.",
            ),
            (
                "scrape_samples_post_metric_relabeling",
                "Samples kept from the last scrape after metric_relabel.",
            ),
        ];
        let mut reports: Vec<MetricFamily> = synthesized
            .iter()
            .map(|(name, help)| MetricFamily {
                name: (*name).to_owned(),
                kind: MetricType::Gauge,
                help: Some((*help).to_owned()),
                unit: None,
                samples: Vec::new(),
            })
            .collect();
        for (id, (labels, state)) in targets.iter() {
            let Some(state) = state else { continue };
            for family in state.families.iter() {
                match index.get(&family.name) {
                    Some(&at) if merged[at].kind == family.kind => {
                        merged[at].samples.extend(family.samples.iter().cloned());
                    }
                    Some(_) => {
                        tracing::debug!(target = %id, family = %family.name, "a family of the same name with another type was scraped already; skipped");
                    }
                    None => {
                        if synthesized.iter().any(|(name, _)| *name == family.name) {
                            continue;
                        }
                        index.insert(family.name.clone(), merged.len());
                        merged.push(family.clone());
                    }
                }
            }
            let values = [
                f64::from(u8::from(state.up)),
                state.duration.as_secs_f64(),
                state.scraped as f64,
                state.kept as f64,
            ];
            for (family, value) in reports.iter_mut().zip(values) {
                family.samples.push(OwnedSample {
                    name: Arc::from(family.name.as_str()),
                    labels: labels.to_vec(),
                    value,
                    timestamp_ms: None,
                    exemplar: None,
                });
            }
        }
        merged.extend(reports.into_iter().filter(|f| !f.samples.is_empty()));
        merged
    }
}
