//! The sender cases of the Prometheus remote-write compliance suite
//! (github.com/prometheus/compliance, `remote_write_sender`), reproduced against a strict
//! in-repo receiver: what arrives for counters, gauges, histograms, summaries and `up`; the
//! job, instance, sorted, repeated, empty, name and honor-labels label cases; staleness,
//! timestamps, headers, ordering; retries on 5xx and 429, none on 400. The receiver refuses
//! (400) any request that breaks the specification, so every case also checks that none did.

use crate::support::agent::Agent;
use crate::support::remote_write::{Point, WriteReceiver};
use crate::support::target::Target;
use crate::support::wait_for;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(30);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A Go service's exposition: every metric type, an empty label value, a series with its own
/// `job` label and one with its own timestamp (`pushed_at`, Unix ms).
fn exposition(pushed_at: i64) -> String {
    format!(
        r#"# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{{method="GET",code="200"}} 1027
http_requests_total{{method="POST",code="500",path=""}} 3
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{{quantile="0.5"}} 4.1e-05
go_gc_duration_seconds_sum 0.012
go_gc_duration_seconds_count 212
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{{le="0.1"}} 900
http_request_duration_seconds_bucket{{le="0.5"}} 1000
http_request_duration_seconds_bucket{{le="+Inf"}} 1030
http_request_duration_seconds_sum 87.5
http_request_duration_seconds_count 1030
# HELP rpc_duration_seconds RPC latency.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{{quantile="0.5"}} 0.012
rpc_duration_seconds{{quantile="0.99"}} 0.31
rpc_duration_seconds_sum 17.3
rpc_duration_seconds_count 1200
# HELP batch_last_success_timestamp_seconds When the nightly batch last succeeded.
# TYPE batch_last_success_timestamp_seconds gauge
batch_last_success_timestamp_seconds{{job="nightly"}} 1.7958e+09 {pushed_at}
"#
    )
}

fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("vigia.yaml");
    std::fs::write(
        &path,
        format!("data_dir: {}\n{body}", dir.join("data").display()),
    )
    .unwrap();
    path.display().to_string()
}

/// The newest sample of the series named `name` whose labels include `with`.
fn newest(points: &[Point], name: &str, with: &[(&str, &str)]) -> Option<Point> {
    points
        .iter()
        .filter(|p| p.name() == name)
        .filter(|p| {
            with.iter()
                .all(|(n, v)| p.labels.get(*n).map(String::as_str) == Some(*v))
        })
        .max_by_key(|p| p.timestamp)
        .cloned()
}

