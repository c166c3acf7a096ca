//! Metrics end to end with real parts: Debian's node_exporter scraped by vigia, vigia's
//! /metrics checked by promtool, and a real Prometheus scraping vigia and answering queries
//! on a scraped series and one derived from access logs.

use crate::support::agent::{Agent, http_get};
use crate::support::daemon::{Daemon, free_port};
use crate::support::prometheus::Prometheus;
use crate::support::wait_for;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use vigia::metrics::exposition::Format;
use vigia::metrics::exposition::parser::parse_body;

const WAIT: Duration = Duration::from_secs(30);

pub fn node_exporter() -> (Daemon, String) {
    let port = free_port();
    let daemon = Daemon::start(
        "prometheus-node-exporter",
        &[format!("--web.listen-address=127.0.0.1:{port}")],
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    wait_for(WAIT, "node_exporter to answer", || http_get(&url).ok());
    (daemon, url)
}

/// vigia scraping `url` every second, deriving RED metrics from its stdin (access logs).
fn agent(dir: &Path, url: &str) -> Agent {
    let config = dir.join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nmetrics:\n  scrape:\n    node:\n      url: {url}\n      interval: 1s\n      timeout: 1s\n      labels:\n        service: node\n      metric_relabel:\n        - action: drop\n          source_labels: [__name__]\n          regex: node_scrape_collector_.*\n  from_logs:\n    buckets: [0.05, 0.1, 0.5, 1]\nsources:\n  checkout:\n    type: stdin\nsinks:\n  out:\n    type: console\n",
            data = dir.join("data").display(),
        ),
    )
    .unwrap();
    Agent::start(&["--config", config.to_str().unwrap()])
}

pub const ACCESS_LOG: &str = r#"10.1.2.3 - - [22/Nov/2026:10:00:00 +0000] "GET /orders/1842 HTTP/1.1" 200 512 "-" "curl/8.5.0" 0.042
10.1.2.3 - - [22/Nov/2026:10:00:01 +0000] "GET /orders/1843 HTTP/1.1" 200 498 "-" "curl/8.5.0" 0.061
10.1.2.4 - - [22/Nov/2026:10:00:02 +0000] "POST /orders HTTP/1.1" 503 0 "-" "okhttp/4.12" 0.733
"#;

fn metrics(agent: &Agent) -> String {
    http_get(&agent.url("/metrics"))
        .expect("/metrics answers")
        .1
}

#[test]
fn node_exporter_is_scraped_and_served_again_with_target_labels_and_red_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (mut exporter, url) = node_exporter();
    let mut agent = agent(dir.path(), &url);
    agent.stdin().write_all(ACCESS_LOG.as_bytes()).unwrap();
    agent.stdin().flush().unwrap();
    let body = wait_for(WAIT, "scraped and derived series on /metrics", || {
        let body = metrics(&agent);
        (body.contains("node_load1{") && body.contains("vigia_http_requests_total{"))
            .then_some(body)
    });
    let load = body.lines().find(|l| l.starts_with("node_load1{")).unwrap();
    assert!(
        load.contains("job=\"node\"") && load.contains("service=\"node\""),
        "{load}"
    );
    assert!(
        load.contains(&format!(
            "instance=\"{}\"",
            url.trim_start_matches("http://")
                .trim_end_matches("/metrics")
        )),
        "{load}"
    );
    assert!(
        !body.contains("node_scrape_collector_duration_seconds"),
        "dropped by metric_relabel"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("up{") && l.ends_with(" 1"))
    );
    assert!(
        body.contains("vigia_http_requests_total{method=\"GET\",route=\"/orders/{num}\",service=\"checkout\",status_class=\"2xx\"} 2\n"),
        "{body}"
    );
    assert!(body.contains("vigia_http_request_duration_seconds_bucket{"));

    // promtool: valid text format; its only findings are node_exporter's own names.
    let (code, report) = crate::support::promtool_check_metrics(body.as_bytes());
    assert!(matches!(code, Some(0 | 3)), "{report}");
    assert!(!report.contains("error"), "{report}");
    for finding in report.lines() {
        assert!(
            finding.starts_with("node_") || finding.starts_with("go_"),
            "a finding about vigia's own metrics: {finding}"
        );
    }

    // OpenMetrics when asked, valid by our parser.
    let open_metrics = crate::support::agent::http_get_with(
        &agent.url("/metrics"),
        "application/openmetrics-text;version=1.0.0",
    );
    parse_body(&open_metrics, Format::OpenMetrics, |_, _, _| {}).expect("valid OpenMetrics");

    // The target goes away: up turns 0 and its series are no longer served.
    exporter.stop();
    let body = wait_for(WAIT, "up to turn 0", || {
        let body = metrics(&agent);
        body.lines()
            .any(|l| l.starts_with("up{") && l.ends_with(" 0"))
            .then_some(body)
    });
    assert!(
        !body.contains("node_load1{"),
        "a failed scrape's series are not served as current"
    );
}

