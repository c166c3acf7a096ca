//! The Prometheus exposition formats: text 0.0.4 and OpenMetrics 1.0, parsed line by line
//! ([`grammar`], nom) and checked family by family ([`parser`]), with `promtool`-style lint
//! ([`lint`]) and rendering back out in either format ([`render`]).

pub mod family;
pub mod grammar;
pub mod lint;
pub mod parser;
pub mod render;
pub mod segment;

use std::borrow::Cow;

pub use parser::{ParseError, Parser};

/// The two exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`
    Text,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// What a scrape asks for: OpenMetrics preferred, text accepted (what Prometheus sends).
pub const SCRAPE_ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1";

impl Format {
    /// The format a `Content-Type` names; text for anything else, as Prometheus does.
    pub fn from_content_type(content_type: &str) -> Self {
        if content_type
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("application/openmetrics-text")
        {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// The format a request's `Accept` header prefers among the two (text when it names
    /// neither, or OpenMetrics with a lower weight).
    pub fn negotiate(accept: &str) -> Self {
        let mut best = (Format::Text, -1.0f32);
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = match media.as_str() {
                "application/openmetrics-text" => Format::OpenMetrics,
                "text/plain" | "*/*" | "text/*" => Format::Text,
                _ => continue,
            };
            if weight > best.1 || (weight == best.1 && format == Format::OpenMetrics) {
                best = (format, weight);
            }
        }
        best.0
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// A metric family's type. Text 0.0.4 has counter, gauge, histogram, summary and untyped
/// (read as [`Unknown`](MetricType::Unknown)); OpenMetrics adds the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    Unknown,
}

impl MetricType {
    pub fn parse(text: &str, format: Format) -> Option<Self> {
        Some(match (text, format) {
            ("counter", _) => MetricType::Counter,
            ("gauge", _) => MetricType::Gauge,
            ("histogram", _) => MetricType::Histogram,
            ("summary", _) => MetricType::Summary,
            ("untyped", Format::Text) | ("unknown", Format::OpenMetrics) => MetricType::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => MetricType::GaugeHistogram,
            ("info", Format::OpenMetrics) => MetricType::Info,
            ("stateset", Format::OpenMetrics) => MetricType::StateSet,
            _ => return None,
        })
    }

    pub fn name(self, format: Format) -> &'static str {
        match (self, format) {
            (MetricType::Counter, _) => "counter",
            (MetricType::Gauge, _) => "gauge",
            (MetricType::Histogram, _) => "histogram",
            (MetricType::Summary, _) => "summary",
            (MetricType::Unknown, Format::Text) => "untyped",
            (MetricType::Unknown, Format::OpenMetrics) => "unknown",
            (MetricType::GaugeHistogram, _) => "gaugehistogram",
            (MetricType::Info, _) => "info",
            (MetricType::StateSet, _) => "stateset",
        }
    }

    /// The suffixes a sample of a family of this type may add to the family's name
    /// (OpenMetrics; `""` is the bare name).
    pub fn suffixes(self, format: Format) -> &'static [&'static str] {
        match (self, format) {
            (MetricType::Counter, Format::OpenMetrics) => &["_total", "_created"],
            (MetricType::Counter, Format::Text) => &[""],
            (MetricType::Histogram, Format::OpenMetrics) => {
                &["_bucket", "_count", "_sum", "_created"]
            }
            (MetricType::Histogram, Format::Text) => &["_bucket", "_count", "_sum"],
            (MetricType::GaugeHistogram, _) => &["_bucket", "_gcount", "_gsum"],
            (MetricType::Summary, Format::OpenMetrics) => &["", "_count", "_sum", "_created"],
            (MetricType::Summary, Format::Text) => &["", "_count", "_sum"],
            (MetricType::Info, _) => &["_info"],
            (MetricType::Gauge | MetricType::StateSet | MetricType::Unknown, _) => &[""],
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    pub labels: Vec<Label<'a>>,
    pub value: f64,
    /// Seconds since the epoch.
    pub timestamp: Option<f64>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample<'a> {
    pub name: Cow<'a, str>,
    pub labels: Vec<Label<'a>>,
    pub value: f64,
    /// Milliseconds since the epoch (text writes milliseconds, OpenMetrics seconds).
    pub timestamp_ms: Option<i64>,
    pub exemplar: Option<Exemplar<'a>>,
    /// How many leading bytes of `name` the grammar matched against the family it was told
    /// of: the parser then need not compare them again (0 when it was told of none).
    pub family_prefix: usize,
}

impl Sample<'_> {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_ref())
    }
}

/// What one line is.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    Help {
        name: Cow<'a, str>,
        text: Cow<'a, str>,
    },
    Type {
        name: Cow<'a, str>,
        kind: MetricType,
    },
    Unit {
        name: Cow<'a, str>,
        unit: Cow<'a, str>,
    },
    /// A sample: the parser filled the caller's [`Sample`].
    Sample,
    /// Another `#` line (text format only).
    Comment,
    /// An empty line (text format only).
    Blank,
    /// `# EOF` (OpenMetrics).
    Eof,
}

/// A metric or label name as written without quotes.
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_choose_the_format() {
        assert_eq!(Format::negotiate(SCRAPE_ACCEPT), Format::OpenMetrics);
        assert_eq!(Format::negotiate("text/plain;version=0.0.4"), Format::Text);
        assert_eq!(Format::negotiate(""), Format::Text);
        assert_eq!(Format::negotiate("*/*"), Format::Text);
        assert_eq!(
            Format::negotiate("application/openmetrics-text;q=0.1,text/plain;q=0.9"),
            Format::Text
        );
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_content_type("text/plain"), Format::Text);
    }
}
