//! The Loki sink against the strict receiver: labels and metadata on the wire, nothing lost
//! when Loki is down, throttled or killed mid-delivery, refused lines counted.

use crate::support::agent::Agent;
use crate::support::loki::{Behavior, LokiReceiver};
use crate::support::{files::Workspace, wait_for};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// A workspace whose file source `app` tails `logs/app.log` into a Loki sink.
fn loki_config(workspace: &Workspace, loki: &LokiReceiver, sink_extra: &str) -> PathBuf {
    let mut extra = String::new();
    let sink_extra = if sink_extra.contains("batch:") {
        sink_extra.to_owned()
    } else {
        format!("batch:\n  max_wait: 100ms\n{sink_extra}")
    };
    for line in sink_extra.lines().filter(|l| !l.trim().is_empty()) {
        extra.push_str("    ");
        extra.push_str(line);
        extra.push('\n');
    }
    let yaml = format!(
        "data_dir: {data}\nsources:\n  app:\n    type: file\n    include: [\"{log}\"]\n    read_from: beginning\n    discovery_interval: 100ms\n    poll_interval: 50ms\n    checkpoint_interval: 100ms\nsinks:\n  loki:\n    type: loki\n    endpoint: {url}\n    tenant: shop\n    retry:\n      initial_backoff: 50ms\n      max_backoff: 500ms\n{extra}",
        data = workspace.data().display(),
        log = workspace.logs().join("app.log").display(),
        url = loki.url(),
    );
    let path = workspace.dir.path().join("vigia.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn append_lines(path: &Path, range: std::ops::Range<u64>, payload: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut text = String::new();
    let day = yesterday();
    for seq in range {
        text.push_str(&format!(
            r#"{{"ts":"{day}T10:00:00.{:06}Z","level":"info","msg":"order {seq}","seq":{seq},"trace_id":"4bf92f3577b34da6a3ce929d0e0e{:04x}","note":"{payload}"}}"#,
            seq % 1_000_000,
            seq % 0x10000,
        ));
        text.push('\n');
    }
    file.write_all(text.as_bytes()).unwrap();
}

/// Yesterday (UTC) as `YYYY-MM-DD`: event times Loki accepts (it refuses entries over a week
/// old) on whatever day the suite runs.
fn yesterday() -> String {
    (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string()
}

/// 10:00:00 UTC yesterday, as Unix nanoseconds.
fn yesterday_at_ten_ns() -> i64 {
    let day = chrono::NaiveDate::parse_from_str(&yesterday(), "%Y-%m-%d").unwrap();
    day.and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap()
}

/// The distinct `seq`s Loki holds, and how many lines in all.
fn delivered(loki: &LokiReceiver) -> (BTreeSet<u64>, usize) {
    let lines = loki.lines();
    let seqs = lines
        .iter()
        .map(|line| {
            let record: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
            record["attrs"]["seq"].as_u64().expect("a seq")
        })
        .collect();
    (seqs, lines.len())
}

fn wait_delivered(loki: &LokiReceiver, count: u64) -> usize {
    wait_for(DELIVERY_TIMEOUT, "every line in Loki", || {
        let (seqs, total) = delivered(loki);
        (seqs.len() as u64 == count && seqs.iter().copied().eq(0..count)).then_some(total)
    })
}

fn start(config: &Path) -> Agent {
    Agent::start(&["--config", config.to_str().unwrap()])
}

#[test]
fn lines_reach_loki_with_labels_tenant_and_trace_metadata() {
    let workspace = Workspace::new();
    let loki = LokiReceiver::start();
    let config = loki_config(
        &workspace,
        &loki,
        "labels:\n  service_name: \"{{ source }}\"\n  env: prod",
    );
    append_lines(&workspace.logs().join("app.log"), 0..500, "x");
    let agent = start(&config);
    let total = wait_delivered(&loki, 500);
    assert_eq!(total, 500, "no duplicates when nothing failed");
    assert_eq!(loki.received_count(), 500);
    let first = &loki.received()[0];
    assert_eq!(first.tenant.as_deref(), Some("shop"));
    assert_eq!(
        first
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        [("env", "prod"), ("service_name", "app")]
    );
    assert_eq!(
        first.metadata["trace_id"],
        "4bf92f3577b34da6a3ce929d0e0e0000"
    );
    let record: serde_json::Value = serde_json::from_str(&first.line).unwrap();
    assert_eq!(record["msg"], "order 0");
    assert_eq!(first.ts, yesterday_at_ten_ns());
    // Every request was protobuf + snappy and accepted.
    assert!(loki.statuses().iter().all(|s| *s == 204));
    assert_eq!(
        agent.metric("vigia_loki_lines_sent_total{component=\"loki\"}"),
        Some(500.0)
    );
    // The file source counts what its sinks finished with, as docs/operations.md says.
    let acknowledged = wait_for(DELIVERY_TIMEOUT, "the acknowledgements counted", || {
        agent
            .metric(
                "vigia_source_acknowledged_events_total{component=\"app\",status=\"delivered\"}",
            )
            .filter(|n| *n >= 500.0)
    });
    assert_eq!(acknowledged, 500.0);
}

#[test]
fn concurrent_requests_keep_each_stream_in_order() {
    const FILES: u64 = 8;
    const LINES: u64 = 1500;
    let workspace = Workspace::new();
    let loki = LokiReceiver::start();
    // A slow Loki: requests overlap only if several are in flight.
    loki.set(Behavior::Stall(Duration::from_millis(150)));
    let yaml = format!(
        "data_dir: {data}\nsources:\n  app:\n    type: file\n    include: [\"{logs}/*.log\"]\n    read_from: beginning\n    discovery_interval: 100ms\nsinks:\n  loki:\n    type: loki\n    endpoint: {url}\n    concurrency: 4\n    labels:\n      file: \"{{{{ file }}}}\"\n    batch:\n      max_bytes: 16KiB\n      max_wait: 100ms\n",
        data = workspace.data().display(),
        logs = workspace.logs().display(),
        url = loki.url(),
    );
    let config = workspace.dir.path().join("vigia.yaml");
    std::fs::write(&config, yaml).unwrap();
    for file in 0..FILES {
        append_lines(
            &workspace.logs().join(format!("svc{file}.log")),
            0..LINES,
            "c",
        );
    }
    let _agent = start(&config);
    wait_for(DELIVERY_TIMEOUT, "every file's lines in Loki", || {
        (loki.received_count() as u64 >= FILES * LINES).then_some(())
    });
    let mut streams: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for received in loki.received() {
        let record: serde_json::Value = serde_json::from_str(&received.line).unwrap();
        streams
            .entry(received.labels["file"].clone())
            .or_default()
            .push(record["attrs"]["seq"].as_u64().unwrap());
    }
    assert_eq!(streams.len() as u64, FILES);
    for (file, seqs) in &streams {
        assert!(
            seqs.iter().copied().eq(0..LINES),
            "{file}: every line once, in the order written"
        );
    }
    assert!(
        loki.most_in_flight() >= 2,
        "requests went side by side (at most {} at once)",
        loki.most_in_flight()
    );
    assert!(loki.most_in_flight() <= 4, "bounded by `concurrency`");
}

#[test]
fn loki_down_then_back_loses_nothing_and_memory_stays_bounded() {
    let workspace = Workspace::new();
    let mut loki = LokiReceiver::start();
    let config = loki_config(
        &workspace,
        &loki,
        "batch:\n  max_bytes: 64KiB\n  max_wait: 100ms\nbuffer:\n  max_bytes: 256KiB\nunhealthy_after: 1s",
    );
    loki.stop();
    let log = workspace.logs().join("app.log");
    let agent = start(&config);
    // ~24 MiB written while Loki is away: far more than the buffer.
    let payload = "p".repeat(900);
    for chunk in 0..24 {
        append_lines(&log, chunk * 1000..(chunk + 1) * 1000, &payload);
    }
    // Bounds are generous: the suite runs this next to a 113 MB scrape and a Prometheus.
    // Degraded, and still ready: a Loki outage must not take the pod out of its Service.
    let peak_rss = wait_for(DELIVERY_TIMEOUT, "the sink to report degraded", || {
        let (status, body) = crate::support::agent::http_get(&agent.url("/readyz")).ok()?;
        (status == 200 && body.contains("\"status\":\"degraded\"")).then(|| rss_kib(agent.pid()))
    });
    std::thread::sleep(Duration::from_secs(2));
    let rss = rss_kib(agent.pid()).max(peak_rss);
    eprintln!("peak RSS with Loki down: {rss} KiB");
    assert!(
        rss < 48 * 1024,
        "RSS {rss} KiB with Loki down and 24 MiB to send"
    );
    loki.restart();
    wait_delivered(&loki, 24_000);
    assert!(
        agent
            .metric("vigia_loki_retries_total{component=\"loki\"}")
            .unwrap()
            >= 1.0
    );
    wait_for(Duration::from_secs(30), "ready again", || {
        let (status, body) = crate::support::agent::http_get(&agent.url("/readyz")).ok()?;
        (status == 200 && body.contains("\"status\":\"ready\"")).then_some(())
    });
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_429_storm_with_retry_after_loses_nothing_and_shows_in_metrics() {
    let workspace = Workspace::new();
    let loki = LokiReceiver::start();
    let config = loki_config(&workspace, &loki, "");
    loki.fail_next(4, 429, None);
    append_lines(&workspace.logs().join("app.log"), 0..300, "x");
    let agent = start(&config);
    wait_delivered(&loki, 300);
    loki.fail_next(2, 503, Some(1));
    append_lines(&workspace.logs().join("app.log"), 300..400, "x");
    wait_delivered(&loki, 400);
    let statuses = loki.statuses();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 4);
    assert_eq!(statuses.iter().filter(|s| **s == 503).count(), 2);
    wait_for(Duration::from_secs(5), "retries counted", || {
        (agent.metric("vigia_loki_retries_total{component=\"loki\"}")? >= 6.0).then_some(())
    });
    assert_eq!(
        agent.metric("vigia_loki_requests_total{component=\"loki\",status=\"429\"}"),
        Some(4.0)
    );
}

#[test]
fn refused_entries_are_counted_and_the_rest_delivered() {
    let workspace = Workspace::new();
    let loki = LokiReceiver::start();
    let config = loki_config(&workspace, &loki, "");
    loki.set(Behavior::RejectLinesContaining("order 13\"".to_owned()));
    append_lines(&workspace.logs().join("app.log"), 0..200, "x");
    let agent = start(&config);
    wait_for(DELIVERY_TIMEOUT, "the other lines in Loki", || {
        let (seqs, _) = delivered(&loki);
        (seqs.len() == 199).then_some(())
    });
    assert!(!delivered(&loki).0.contains(&13));
    wait_for(
        Duration::from_secs(5),
        "the refused request counted",
        || {
            agent
                .metric(
                    "vigia_loki_lines_dropped_total{component=\"loki\",reason=\"rejected_400\"}",
                )
                .filter(|n| *n >= 1.0)
        },
    );
    // A refusal is not retried.
    assert_eq!(loki.statuses().iter().filter(|s| **s == 400).count(), 1);
}

#[test]
fn killed_mid_delivery_and_restarted_every_line_arrives() {
    let workspace = Workspace::new();
    let loki = LokiReceiver::start();
    let config = loki_config(
        &workspace,
        &loki,
        "batch:\n  max_bytes: 16KiB\n  max_wait: 50ms",
    );
    loki.set(Behavior::Stall(Duration::from_millis(200)));
    let log = workspace.logs().join("app.log");
    append_lines(&log, 0..5000, "x");
    let agent = start(&config);
    wait_for(DELIVERY_TIMEOUT, "some lines delivered", || {
        (delivered(&loki).0.len() > 200).then_some(())
    });
    agent.signal("KILL");
    drop(agent);
    loki.set(Behavior::Accept);
    let _agent = start(&config);
    let total = wait_delivered(&loki, 5000);
    // Duplicates only from batches in flight or not yet checkpointed when killed.
    eprintln!("duplicates after SIGKILL: {}", total - 5000);
    assert!(total - 5000 < 2000, "{} duplicates", total - 5000);
}

#[test]
fn with_the_disk_buffer_a_restart_while_loki_is_down_still_delivers_everything() {
    let workspace = Workspace::new();
    let mut loki = LokiReceiver::start();
    let config = loki_config(
        &workspace,
        &loki,
        "batch:\n  max_bytes: 64KiB\n  max_wait: 100ms\nbuffer:\n  max_bytes: 256KiB\n  when_full: disk\n  disk:\n    max_bytes: 64MiB",
    );
    loki.stop();
    let log = workspace.logs().join("app.log");
    let payload = "d".repeat(400);
    for chunk in 0..20 {
        append_lines(&log, chunk * 1000..(chunk + 1) * 1000, &payload);
    }
    let agent = start(&config);
    let disk_lines = "vigia_loki_buffer_lines{buffer=\"disk\",component=\"loki\"}";
    wait_for(DELIVERY_TIMEOUT, "every line in the disk buffer", || {
        (agent.metric(disk_lines)? == 20_000.0).then_some(())
    });
    let rss = rss_kib(agent.pid());
    eprintln!("RSS with 20000 lines on disk and Loki down: {rss} KiB");
    assert!(rss < 48 * 1024, "RSS {rss} KiB");
    // Once on disk the lines count as delivered: the file checkpoint moves past them, so the
    // log file can go; what reaches Loki now can only come from the disk buffer.
    std::thread::sleep(Duration::from_millis(500));
    agent.signal("KILL");
    drop(agent);
    std::fs::remove_file(&log).unwrap();

    let agent = start(&config);
    wait_for(Duration::from_secs(10), "the buffer found again", || {
        (agent.metric(disk_lines)? == 20_000.0).then_some(())
    });
    loki.restart();
    let total = wait_delivered(&loki, 20_000);
    assert_eq!(
        total, 20_000,
        "nothing was delivered before, so nothing twice"
    );
    wait_for(Duration::from_secs(10), "the disk buffer emptied", || {
        (agent.metric(disk_lines)? == 0.0).then_some(())
    });
    let segments = std::fs::read_dir(workspace.data().join("buffers/loki"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".wal")
        })
        .count();
    assert!(segments <= 1, "{segments} segments left after delivery");
}

#[test]
fn one_far_future_event_time_does_not_blackhole_its_stream() {
    let workspace = Workspace::new();
    let loki = LokiReceiver::start();
    let config = loki_config(&workspace, &loki, "");
    let log = workspace.logs().join("app.log");
    append_lines(&log, 0..100, "before");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"{\"ts\":\"2099-01-01T00:00:00Z\",\"level\":\"info\",\"msg\":\"clock skew\",\"seq\":100}\n")
        .unwrap();
    append_lines(&log, 101..300, "after");
    let started = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let agent = start(&config);
    let total = wait_delivered(&loki, 300);
    assert_eq!(total, 300);
    assert!(
        loki.statuses().iter().all(|s| *s == 204),
        "Loki refused nothing: {:?}",
        loki.statuses()
    );
    let skewed = loki
        .received()
        .into_iter()
        .find(|r| r.line.contains("clock skew"))
        .unwrap();
    assert!(
        skewed.ts >= started - 60_000_000_000 && skewed.ts <= started + 120_000_000_000,
        "sent at read time, not in 2099: {}",
        skewed.ts
    );
    let record: serde_json::Value = serde_json::from_str(&skewed.line).unwrap();
    assert_eq!(
        record["ts"], "2099-01-01T00:00:00.000000000Z",
        "the record keeps its own time"
    );
    assert_eq!(
        agent.metric(
            "vigia_loki_lines_rewritten_total{component=\"loki\",reason=\"event_time_out_of_range\"}"
        ),
        Some(1.0)
    );
}
