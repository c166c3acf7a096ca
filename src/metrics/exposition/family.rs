//! Families as vigia keeps them between a scrape and the next `/metrics` request: owned,
//! whatever format they came in, and built from the agent's own registry too.

use super::MetricType;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    /// The family name in OpenMetrics terms (a counter's name without `_total`); for a
    /// family read from text, the name its TYPE line gave.
    pub name: String,
    pub kind: MetricType,
    pub help: Option<String>,
    pub unit: Option<String>,
    pub samples: Vec<OwnedSample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OwnedSample {
    /// The full sample name (`http_requests_total`, `latency_seconds_bucket`).
    pub name: Arc<str>,
    pub labels: Vec<(Arc<str>, String)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<OwnedExemplar>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OwnedExemplar {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp: Option<f64>,
}

impl OwnedSample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The agent's own registry as families.
pub fn from_registry(families: &[prometheus::proto::MetricFamily]) -> Vec<MetricFamily> {
    use prometheus::proto::MetricType as Proto;
    families
        .iter()
        .map(|family| {
            let name = family.name();
            let (kind, family_name) = match family.get_field_type() {
                Proto::COUNTER => (
                    MetricType::Counter,
                    name.strip_suffix("_total").unwrap_or(name),
                ),
                Proto::GAUGE => (MetricType::Gauge, name),
                Proto::HISTOGRAM => (MetricType::Histogram, name),
                Proto::SUMMARY => (MetricType::Summary, name),
                Proto::UNTYPED => (MetricType::Unknown, name),
            };
            let mut samples = Vec::new();
            let counter_name: Arc<str> = Arc::from(name);
            let bucket: Arc<str> = Arc::from(format!("{name}_bucket"));
            let sum: Arc<str> = Arc::from(format!("{name}_sum"));
            let count: Arc<str> = Arc::from(format!("{name}_count"));
            for metric in family.get_metric() {
                let labels: Vec<(Arc<str>, String)> = metric
                    .get_label()
                    .iter()
                    .map(|l| (Arc::from(l.name()), l.value().to_owned()))
                    .collect();
                let timestamp_ms = (metric.timestamp_ms() != 0).then(|| metric.timestamp_ms());
                let mut push = |name: &Arc<str>, extra: Option<(&str, String)>, value: f64| {
                    let mut labels = labels.clone();
                    if let Some((label, value)) = extra {
                        labels.push((Arc::from(label), value));
                    }
                    samples.push(OwnedSample {
                        name: name.clone(),
                        labels,
                        value,
                        timestamp_ms,
                        exemplar: None,
                    });
                };
                match kind {
                    MetricType::Counter => {
                        push(&counter_name, None, metric.get_counter().get_value())
                    }
                    MetricType::Gauge => push(&counter_name, None, metric.get_gauge().get_value()),
                    MetricType::Histogram => {
                        let histogram = metric.get_histogram();
                        let mut has_inf = false;
                        for b in histogram.get_bucket() {
                            has_inf |= b.upper_bound() == f64::INFINITY;
                            push(
                                &bucket,
                                Some(("le", format_float(b.upper_bound()))),
                                b.cumulative_count() as f64,
                            );
                        }
                        if !has_inf {
                            push(
                                &bucket,
                                Some(("le", "+Inf".to_owned())),
                                histogram.get_sample_count() as f64,
                            );
                        }
                        push(&sum, None, histogram.get_sample_sum());
                        push(&count, None, histogram.get_sample_count() as f64);
                    }
                    MetricType::Summary => {
                        let summary = metric.get_summary();
                        for q in summary.get_quantile() {
                            push(
                                &counter_name,
                                Some(("quantile", format_float(q.quantile()))),
                                q.value(),
                            );
                        }
                        push(&sum, None, summary.sample_sum());
                        push(&count, None, summary.sample_count() as f64);
                    }
                    // The agent registers no untyped metrics.
                    _ => {}
                }
            }
            MetricFamily {
                name: family_name.to_owned(),
                kind,
                help: Some(family.help().to_owned()).filter(|h| !h.is_empty()),
                unit: None,
                samples,
            }
        })
        .collect()
}

/// A float as Prometheus writes it: `+Inf`, `-Inf`, `NaN`, or the shortest decimal.
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}

