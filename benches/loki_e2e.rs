//! End-to-end delivery harness (not a timed test): a file of 200-byte JSON lines → `vigia run`
//! (file source, normalization, Loki sink) → the strict in-repo Loki receiver, which decodes
//! and acknowledges every request. Reports lines/s, MB/s, CPU seconds per GB and peak RSS.
//!
//! `cargo bench --bench loki_e2e` (LINES=… to change the corpus size); figures in
//! docs/benchmarks.md.

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/process.rs"]
mod process;

#[path = "../tests/it/support/http_server.rs"]
mod http_server;

#[path = "../tests/it/support/loki.rs"]
#[allow(dead_code)]
mod loki;

use std::io::Write;
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let lines: u64 = std::env::var("LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&log).unwrap());
    let mut bytes = 0u64;
    // Yesterday: Loki refuses lines older than a week, and lines from the future.
    let date = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    for i in 0..lines {
        let mut line = corpus::json_line_on(&date, i as usize);
        line.push('\n');
        bytes += line.len() as u64;
        file.write_all(line.as_bytes()).unwrap();
    }
    file.flush().unwrap();
    drop(file);

    // The default configuration buffers on disk; BUFFER=memory measures `when_full: block`,
    // BUFFER=disk-normal the disk buffer without fsync.
    let buffer = match std::env::var("BUFFER").as_deref() {
        Ok("memory") => "    buffer:\n      when_full: block\n",
        Ok("disk-normal") => {
            "    buffer:\n      when_full: disk\n      disk:\n        sync: normal\n"
        }
        _ => "",
    };
    let buffer = match std::env::var("MEMORY_BUFFER") {
        Ok(size) if buffer.is_empty() => format!("    buffer:\n      max_bytes: {size}\n"),
        _ => buffer.to_owned(),
    };
    let receiver = loki::LokiReceiver::start();
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nsources:\n  app:\n    type: file\n    include: [\"{log}\"]\n    read_from: beginning\nsinks:\n  loki:\n    type: loki\n    endpoint: {url}\n{buffer}",
            data = dir.path().join("data").display(),
            log = log.display(),
            url = receiver.url(),
        ),
    )
    .unwrap();
    let started = Instant::now();
    // VIGIA_CPU=n pins vigia to that core (`taskset`), to measure it on one core while the
    // receiver runs on the others.
    let mut command = match std::env::var("VIGIA_CPU") {
        Ok(cpu) => {
            let mut taskset = std::process::Command::new("taskset");
            taskset.args(["-c", &cpu, env!("CARGO_BIN_EXE_vigia")]);
            taskset
        }
        Err(_) => std::process::Command::new(env!("CARGO_BIN_EXE_vigia")),
    };
    let mut child = command
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
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak_rss_kib = 0;
    loop {
        peak_rss_kib = peak_rss_kib.max(process::proc_field(pid, "status", "VmHWM:").unwrap_or(0));
        if receiver.received_count() as u64 >= lines || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = process::cpu_seconds(pid);
    let _ = child.kill();
    let _ = child.wait();
    let received = receiver.received_count() as u64;
    assert_eq!(received, lines, "every line delivered");
    println!(
        "loki_e2e: {lines} lines of {} B, {:.1} MB, buffer {}",
        bytes / lines,
        bytes as f64 / 1e6,
        std::env::var("BUFFER").unwrap_or_else(|_| "default (disk)".to_owned())
    );
    println!(
        "  throughput   {:>10.0} lines/s   {:.1} MB/s",
        lines as f64 / elapsed,
        bytes as f64 / 1e6 / elapsed
    );
    println!(
        "  CPU          {:>10.2} s per GB ({:.2} s in all)",
        cpu / (bytes as f64 / 1e9),
        cpu
    );
    println!(
        "  per core     {:>10.0} lines/s of CPU time",
        lines as f64 / cpu
    );
    println!("  peak RSS     {:>10.1} MiB", peak_rss_kib as f64 / 1024.0);
}
