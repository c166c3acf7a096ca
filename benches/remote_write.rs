//! Remote-write harness (not a timed test): 100 targets × 1,000 series scraped every 15 s by
//! `vigia run` with the default remote-write configuration (disk buffer), pushed to the
//! strict in-repo receiver. Reports samples delivered per CPU-second of vigia and its peak
//! RSS. `TARGETS`, `SERIES`, `ROUNDS` (scrapes per target, 4 by default) change the load.
//!
//! `cargo bench --bench remote_write`; figures in docs/benchmarks.md.

#[path = "support/process.rs"]
mod process;

#[path = "../tests/it/support/http_server.rs"]
mod http_server;

#[path = "../tests/it/support/remote_write.rs"]
#[allow(dead_code)]
mod remote_write;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Serves `/metrics/<n>`: target n's `series` counters (a service's request counter by route
/// and status), their values growing with every scrape.
fn targets(series: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let scrapes = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let scrapes = scrapes.clone();
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let read = stream.read(&mut request).unwrap_or(0);
                let text = String::from_utf8_lossy(&request[..read]);
                let target: usize = text
                    .split_whitespace()
                    .nth(1)
                    .and_then(|path| path.rsplit('/').next()?.parse().ok())
                    .unwrap_or(0);
                let round = scrapes.fetch_add(1, Ordering::Relaxed);
                let mut body = String::with_capacity(series * 110);
                body.push_str("# HELP app_http_requests_total Requests handled.\n# TYPE app_http_requests_total counter\n");
                for i in 0..series {
                    body.push_str(&format!(
                        "app_http_requests_total{{method=\"GET\",route=\"/api/v1/items/{i}\",status=\"{}\",shard=\"{target}\"}} {}\n",
                        [200, 404, 500][i % 3],
                        round * 7 + i as u64
                    ));
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            });
        }
    });
    format!("http://{address}/metrics")
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let target_count = env("TARGETS", 100);
    let series = env("SERIES", 1000);
    let rounds = env("ROUNDS", 4);
    let base = targets(series);
    let receiver = remote_write::WriteReceiver::start();
    receiver.count_only();
    let dir = tempfile::tempdir().unwrap();
    let mut scrape = String::new();
    for n in 0..target_count {
        scrape.push_str(&format!(
            "    t{n}: {{url: {base}/{n}, interval: 15s, timeout: 10s}}\n"
        ));
    }
    // SINK=none: the same scrapes with no remote write (a file source on nothing, the
    // console): what the scrapes alone cost.
    let without_sink = std::env::var("SINK").as_deref() == Ok("none");
    let sinks = if without_sink {
        "sources:\n  none:\n    type: file\n    include: [/nonexistent/*.log]\nsinks:\n  out:\n    type: console\n".to_owned()
    } else {
        format!(
            "sinks:\n  rw:\n    type: prometheus_remote_write\n    endpoint: {}\n",
            receiver.url()
        )
    };
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nmetrics:\n  scrape:\n{scrape}{sinks}",
            data = dir.path().join("data").display(),
        ),
    )
    .unwrap();
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigia"))
        .args([
            "run",
            "--config",
            config.to_str().unwrap(),
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Each scrape: the series and the four report series per target.
    let expected = rounds * target_count * (series + 4);
    let deadline = Instant::now() + Duration::from_secs(15 * rounds as u64 + 60);
    let mut peak_rss_kib = 0;
    let until = started + Duration::from_secs(15 * rounds as u64 - 5);
    while (if without_sink {
        Instant::now() < until
    } else {
        receiver.accepted_count() < expected
    }) && Instant::now() < deadline
    {
        peak_rss_kib = peak_rss_kib.max(process::proc_field(pid, "status", "VmHWM:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    peak_rss_kib = peak_rss_kib.max(process::proc_field(pid, "status", "VmHWM:").unwrap_or(0));
    let cpu = process::cpu_seconds(pid);
    let wall = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let accepted = receiver.accepted_count();
    println!(
        "remote_write: {target_count} targets × {series} series every 15s, {rounds} rounds: \
         {accepted} samples accepted (expected at least {expected}) in {:.1}s wall, \
         {cpu:.2}s CPU: {:.0} samples per CPU-second; peak RSS {:.1} MiB",
        wall.as_secs_f64(),
        accepted as f64 / cpu.max(0.01),
        peak_rss_kib as f64 / 1024.0
    );
    assert!(without_sink || accepted >= expected, "samples missing");
}