#[test]
fn every_metric_type_and_up_arrive_with_job_instance_and_spec_conforming_labels() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WriteReceiver::start();
    let pushed_at = now_ms() - 60_000;
    let target = Target::start(&exposition(pushed_at));
    let started = now_ms();
    let config = write_config(
        dir.path(),
        &format!(
            "metrics:
  scrape:
    app: {{url: {url}, interval: 1s, timeout: 1s}}
    honored: {{url: {url}, interval: 1s, timeout: 1s, honor_labels: true}}
  from_logs: {{buckets: [0.05, 0.1, 0.5, 1]}}
sources:
  web: {{type: stdin}}
sinks:
  out: {{type: console}}
  rw:
    type: prometheus_remote_write
    endpoint: {endpoint}
    queue: {{batch_send_deadline: 200ms}}
    self_metrics: {{interval: 1s}}
    external_labels: {{cluster: eu-west-1}}
    write_relabel:
      - {{action: drop, source_labels: [__name__], regex: go_gc_.*}}
",
            url = target.url,
            endpoint = receiver.url(),
        ),
    );
    let mut agent = Agent::start(&["--config", &config]);
    agent
        .stdin()
        .write_all(b"10.1.2.3 - - [22/Nov/2026:10:00:00 +0000] \"GET /orders/1842 HTTP/1.1\" 200 512 \"-\" \"curl/8.5.0\" 0.042\n")
        .unwrap();
    agent.stdin().flush().unwrap();
    let points = wait_for(WAIT, "scraped, own and RED samples", || {
        let points = receiver.points();
        let red = newest(&points, "vigia_http_request_duration_seconds_count", &[]);
        let up = newest(&points, "up", &[("job", "honored")]);
        (red.is_some() && up.is_some()).then_some(points)
    });
    let app = [("job", "app"), ("instance", target.instance())];

    // Counter, gauge, histogram, summary: every sample, with the target's labels.
    let counter = newest(
        &points,
        "http_requests_total",
        &[("method", "GET"), ("job", "app")],
    )
    .unwrap();
    assert_eq!(counter.value, 1027.0);
    assert_eq!(counter.labels["job"], "app");
    assert_eq!(counter.labels["instance"], target.instance());
    assert_eq!(counter.labels["cluster"], "eu-west-1", "external label");
    assert_eq!(newest(&points, "go_goroutines", &app).unwrap().value, 42.0);
    for (le, count) in [("0.1", 900.0), ("0.5", 1000.0), ("+Inf", 1030.0)] {
        let bucket = newest(
            &points,
            "http_request_duration_seconds_bucket",
            &[("le", le)],
        );
        assert_eq!(bucket.unwrap().value, count, "le={le}");
    }
    assert_eq!(
        newest(&points, "http_request_duration_seconds_sum", &app)
            .unwrap()
            .value,
        87.5
    );
    assert_eq!(
        newest(&points, "rpc_duration_seconds", &[("quantile", "0.99")])
            .unwrap()
            .value,
        0.31
    );
    assert_eq!(
        newest(&points, "rpc_duration_seconds_count", &app)
            .unwrap()
            .value,
        1200.0
    );
    // write_relabel dropped a family.
    assert!(newest(&points, "go_gc_duration_seconds_count", &[]).is_none());

    // up and the report series.
    assert_eq!(newest(&points, "up", &app).unwrap().value, 1.0);
    assert!(newest(&points, "scrape_duration_seconds", &app).is_some());
    assert_eq!(
        newest(&points, "scrape_samples_scraped", &app)
            .unwrap()
            .value,
        16.0
    );

    // Empty label values are no labels; names are sorted and unique (the receiver refuses
    // anything else: every answer was a 204).
    let posted = newest(&points, "http_requests_total", &[("method", "POST")]).unwrap();
    assert!(!posted.labels.contains_key("path"), "{:?}", posted.labels);
    assert!(
        receiver.statuses().iter().all(|s| *s == 204),
        "{:?}",
        receiver.statuses()
    );

    // honor_labels: the target's own `job` is kept; otherwise it is renamed.
    let batch = |job: &str| {
        points
            .iter()
            .find(|p| {
                p.name() == "batch_last_success_timestamp_seconds"
                    && p.labels.get("instance").map(String::as_str) == Some(target.instance())
                    && p.labels["job"] == job
            })
            .cloned()
    };
    let renamed = batch("app").expect("the target's job renamed");
    assert_eq!(renamed.labels["exported_job"], "nightly");
    let honored = batch("nightly").expect("the target's job kept with honor_labels");
    assert!(!honored.labels.contains_key("exported_job"));

    // Timestamps: a scrape's samples carry its time; a sample's own timestamp is kept.
    assert_eq!(renamed.timestamp, pushed_at);
    let up = newest(&points, "up", &app).unwrap();
    assert!(
        up.timestamp >= started && up.timestamp <= now_ms(),
        "{}",
        up.timestamp
    );
    assert_eq!(counter.timestamp, up.timestamp, "one scrape, one time");

    // The agent's own metrics and the RED families from logs, as job `vigia`.
    let red = newest(&points, "vigia_http_request_duration_seconds_count", &[]).unwrap();
    assert_eq!(red.labels["job"], "vigia");
    assert_eq!(red.labels["service"], "web");
    assert!(
        newest(
            &points,
            "vigia_remote_write_samples_sent_total",
            &[("job", "vigia")]
        )
        .is_some()
    );

    // Headers: the receiver checked them on every request; the User-Agent is vigia's.
    let headers = receiver.headers();
    assert!(
        headers
            .iter()
            .all(|h| h["user-agent"].starts_with("vigia/"))
    );
}

