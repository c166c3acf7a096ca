//! The service's own latency histogram as a detector input: the bucket increments between
//! two scrapes of the RED-mapped `vigia_http_request_duration_seconds` (see
//! `metrics.scrape.*.red`), fed into the route's window spread across each bucket (see
//! `latency::buckets`). Coarser than access-log samples (the buckets' resolution, not 1 %),
//! but available for every service that exports a histogram.

use crate::latency::monitor::ServiceLatency;
use crate::metrics::exposition::family::MetricFamily;
use std::collections::BTreeMap;

const BUCKET_SAMPLE: &str = "vigia_http_request_duration_seconds_bucket";

/// Cumulative bucket counts per route (summed over methods), from the previous scrape.
#[derive(Debug, Default)]
pub struct HistogramFeed {
    previous: BTreeMap<String, Vec<(f64, f64)>>,
}

impl HistogramFeed {
    /// Feeds the increments since the last call; a route whose counts went down (the
    /// service restarted) only sets the new reference.
    pub fn feed(&mut self, families: &[MetricFamily], latency: &ServiceLatency) {
        let mut current: BTreeMap<String, BTreeMap<u64, (f64, f64)>> = BTreeMap::new();
        for sample in families
            .iter()
            .flat_map(|f| f.samples.iter())
            .filter(|s| s.name.as_ref() == BUCKET_SAMPLE)
        {
            let Some(le) = sample.label("le").and_then(parse_le) else {
                continue;
            };
            let route = sample.label("route").unwrap_or("unknown").to_owned();
            let entry = current
                .entry(route)
                .or_default()
                .entry(le.to_bits())
                .or_insert((le, 0.0));
            entry.1 += sample.value;
        }
        for (route, buckets) in current {
            let mut buckets: Vec<(f64, f64)> = buckets.into_values().collect();
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if let Some(previous) = self.previous.get(&route)
                && previous.len() == buckets.len()
                && previous
                    .iter()
                    .zip(&buckets)
                    .all(|(p, c)| p.0 == c.0 && c.1 >= p.1)
            {
                let (mut lower, mut below_before, mut below_now) = (0.0, 0.0, 0.0);
                for ((_, before), &(upper, now)) in previous.iter().zip(&buckets) {
                    let increment = (now - below_now) - (before - below_before);
                    if increment > 0.0 {
                        latency.observe_bucket(&route, lower, upper, increment);
                    }
                    (lower, below_before, below_now) = (upper, *before, now);
                }
            }
            self.previous.insert(route, buckets);
        }
    }
}

fn parse_le(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => text.parse().ok().filter(|v: &f64| !v.is_nan()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::monitor::LatencyMonitor;
    use crate::metrics::exposition::MetricType;
    use crate::metrics::exposition::family::OwnedSample;
    use std::sync::Arc;

    fn histogram(counts: &[(&str, f64)]) -> Vec<MetricFamily> {
        let name: Arc<str> = Arc::from(BUCKET_SAMPLE);
        let samples = counts
            .iter()
            .map(|(le, value)| OwnedSample {
                name: name.clone(),
                labels: vec![
                    (Arc::from("route"), "/orders/{id}".to_owned()),
                    (Arc::from("le"), (*le).to_owned()),
                ],
                value: *value,
                timestamp_ms: None,
                exemplar: None,
            })
            .collect();
        vec![MetricFamily {
            name: "vigia_http_request_duration_seconds".to_owned(),
            kind: MetricType::Histogram,
            help: None,
            unit: None,
            samples,
        }]
    }

    #[test]
    fn bucket_increments_between_scrapes_become_requests_spread_across_their_bucket() {
        let registry = prometheus::Registry::new();
        let monitor = LatencyMonitor::new(
            &registry,
            crate::latency::config::validate(&Default::default(), &mut Vec::new()),
        );
        let latency = monitor.service("checkout");
        let mut feed = HistogramFeed::default();
        feed.feed(
            &histogram(&[("0.1", 100.0), ("0.2", 150.0), ("+Inf", 160.0)]),
            &latency,
        );
        assert_eq!(
            latency.current_window("/orders/{id}"),
            None,
            "the first scrape is the reference"
        );
        // 40 more requests between 0.1 s and 0.2 s, 5 above.
        feed.feed(
            &histogram(&[("0.1", 100.0), ("0.2", 190.0), ("+Inf", 205.0)]),
            &latency,
        );
        let (count, median) = latency.current_window("/orders/{id}").unwrap();
        assert!((count - 45.0).abs() < 1e-9, "{count}");
        // 22.5 of 45: 22.5/40 of the way through (0.1, 0.2] in log space.
        let expected = 0.1 * 2f64.powf(22.5 / 40.0);
        assert!(
            (median / expected - 1.0).abs() < 0.03,
            "{median} vs {expected}"
        );
        // A restarted service's counters start again from zero: no negative increments.
        feed.feed(
            &histogram(&[("0.1", 1.0), ("0.2", 1.0), ("+Inf", 1.0)]),
            &latency,
        );
        let (count, _) = latency.current_window("/orders/{id}").unwrap();
        assert!((count - 45.0).abs() < 1e-9, "{count}");
    }
}
