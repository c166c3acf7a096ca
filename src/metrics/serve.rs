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
    let names: HashSet<String> = own.iter().map(|f| f.name.clone()).collect();
    let mut scraped = Vec::new();
    for family in scrape.families() {
        if !names.contains(&family.name) {
            scraped.push(family);
            continue;
        }
        // The RED families, from logs and from a service's metrics, are one family.
        if let Some(mine) = own.iter_mut().find(|f| {
            f.name == family.name && f.kind == family.kind && f.name.starts_with("vigia_http_")
        }) {
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
