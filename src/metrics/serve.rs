//! What vigia serves on `/metrics`: its own families, then what the scrape targets exposed
//! (a scraped family named like one of the agent's is left out, except the RED families a
//! target's `red` mapping computes, which join the ones from logs), in the negotiated format.

use super::exposition::family::from_registry;
use super::exposition::{Format, render};
use super::scrape::ScrapeStore;
use crate::telemetry::AgentMetrics;
use std::collections::HashSet;

pub fn exposition(agent: &AgentMetrics, scrape: &ScrapeStore, format: Format) -> String {
    let mut own = from_registry(&agent.gather());
    // Every name the agent's families are served under: family names with and without
    // `_total` (a text exposition names a counter family `x_total`, OpenMetrics `x`) and
    // every sample name (`_bucket`, `_sum`, `_count`…).
    let served: HashSet<String> = own
        .iter()
        .flat_map(|f| {
            let total = format!("{}_total", f.name);
            [f.name.clone(), total]
                .into_iter()
                .chain(f.samples.iter().map(|s| s.name.to_string()))
        })
        .collect();
    let mut scraped = Vec::new();
    for family in scrape.families() {
        let base = family.name.strip_suffix("_total").unwrap_or(&family.name);
        let clashes = served.contains(&family.name)
            || served.contains(base)
            || family
                .samples
                .iter()
                .any(|sample| served.contains(&*sample.name));
        if !clashes {
            scraped.push(family);
            continue;
        }
        // The RED families, from logs and from a service's metrics, are one family; any
        // other scraped family served under one of the agent's names is left out, so a
        // target cannot spoof vigia's own series.
        if let Some(mine) = own
            .iter_mut()
            .find(|f| f.name == base && f.kind == family.kind && f.name.starts_with("vigia_http_"))
        {
            mine.samples.extend(family.samples);
        }
    }
    let mut out = String::with_capacity(16 * 1024);
    render::render(&own, format, &mut out);
    render::render(&scraped, format, &mut out);
    render::finish(format, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::exposition::family::families_of;
    use crate::metrics::scrape::TargetState;
    use std::sync::Arc;

    /// A scrape store whose one target exposed `text` (Prometheus text format).
    fn scraped(text: &str) -> ScrapeStore {
        let settings = crate::metrics::config::validate_scrape(
            "app",
            &serde_saphyr::from_str("url: http://127.0.0.1:8080/metrics").unwrap(),
            |_| None,
            &mut Vec::new(),
        )
        .unwrap();
        let store = ScrapeStore::new(&[settings]);
        let families = families_of(text, Format::Text).unwrap();
        store.set(
            "app",
            TargetState {
                timestamp_ms: 0,
                up: true,
                duration: std::time::Duration::from_millis(3),
                scraped: 1,
                kept: 1,
                families: Arc::new(families),
            },
        );
        store
    }

    #[test]
    fn a_target_cannot_serve_series_under_the_agents_own_names() {
        let metrics = AgentMetrics::new();
        metrics.source("stdin").events.inc_by(3);
        let store = scraped(
            "# TYPE vigia_source_events_total counter\n\
             vigia_source_events_total{component=\"stdin\"} 999999\n\
             # TYPE app_requests_total counter\n\
             app_requests_total 5\n",
        );
        let text = exposition(&metrics, &store, Format::Text);
        assert!(
            text.contains("vigia_source_events_total{component=\"stdin\"} 3"),
            "{text}"
        );
        assert!(!text.contains("999999"), "{text}");
        assert!(text.contains("app_requests_total 5"), "{text}");
    }
    use crate::build_info;
    use crate::telemetry::AgentMetrics;

    #[test]
    fn exposition_names_the_build_and_counts_per_component() {
        let metrics = AgentMetrics::new();
        metrics.source("stdin").events.inc_by(3);
        metrics.set_ready("sink.console", true);
        // What /metrics serves, with no scrape targets.
        let text = exposition(&metrics, &ScrapeStore::new(&[]), Format::Text);
        assert!(text.contains("vigia_source_events_total{component=\"stdin\"} 3"));
        assert!(text.contains("vigia_component_ready{component=\"sink.console\"} 1"));
        assert!(text.contains(&format!(
            "vigia_build_info{{build_date=\"{}\"",
            build_info::BUILD_DATE
        )));
        assert!(text.contains("# TYPE vigia_source_events_total counter"));
    }
}
