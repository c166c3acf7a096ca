//! The baseline loaded at start from the Prometheus (or Mimir) that already stores vigia's
//! own `vigia_http_request_duration_seconds`: a sidecar restarted by a deploy has an empty
//! `data_dir`, but its previous version's latency is in Prometheus.
//!
//! Three instant queries, evaluated at this process's start (so none of its own samples
//! count), each bounded by the timeout and the response by [`MAX_BODY_BYTES`]:
//! 1. the versions other than ours that the service's vigias reported over the lookback
//!    (`vigia_service_version_info`);
//! 2. if there are any, the buckets' increase over the lookback on the instances that ran
//!    those versions: the previous version's distribution, per service and route;
//! 3. otherwise, the buckets' increase whatever the version (a restart of the same version):
//!    a warm start, compared as a trailing baseline.

use super::{Imported, ImportedRoute};
use crate::latency::buckets;
use crate::latency::config::PrometheusBaselineSettings;
use crate::latency::monitor::MAX_ROUTES_PER_SERVICE;
use crate::settings::http_auth::HttpAuth;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most of one answer read: routes × buckets series of a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const HISTOGRAM: &str = "vigia_http_request_duration_seconds_bucket";
pub const VERSION_INFO: &str = "vigia_service_version_info";

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Sample>,
}

#[derive(Deserialize)]
struct Sample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

/// A PromQL string literal.
fn quote(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// `service=~"a|b"` with each name matched literally.
fn services_matcher(services: &[String]) -> String {
    let alternatives: Vec<String> = services.iter().map(|s| regex::escape(s)).collect();
    format!("service=~{}", quote(&alternatives.join("|")))
}

pub struct Queries {
    pub versions: Option<String>,
    pub previous_version: Option<String>,
    pub any_version: String,
}

pub fn queries(
    settings: &PrometheusBaselineSettings,
    services: &[String],
    version: Option<&str>,
) -> Queries {
    let selector = format!("{}{}", settings.selector, services_matcher(services));
    let lookback = format!("{}s", settings.lookback.as_secs().max(1));
    let increase = format!("increase({HISTOGRAM}{{{selector}}}[{lookback}])");
    let other_versions = version.map(|v| {
        format!(
            "last_over_time({VERSION_INFO}{{{selector},version!={}}}[{lookback}])",
            quote(v)
        )
    });
    Queries {
        versions: other_versions
            .as_ref()
            .map(|info| format!("count by (version) ({info})")),
        previous_version: other_versions.map(|info| {
            format!(
                "sum by (service, route, le) ({increase} and on (instance, job, service) {info})"
            )
        }),
        any_version: format!("sum by (service, route, le) ({increase})"),
    }
}

/// Loads the baseline as Prometheus saw it at `at` (unix seconds).
pub async fn load(
    settings: &PrometheusBaselineSettings,
    services: &[String],
    version: Option<&str>,
    at: f64,
) -> Result<Imported, String> {
    if services.is_empty() {
        return Err("no service to load a baseline for".to_owned());
    }
    let http = crate::http_client::builder(settings.timeout)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let token = bearer_token(settings)?;
    let query = |promql: String| {
        let http = http.clone();
        let token = token.clone();
        async move { instant_query(&http, settings, token.as_deref(), &promql, at).await }
    };
    let queries = queries(settings, services, version);
    if let (Some(versions), Some(previous)) = (queries.versions, queries.previous_version) {
        let mut seen: Vec<String> = query(versions)
            .await?
            .into_iter()
            .filter_map(|s| s.metric.get("version").cloned())
            .collect();
        seen.sort();
        if !seen.is_empty() {
            let routes = routes_of(query(previous).await?);
            if !routes.is_empty() {
                return Ok(Imported {
                    routes,
                    previous_versions: seen,
                });
            }
        }
    }
    let routes = routes_of(query(queries.any_version).await?);
    if routes.is_empty() {
        return Err(format!(
            "Prometheus has no {HISTOGRAM} for these services over the lookback"
        ));
    }
    Ok(Imported {
        routes,
        previous_versions: Vec::new(),
    })
}

fn bearer_token(settings: &PrometheusBaselineSettings) -> Result<Option<String>, String> {
    match &settings.auth {
        Some(HttpAuth::Bearer {
            token: Some(token), ..
        }) => Ok(Some(token.expose().to_owned())),
        Some(HttpAuth::Bearer {
            token_file: Some(path),
            ..
        }) => std::fs::read_to_string(path)
            .map(|t| Some(t.trim().to_owned()))
            .map_err(|e| format!("reading the bearer token file {path}: {e}")),
        _ => Ok(None),
    }
}

fn basic_password(
    password: Option<&crate::settings::secret::Secret>,
    file: Option<&String>,
) -> Result<String, String> {
    match (password, file) {
        (Some(password), _) => Ok(password.expose().to_owned()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|p| p.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| format!("reading the password file {path}: {e}")),
        (None, None) => Ok(String::new()),
    }
}

async fn instant_query(
    http: &reqwest::Client,
    settings: &PrometheusBaselineSettings,
    token: Option<&str>,
    promql: &str,
    at: f64,
) -> Result<Vec<Sample>, String> {
    let time = format!("{at:.3}");
    let url = reqwest::Url::parse_with_params(
        &settings.query_url,
        &[("query", promql), ("time", time.as_str())],
    )
    .map_err(|e| format!("{}: {e}", settings.query_url))?;
    let mut request = http.get(url);
    if let Some(tenant) = &settings.tenant {
        request = request.header("X-Scope-OrgID", tenant);
    }
    request = match (&settings.auth, token) {
        (_, Some(token)) => request.bearer_auth(token),
        (
            Some(HttpAuth::Basic {
                username,
                password,
                password_file,
            }),
            _,
        ) => request.basic_auth(
            username,
            Some(basic_password(password.as_ref(), password_file.as_ref())?),
        ),
        _ => request,
    };
    let mut response = request
        .send()
        .await
        .map_err(|e| format!("{}: {}", settings.query_url, error_text(&e)))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading the answer: {}", error_text(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("the answer exceeds {MAX_BODY_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    parse_answer(status.as_u16(), &body)
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

fn parse_answer(status: u16, body: &[u8]) -> Result<Vec<Sample>, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        let head = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        format!("HTTP {status}, not a Prometheus API answer ({e}): {head}")
    })?;
    if answer.status != "success" {
        return Err(format!(
            "HTTP {status}: {}",
            answer.error.unwrap_or_else(|| "query failed".to_owned())
        ));
    }
    let data = answer.data.ok_or("a success without data")?;
    if data.result_type != "vector" {
        return Err(format!("expected a vector, got a {}", data.result_type));
    }
    Ok(data.result)
}