#[test]
fn series_that_end_and_targets_that_fail_get_stale_markers_and_up_0() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WriteReceiver::start();
    let target = Target::start(&exposition(now_ms() - 60_000));
    let config = write_config(
        dir.path(),
        &format!(
            "metrics:
  scrape:
    app: {{url: {url}, interval: 1s, timeout: 1s}}
sinks:
  rw:
    type: prometheus_remote_write
    endpoint: {endpoint}
    concurrency: 4
    queue: {{batch_send_deadline: 200ms}}
    self_metrics: {{enabled: false}}
",
            url = target.url,
            endpoint = receiver.url(),
        ),
    );
    let mut agent = Agent::start(&["--config", &config]);
    wait_for(WAIT, "go_goroutines", || {
        newest(&receiver.points(), "go_goroutines", &[])
    });

    // A series leaves the exposition: one stale marker, after its last sample.
    target.set(&exposition(now_ms() - 60_000).replace("go_goroutines 42\n", ""));
    let marker = wait_for(WAIT, "a stale marker for go_goroutines", || {
        newest(&receiver.points(), "go_goroutines", &[]).filter(Point::is_stale)
    });
    let live = receiver.named("go_goroutines");
    assert!(
        live.iter()
            .filter(|p| !p.is_stale())
            .all(|p| p.timestamp < marker.timestamp)
    );

    // The exposition turns invalid: up 0, and every series of the target is stale.
    target.set("# TYPE broken counter\nbroken{le=\"1\" 3\n");
    let down = wait_for(WAIT, "up 0", || {
        newest(&receiver.points(), "up", &[]).filter(|p| p.value == 0.0)
    });
    let counter = wait_for(WAIT, "a stale marker for the counter", || {
        newest(
            &receiver.points(),
            "http_requests_total",
            &[("method", "GET")],
        )
        .filter(Point::is_stale)
    });
    assert_eq!(counter.timestamp, down.timestamp);

    // Back: the series return.
    target.set(&exposition(now_ms() - 60_000));
    wait_for(WAIT, "the counter back", || {
        newest(
            &receiver.points(),
            "http_requests_total",
            &[("method", "GET")],
        )
        .filter(|p| p.value == 1027.0)
    });

    // Shutdown: every series ends with a stale marker, `up` included.
    agent.signal("TERM");
    assert!(agent.wait(WAIT).success());
    let points = receiver.points();
    for name in [
        "up",
        "http_requests_total",
        "rpc_duration_seconds_sum",
        "scrape_duration_seconds",
    ] {
        let last = newest(&points, name, &[]).unwrap();
        assert!(last.is_stale(), "{name} is not stale at shutdown: {last:?}");
    }
    // Four lanes, each series always in one: the receiver saw every series in order.
    assert!(
        receiver.statuses().iter().all(|s| *s == 204),
        "{:?}",
        receiver.statuses()
    );
}

#[test]
fn retries_on_500_and_429_and_drops_on_400() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WriteReceiver::start();
    receiver.fail_next(2, 500);
    let target = Target::start(&exposition(now_ms() - 60_000));
    let config = write_config(
        dir.path(),
        &format!(
            "metrics:
  scrape:
    app: {{url: {url}, interval: 1s, timeout: 1s}}
sinks:
  rw:
    type: prometheus_remote_write
    endpoint: {endpoint}
    queue: {{batch_send_deadline: 200ms}}
    self_metrics: {{enabled: false}}
    retry: {{initial_backoff: 100ms, max_backoff: 1s}}
",
            url = target.url,
            endpoint = receiver.url(),
        ),
    );
    let agent = Agent::start(&["--config", &config]);
    let is_accepted = |failed: &Point, accepted: &[Point]| {
        accepted
            .iter()
            .any(|p| p.labels == failed.labels && p.timestamp == failed.timestamp)
    };
    // 500: sent again until taken.
    wait_for(WAIT, "the samples refused with 500 accepted", || {
        let failed = receiver.failed();
        let accepted = receiver.points();
        (failed.len() >= 2 && failed.iter().all(|(_, p)| is_accepted(p, &accepted))).then_some(())
    });
    // 429: the same.
    receiver.fail_next(1, 429);
    wait_for(WAIT, "the samples refused with 429 accepted", || {
        let accepted = receiver.points();
        let failed = receiver.failed();
        let throttled: Vec<_> = failed.iter().filter(|(s, _)| *s == 429).collect();
        (!throttled.is_empty() && throttled.iter().all(|(_, p)| is_accepted(p, &accepted)))
            .then_some(())
    });
    // 400: dropped, counted, never sent again.
    receiver.fail_next(1, 400);
    let refused = wait_for(WAIT, "a request refused with 400", || {
        let refused: Vec<Point> = receiver
            .failed()
            .into_iter()
            .filter(|(s, _)| *s == 400)
            .map(|(_, p)| p)
            .collect();
        (!refused.is_empty()).then_some(refused)
    });
    let after = receiver.statuses().len();
    wait_for(WAIT, "three more requests", || {
        (receiver.statuses().len() >= after + 3).then_some(())
    });
    let accepted = receiver.points();
    let refused_count = refused.len();
    // (The series with its own timestamp is the same sample in every scrape.)
    let refused: Vec<&Point> = refused
        .iter()
        .filter(|p| p.name() != "batch_last_success_timestamp_seconds")
        .collect();
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|p| !is_accepted(p, &accepted)),
        "a refused sample was sent again"
    );
    let dropped = agent
        .metric(
            "vigia_remote_write_samples_dropped_total{component=\"rw\",reason=\"rejected_400\"}",
        )
        .unwrap();
    assert_eq!(dropped as usize, refused_count);
    assert!(
        agent
            .metric("vigia_remote_write_retries_total{component=\"rw\"}")
            .unwrap()
            >= 3.0
    );
}
