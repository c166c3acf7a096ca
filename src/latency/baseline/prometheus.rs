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
//!    a warm start, compared as a trailing baseline;
//! 4. then one range query for the daily shape: the median per route every 30 minutes over
//!    the previous 7 days (at most 336 points per route), so that a new pod knows its
//!    service's daily rise from its first minute. Without it (an error, no history) the
//!    detectors learn the shape themselves.

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
    #[serde(default)]
    value: Option<(f64, String)>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// The daily shape's query: over this many days, one point per slot.
const SHAPE_DAYS: f64 = 7.0;

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
    pub daily_shape: String,
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
        daily_shape: format!(
            "histogram_quantile(0.5, sum by (service, route, le) (rate({HISTOGRAM}{{{selector}}}[{}s])))",
            crate::latency::seasonal::SLOT_SECONDS as u64
        ),
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
        async move {
            let time = format!("{at:.3}");
            let params = [("query", promql.as_str()), ("time", time.as_str())];
            get(
                &http,
                settings,
                token.as_deref(),
                &settings.query_url,
                &params,
                "vector",
            )
            .await
        }
    };
    let queries = queries(settings, services, version);
    let mut imported = None;
    if let (Some(versions), Some(previous)) = (queries.versions, queries.previous_version) {
        let mut seen: Vec<String> = query(versions)
            .await?
            .into_iter()
            .filter_map(|s| s.metric.get("version").cloned())
            .collect();
        seen.sort();
        if !seen.is_empty() {
            let routes = routes_of(query(previous).await?, settings, at);
            if !routes.is_empty() {
                imported = Some(Imported {
                    routes,
                    previous_versions: seen,
                });
            }
        }
    }
    let mut imported = match imported {
        Some(imported) => imported,
        None => {
            let routes = routes_of(query(queries.any_version).await?, settings, at);
            if routes.is_empty() {
                return Err(format!(
                    "Prometheus has no {HISTOGRAM} for these services over the lookback"
                ));
            }
            Imported {
                routes,
                previous_versions: Vec::new(),
            }
        }
    };
    add_daily_shape(
        &mut imported,
        &http,
        settings,
        token.as_deref(),
        &queries.daily_shape,
        at,
    )
    .await;
    Ok(imported)
}

/// The previous days' shape of each loaded route; a failure only means the detectors learn
/// it themselves, and is logged.
async fn add_daily_shape(
    imported: &mut Imported,
    http: &reqwest::Client,
    settings: &PrometheusBaselineSettings,
    token: Option<&str>,
    promql: &str,
    at: f64,
) {
    let step = crate::latency::seasonal::SLOT_SECONDS;
    // Slot ends, so each point is the rate over one half-hour slot.
    let end = (at / step).floor() * step;
    let start = end - SHAPE_DAYS * 86_400.0;
    let url = range_url(&settings.query_url);
    let (start, end, step) = (
        format!("{start:.0}"),
        format!("{end:.0}"),
        format!("{step:.0}"),
    );
    let params = [
        ("query", promql),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("step", step.as_str()),
    ];
    let series = match get(http, settings, token, &url, &params, "matrix").await {
        Ok(series) => series,
        Err(error) => {
            tracing::warn!(%error, "latency baseline: the daily shape could not be loaded from Prometheus; learning it locally");
            return;
        }
    };
    let today = crate::latency::seasonal::day_of(at);
    for sample in series {
        let (Some(service), Some(route)) =
            (sample.metric.get("service"), sample.metric.get("route"))
        else {
            continue;
        };
        let Some(loaded) = imported.routes.get_mut(&(service.clone(), route.clone())) else {
            continue;
        };
        let points: Vec<(f64, f64)> = sample
            .values
            .iter()
            .filter_map(|(t, v)| Some((*t, v.parse::<f64>().ok()?)))
            .collect();
        loaded.days = crate::latency::seasonal::DailyShape::days_from_points(&points, today);
    }
}

