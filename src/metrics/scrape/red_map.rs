//! The RED families (`vigia_http_requests_total`, `vigia_http_request_duration_seconds`)
//! computed from a service's own request counter and duration histogram, so dashboards see
//! one set of names whether a service's numbers come from its logs or its metrics.

use crate::metrics::config::RedMapping;
use crate::metrics::exposition::MetricType;
use crate::metrics::exposition::family::{MetricFamily, OwnedSample, format_float};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The derived families from one target's scraped `families`.
pub fn derive(families: &[MetricFamily], mapping: &RedMapping) -> Vec<MetricFamily> {
    let samples = || families.iter().flat_map(|f| f.samples.iter());
    let label = |sample: &OwnedSample, name: &str| sample.label(name).unwrap_or("").to_owned();
    let mut derived = Vec::new();
    if let Some(requests) = &mapping.requests {
        let mut counts: BTreeMap<(String, String, String), f64> = BTreeMap::new();
        for sample in samples().filter(|s| s.name.as_ref() == requests) {
            let class = status_class(sample.label(&mapping.status_label).unwrap_or(""));
            *counts
                .entry((
                    label(sample, &mapping.method_label),
                    label(sample, &mapping.route_label),
                    class,
                ))
                .or_default() += sample.value;
        }
        let name: Arc<str> = Arc::from("vigia_http_requests_total");
        derived.push(MetricFamily {
            name: "vigia_http_requests".to_owned(),
            kind: MetricType::Counter,
            help: Some("HTTP requests, by method, route and status class.".to_owned()),
            unit: None,
            samples: counts
                .into_iter()
                .map(|((method, route, class), value)| {
                    sample(
                        &name,
                        &mapping.service,
                        &[
                            ("method", method),
                            ("route", route),
                            ("status_class", class),
                        ],
                        value,
                    )
                })
                .collect(),
        });
    }
    if let Some(duration) = &mapping.duration {
        let bucket = format!("{duration}_bucket");
        let (sum, count) = (format!("{duration}_sum"), format!("{duration}_count"));
        // (method, route) → (le → count), sum, count; summed over the other labels.
        let mut series: BTreeMap<(String, String), Durations> = BTreeMap::new();
        for sample in samples() {
            let key = (
                label(sample, &mapping.method_label),
                label(sample, &mapping.route_label),
            );
            let name = sample.name.as_ref();
            if name == bucket {
                let Some(le) = sample.label("le").and_then(|le| {
                    le.parse::<f64>()
                        .ok()
                        .or((le == "+Inf").then_some(f64::INFINITY))
                }) else {
                    continue;
                };
                let buckets = &mut series.entry(key).or_default().0;
                match buckets.iter_mut().find(|(bound, _)| *bound == le) {
                    Some((_, value)) => *value += sample.value,
                    None => buckets.push((le, sample.value)),
                }
            } else if name == sum {
                series.entry(key).or_default().1 += sample.value;
            } else if name == count {
                series.entry(key).or_default().2 += sample.value;
            }
        }
        let names: [Arc<str>; 3] = [
            Arc::from("vigia_http_request_duration_seconds_bucket"),
            Arc::from("vigia_http_request_duration_seconds_sum"),
            Arc::from("vigia_http_request_duration_seconds_count"),
        ];
        let mut out = Vec::new();
        for ((method, route), (mut buckets, total, requests)) in series {
            if !buckets.iter().any(|(le, _)| *le == f64::INFINITY) {
                buckets.push((f64::INFINITY, requests));
            }
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let base = [("method", method), ("route", route)];
            for (le, value) in buckets {
                let mut labels = base.to_vec();
                labels.push(("le", format_float(le)));
                out.push(sample(&names[0], &mapping.service, &labels, value));
            }
            out.push(sample(&names[1], &mapping.service, &base, total));
            out.push(sample(&names[2], &mapping.service, &base, requests));
        }
        derived.push(MetricFamily {
            name: "vigia_http_request_duration_seconds".to_owned(),
            kind: MetricType::Histogram,
            help: Some("HTTP request duration.".to_owned()),
            unit: None,
            samples: out,
        });
    }
    derived
}

/// One (method, route)'s buckets (bound, count), sum and count.
type Durations = (Vec<(f64, f64)>, f64, f64);

