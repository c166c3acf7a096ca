//! A real Prometheus (Debian's package) scraping a vigia agent every second, on a free
//! loopback port, stopped when dropped.

use super::agent::http_get;
use super::daemon::{Daemon, free_port};
use std::net::SocketAddr;
use std::path::Path;

pub struct Prometheus {
    _daemon: Daemon,
    pub port: u16,
}

impl Prometheus {
    /// Scrapes `target` (job `vigia`) and evaluates `rule_files`, every second.
    pub fn start(dir: &Path, target: SocketAddr, rule_files: &[&Path]) -> Self {
        let port = free_port();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("'{}'", p.display()))
            .collect();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\nscrape_configs:\n  - job_name: vigia\n    static_configs:\n      - targets: ['{target}']\n",
                rules.join(", ")
            ),
        )
        .unwrap();
        let daemon = Daemon::start(
            "prometheus",
            &[
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ],
        );
        Self {
            _daemon: daemon,
            port,
        }
    }

    /// The result vector of an instant query (empty when there is none or no answer yet).
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("http://127.0.0.1:{}/api/v1/query", self.port),
            &[("query", promql)],
        )
        .unwrap();
        let Ok((200, body)) = http_get(url.as_str()) else {
            return Vec::new();
        };
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The result when it is not empty: for `wait_for`.
    pub fn query_some(&self, promql: &str) -> Option<Vec<serde_json::Value>> {
        Some(self.query(promql)).filter(|r| !r.is_empty())
    }
}
