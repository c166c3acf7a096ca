//! Remote write into a real Prometheus (Debian's 2.42 with `--web.enable-remote-write-receiver`):
//! node_exporter scraped by vigia, access logs turned into RED histograms, vigia's own
//! metrics; then Prometheus killed for 30 s and started again, and node_exporter removed.

use crate::metrics::{ACCESS_LOG, node_exporter};
use crate::support::agent::Agent;
use crate::support::prometheus::Prometheus;
use crate::support::wait_for;
use std::io::Write;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(60);
const OUTAGE: Duration = Duration::from_secs(30);

/// The raw samples of `series` over the last `seconds`: (Unix seconds, value).
fn samples(prometheus: &Prometheus, series: &str, seconds: u64) -> Vec<(f64, String)> {
    prometheus
        .query(&format!("{series}[{seconds}s]"))
        .first()
        .and_then(|result| result["values"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|pair| Some((pair[0].as_f64()?, pair[1].as_str()?.to_owned())))
        .collect()
}

#[test]
fn a_real_prometheus_gets_every_scrape_in_order_through_a_30s_outage_and_staleness() {
    let _alone = crate::support::PACED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prometheus_dir).unwrap();
    let mut prometheus = Prometheus::receiver(&prometheus_dir);
    let (mut exporter, url) = node_exporter();
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}
metrics:
  scrape:
    node: {{url: {url}, interval: 1s, timeout: 1s}}
  from_logs: {{buckets: [0.05, 0.1, 0.5, 1]}}
sources:
  checkout: {{type: stdin}}
sinks:
  out: {{type: console}}
  prometheus:
    type: prometheus_remote_write
    endpoint: {endpoint}
    queue: {{batch_send_deadline: 1s}}
    self_metrics: {{interval: 1s}}
",
            data = dir.path().join("data").display(),
            endpoint = prometheus.write_url(),
        ),
    )
    .unwrap();
    let mut agent = Agent::start(&["--config", config.to_str().unwrap()]);
    agent.stdin().write_all(ACCESS_LOG.as_bytes()).unwrap();
    agent.stdin().flush().unwrap();

    // The scraped series with the target's labels, `up`, the RED histograms, vigia's own.
    let up = wait_for(WAIT, "up{job=\"node\"} in Prometheus", || {
        prometheus.query_some("up{job=\"node\"}")
    });
    assert_eq!(up[0]["value"][1], "1");
    let instance = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");
    assert_eq!(up[0]["metric"]["instance"], instance);
    let cpu = wait_for(WAIT, "node_cpu_seconds_total", || {
        prometheus.query_some("node_cpu_seconds_total{job=\"node\",mode=\"idle\"}")
    });
    assert_eq!(cpu[0]["metric"]["instance"], instance);
    let red = wait_for(WAIT, "the RED histogram from access logs", || {
        prometheus.query_some(
            "vigia_http_request_duration_seconds_bucket{job=\"vigia\",service=\"checkout\",le=\"0.1\"}",
        )
    });
    assert!(!red.is_empty());
    wait_for(WAIT, "vigia's own metrics", || {
        prometheus.query_some("vigia_remote_write_samples_sent_total{job=\"vigia\"}")
    });

    // Prometheus down for 30 s, then back: the disk buffer holds the scrapes meanwhile.
    let outage_started = Instant::now();
    prometheus.stop();
    std::thread::sleep(OUTAGE);
    prometheus.restart();
    let window = outage_started.elapsed().as_secs() + 20;
    // Every scrape of the outage arrives: no gap in `up` longer than two intervals.
    let gaps = wait_for(WAIT, "the outage's scrapes in Prometheus", || {
        let points = samples(&prometheus, "up{job=\"node\"}", window);
        let newest = points.last()?.0;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let widest = points
            .windows(2)
            .map(|pair| pair[1].0 - pair[0].0)
            .fold(0.0, f64::max);
        (now - newest < 5.0 && points.len() as u64 >= window - 5 && widest < 2.5)
            .then_some((points.len(), widest))
    });
    assert!(gaps.0 as u64 >= OUTAGE.as_secs(), "{gaps:?}");
    // In order: Prometheus refused nothing as out of order.
    assert_eq!(
        prometheus.own_metric("prometheus_tsdb_out_of_order_samples_total"),
        0.0
    );
    let log = std::fs::read_to_string(prometheus.log.as_ref().unwrap()).unwrap();
    let lowered = log.to_lowercase();
    assert!(
        !lowered.contains("out of order") && !lowered.contains("out-of-order sample"),
        "{log}"
    );

    // The target removed: its series are stale at once, `up` is 0.
    exporter.stop();
    wait_for(
        Duration::from_secs(20),
        "node series stale in Prometheus",
        || {
            let cpu = prometheus.query("node_cpu_seconds_total{job=\"node\"}");
            let up = prometheus.query("up{job=\"node\"}");
            (cpu.is_empty() && up.first()?["value"][1] == "0").then_some(())
        },
    );
}
