//! The `metrics` section: services' endpoints to scrape and re-serve, and the RED metrics
//! derived from access logs.

use crate::settings::bytesize::ByteSize;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Endpoints to scrape, by name (the name is the `job` label unless set).
    #[serde(default)]
    pub scrape: BTreeMap<String, ScrapeTargetSpec>,
    /// RED metrics (`vigia_http_*`) from the access logs of these sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_logs: Option<FromLogsSpec>,
}

impl MetricsSection {
    pub fn is_empty(&self) -> bool {
        self.scrape.is_empty() && self.from_logs.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrapeTargetSpec {
    pub url: String,
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    #[serde(default = "default_timeout")]
    pub timeout: HumanDuration,
    /// A larger body fails the scrape (uncompressed size).
    #[serde(default = "default_body_size_limit")]
    pub body_size_limit: ByteSize,
    /// More samples (after relabeling) fail the scrape.
    #[serde(default = "default_sample_limit")]
    pub sample_limit: usize,
    /// Keep the target's own labels when they clash with the target labels (otherwise the
    /// target's are renamed `exported_<name>`).
    #[serde(default)]
    pub honor_labels: bool,
    /// Labels added to every sample: `job` (the target's name) and `instance` (the URL's
    /// host:port) by default, `namespace` and `pod` from `POD_NAMESPACE` / `POD_NAME`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Rules applied to every scraped sample, in order.
    #[serde(default)]
    pub metric_relabel: Vec<RelabelSpec>,
    /// The RED families computed from the service's own request counter and histogram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub red: Option<RedMappingSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedMappingSpec {
    /// The `service` label (the target's name by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The request counter's sample name (`http_server_requests_total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<String>,
    /// The duration histogram's name, in seconds (`http_server_duration_seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(default = "default_method_label")]
    pub method_label: String,
    #[serde(default = "default_route_label")]
    pub route_label: String,
    #[serde(default = "default_status_label")]
    pub status_label: String,
}

fn default_method_label() -> String {
    "method".to_owned()
}

fn default_route_label() -> String {
    "route".to_owned()
}

fn default_status_label() -> String {
    "status".to_owned()
}

/// A validated [`RedMappingSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct RedMapping {
    pub service: String,
    pub requests: Option<String>,
    pub duration: Option<String>,
    pub method_label: String,
    pub route_label: String,
    pub status_label: String,
}

fn default_interval() -> HumanDuration {
    HumanDuration::from_secs(15)
}

fn default_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}

fn default_body_size_limit() -> ByteSize {
    ByteSize::mib(16)
}