/// Per service and route, the cumulative buckets as a sketch at the buckets' resolution.
fn routes_of(samples: Vec<Sample>) -> BTreeMap<(String, String), ImportedRoute> {
    let mut grouped: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for sample in samples {
        let (Some(service), Some(route), Some(le)) = (
            sample.metric.get("service"),
            sample.metric.get("route"),
            sample.metric.get("le").and_then(|le| parse_le(le)),
        ) else {
            continue;
        };
        let Ok(value) = sample.value.1.parse::<f64>() else {
            continue;
        };
        grouped
            .entry((service.clone(), route.clone()))
            .or_default()
            .push((le, value));
    }
    let mut per_service: BTreeMap<String, usize> = BTreeMap::new();
    let mut routes = BTreeMap::new();
    for ((service, route), mut buckets) in grouped {
        let count = per_service.entry(service.clone()).or_default();
        if *count >= MAX_ROUTES_PER_SERVICE {
            continue;
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets.dedup_by(|a, b| a.0 == b.0);
        let sketch = buckets::from_cumulative(&buckets);
        if sketch.is_empty() {
            continue;
        }
        let bounds: Arc<[f64]> = buckets
            .iter()
            .map(|(le, _)| *le)
            .filter(|le| le.is_finite())
            .collect();
        *count += 1;
        routes.insert((service, route), ImportedRoute { sketch, bounds });
    }
    routes
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v > 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn settings() -> PrometheusBaselineSettings {
        PrometheusBaselineSettings {
            query_url: "http://127.0.0.1:9/api/v1/query".to_owned(),
            selector: "namespace=\"shop\",".to_owned(),
            auth: None,
            tenant: None,
            timeout: Duration::from_secs(1),
            lookback: Duration::from_secs(1800),
        }
    }

    #[test]
    fn queries_select_the_services_literally_and_exclude_our_version() {
        let q = queries(
            &settings(),
            &["checkout".into(), "a.b".into()],
            Some("2.0\"x"),
        );
        let previous = q.previous_version.unwrap();
        assert!(
            previous.contains(r#"namespace="shop",service=~"checkout|a\\.b""#),
            "{previous}"
        );
        assert!(previous.contains(r#"version!="2.0\"x""#), "{previous}");
        assert!(previous.contains("[1800s]") && previous.contains("sum by (service, route, le)"));
        assert!(q.versions.unwrap().starts_with("count by (version)"));
        let unversioned = queries(&settings(), &["checkout".into()], None);
        assert!(unversioned.previous_version.is_none() && unversioned.versions.is_none());
        assert!(!unversioned.any_version.contains("version"));
    }

    #[test]
    fn an_answer_becomes_one_sketch_per_route_at_its_buckets_resolution() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"service":"checkout","route":"/orders/{id}","le":"0.05"},"value":[1,"600"]},
            {"metric":{"service":"checkout","route":"/orders/{id}","le":"0.1"},"value":[1,"950"]},
            {"metric":{"service":"checkout","route":"/orders/{id}","le":"+Inf"},"value":[1,"1000.4"]},
            {"metric":{"service":"checkout","route":"/health","le":"+Inf"},"value":[1,"0"]},
            {"metric":{"service":"checkout","le":"0.1"},"value":[1,"3"]}
        ]}}"#;
        let routes = routes_of(parse_answer(200, body).unwrap());
        assert_eq!(
            routes.len(),
            1,
            "an empty route and a series without a route are skipped"
        );
        let imported = &routes[&("checkout".to_owned(), "/orders/{id}".to_owned())];
        assert!((imported.sketch.count() - 1000.4).abs() < 1e-6);
        assert_eq!(&*imported.bounds, &[0.05, 0.1]);
        let median = imported.sketch.quantile(0.5).unwrap();
        assert!(median < 0.05 * 1.01, "{median}");
    }

    #[test]
    fn errors_say_what_prometheus_said() {
        let error = parse_answer(
            400,
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
        )
        .err()
        .unwrap();
        assert!(
            error.contains("400") && error.contains("parse error"),
            "{error}"
        );
        let error = parse_answer(502, b"<html>Bad Gateway</html>")
            .err()
            .unwrap();
        assert!(
            error.contains("502") && error.contains("Bad Gateway"),
            "{error}"
        );
    }
}
