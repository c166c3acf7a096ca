//! From scraped and own families to remote-write points: each sample's series (its name as
//! `__name__`, `write_relabel` applied, external labels added, labels sorted, unique and not
//! empty) and its timestamp; and the staleness bookkeeping that says which series ended.

use super::proto::Label;
use crate::config::metrics::RelabelRule;
use crate::metrics::exposition::family::{MetricFamily, OwnedSample};
use crate::metrics::scrape::ScrapeUpdate;
use crate::metrics::scrape::relabel;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A series: its labels, sorted by name, names unique, values not empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Series(pub Arc<[Label]>);

impl Series {
    /// Bytes of its labels.
    pub fn label_bytes(&self) -> usize {
        self.0.iter().map(|l| l.name.len() + l.value.len()).sum()
    }

    pub fn name(&self) -> &str {
        self.0
            .iter()
            .find(|l| l.name == "__name__")
            .map_or("", |l| l.value.as_str())
    }
}

/// One sample to send.
#[derive(Debug, Clone)]
pub struct Point {
    pub series: Series,
    pub value: f64,
    /// Unix milliseconds.
    pub timestamp: i64,
}

/// Turns samples into series the way the sink is configured.
pub struct Shaper {
    pub write_relabel: Vec<RelabelRule>,
    pub external_labels: Vec<(String, String)>,
}

impl Shaper {
    /// The sample's series, or `None` when `write_relabel` drops it.
    pub fn series(&self, sample: &OwnedSample) -> Option<Series> {
        let mut sample = sample.clone();
        if !relabel::apply(&self.write_relabel, &mut sample) {
            return None;
        }
        let mut labels: Vec<Label> = Vec::with_capacity(sample.labels.len() + 1);
        labels.push(Label {
            name: "__name__".to_owned(),
            value: sample.name.to_string(),
        });
        for (name, value) in sample.labels {
            labels.push(Label {
                name: name.to_string(),
                value,
            });
        }
        for (name, value) in &self.external_labels {
            if !labels.iter().any(|l| &l.name == name) {
                labels.push(Label {
                    name: name.clone(),
                    value: value.clone(),
                });
            }
        }
        // A label with an empty value is no label (Prometheus drops it too).
        labels.retain(|l| !l.value.is_empty());
        // Stable: of two labels of one name, the first (the sample's own) is kept.
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        labels.dedup_by(|later, earlier| later.name == earlier.name);
        Some(Series(labels.into()))
    }
}

/// The report series Prometheus writes for every scrape, with the target's labels.
const REPORT_SERIES: [&str; 4] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
];

/// The points of one scrape: every sample (at the scrape's time, or its own when the
/// exposition gave one), then `up` and the other report series. The second list is the
/// series that staleness follows (a series with its own timestamps is not: Prometheus
/// does not mark those stale either).
pub fn scrape_points(update: &ScrapeUpdate, shaper: &Shaper) -> (Vec<Point>, Vec<Series>) {
    let state = &update.state;
    let mut points = Vec::new();
    let mut tracked = Vec::new();
    for family in state.families.iter() {
        for sample in &family.samples {
            let Some(series) = shaper.series(sample) else {
                continue;
            };
            if sample.timestamp_ms.is_none() {
                tracked.push(series.clone());
            }
            points.push(Point {
                series,
                value: sample.value,
                timestamp: sample.timestamp_ms.unwrap_or(state.timestamp_ms),
            });
        }
    }
    let values = [
        f64::from(u8::from(state.up)),
        state.duration.as_secs_f64(),
        state.scraped as f64,
        state.kept as f64,
    ];
    for (name, value) in REPORT_SERIES.iter().zip(values) {
        let sample = OwnedSample {
            name: Arc::from(*name),
            labels: update.labels.to_vec(),
            value,
            timestamp_ms: None,
            exemplar: None,
        };
        if let Some(series) = shaper.series(&sample) {
            tracked.push(series.clone());
            points.push(Point {
                series,
                value,
                timestamp: state.timestamp_ms,
            });
        }
    }
    (points, tracked)
}

