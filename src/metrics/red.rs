//! RED metrics (rate, errors, duration) derived from access logs, for services that expose no
//! metrics of their own: `vigia_http_requests_total{service, method, route, status_class}`
//! and `vigia_http_request_duration_seconds{service, method, route}`.
//!
//! Routes are the route the service logged (`/orders/{id}`) or the path with its variable
//! parts templated — numbers `{num}`, UUIDs `{uuid}`, hex ids `{hex}`, long tokens `{token}` —
//! and at most `max_routes` per service: later ones count under `route="other"`, counted in
//! `vigia_http_routes_overflow_total`.

use crate::latency::monitor::ServiceLatency;
use crate::metrics::config::FromLogsSettings;
use crate::telemetry::register::register_counter;
use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Registry};
use rustc_hash::{FxHashMap, FxHashSet};

/// The families, registered once in the agent's registry.
#[derive(Clone)]
pub struct HttpFamilies {
    requests: IntCounterVec,
    duration: HistogramVec,
    overflow: IntCounterVec,
    max_routes: usize,
}

impl HttpFamilies {
    pub fn register(registry: &Registry, settings: &FromLogsSettings) -> Self {
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "vigia_http_request_duration_seconds",
                "HTTP request duration from the service's access log.",
            )
            .buckets(settings.buckets.clone()),
            &["service", "method", "route"],
        )
        .expect("validated buckets");
        registry
            .register(Box::new(duration.clone()))
            .expect("each metric is registered once");
        Self {
            requests: register_counter(
                registry,
                "vigia_http_requests_total",
                "HTTP requests from the service's access log, by method, route and status class.",
                &["service", "method", "route", "status_class"],
            ),
            duration,
            overflow: register_counter(
                registry,
                "vigia_http_routes_overflow_total",
                "Requests counted under route=\"other\" because the service has max_routes routes already.",
                &["service"],
            ),
            max_routes: settings.max_routes,
        }
    }

    pub fn for_service(&self, service: &str) -> ServiceHttpMetrics {
        ServiceHttpMetrics {
            families: self.clone(),
            service: service.to_owned(),
            routes: FxHashSet::default(),
            handles: FxHashMap::default(),
            overflow: self.overflow.with_label_values(&[service]),
            latency: None,
        }
    }
}

/// One service's (log source's) recorder: label handles cached, route cap kept locally.
pub struct ServiceHttpMetrics {
    families: HttpFamilies,
    service: String,
    routes: FxHashSet<String>,
    handles: FxHashMap<(String, String, u16), (IntCounter, Histogram)>,
    overflow: IntCounter,
    /// The latency windows of the regression detector, fed the same routes.
    latency: Option<ServiceLatency>,
}

impl ServiceHttpMetrics {
    pub fn with_latency(mut self, latency: ServiceLatency) -> Self {
        self.latency = Some(latency);
        self
    }

    /// One request: `route` as logged if the service logs it, else its `path`.
    pub fn observe(
        &mut self,
        method: Option<&str>,
        route: Option<&str>,
        path: Option<&str>,
        status: u16,
        duration: Option<f64>,
    ) {
        let method = normal_method(method.unwrap_or(""));
        let mut route = match (route, path) {
            (Some(route), _) => route.to_owned(),
            (None, Some(path)) => template_route(path),
            (None, None) => "unknown".to_owned(),
        };
        if !self.routes.contains(&route) {
            if self.routes.len() < self.families.max_routes {
                self.routes.insert(route.clone());
            } else {
                self.overflow.inc();
                route = "other".to_owned();
            }
        }
        let duration = duration.filter(|d| d.is_finite() && *d >= 0.0);
        if let (Some(latency), Some(seconds)) = (&self.latency, duration) {
            latency.observe(&route, seconds);
        }
        let class = status / 100;
        let key = (method.to_owned(), route, class);
        let (requests, histogram) = match self.handles.get(&key) {
            Some(handles) => handles,
            None => {
                let class_label = match class {
                    1..=5 => format!("{class}xx"),
                    _ => "other".to_owned(),
                };
                let requests = self.families.requests.with_label_values(&[
                    &self.service,
                    &key.0,
                    &key.1,
                    &class_label,
                ]);
                let histogram =
                    self.families
                        .duration
                        .with_label_values(&[&self.service, &key.0, &key.1]);
                self.handles
                    .entry(key.clone())
                    .or_insert((requests, histogram))
            }
        };
        requests.inc();
        if let Some(seconds) = duration {
            histogram.observe(seconds);
        }
    }
}

fn normal_method(method: &str) -> &'static str {
    const METHODS: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    METHODS
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("OTHER")
}

/// A path with its variable segments replaced by placeholders; the query string is dropped.
pub fn template_route(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(placeholder(segment).unwrap_or(segment));
    }
    out
}

fn placeholder(segment: &str) -> Option<&'static str> {
    if segment.is_empty() {
        return None;
    }
    let bytes = segment.as_bytes();
    if bytes.iter().all(u8::is_ascii_digit) {
        return Some("{num}");
    }
    if is_uuid(bytes) {
        return Some("{uuid}");
    }
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if bytes.len() >= 8 && digits > 0 && bytes.iter().all(u8::is_ascii_hexdigit) {
        return Some("{hex}");
    }
    // Long tokens mixing letters and digits: session ids, base64 keys, slugs with ids.
    if bytes.len() >= 16
        && digits > 0
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'.'))
    {
        return Some("{token}");
    }
    None
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_path_segments_become_placeholders() {
        for (path, route) in [
            ("/orders/12345", "/orders/{num}"),
            (
                "/users/3f2b8c1e-9d4a-4b7e-8f6a-2c1d0e9b7a65/cart",
                "/users/{uuid}/cart",
            ),
            ("/blobs/9f86d081884c7d65", "/blobs/{hex}"),
            ("/reset/eyJhbGciOiJIUzI1NiJ9x2", "/reset/{token}"),
            ("/api/v2/products?page=3", "/api/v2/products"),
            ("/healthz", "/healthz"),
            ("/static/app.js", "/static/app.js"),
            ("", "/"),
        ] {
            assert_eq!(template_route(path), route, "{path}");
        }
    }

    #[test]
    fn requests_are_counted_by_class_and_routes_are_capped() {
        let registry = Registry::new();
        let families = HttpFamilies::register(
            &registry,
            &FromLogsSettings {
                sources: vec![],
                buckets: vec![0.1, 1.0],
                max_routes: 2,
            },
        );
        let mut checkout = families.for_service("checkout");
        checkout.observe(Some("get"), None, Some("/orders/1"), 200, Some(0.05));
        checkout.observe(Some("GET"), None, Some("/orders/2"), 503, Some(0.5));
        checkout.observe(Some("POST"), Some("/orders"), None, 201, None);
        checkout.observe(Some("BREW"), None, Some("/pot"), 418, Some(2.0));
        let count = |labels: &[&str]| families.requests.with_label_values(labels).get();
        assert_eq!(count(&["checkout", "GET", "/orders/{num}", "2xx"]), 1);
        assert_eq!(count(&["checkout", "GET", "/orders/{num}", "5xx"]), 1);
        assert_eq!(count(&["checkout", "POST", "/orders", "2xx"]), 1);
        assert_eq!(count(&["checkout", "OTHER", "other", "4xx"]), 1);
        assert_eq!(families.overflow.with_label_values(&["checkout"]).get(), 1);
        let histogram = families
            .duration
            .with_label_values(&["checkout", "GET", "/orders/{num}"]);
        assert_eq!(histogram.get_sample_count(), 2);
    }
}
