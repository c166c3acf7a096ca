//! Step 7 end to end with real parts: vigia tails a service's access log and ships it to the
//! strict Loki receiver; a real Prometheus scrapes vigia and loads alerts/vigia.rules.yml;
//! every dashboard query returns data, an error burst puts the error-budget alert in `ALERTS`
//! and a latency step the regression alert.

use crate::support::agent::Agent;
use crate::support::loki::LokiReceiver;
use crate::support::prometheus::Prometheus;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn access_lines(rng: &mut fastrand::Rng, count: usize, slow: f64, error_share: f64) -> String {
    (0..count)
        .map(|_| {
            let z = (-2.0 * rng.f64().max(1e-12).ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos();
            let seconds = 0.040 * (0.3 * z).exp() * slow;
            let status = if rng.f64() < error_share { 503 } else { 200 };
            // Now: Loki refuses entries from the future.
            let now = chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S +0000");
            format!(
                "10.1.2.{} - - [{now}] \"GET /orders/{} HTTP/1.1\" {status} 512 \"-\" \"okhttp/4.12\" {seconds:.4}\n",
                rng.u8(1..250),
                rng.u32(1000..99999)
            )
        })
        .collect()
}

/// Dashboard queries that are empty on a healthy agent, and why.
const EMPTY_WHEN_HEALTHY: &[(&str, &str)] = &[("Lines dropped by reason", "nothing is dropped")];

#[test]
fn prometheus_with_the_shipped_rules_sees_every_dashboard_series_and_the_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let loki = LokiReceiver::start();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe_url = crate::support::health_endpoint(stop.clone());
    let log = dir.path().join("access.log");
    std::fs::write(&log, "").unwrap();
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nmetrics:\n  from_logs: {{}}\nlatency:\n  interval: 1s\n  warmup_windows: 10\n  probe:\n    url: {probe_url}\n    interval: 1s\n    timeout: 500ms\n    service: checkout\nsources:\n  checkout:\n    type: file\n    include: [\"{log}\"]\n    read_from: beginning\n    discovery_interval: 100ms\n    poll_interval: 50ms\n    checkpoint_interval: 200ms\nsinks:\n  loki:\n    type: loki\n    endpoint: {url}\n    labels:\n      service_name: checkout\n",
            data = dir.path().join("data").display(),
            log = log.display(),
            url = loki.url(),
        ),
    )
    .unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap()]);
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("alerts/vigia.rules.yml");
    let prometheus = Prometheus::start(dir.path(), agent.admin, &[&rules]);

    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    let started = Instant::now();
    let mut seen: std::collections::BTreeSet<String> = Default::default();
    let wanted = ["VigiaErrorBudgetFastBurn", "VigiaLatencyRegression"];
    // 250 requests/s: 25 s healthy, then half of them 503 and 2.5× slower; at most 150 s.
    while started.elapsed() < Duration::from_secs(150) {
        let incident = started.elapsed() > Duration::from_secs(25);
        let (slow, errors) = if incident { (2.5, 0.5) } else { (1.0, 0.0) };
        file.write_all(access_lines(&mut rng, 5, slow, errors).as_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
        if incident && rng.u8(..) < 12 {
            for alert in prometheus.query("ALERTS") {
                seen.insert(
                    alert["metric"]["alertname"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
            }
            if wanted.iter().all(|w| seen.contains(*w)) {
                break;
            }
        }
    }
    for alert in wanted {
        assert!(
            seen.contains(alert),
            "{alert} never appeared in ALERTS (saw {seen:?})"
        );
    }
    assert!(!loki.lines().is_empty(), "the logs reached Loki");

    // Every Prometheus query of every dashboard, with Grafana's variables filled in.
    let mut empty = Vec::new();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards")).unwrap()
    {
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap();
            for target in panel["targets"].as_array().into_iter().flatten() {
                if target["datasource"]["type"] != "prometheus" {
                    continue;
                }
                let expr = target["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "30s")
                    .replace("$namespace", ".*")
                    .replace("$service", "checkout")
                    .replace("$pod", ".*");
                if prometheus.query(&expr).is_empty()
                    && !EMPTY_WHEN_HEALTHY.iter().any(|(t, _)| *t == title)
                {
                    empty.push(format!("{title}: {expr}"));
                }
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(
        empty.is_empty(),
        "dashboard queries without data:\n{}",
        empty.join("\n")
    );
}