#[test]
fn prometheus_scrapes_vigia_and_answers_queries() {
    let dir = tempfile::tempdir().unwrap();
    let (_exporter, url) = node_exporter();
    let mut agent = agent(dir.path(), &url);
    agent.stdin().write_all(ACCESS_LOG.as_bytes()).unwrap();
    agent.stdin().flush().unwrap();
    let prometheus = Prometheus::start(dir.path(), agent.admin, &[]);
    let query = |promql: &str| prometheus.query_some(promql);
    let scraped = wait_for(
        Duration::from_secs(60),
        "Prometheus to hold a scraped series",
        || query("node_load1{exported_job=\"node\"}"),
    );
    assert_eq!(scraped[0]["metric"]["job"], "vigia");
    assert_eq!(scraped[0]["metric"]["service"], "node");
    let derived = wait_for(
        Duration::from_secs(60),
        "Prometheus to hold a derived series",
        || query("sum by (status_class) (vigia_http_requests_total{service=\"checkout\"})"),
    );
    let by_class: std::collections::BTreeMap<String, String> = derived
        .iter()
        .map(|s| {
            (
                s["metric"]["status_class"].as_str().unwrap().to_owned(),
                s["value"][1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(by_class.get("2xx").map(String::as_str), Some("2"));
    assert_eq!(by_class.get("5xx").map(String::as_str), Some("1"));
    // Prometheus's own view of the vigia target.
    let up = wait_for(WAIT, "Prometheus's up for vigia", || {
        query("up{job=\"vigia\"}")
    });
    assert_eq!(up[0]["value"][1], "1");
    // vigia's own `up` for the node target, as the VigiaScrapeTargetDown rule reads it.
    let target_up = wait_for(WAIT, "the target's up re-served by vigia", || {
        query("up{exported_job=\"node\"}")
    });
    assert_eq!(target_up[0]["metric"]["job"], "vigia");
    assert_eq!(target_up[0]["value"][1], "1");
}

/// Serves one exposition of `series` counter series (about 113 bytes each), generated as it
/// is written, to each connection; the body is never held whole.
fn huge_exposition_server(series: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = std::io::Read::read(&mut stream, &mut request);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n\r\n");
                let mut chunk = String::with_capacity(1 << 20);
                for family in 0..series / 1000 {
                    let name = format!("app_http_requests_{family}_total");
                    chunk.push_str(&format!("# HELP {name} Requests.\n# TYPE {name} counter\n"));
                    for i in 0..1000 {
                        chunk.push_str(&format!(
                            "{name}{{method=\"GET\",route=\"/api/v1/items/{i}\",status=\"200\",instance=\"10.0.{}.{}:8080\"}} {i}\n",
                            i / 256,
                            i % 256
                        ));
                    }
                    if stream.write_all(chunk.as_bytes()).is_err() {
                        return;
                    }
                    chunk.clear();
                }
            });
        }
    });
    format!("http://{address}/metrics")
}

#[test]
fn a_100_mb_exposition_is_parsed_as_it_arrives_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let url = huge_exposition_server(1_000_000);
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nmetrics:\n  scrape:\n    big:\n      url: {url}\n      interval: 5m\n      timeout: 2m\n      body_size_limit: 256MiB\n      sample_limit: 5000\n      metric_relabel:\n        - action: keep\n          source_labels: [__name__]\n          regex: app_http_requests_7_total\nsources:\n  in:\n    type: stdin\nsinks:\n  out:\n    type: console\n",
            data = dir.path().join("data").display(),
        ),
    )
    .unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap()]);
    let scraped = wait_for(
        Duration::from_secs(170),
        "the whole exposition scraped",
        || agent.metric("scrape_samples_scraped{"),
    );
    assert_eq!(scraped, 1_000_000.0);
    let body = metrics(&agent);
    assert!(
        body.lines().any(
            |l| l.starts_with("scrape_samples_post_metric_relabeling{") && l.ends_with(" 1000")
        ),
        "{}",
        &body[body.len().saturating_sub(2000)..]
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("up{") && l.ends_with(" 1"))
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid())).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    eprintln!("peak RSS scraping a 113 MB exposition: {peak_kib} KiB");
    assert!(
        peak_kib < 40 * 1024,
        "peak RSS {peak_kib} KiB for a 113 MB body"
    );
}
