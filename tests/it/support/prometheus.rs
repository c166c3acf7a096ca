//! A real Prometheus (Debian's package) scraping a vigia agent every second, on a free
//! loopback port, stopped when dropped.

use super::agent::http_get;
use super::daemon::{Daemon, free_port};
use std::net::SocketAddr;
use std::path::Path;

pub struct Prometheus {
    daemon: Daemon,
    pub port: u16,
    /// For a receiver: how to start it again (same port, same storage).
    args: Vec<String>,
    pub log: Option<std::path::PathBuf>,
}

impl Prometheus {
    /// Scrapes `target` (job `vigia`) and evaluates `rule_files`, every second.
    pub fn start(dir: &Path, target: SocketAddr, rule_files: &[&Path]) -> Self {
        let job =
            format!("  - job_name: vigia\n    static_configs:\n      - targets: ['{target}']\n");
        Self::start_with(dir, &job, rule_files)
    }

    /// Runs `scrape_configs` (YAML list items, indented by two) every second.
    pub fn start_with(dir: &Path, scrape_configs: &str, rule_files: &[&Path]) -> Self {
        let port = free_port();
        let rules: Vec<String> = rule_files
            .iter()
            .map(|p| format!("'{}'", p.display()))
            .collect();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\nscrape_configs:\n{scrape_configs}",
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
            daemon,
            port,
            args: Vec::new(),
            log: None,
        }
    }

    /// A Prometheus that scrapes nothing and takes remote write on `/api/v1/write`; its log
    /// goes to `dir/prometheus.log`.
    pub fn receiver(dir: &Path) -> Self {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
        let args = vec![
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            "--web.enable-remote-write-receiver".to_owned(),
        ];
        let log = dir.join("prometheus.log");
        let daemon = Daemon::start_logged("prometheus", &args, &log);
        let prometheus = Self {
            daemon,
            port,
            args,
            log: Some(log),
        };
        prometheus.wait_ready();
        prometheus
    }

    pub fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/-/ready", self.port);
        super::wait_for(
            std::time::Duration::from_secs(60),
            "Prometheus to be ready",
            || http_get(&url).ok().filter(|(status, _)| *status == 200),
        );
    }

    /// Down: killed, as a crash or an eviction would.
    pub fn stop(&mut self) {
        self.daemon.stop();
    }

    /// Up again on the same port with the same storage (a receiver).
    pub fn restart(&mut self) {
        self.daemon.stop();
        let log = self.log.clone().expect("a receiver");
        self.daemon = Daemon::start_logged("prometheus", &self.args, &log);
        self.wait_ready();
    }

    /// A counter or gauge from Prometheus's own /metrics (the sum over its series).
    pub fn own_metric(&self, name: &str) -> f64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let body = http_get(&url).map(|(_, body)| body).unwrap_or_default();
        body.lines()
            .filter(|line| line.starts_with(name) && !line.starts_with('#'))
            .filter(|line| line[name.len()..].starts_with([' ', '{']))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
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
