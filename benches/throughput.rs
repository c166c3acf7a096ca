//! End-to-end throughput (not a timed test): the whole `vigia run` binary, a `file` source and
//! the `loki` sink with its defaults (disk buffer, every built-in redaction rule), pushing to a
//! local sink that answers 204 to everything — the setup of step 14's comparison with Fluent
//! Bit. A run ends when vigia's own counters show every byte read and every event read
//! delivered; CPU time and peak RSS come from `/proc`.
//!
//! `cargo bench --bench throughput` (or `bench/throughput.sh`). Options:
//! - `CORPUS=json,access,mixed` (default all three), `LINES` (default 1,000,000), `RUNS` (3);
//! - `FILES=n` spreads the lines over n files; `CPUS=0` or `CPUS=0,1` pins vigia (`taskset`);
//! - `BUFFER=memory` uses the memory buffer (`when_full: block`) instead of the default;
//! - `PERF_DATA=/tmp/perf.data` attaches `perf record -g` to vigia for the run (profile with
//!   `perf report -i /tmp/perf.data`); `PERF_CALL_GRAPH=dwarf` unwinds without frame pointers;
//! - `VIGIA_BIN=path` runs that binary instead of this tree's (another commit's build, to
//!   compare two builds on the same host at the same hour).
//!
//! Figures in docs/benchmarks.md.

#[path = "support/ack_sink.rs"]
mod ack_sink;
#[path = "support/process.rs"]
#[allow(dead_code)]
mod process;
#[path = "support/real_corpus.rs"]
mod real_corpus;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Run {
    system_share: f64,
    /// Until every line was read and framed: the rate without the last batch's wait
    /// (`batch.max_wait`, 1 s) and the last acknowledgement.
    read_lines_per_second: f64,
    lines_per_second: f64,
    lines_per_cpu_second: f64,
    peak_rss_mib: f64,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let lines: usize = env("LINES", "1000000").parse().unwrap();
    let runs: usize = env("RUNS", "3").parse().unwrap();
    let files: usize = env("FILES", "1").parse::<usize>().unwrap().max(1);
    let cpus = std::env::var("CPUS").ok();
    let memory_buffer = env("BUFFER", "") == "memory";
    for corpus in env("CORPUS", "json,access,mixed").split(',') {
        let dir = tempfile::tempdir().unwrap();
        let bytes = write_corpus(corpus, lines, files, dir.path());
        let mut results = Vec::new();
        for run in 0..runs {
            let result = run_once(dir.path(), bytes, cpus.as_deref(), memory_buffer, run);
            println!(
                "  {corpus} run {}: {:.0} lines/s ({:.0} until read), {:.0} lines per CPU-second ({:.0} % in the kernel), peak RSS {:.1} MiB",
                run + 1,
                result.lines_per_second,
                result.read_lines_per_second,
                result.lines_per_cpu_second,
                100.0 * result.system_share,
                result.peak_rss_mib
            );
            results.push(result);
        }
        let spread = |f: fn(&Run) -> f64| {
            let mut v: Vec<f64> = results.iter().map(f).collect();
            v.sort_by(f64::total_cmp);
            (v[v.len() / 2], v[0], v[v.len() - 1])
        };
        let (wall, wall_lo, wall_hi) = spread(|r| r.lines_per_second);
        let (read, read_lo, read_hi) = spread(|r| r.read_lines_per_second);
        let (cpu, cpu_lo, cpu_hi) = spread(|r| r.lines_per_cpu_second);
        let (rss, rss_lo, rss_hi) = spread(|r| r.peak_rss_mib);
        println!(
            "throughput {corpus}: {lines} lines ({:.0} B/line) in {files} file(s), cpus {}, buffer {}\n\
             | lines/s (wall, to the last ack) median [min–max] | lines/s until read | lines per CPU-second | peak RSS (MiB) |\n\
             | {wall:.0} [{wall_lo:.0}–{wall_hi:.0}] | {read:.0} [{read_lo:.0}–{read_hi:.0}] | {cpu:.0} [{cpu_lo:.0}–{cpu_hi:.0}] | {rss:.1} [{rss_lo:.1}–{rss_hi:.1}] |",
            bytes as f64 / lines as f64,
            cpus.as_deref().unwrap_or("all"),
            if memory_buffer {
                "memory"
            } else {
                "default (disk)"
            },
        );
    }
}

