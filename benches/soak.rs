//! Soak (not a timed test): a service writing numbered JSON lines with their own time at a
//! steady rate, its log rotated every 200,000 lines (by rename keeping one generation, or
//! `ROTATION=copytruncate`), three
//! Loki outages of 30 s (connections refused), vigia with the default configuration in
//! front of the strict in-repo receiver. Reports peak RSS, CPU, the disk buffer's high
//! water mark, and lines lost and doubled (after Loki's duplicate rule).
//!
//! `bench/soak.sh` (SOAK_SECONDS=600, RATE=50000 by default); figures in docs/benchmarks.md.

#[path = "support/process.rs"]
mod process;

#[path = "../tests/it/support/http_server.rs"]
mod http_server;

#[path = "../tests/it/support/loki.rs"]
#[allow(dead_code)]
mod loki;
#[path = "../tests/it/support/writer.rs"]
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROTATE_EVERY: u64 = 200_000;
const OUTAGE: Duration = Duration::from_secs(30);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How often each seq reached the receiver (after its duplicate rule): one byte a line.
struct Tally(Mutex<Vec<u8>>);

impl Tally {
    fn count(&self, line: &str) {
        let Some(seq) = line
            .split("\"seq\":")
            .nth(1)
            .and_then(|rest| rest.split([',', '}']).next()?.parse::<usize>().ok())
        else {
            return;
        };
        let mut seen = self.0.lock().unwrap();
        if seen.len() <= seq {
            seen.resize(seq + 1, 0);
        }
        seen[seq] = seen[seq].saturating_add(1);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = env("SOAK_SECONDS", 600);
    let rotation = match std::env::var("ROTATION").as_deref() {
        Ok("copytruncate") => writer::Rotation::CopyTruncate,
        _ => writer::Rotation::RenameKeepOne,
    };
    let rate = env("RATE", 50_000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    let log = dir.path().join("logs/app.log");
    let mut receiver = loki::LokiReceiver::start();
    let tally = Arc::new(Tally(Mutex::new(Vec::new())));
    let counting = tally.clone();
    receiver.count_only(Arc::new(move |line| counting.count(line)));
    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nsources:\n  app:\n    type: file\n    include: [\"{log}\"]\nsinks:\n  loki:\n    type: loki\n    endpoint: {url}\n",
            data = dir.path().join("data").display(),
            log = log.display(),
            url = receiver.url(),
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vigia"))
        .args(["run", "--config", config.to_str().unwrap()])
        .args(["--admin-listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();

    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = writer::spawn(
        log.clone(),
        rate,
        ROTATE_EVERY,
        rotation,
        stop.clone(),
        written.clone(),
    );
    let started = Instant::now();
    let outages: Vec<Duration> = (1..=3)
        .map(|n| Duration::from_secs(seconds * n / 4))
        .collect();
    let buffer_dir = dir.path().join("data/buffers/loki");
    let (mut peak_rss_kib, mut peak_disk) = (0u64, 0u64);
    let mut down_until: Option<Instant> = None;
    let mut next_outage = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        peak_rss_kib = peak_rss_kib.max(process::proc_field(pid, "status", "VmHWM:").unwrap_or(0));
        peak_disk = peak_disk.max(dir_bytes(&buffer_dir));
        if next_outage < outages.len() && started.elapsed() >= outages[next_outage] {
            receiver.stop();
            down_until = Some(Instant::now() + OUTAGE);
            next_outage += 1;
        }
        if down_until.is_some_and(|until| Instant::now() >= until) {
            receiver.restart();
            down_until = None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let total = writer.join().unwrap();
    if down_until.is_some() {
        receiver.restart();
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    let delivered = || tally.0.lock().unwrap().iter().filter(|n| **n > 0).count() as u64;
    while delivered() < total && Instant::now() < deadline {
        peak_rss_kib = peak_rss_kib.max(process::proc_field(pid, "status", "VmHWM:").unwrap_or(0));
        std::thread::sleep(Duration::from_millis(200));
    }
    let cpu = process::cpu_seconds(pid);
    let _ = child.kill();
    let _ = child.wait();
    let seen = tally.0.lock().unwrap();
    let missing = (0..total as usize)
        .filter(|s| seen.get(*s).is_none_or(|n| *n == 0))
        .count();
    let doubled = seen.iter().filter(|n| **n > 1).count();
    println!(
        "soak: {seconds} s at {rate} lines/s, {rotation:?} every {ROTATE_EVERY} lines, three {OUTAGE:?} Loki outages, default configuration"
    );
    println!("  lines written      {total:>12}");
    println!("  lines missing      {missing:>12}");
    println!("  lines doubled      {doubled:>12}");
    println!(
        "  re-sent, dropped   {:>12}   (Loki's duplicate rule)",
        receiver.duplicates_dropped()
    );
    println!(
        "  peak RSS           {:>12.1} MiB",
        peak_rss_kib as f64 / 1024.0
    );
    println!(
        "  disk buffer peak   {:>12.1} MiB",
        peak_disk as f64 / 1048576.0
    );
    println!(
        "  CPU                {:>12.1} s ({:.0} lines per CPU-second)",
        cpu,
        total as f64 / cpu.max(0.01)
    );
    assert_eq!(missing, 0, "lines lost");
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