/// `…/api/v1/query` → `…/api/v1/query_range`.
fn range_url(query_url: &str) -> String {
    match query_url.split_once('?') {
        Some((path, rest)) => format!("{}_range?{rest}", path.trim_end_matches('/')),
        None => format!("{}_range", query_url.trim_end_matches('/')),
    }
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

async fn get(
    http: &reqwest::Client,
    settings: &PrometheusBaselineSettings,
    token: Option<&str>,
    endpoint: &str,
    params: &[(&str, &str)],
    result_type: &str,
) -> Result<Vec<Sample>, String> {
    let url = reqwest::Url::parse_with_params(endpoint, params)
        .map_err(|e| format!("{endpoint}: {e}"))?;
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
        .map_err(|e| format!("{endpoint}: {}", error_text(&e)))?;
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
    parse_answer(status.as_u16(), &body, result_type)
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

fn parse_answer(status: u16, body: &[u8], result_type: &str) -> Result<Vec<Sample>, String> {
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
    if data.result_type != result_type {
        return Err(format!(
            "expected a {result_type}, got a {}",
            data.result_type
        ));
    }
    Ok(data.result)
}

/// Per service and route, the cumulative buckets as a sketch at the buckets' resolution.
fn routes_of(
    samples: Vec<Sample>,
    settings: &PrometheusBaselineSettings,
    at: f64,
) -> BTreeMap<(String, String), ImportedRoute> {
    let covering = (at - settings.lookback.as_secs_f64(), at);
    let mut grouped: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for sample in samples {
        let (Some(service), Some(route), Some(le)) = (
            sample.metric.get("service"),
            sample.metric.get("route"),
            sample.metric.get("le").and_then(|le| parse_le(le)),
        ) else {
            continue;
        };
        let Some(Ok(value)) = sample.value.as_ref().map(|v| v.1.parse::<f64>()) else {
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
        routes.insert(
            (service, route),
            ImportedRoute {
                sketch,
                bounds,
                days: Vec::new(),
                covering,
            },
        );
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
        let routes = routes_of(
            parse_answer(200, body, "vector").unwrap(),
            &settings(),
            7200.0,
        );
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
        assert_eq!(imported.covering, (7200.0 - 1800.0, 7200.0));
    }

    #[test]
    fn a_range_answer_becomes_the_previous_days_shape() {
        assert_eq!(
            range_url("http://p:9090/api/v1/query"),
            "http://p:9090/api/v1/query_range"
        );
        let daily = queries(&settings(), &["checkout".into()], None).daily_shape;
        assert!(daily.starts_with("histogram_quantile(0.5, sum by (service, route, le) (rate("));
        assert!(daily.contains("[1800s]"), "{daily}");
        // Two days before "today" (day 20 000): a night at 80 ms, an afternoon at 200 ms.
        let today = 20_000.0 * 86_400.0;
        let mut values = Vec::new();
        for slot in 1..=96 {
            let end = today - 2.0 * 86_400.0 + f64::from(slot) * 1800.0;
            let hour = (f64::from(slot) * 0.5) % 24.0;
            let median = if (12.0..18.0).contains(&hour) {
                0.2
            } else {
                0.08
            };
            values.push(format!("[{end},\"{median}\"]"));
        }
        values.push(format!("[{},\"NaN\"]", today - 600.0));
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[
            {{"metric":{{"service":"checkout","route":"/orders"}},"values":[{}]}}]}}}}"#,
            values.join(",")
        );
        let series = parse_answer(200, body.as_bytes(), "matrix").unwrap();
        assert_eq!(series.len(), 1);
        let points: Vec<(f64, f64)> = series[0]
            .values
            .iter()
            .map(|(t, v)| (*t, v.parse().unwrap()))
            .collect();
        let days = crate::latency::seasonal::DailyShape::days_from_points(&points, 20_000);
        assert_eq!(days.len(), 2, "the two previous days, newest first");
        let afternoon = days[0][28].unwrap(); // 14:00–14:30
        let night = days[0][4].unwrap();
        assert!(
            (f64::from(afternoon) - 0.2f64.ln()).abs() < 1e-4,
            "{afternoon}"
        );
        assert!((f64::from(night) - 0.08f64.ln()).abs() < 1e-4, "{night}");
        assert!(parse_answer(200, body.as_bytes(), "vector").is_err());
    }

    #[test]
    fn errors_say_what_prometheus_said() {
        let error = parse_answer(
            400,
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 3"}"#,
            "vector",
        )
        .err()
        .unwrap();
        assert!(
            error.contains("400") && error.contains("parse error"),
            "{error}"
        );
        let error = parse_answer(502, b"<html>Bad Gateway</html>", "vector")
            .err()
            .unwrap();
        assert!(
            error.contains("502") && error.contains("Bad Gateway"),
            "{error}"
        );
    }
}
