//! Baselines that outlive the process: a deploy replaces the sidecar with an empty
//! `data_dir`, and the new version is compared with the previous one's latency loaded from a
//! real Prometheus; a node agent restarted on the same `data_dir` resumes its own baseline.
//!
//! Time is compressed: 1 s windows stand for the 1 min windows of production, so "30 minutes
//! of version A" is 35 windows and "within 10 minutes of the restart" is within 10 windows.

use crate::support::agent::{Agent, collect};
use crate::support::daemon::free_port;
use crate::support::prometheus::Prometheus;
use crate::support::wait_for;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// nginx access lines with `$request_time` last: log-normal around 40 ms, times `slowdown`.
fn access_lines(rng: &mut fastrand::Rng, count: usize, slowdown: f64) -> String {
    (0..count)
        .map(|_| {
            let z = (-2.0 * rng.f64().max(1e-12).ln()).sqrt()
                * (std::f64::consts::TAU * rng.f64()).cos();
            let seconds = 0.040 * (0.3 * z).exp() * slowdown;
            let now = chrono::Utc::now().format("%d/%b/%Y:%H:%M:%S +0000");
            format!(
                "10.1.2.{} - - [{now}] \"GET /orders/{} HTTP/1.1\" 200 512 \"-\" \"okhttp/4.12\" {seconds:.4}\n",
                rng.u8(1..250),
                rng.u32(1000..99999)
            )
        })
        .collect()
}

/// One pod's vigia: its own log file and `data_dir`, the detector's default warm-up (30
/// windows, so nothing can be detected within 10 windows without a baseline from elsewhere).
struct Pod {
    agent: Agent,
    log: std::fs::File,
    rng: fastrand::Rng,
    _stdout: std::thread::JoinHandle<String>,
}

