//! The `latency` section: windows, the regression detector's knobs, the service version and
//! the active probe. Detection is on whenever there are latencies to watch — access logs
//! (`metrics.from_logs`) or a probe — with no setup; this section only tunes it.

use crate::latency::detector::DetectorSettings;
use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySection {
    /// Regression detection on the routes' latency windows.
    #[serde(default = "default_true")]
    pub detect: bool,
    /// Length of one window.
    #[serde(default = "default_interval")]
    pub interval: HumanDuration,
    /// The service's version (e.g. `${IMAGE_TAG}`): when it changes, new windows are compared
    /// with the previous version's for `deploy_windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Quantiles watched: 0.5 (rank test on the whole distribution) and tail quantiles.
    #[serde(default = "default_quantiles")]
    pub quantiles: Vec<f64>,
    /// A regression must raise the quantile by this fraction…
    #[serde(default = "default_min_relative")]
    pub min_relative: f64,
    /// …and by this much.
    #[serde(default = "default_min_absolute")]
    pub min_absolute: HumanDuration,
    /// Windows the evidence and the effect must hold before a regression is reported.
    #[serde(default = "default_persistence")]
    pub persistence: u32,
    #[serde(default = "default_deploy_windows")]
    pub deploy_windows: u32,
    /// Windows before anything is tested (the baseline fills first).
    #[serde(default = "default_warmup_windows")]
    pub warmup_windows: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// Where a baseline comes from before this process has learned its own.
    #[serde(default)]
    pub baseline: BaselineSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineSection {
    /// Keep the baselines in `data_dir` (checksummed), so a restart loses nothing.
    #[serde(default = "default_true")]
    pub persist: bool,
    /// Load the previous version's latency (and else this version's) from the Prometheus or
    /// Mimir that stores vigia's own histograms, at start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusBaselineSpec>,
}

impl Default for BaselineSection {
    fn default() -> Self {
        Self {
            persist: true,
            prometheus: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusBaselineSpec {
    /// The server's base URL (`http://prometheus:9090`, `http://mimir/prometheus`).
    pub url: String,
    /// Label matchers narrowing vigia's series to this workload's, e.g.
    /// `namespace="shop", job="vigia"` (the `service` matcher is added).
    #[serde(default)]
    pub selector: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::settings::http_auth::HttpAuth>,
    /// Mimir's tenant (`X-Scope-OrgID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Each query's timeout; past it, the detector learns locally.
    #[serde(default = "default_baseline_timeout")]
    pub timeout: HumanDuration,
    /// How much history before this process's start makes the baseline.
    #[serde(default = "default_baseline_lookback")]
    pub lookback: HumanDuration,
}

impl Default for LatencySection {
    fn default() -> Self {
        serde_saphyr::from_str("{}").expect("every field has a default")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    /// Statuses that count as success; empty means any 2xx.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    #[serde(default = "default_probe_interval")]
    pub interval: HumanDuration,
    #[serde(default = "default_probe_timeout")]
    pub timeout: HumanDuration,
    /// The `service` label of the probe's metrics and latency windows.
    #[serde(default = "default_probe_service")]
    pub service: String,
}

fn default_true() -> bool {
    true
}
fn default_interval() -> HumanDuration {
    HumanDuration::from_secs(60)
}
fn default_quantiles() -> Vec<f64> {
    vec![0.5, 0.95, 0.99]
}
fn default_min_relative() -> f64 {
    0.10
}
fn default_min_absolute() -> HumanDuration {
    HumanDuration::from_millis(2)
}
fn default_persistence() -> u32 {
    DetectorSettings::default().persistence
}
fn default_deploy_windows() -> u32 {
    DetectorSettings::default().deploy_windows
}
fn default_warmup_windows() -> u32 {
    DetectorSettings::default().warmup_windows
}
fn default_baseline_timeout() -> HumanDuration {
    HumanDuration::from_secs(10)
}
fn default_baseline_lookback() -> HumanDuration {
    HumanDuration::from_secs(3600)
}
fn default_method() -> String {
    "GET".to_owned()
}
fn default_probe_interval() -> HumanDuration {
    HumanDuration::from_secs(10)
}
fn default_probe_timeout() -> HumanDuration {
    HumanDuration::from_secs(2)
}
fn default_probe_service() -> String {
    "probe".to_owned()
}

/// The validated section.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySettings {
    pub detect: bool,
    pub interval: Duration,
    pub version: Option<String>,
    pub detector: DetectorSettings,
    pub probe: Option<ProbeSettings>,
    pub persist_baseline: bool,
    pub baseline_prometheus: Option<PrometheusBaselineSettings>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrometheusBaselineSettings {
    /// `<url>/api/v1/query`.
    pub query_url: String,
    /// Matchers without braces, each followed by a comma (or empty).
    pub selector: String,
    pub auth: Option<crate::settings::http_auth::HttpAuth>,
    pub tenant: Option<String>,
    pub timeout: Duration,
    pub lookback: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSettings {
    pub url: String,
    pub method: reqwest::Method,
    pub expect_status: Vec<u16>,
    pub interval: Duration,
    pub timeout: Duration,
    pub service: String,
}

impl ProbeSettings {
    pub fn is_success(&self, status: u16) -> bool {
        if self.expect_status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect_status.contains(&status)
        }
    }
}

pub fn validate(spec: &LatencySection, problems: &mut Vec<Diagnostic>) -> LatencySettings {
    let mut problem = |path: &str, message: &str| {
        problems.push(Diagnostic::new(
            format!("latency.{path}"),
            message.to_owned(),
        ));
    };
    if spec.interval.0 < Duration::from_millis(100) {
        problem("interval", "must be at least 100ms");
    }
    if spec.quantiles.is_empty() || spec.quantiles.iter().any(|q| !(0.5..1.0).contains(q)) {
        problem(
            "quantiles",
            "must be between 0.5 (the median) and 1 (excluded)",
        );
    }
    if !(spec.min_relative.is_finite() && spec.min_relative >= 0.0) {
        problem("min_relative", "must be a fraction ≥ 0 (0.1 = 10 %)");
    }
    if spec.persistence == 0 {
        problem("persistence", "must be at least 1");
    }
    let version = spec.version.clone().filter(|v| !v.trim().is_empty());
    let probe = spec.probe.as_ref().and_then(|probe| {
        let url_ok = reqwest::Url::parse(&probe.url)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https"));
        if !url_ok {
            problem("probe.url", "must be an http:// or https:// URL");
        }
        let method = reqwest::Method::from_bytes(probe.method.to_ascii_uppercase().as_bytes());
        if method.is_err() {
            problem("probe.method", "not an HTTP method");
        }
        if probe.expect_status.iter().any(|s| !(100..600).contains(s)) {
            problem("probe.expect_status", "statuses are 100–599");
        }
        if probe.timeout.0.is_zero() || probe.timeout.0 > probe.interval.0 {
            problem(
                "probe.timeout",
                "must be positive and at most the probe interval",
            );
        }
        Some(ProbeSettings {
            url: probe.url.clone(),
            method: method.ok()?,
            expect_status: probe.expect_status.clone(),
            interval: probe.interval.0,
            timeout: probe.timeout.0,
            service: probe.service.clone(),
        })
    });
    let baseline_prometheus = spec
        .baseline
        .prometheus
        .as_ref()
        .map(|p| validate_prometheus_baseline(p, &mut problem));
    LatencySettings {
        detect: spec.detect,
        interval: spec.interval.0,
        version,
        detector: DetectorSettings {
            quantiles: spec.quantiles.clone(),
            min_relative: spec.min_relative,
            min_absolute: spec.min_absolute.0.as_secs_f64(),
            persistence: spec.persistence.max(1),
            deploy_windows: spec.deploy_windows,
            warmup_windows: spec.warmup_windows,
            ..DetectorSettings::default()
        },
        probe,
        persist_baseline: spec.baseline.persist,
        baseline_prometheus,
    }
}

fn validate_prometheus_baseline(
    spec: &PrometheusBaselineSpec,
    problem: &mut impl FnMut(&str, &str),
) -> PrometheusBaselineSettings {
    use crate::settings::http_auth::HttpAuth;
    let at = |field: &str| format!("baseline.prometheus.{field}");
    if !reqwest::Url::parse(&spec.url).is_ok_and(|url| matches!(url.scheme(), "http" | "https")) {
        problem(&at("url"), "must be an http:// or https:// URL");
    }
    let selector = spec
        .selector
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim()
        .trim_end_matches(',');
    if selector.contains(['{', '}']) || selector.contains("__name__") {
        problem(
            &at("selector"),
            "label matchers only, e.g. namespace=\"shop\", job=\"vigia\"",
        );
    }
    match &spec.auth {
        Some(HttpAuth::Basic {
            password,
            password_file,
            ..
        }) if password.is_some() == password_file.is_some() => problem(
            &at("auth.basic"),
            "set exactly one of `password` and `password_file`",
        ),
        Some(HttpAuth::Bearer { token, token_file }) if token.is_some() == token_file.is_some() => {
            problem(
                &at("auth.bearer"),
                "set exactly one of `token` and `token_file`",
            )
        }
        _ => {}
    }
    if spec.timeout.0.is_zero() {
        problem(&at("timeout"), "must be positive");
    }
    if spec.lookback.0 < Duration::from_secs(1) {
        problem(&at("lookback"), "must be at least 1s");
    }
    PrometheusBaselineSettings {
        query_url: format!("{}/api/v1/query", spec.url.trim_end_matches('/')),
        selector: if selector.is_empty() {
            String::new()
        } else {
            format!("{selector},")
        },
        auth: spec.auth.clone(),
        tenant: spec.tenant.clone().filter(|t| !t.is_empty()),
        timeout: spec.timeout.0,
        lookback: spec.lookback.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> (LatencySettings, Vec<String>) {
        let spec: LatencySection = serde_saphyr::from_str(yaml).unwrap();
        let mut problems = Vec::new();
        let settings = validate(&spec, &mut problems);
        (
            settings,
            problems
                .into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_the_harness_tuned_detector_with_one_minute_windows() {
        let (settings, problems) = check("{}");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(settings.interval, Duration::from_secs(60));
        assert_eq!(settings.detector, DetectorSettings::default());
        assert!(settings.detect && settings.probe.is_none());
        assert!(settings.persist_baseline && settings.baseline_prometheus.is_none());
    }

    #[test]
    fn a_prometheus_baseline_takes_a_selector_with_or_without_braces() {
        let (settings, problems) = check(
            "baseline: {prometheus: {url: 'http://prometheus:9090/', selector: '{namespace=\"shop\"}', tenant: team-a}}",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let prometheus = settings.baseline_prometheus.unwrap();
        assert_eq!(prometheus.query_url, "http://prometheus:9090/api/v1/query");
        assert_eq!(prometheus.selector, "namespace=\"shop\",");
        assert_eq!(prometheus.lookback, Duration::from_secs(3600));
        let (_, problems) = check(
            "baseline: {prometheus: {url: 'ftp://x', selector: 'a{b}', timeout: 0s, auth: {bearer: {}}}}",
        );
        let text = problems.join("\n");
        for path in ["url", "selector", "timeout", "auth.bearer"] {
            assert!(
                text.contains(&format!("latency.baseline.prometheus.{path}")),
                "{path}: {text}"
            );
        }
    }

    #[test]
    fn a_probe_expects_2xx_unless_told_otherwise() {
        let (settings, problems) = check("probe: {url: 'http://127.0.0.1:8080/healthz'}");
        assert!(problems.is_empty(), "{problems:?}");
        let probe = settings.probe.unwrap();
        assert!(probe.is_success(204) && !probe.is_success(301) && !probe.is_success(503));
        let (settings, _) = check("probe: {url: 'http://x/', expect_status: [301]}");
        assert!(settings.probe.unwrap().is_success(301));
    }

    #[test]
    fn bad_values_are_reported_by_path() {
        let (_, problems) = check(
            "{interval: 10ms, quantiles: [0.2], persistence: 0, probe: {url: 'ftp://x', timeout: 30s}}",
        );
        let text = problems.join("\n");
        for path in [
            "latency.interval",
            "latency.quantiles",
            "latency.persistence",
            "latency.probe.url",
            "latency.probe.timeout",
        ] {
            assert!(text.contains(path), "{path} missing from:\n{text}");
        }
    }
}