/// The agent's own families as points at `timestamp`, with its labels (`job`, `instance`).
pub fn own_points(
    families: &[MetricFamily],
    labels: &[(Arc<str>, String)],
    timestamp: i64,
    shaper: &Shaper,
) -> (Vec<Point>, Vec<Series>) {
    let mut points = Vec::new();
    let mut tracked = Vec::new();
    for family in families {
        for sample in &family.samples {
            let mut sample = sample.clone();
            relabel::attach_target_labels(&mut sample, labels, false);
            let Some(series) = shaper.series(&sample) else {
                continue;
            };
            tracked.push(series.clone());
            points.push(Point {
                series,
                value: sample.value,
                timestamp,
            });
        }
    }
    (points, tracked)
}

/// The series each origin (a scrape target, or the agent itself) sent last time.
#[derive(Default)]
pub struct Staleness {
    last: HashMap<Arc<str>, HashSet<Series>>,
}

impl Staleness {
    /// Records `origin`'s series of this round; returns those of its previous round that
    /// are gone (each gets a stale marker).
    pub fn replace(&mut self, origin: &Arc<str>, current: Vec<Series>) -> Vec<Series> {
        let current: HashSet<Series> = current.into_iter().collect();
        let previous = self.last.insert(origin.clone(), current);
        let current = &self.last[origin];
        previous
            .map(|previous| {
                previous
                    .into_iter()
                    .filter(|series| !current.contains(series))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every series still live (at shutdown, each gets a stale marker).
    pub fn take_all(&mut self) -> Vec<Series> {
        self.last.drain().flat_map(|(_, series)| series).collect()
    }

    /// Series live now.
    pub fn len(&self) -> usize {
        self.last.values().map(HashSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, labels: &[(&str, &str)]) -> OwnedSample {
        OwnedSample {
            name: Arc::from(name),
            labels: labels
                .iter()
                .map(|(n, v)| (Arc::from(*n), (*v).to_owned()))
                .collect(),
            value: 1.0,
            timestamp_ms: None,
            exemplar: None,
        }
    }

    fn names(series: &Series) -> Vec<&str> {
        series.0.iter().map(|l| l.name.as_str()).collect()
    }

    #[test]
    fn labels_are_sorted_unique_and_never_empty() {
        let shaper = Shaper {
            write_relabel: Vec::new(),
            external_labels: vec![
                ("cluster".to_owned(), "eu-1".to_owned()),
                ("job".to_owned(), "ignored".to_owned()),
            ],
        };
        let series = shaper
            .series(&sample(
                "http_requests_total",
                &[
                    ("zone", "a"),
                    ("job", "api"),
                    ("Method", "GET"),
                    ("empty", ""),
                ],
            ))
            .unwrap();
        assert_eq!(
            names(&series),
            ["Method", "__name__", "cluster", "job", "zone"]
        );
        assert_eq!(series.name(), "http_requests_total");
        let job = series.0.iter().find(|l| l.name == "job").unwrap();
        assert_eq!(job.value, "api", "external labels do not override");
    }

    #[test]
    fn a_series_gone_from_the_next_round_is_stale_once() {
        let shaper = Shaper {
            write_relabel: Vec::new(),
            external_labels: Vec::new(),
        };
        let a = shaper.series(&sample("a", &[])).unwrap();
        let b = shaper.series(&sample("b", &[])).unwrap();
        let origin: Arc<str> = Arc::from("app");
        let mut staleness = Staleness::default();
        assert!(
            staleness
                .replace(&origin, vec![a.clone(), b.clone()])
                .is_empty()
        );
        assert_eq!(staleness.replace(&origin, vec![a.clone()]), vec![b]);
        assert!(staleness.replace(&origin, vec![a.clone()]).is_empty());
        assert_eq!(staleness.take_all(), vec![a]);
        assert!(staleness.is_empty());
    }
}
