//! From scraped and own families to remote-write points: each sample's series (its name as
//! `__name__`, `write_relabel` applied, external labels added, labels sorted, unique and not
//! empty) and its timestamp; and the staleness bookkeeping that says which series ended.

#[cfg(test)]
use super::proto::Label;
use crate::metrics::config::RelabelRule;
use crate::metrics::exposition::family::{MetricFamily, OwnedSample};
use crate::metrics::scrape::ScrapeUpdate;
use crate::metrics::scrape::relabel;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A series: its labels — sorted by name, names unique, values not empty — kept as the
/// protobuf bytes of `TimeSeries.labels` (written once, copied into each request), and their
/// hash. One allocation a series: a target's thousands of series stay small.
#[derive(Debug, Clone)]
pub struct Series {
    encoded: Arc<[u8]>,
    pub hash: u64,
}

impl PartialEq for Series {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (Arc::ptr_eq(&self.encoded, &other.encoded) || self.encoded == other.encoded)
    }
}

impl Eq for Series {}

impl std::hash::Hash for Series {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl Series {
    /// From labels already sorted by name, unique and not empty.
    fn from_sorted(labels: &[(&str, &str)]) -> Self {
        use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
        let field = |len: usize| 1 + encoded_len_varint(len as u64) + len;
        let size: usize = labels
            .iter()
            .map(|(name, value)| field(field(name.len()) + field(value.len())))
            .sum();
        let mut encoded = Vec::with_capacity(size);
        for (name, value) in labels {
            encode_key(1, WireType::LengthDelimited, &mut encoded);
            encode_varint(
                (field(name.len()) + field(value.len())) as u64,
                &mut encoded,
            );
            for (tag, text) in [(1, name), (2, value)] {
                encode_key(tag, WireType::LengthDelimited, &mut encoded);
                encode_varint(text.len() as u64, &mut encoded);
                encoded.extend_from_slice(text.as_bytes());
            }
        }
        let mut hasher = rustc_hash::FxHasher::default();
        std::hash::Hasher::write(&mut hasher, &encoded);
        Self {
            hash: std::hash::Hasher::finish(&hasher),
            encoded: encoded.into(),
        }
    }

    /// The protobuf bytes of the series' labels (repeated field 1 of `TimeSeries`).
    pub fn encoded_labels(&self) -> &[u8] {
        &self.encoded
    }

    /// What the series costs in memory, about.
    pub fn label_bytes(&self) -> usize {
        self.encoded.len()
    }

    /// The labels, decoded (tests: requests copy the bytes).
    #[cfg(test)]
    pub fn labels(&self) -> Vec<Label> {
        #[derive(prost::Message)]
        struct Labels {
            #[prost(message, repeated, tag = "1")]
            labels: Vec<Label>,
        }
        <Labels as prost::Message>::decode(&self.encoded[..])
            .map(|decoded| decoded.labels)
            .unwrap_or_default()
    }

    #[cfg(test)]
    pub fn name(&self) -> String {
        self.labels()
            .into_iter()
            .find(|l| l.name == "__name__")
            .map(|l| l.value)
            .unwrap_or_default()
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
        let relabeled;
        let sample = if self.write_relabel.is_empty() {
            sample
        } else {
            let mut copy = sample.clone();
            if !relabel::apply(&self.write_relabel, &mut copy) {
                return None;
            }
            relabeled = copy;
            &relabeled
        };
        let mut labels: Vec<(&str, &str)> =
            Vec::with_capacity(sample.labels.len() + 1 + self.external_labels.len());
        labels.push(("__name__", &sample.name));
        labels.extend(sample.labels.iter().map(|(n, v)| (&**n, v.as_str())));
        for (name, value) in &self.external_labels {
            if !labels.iter().any(|(n, _)| n == name) {
                labels.push((name, value));
            }
        }
        // A label with an empty value is no label (Prometheus drops it too).
        labels.retain(|(_, value)| !value.is_empty());
        // Stable: of two labels of one name, the first (the sample's own) is kept.
        labels.sort_by(|a, b| a.0.cmp(b.0));
        labels.dedup_by(|later, earlier| later.0 == earlier.0);
        Some(Series::from_sorted(&labels))
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

    fn names(series: &Series) -> Vec<String> {
        series.labels().into_iter().map(|l| l.name).collect()
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
        let job = series
            .labels()
            .into_iter()
            .find(|l| l.name == "job")
            .unwrap();
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