impl Pod {
    fn start(dir: &Path, data_dir: &Path, version: &str, baseline: &str, seed: u64) -> Pod {
        std::fs::create_dir_all(dir).unwrap();
        let log_path: PathBuf = dir.join("access.log");
        std::fs::write(&log_path, "").unwrap();
        let config = dir.join("vigia.yaml");
        std::fs::write(
            &config,
            format!(
                "data_dir: {data}\nmetrics:\n  from_logs: {{}}\nlatency:\n  interval: 1s\n  version: {version}\n{baseline}sources:\n  checkout:\n    type: file\n    include: [\"{log}\"]\n    read_from: beginning\n    discovery_interval: 100ms\n    poll_interval: 50ms\nsinks:\n  out:\n    type: console\n",
                data = data_dir.display(),
                log = log_path.display(),
            ),
        )
        .unwrap();
        let mut agent = Agent::start(&["--config", config.to_str().unwrap()]);
        let stdout = collect(agent.take_stdout());
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&log_path)
            .unwrap();
        Pod {
            agent,
            log,
            rng: fastrand::Rng::with_seed(seed),
            _stdout: stdout,
        }
    }

    /// 20 ms of traffic at 250 requests/s.
    fn serve(&mut self, slowdown: f64) {
        let lines = access_lines(&mut self.rng, 5, slowdown);
        self.log.write_all(lines.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }

    fn regressions(&self) -> Value {
        let (status, body) =
            crate::support::agent::http_get(&self.agent.url("/api/v1/regressions")).unwrap();
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    fn stop(mut self) {
        self.agent.signal("TERM");
        assert!(self.agent.wait(Duration::from_secs(20)).success());
    }
}

fn active(report: &Value) -> Vec<Value> {
    report["active"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_new_version_in_a_new_pod_is_compared_with_the_previous_version_from_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let mut version_a = Pod::start(
        &dir.path().join("a"),
        &dir.path().join("a/data"),
        "A",
        "",
        1,
    );
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prometheus_dir).unwrap();
    let prometheus = Prometheus::start(&prometheus_dir, version_a.agent.admin, &[]);

    // Version A: 35 windows of normal traffic, scraped every second.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(35) {
        version_a.serve(1.0);
    }
    let served = wait_for(
        Duration::from_secs(20),
        "Prometheus to store version A's histogram",
        || {
            let info =
                prometheus.query("vigia_service_version_info{service=\"checkout\",version=\"A\"}");
            let count = prometheus
                .query("sum(vigia_http_request_duration_seconds_count{service=\"checkout\"})");
            let count: f64 = count.first()?["value"][1].as_str()?.parse().ok()?;
            (!info.is_empty() && count > 7000.0).then_some(count)
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    // The deploy: the pod and its emptyDir go.
    version_a.stop();

    // Version B, 30 % slower, and a control (version A2, as fast as A), both in new pods.
    let baseline = format!(
        "  baseline:\n    prometheus:\n      url: http://127.0.0.1:{}\n      lookback: 2m\n      timeout: 5s\n",
        prometheus.port
    );
    let mut version_b = Pod::start(
        &dir.path().join("b"),
        &dir.path().join("b/data"),
        "B",
        &baseline,
        2,
    );
    let mut control = Pod::start(
        &dir.path().join("c"),
        &dir.path().join("c/data"),
        "A2",
        &baseline,
        3,
    );
    let restarted = Instant::now();
    let mut found: Option<Value> = None;
    let mut polls = 0u32;
    while restarted.elapsed() < Duration::from_secs(20) {
        version_b.serve(1.3);
        control.serve(1.0);
        polls += 1;
        if polls.is_multiple_of(10) {
            let report = version_b.regressions();
            if !active(&report).is_empty() {
                found = Some(report);
                break;
            }
        }
    }
    let report = found.unwrap_or_else(|| {
        panic!(
            "no regression of version B within 20 s ({served} requests of A in Prometheus): {}",
            version_b.regressions()
        )
    });
    assert_eq!(report["baseline"]["source"], "prometheus", "{report}");
    assert_eq!(
        report["baseline"]["previous_versions"],
        serde_json::json!(["A"]),
        "{report}"
    );
    let windows = report["windows_closed"].as_u64().unwrap();
    assert!(
        windows <= 10,
        "found after {windows} windows, more than 10: {report}"
    );
    let regression = &active(&report)[0];
    eprintln!("version B's regression after {windows} windows: {regression}");
    assert_eq!(
        regression["compared_with"], "previous_version",
        "{regression}"
    );
    assert_eq!(regression["service"], "checkout", "{regression}");
    assert_eq!(regression["route"], "/orders/{num}", "{regression}");
    assert!(regression["ratio"].as_f64().unwrap() > 1.1, "{regression}");

    // The control keeps serving as fast as A for 15 windows: nothing to report.
    while restarted.elapsed() < Duration::from_secs(15) {
        control.serve(1.0);
    }
    let control_report = control.regressions();
    assert_eq!(control_report["baseline"]["source"], "prometheus");
    assert!(
        control_report["windows_closed"].as_u64().unwrap() >= 12,
        "{control_report}"
    );
    assert!(
        active(&control_report).is_empty() && control_report["recent"] == serde_json::json!([]),
        "the control, as fast as A, raised: {control_report}"
    );
    version_b.stop();
    control.stop();
}

#[test]
fn without_prometheus_the_detector_warms_up_locally_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let nobody = free_port();
    let baseline = format!(
        "  baseline:\n    prometheus:\n      url: http://127.0.0.1:{nobody}\n      timeout: 1s\n"
    );
    let mut pod = Pod::start(dir.path(), &dir.path().join("data"), "B", &baseline, 4);
    let report = wait_for(Duration::from_secs(20), "the load to give up", || {
        pod.serve(1.0);
        let report = pod.regressions();
        (report["baseline"]["source"] == "warmup").then_some(report)
    });
    let reason = report["baseline"]["fallback_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("prometheus") || reason.contains("Prometheus"),
        "{report}"
    );
    assert!(
        pod.agent
            .logs()
            .iter()
            .any(|l| l.contains("baseline") && l.contains("\"level\":\"WARN\"")),
        "no warning in the log: {:?}",
        pod.agent.logs()
    );
    pod.stop();
}

#[test]
fn a_node_agent_restarted_on_its_data_dir_resumes_its_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut first = Pod::start(&dir.path().join("first"), &data_dir, "A", "", 5);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(35) {
        first.serve(1.0);
    }
    first.stop();
    assert!(
        data_dir.join("latency/baselines").exists(),
        "the baseline was not saved at shutdown"
    );

    let mut second = Pod::start(&dir.path().join("second"), &data_dir, "A", "", 6);
    let report = second.regressions();
    assert_eq!(report["baseline"]["source"], "data_dir", "{report}");
    assert_eq!(report["baseline"]["routes"], 1, "{report}");
    // 60 % slower from the first window: caught long before a 30-window warm-up would end.
    let restarted = Instant::now();
    let mut polls = 0u32;
    let found = loop {
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "nothing within 20 s of the restart: {}",
            second.regressions()
        );
        second.serve(1.6);
        polls += 1;
        if polls.is_multiple_of(10) {
            let report = second.regressions();
            if !active(&report).is_empty() {
                break report;
            }
        }
    };
    let windows = found["windows_closed"].as_u64().unwrap();
    eprintln!(
        "after the restart, found after {windows} windows: {}",
        active(&found)[0]
    );
    assert!(windows <= 10, "found after {windows} windows: {found}");
    assert_eq!(active(&found)[0]["compared_with"], "trailing", "{found}");
    second.stop();
}