/// Writes `lines` lines of `corpus` round-robin into `files` files; returns their bytes.
fn write_corpus(corpus: &str, lines: usize, files: usize, dir: &Path) -> u64 {
    let mut rng = fastrand::Rng::with_seed(14);
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let iso = yesterday.format("%Y-%m-%d").to_string();
    let clf = yesterday.format("%d/%b/%Y").to_string();
    let mixed = if corpus == "mixed" {
        real_corpus::mixed_lines()
    } else {
        Vec::new()
    };
    let mut writers: Vec<_> = (0..files)
        .map(|f| std::io::BufWriter::new(std::fs::File::create(log_path(dir, f)).unwrap()))
        .collect();
    let mut bytes = 0;
    for i in 0..lines {
        let mut line = match corpus {
            "json" => real_corpus::json_line(&mut rng, &iso, i),
            "access" => real_corpus::access_line(&mut rng, &clf, i),
            "mixed" => mixed[i % mixed.len()].clone(),
            other => panic!("unknown corpus {other} (json, access, mixed)"),
        };
        line.push('\n');
        bytes += line.len() as u64;
        writers[i % files].write_all(line.as_bytes()).unwrap();
    }
    writers.iter_mut().for_each(|w| w.flush().unwrap());
    bytes
}

fn log_path(dir: &Path, file: usize) -> PathBuf {
    dir.join(format!("app-{file:02}.log"))
}

fn run_once(dir: &Path, bytes: u64, cpus: Option<&str>, memory_buffer: bool, run: usize) -> Run {
    let sink = ack_sink::AckSink::start();
    let data = dir.join(format!("data-{run}"));
    let config = dir.join("vigia.yaml");
    let buffer = if memory_buffer {
        "    buffer:\n      when_full: block\n"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nsources:\n  app:\n    type: file\n    include: [\"{glob}\"]\n    read_from: beginning\nsinks:\n  loki:\n    type: loki\n    endpoint: {url}\n{buffer}",
            data = data.display(),
            glob = dir.join("app-*.log").display(),
            url = sink.url(),
        ),
    )
    .unwrap();
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // VIGIA_BIN runs another build (an older commit's) with the same corpus and sink.
    let vigia_bin = std::env::var("VIGIA_BIN");
    let vigia = vigia_bin.as_deref().unwrap_or(env!("CARGO_BIN_EXE_vigia"));
    let mut command = match cpus {
        Some(list) => {
            let mut taskset = std::process::Command::new("taskset");
            taskset.args(["-c", list, vigia]);
            taskset
        }
        None => std::process::Command::new(vigia),
    };
    let started = Instant::now();
    let mut child = command
        .args(["run", "--config", config.to_str().unwrap()])
        .args(["--admin-listen", &admin.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut perf = std::env::var("PERF_DATA").ok().map(|out| {
        std::process::Command::new("perf")
            .args([
                "record",
                "--call-graph",
                &std::env::var("PERF_CALL_GRAPH").unwrap_or_else(|_| "fp".into()),
                "-F",
                "1999",
                "-o",
                &out,
                "-p",
                &pid.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut peak_rss_kib = 0;
    let mut read_after = None;
    let done = loop {
        peak_rss_kib = peak_rss_kib.max(process::proc_field(pid, "status", "VmHWM:").unwrap_or(0));
        if let Some(counters) = scrape(admin) {
            if counters.bytes_read >= bytes && read_after.is_none() {
                read_after = Some(started.elapsed().as_secs_f64());
            }
            if counters.bytes_read >= bytes && counters.delivered >= counters.events_read {
                break true;
            }
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed().as_secs_f64();
    let (user, system) = process::cpu_split(pid);
    let cpu = user + system;
    let events = scrape(admin).map_or(0, |c| c.events_read);
    if let Some(perf) = perf.as_mut() {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
    assert!(done, "not every line delivered in 600 s");
    let requests = sink.requests.load(std::sync::atomic::Ordering::Relaxed);
    assert!(requests > 0);
    if run == 0 {
        let body = sink.bytes.load(std::sync::atomic::Ordering::Relaxed) as f64;
        println!(
            "  the sink received {requests} requests, {:.1} MB ({:.0} B a line, compressed)",
            body / 1e6,
            body / events.max(1) as f64
        );
    }
    Run {
        read_lines_per_second: events as f64 / read_after.unwrap_or(elapsed),
        system_share: system / cpu.max(0.01),
        lines_per_second: events as f64 / elapsed,
        lines_per_cpu_second: events as f64 / cpu,
        peak_rss_mib: peak_rss_kib as f64 / 1024.0,
    }
}

struct Counters {
    bytes_read: u64,
    events_read: u64,
    delivered: u64,
}

/// vigia's own counters from its `/metrics`.
fn scrape(admin: std::net::SocketAddr) -> Option<Counters> {
    let mut stream = std::net::TcpStream::connect_timeout(&admin, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: vigia\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let sum = |name: &str, filter: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l.contains(filter))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    let events_read = sum("vigia_source_events_total{", "");
    (events_read > 0).then(|| Counters {
        bytes_read: sum("vigia_source_bytes_total{", ""),
        events_read,
        delivered: sum(
            "vigia_source_acknowledged_events_total{",
            "status=\"delivered\"",
        ),
    })
}