fn sample(name: &Arc<str>, service: &str, labels: &[(&str, String)], value: f64) -> OwnedSample {
    let mut all = vec![(Arc::from("service"), service.to_owned())];
    all.extend(labels.iter().map(|(n, v)| (Arc::from(*n), v.clone())));
    OwnedSample {
        name: name.clone(),
        labels: all,
        value,
        timestamp_ms: None,
        exemplar: None,
    }
}

/// `200` → `2xx`; a label already written as a class (`2xx`) is kept.
fn status_class(status: &str) -> String {
    match status.as_bytes().first() {
        Some(digit @ b'1'..=b'5') => format!("{}xx", *digit as char),
        _ => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::Format;
    use crate::metrics::exposition::family::families_of;

    #[test]
    fn a_services_counter_and_histogram_become_the_red_families() {
        let scraped = families_of(
            "# TYPE http_server_requests_total counter\nhttp_server_requests_total{method=\"GET\",uri=\"/orders/{id}\",status=\"200\",pod=\"a\"} 10\nhttp_server_requests_total{method=\"GET\",uri=\"/orders/{id}\",status=\"200\",pod=\"b\"} 5\nhttp_server_requests_total{method=\"GET\",uri=\"/orders/{id}\",status=\"503\",pod=\"a\"} 2\n# TYPE http_server_seconds histogram\nhttp_server_seconds_bucket{method=\"GET\",uri=\"/orders/{id}\",status=\"200\",le=\"0.1\"} 8\nhttp_server_seconds_bucket{method=\"GET\",uri=\"/orders/{id}\",status=\"200\",le=\"+Inf\"} 15\nhttp_server_seconds_bucket{method=\"GET\",uri=\"/orders/{id}\",status=\"503\",le=\"0.1\"} 0\nhttp_server_seconds_bucket{method=\"GET\",uri=\"/orders/{id}\",status=\"503\",le=\"+Inf\"} 2\nhttp_server_seconds_sum{method=\"GET\",uri=\"/orders/{id}\",status=\"200\"} 1.5\nhttp_server_seconds_sum{method=\"GET\",uri=\"/orders/{id}\",status=\"503\"} 4\nhttp_server_seconds_count{method=\"GET\",uri=\"/orders/{id}\",status=\"200\"} 15\nhttp_server_seconds_count{method=\"GET\",uri=\"/orders/{id}\",status=\"503\"} 2\n",
            Format::Text,
        )
        .unwrap();
        let mapping = RedMapping {
            service: "orders".into(),
            requests: Some("http_server_requests_total".into()),
            duration: Some("http_server_seconds".into()),
            method_label: "method".into(),
            route_label: "uri".into(),
            status_label: "status".into(),
        };
        let derived = derive(&scraped, &mapping);
        let mut text = String::new();
        crate::metrics::exposition::render::render(&derived, Format::Text, &mut text);
        assert_eq!(
            text,
            "# HELP vigia_http_requests_total HTTP requests, by method, route and status class.\n# TYPE vigia_http_requests_total counter\nvigia_http_requests_total{service=\"orders\",method=\"GET\",route=\"/orders/{id}\",status_class=\"2xx\"} 15\nvigia_http_requests_total{service=\"orders\",method=\"GET\",route=\"/orders/{id}\",status_class=\"5xx\"} 2\n# HELP vigia_http_request_duration_seconds HTTP request duration.\n# TYPE vigia_http_request_duration_seconds histogram\nvigia_http_request_duration_seconds_bucket{service=\"orders\",method=\"GET\",route=\"/orders/{id}\",le=\"0.1\"} 8\nvigia_http_request_duration_seconds_bucket{service=\"orders\",method=\"GET\",route=\"/orders/{id}\",le=\"+Inf\"} 17\nvigia_http_request_duration_seconds_sum{service=\"orders\",method=\"GET\",route=\"/orders/{id}\"} 5.5\nvigia_http_request_duration_seconds_count{service=\"orders\",method=\"GET\",route=\"/orders/{id}\"} 17\n"
        );
        crate::metrics::exposition::parser::parse_body(&text, Format::Text, |_, _, _| {}).unwrap();
    }
}