fn default_sample_limit() -> usize {
    50_000
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelSpec {
    #[serde(default)]
    pub action: RelabelAction,
    /// Labels whose values, joined by `separator`, are matched (`__name__` is the metric name).
    #[serde(default)]
    pub source_labels: Vec<String>,
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Anchored at both ends, as in Prometheus.
    #[serde(default = "default_regex")]
    pub regex: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    #[serde(default = "default_replacement")]
    pub replacement: String,
}

fn default_separator() -> String {
    ";".to_owned()
}

fn default_regex() -> String {
    "(.*)".to_owned()
}

fn default_replacement() -> String {
    "$1".to_owned()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    #[default]
    Replace,
    Keep,
    Drop,
    LabelDrop,
    LabelKeep,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FromLogsSpec {
    /// Log sources whose access logs count (all sources when empty).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Histogram buckets of `vigia_http_request_duration_seconds`, in seconds.
    #[serde(default = "default_buckets")]
    pub buckets: Vec<f64>,
    /// Distinct routes per service at most; more count under `route="other"`.
    #[serde(default = "default_max_routes")]
    pub max_routes: usize,
}

pub fn default_buckets() -> Vec<f64> {
    vec![
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
}

fn default_max_routes() -> usize {
    100
}

/// A validated scrape target.
#[derive(Debug, Clone)]
pub struct ScrapeSettings {
    pub id: String,
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub body_size_limit: usize,
    pub sample_limit: usize,
    pub honor_labels: bool,
    /// Sorted by name.
    pub target_labels: Vec<(String, String)>,
    pub relabel: Vec<RelabelRule>,
    pub red: Option<RedMapping>,
}

#[derive(Debug, Clone)]
pub struct RelabelRule {
    pub action: RelabelAction,
    pub source_labels: Vec<String>,
    pub separator: String,
    pub regex: regex::Regex,
    pub target_label: Option<String>,
    pub replacement: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FromLogsSettings {
    /// Empty: every source.
    pub sources: Vec<String>,
    pub buckets: Vec<f64>,
    pub max_routes: usize,
}

pub fn validate_scrape(
    id: &str,
    spec: &ScrapeTargetSpec,
    env: impl Fn(&str) -> Option<String>,
    problems: &mut Vec<Diagnostic>,
) -> Option<ScrapeSettings> {
    let at = format!("metrics.scrape.{id}");
    let mut problem = |field: &str, message: String| {
        problems.push(Diagnostic::new(format!("{at}.{field}"), message));
    };
    let instance = spec
        .url
        .strip_prefix("http://")
        .or_else(|| spec.url.strip_prefix("https://"))
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(rest).to_owned());
    if instance.as_deref().is_none_or(str::is_empty) {
        problem(
            "url",
            format!("`{}` is not an http:// or https:// URL", spec.url),
        );
    }
    if spec.interval.0 < Duration::from_secs(1) {
        problem("interval", "must be at least 1s".into());
    }
    if spec.timeout.0.is_zero() || spec.timeout > spec.interval {
        problem(
            "timeout",
            "must be above zero and at most the interval".into(),
        );
    }
    if spec.sample_limit == 0 {
        problem("sample_limit", "must be at least 1".into());
    }
    if spec.body_size_limit.0 < 1024 {
        problem("body_size_limit", "must be at least 1KiB".into());
    }
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert("job".into(), id.to_owned());
    labels.insert("instance".into(), instance.unwrap_or_default());
    for (label, variable) in [("namespace", "POD_NAMESPACE"), ("pod", "POD_NAME")] {
        if let Some(value) = env(variable).filter(|v| !v.is_empty()) {
            labels.insert(label.into(), value);
        }
    }
    for (name, value) in &spec.labels {
        if !crate::metrics::exposition::is_label_name(name) || name.starts_with("__") {
            problem(&format!("labels.{name}"), "not a valid label name".into());
        }
        labels.insert(name.clone(), value.clone());
    }
    if let Some(red) = &spec.red
        && red.requests.is_none()
        && red.duration.is_none()
    {
        problem("red", "name `requests`, `duration` or both".into());
    }
    let relabel = validate_relabel(&at, "metric_relabel", &spec.metric_relabel, problems);
    let red = spec.red.as_ref().map(|red| RedMapping {
        service: red.service.clone().unwrap_or_else(|| id.to_owned()),
        requests: red.requests.clone(),
        duration: red.duration.clone(),
        method_label: red.method_label.clone(),
        route_label: red.route_label.clone(),
        status_label: red.status_label.clone(),
    });
    Some(ScrapeSettings {
        id: id.to_owned(),
        url: spec.url.clone(),
        interval: spec.interval.0,
        timeout: spec.timeout.0,
        body_size_limit: spec.body_size_limit.0 as usize,
        sample_limit: spec.sample_limit,
        honor_labels: spec.honor_labels,
        target_labels: labels.into_iter().collect(),
        relabel,
        red,
    })
}

/// Relabel rules as written at `{at}.{field}`, validated: regexes anchored at both ends, as
/// in Prometheus. Shared by a scrape target's `metric_relabel` and remote write's
/// `write_relabel`.
pub fn validate_relabel(
    at: &str,
    field: &str,
    rules: &[RelabelSpec],
    problems: &mut Vec<Diagnostic>,
) -> Vec<RelabelRule> {
    let mut problem = |field: &str, message: String| {
        problems.push(Diagnostic::new(format!("{at}.{field}"), message));
    };
    let mut relabel = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let field = format!("{field}[{index}]");
        let regex = match regex::Regex::new(&format!("^(?:{})$", rule.regex)) {
            Ok(regex) => regex,
            Err(error) => {
                problem(
                    &format!("{field}.regex"),
                    format!("not a valid regex: {error}"),
                );
                continue;
            }
        };
        match (rule.action, &rule.target_label) {
            (RelabelAction::Replace, None) => {
                problem(&field, "`replace` needs a `target_label`".into());
            }
            (RelabelAction::Replace, Some(target)) if target == "__name__" => {
                problem(
                    &format!("{field}.target_label"),
                    "renaming metrics would break their families; drop or keep them instead".into(),
                );
            }
            (RelabelAction::Keep | RelabelAction::Drop, _) if rule.source_labels.is_empty() => {
                problem(&field, "`keep` and `drop` need `source_labels`".into());
            }
            _ => {}
        }
        relabel.push(RelabelRule {
            action: rule.action,
            source_labels: rule.source_labels.clone(),
            separator: rule.separator.clone(),
            regex,
            target_label: rule.target_label.clone(),
            replacement: rule.replacement.clone(),
        });
    }
    relabel
}

pub fn validate_from_logs(
    spec: &FromLogsSpec,
    sources: &[&str],
    problems: &mut Vec<Diagnostic>,
) -> FromLogsSettings {
    for (index, source) in spec.sources.iter().enumerate() {
        if !sources.contains(&source.as_str()) {
            problems.push(Diagnostic::new(
                format!("metrics.from_logs.sources[{index}]"),
                format!("no source `{source}`"),
            ));
        }
    }
    let increasing = spec.buckets.windows(2).all(|w| w[0] < w[1]);
    if spec.buckets.is_empty()
        || !increasing
        || spec.buckets.iter().any(|b| !b.is_finite() || *b <= 0.0)
    {
        problems.push(Diagnostic::new(
            "metrics.from_logs.buckets",
            "must be positive, finite and increasing",
        ));
    }
    if spec.max_routes == 0 {
        problems.push(Diagnostic::new(
            "metrics.from_logs.max_routes",
            "must be at least 1",
        ));
    }
    FromLogsSettings {
        sources: spec.sources.clone(),
        buckets: spec.buckets.clone(),
        max_routes: spec.max_routes,
    }
}
