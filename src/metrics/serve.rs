//! What vigia serves on `/metrics`: its own families, then what the scrape targets exposed
//! (a scraped family named like one of the agent's is left out), in the negotiated format.

use super::exposition::family::from_registry;
use super::exposition::{Format, render};
use super::scrape::ScrapeStore;
use crate::telemetry::AgentMetrics;
use std::collections::HashSet;

pub fn exposition(agent: &AgentMetrics, scrape: &ScrapeStore, format: Format) -> String {
    let own = from_registry(&agent.gather());
    let names: HashSet<&str> = own.iter().map(|f| f.name.as_str()).collect();
    let scraped: Vec<_> = scrape
        .families()
        .into_iter()
        .filter(|f| !names.contains(f.name.as_str()))
        .collect();
    let mut out = String::with_capacity(16 * 1024);
    render::render(&own, format, &mut out);
    render::render(&scraped, format, &mut out);
    render::finish(format, &mut out);
    out
}