/// Why a body could not be kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CollectError {
    #[error("{0}")]
    Parse(#[from] super::ParseError),
    #[error("more than {0} samples (sample_limit)")]
    TooManySamples(usize),
}

/// What [`collect`] kept and counted.
#[derive(Debug, Default)]
pub struct Collected {
    pub families: Vec<MetricFamily>,
    /// Samples in the body.
    pub scraped: usize,
    /// Samples kept after `keep`.
    pub kept: usize,
}

/// Builds owned families from an exposition fed in pieces of whole lines (a scrape's body as
/// it arrives), passing each sample through `keep` (which may change it, or drop it by
/// returning `false`); fails at the first kept sample past `limit`.
pub struct Collector<K> {
    parser: super::Parser,
    limit: usize,
    keep: K,
    names: rustc_hash::FxHashMap<String, Arc<str>>,
    collected: Collected,
    /// The last HELP line: its family and text.
    help: Option<(String, String)>,
}

impl<K: FnMut(&str, &mut OwnedSample) -> bool> Collector<K> {
    pub fn new(format: super::Format, limit: usize, keep: K) -> Self {
        Self {
            parser: super::Parser::new(format),
            limit,
            keep,
            names: Default::default(),
            collected: Collected::default(),
            help: None,
        }
    }

    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(name) = self.names.get(text) {
            return name.clone();
        }
        let name: Arc<str> = Arc::from(text);
        self.names.insert(text.to_owned(), name.clone());
        name
    }

    /// Reads `text`: whole lines, the last one's `\n` optional.
    pub fn feed(&mut self, text: &str) -> Result<(), CollectError> {
        use super::Line;
        let mut sample = super::Sample::default();
        for line in super::parser::lines(text) {
            let parsed = self.parser.line(line, &mut sample)?;
            match parsed {
                Line::Sample => {}
                Line::Help { name, text } => {
                    self.help = Some((name.into_owned(), text.into_owned()));
                    continue;
                }
                _ => continue,
            }
            self.collected.scraped += 1;
            let mut owned = OwnedSample {
                name: self.intern(&sample.name),
                labels: Vec::with_capacity(sample.labels.len()),
                value: sample.value,
                timestamp_ms: sample.timestamp_ms,
                exemplar: sample.exemplar.as_ref().map(|e| OwnedExemplar {
                    labels: e
                        .labels
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    value: e.value,
                    timestamp: e.timestamp,
                }),
            };
            for label in &sample.labels {
                let name = self.intern(&label.name);
                owned.labels.push((name, label.value.to_string()));
            }
            let family = self.parser.family().expect("a sample has a family");
            if !(self.keep)(&family.name, &mut owned) {
                continue;
            }
            self.collected.kept += 1;
            if self.collected.kept > self.limit {
                return Err(CollectError::TooManySamples(self.limit));
            }
            let families = &mut self.collected.families;
            if families.last().is_none_or(|last| last.name != family.name) {
                families.push(MetricFamily {
                    name: family.name.clone(),
                    kind: family.kind(),
                    help: self
                        .help
                        .as_ref()
                        .filter(|(name, _)| *name == family.name)
                        .map(|(_, text)| text.clone()),
                    unit: family.unit.clone(),
                    samples: Vec::new(),
                });
            }
            families
                .last_mut()
                .expect("pushed above")
                .samples
                .push(owned);
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Collected, CollectError> {
        self.parser.finish()?;
        Ok(self.collected)
    }
}

/// [`Collector`] over a whole body.
pub fn collect(
    body: &str,
    format: super::Format,
    limit: usize,
    keep: impl FnMut(&str, &mut OwnedSample) -> bool,
) -> Result<Collected, CollectError> {
    let mut collector = Collector::new(format, limit, keep);
    collector.feed(body)?;
    collector.finish()
}

/// Every family of `body`, as it is.
pub fn families_of(body: &str, format: super::Format) -> Result<Vec<MetricFamily>, CollectError> {
    Ok(collect(body, format, usize::MAX, |_, _| true)?.families)
}
