//! The admin server under a hostile neighbour: thousands of idle connections and clients
//! that ask for /metrics and never read. The kubelet's probe must still be answered at once,
//! and the agent's descriptors and memory must stay bounded.

use crate::support::agent::Agent;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const IDLE: usize = 2_000;
const SLOW_READERS: usize = 200;

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One probe on a new connection: the time until the whole answer is read.
fn probe(addr: std::net::SocketAddr) -> (Duration, String) {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: vigia\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    (started.elapsed(), answer)
}

#[test]
fn probes_are_answered_at_once_beside_two_thousand_idle_connections_and_slow_readers() {
    // The test holds 2,200 sockets itself.
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < 8_192 {
        rlimit::Resource::NOFILE.set(hard.min(8_192), hard).unwrap();
    }
    let agent = Agent::start(&[]);
    let pid = agent.pid();
    let (baseline_descriptors, baseline_rss) = (open_descriptors(pid), rss_kib(pid));

    let mut hostile = Vec::with_capacity(IDLE + SLOW_READERS);
    for _ in 0..IDLE {
        hostile.push(TcpStream::connect(agent.admin).unwrap());
    }
    for _ in 0..SLOW_READERS {
        let mut stream = TcpStream::connect(agent.admin).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: vigia\r\n\r\n")
            .unwrap();
        hostile.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));

    let mut times = Vec::new();
    for _ in 0..20 {
        let (took, answer) = probe(agent.admin);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        times.push(took);
        std::thread::sleep(Duration::from_millis(20));
    }
    times.sort();
    let descriptors = open_descriptors(pid);
    let rss = rss_kib(pid);
    eprintln!(
        "probe times: median {:?}, max {:?}; descriptors {baseline_descriptors} -> {descriptors}; RSS {baseline_rss} -> {rss} KiB",
        times[times.len() / 2],
        times[times.len() - 1]
    );
    assert!(
        times[times.len() - 1] < Duration::from_millis(100),
        "/healthz took {times:?}"
    );
    assert!(
        descriptors <= baseline_descriptors + vigia::admin::MAX_CONNECTIONS + 8,
        "descriptors {baseline_descriptors} -> {descriptors}"
    );
    assert!(
        rss < baseline_rss + 32 * 1024,
        "RSS {baseline_rss} -> {rss} KiB"
    );
    let evicted = agent
        .metric("vigia_admin_connections_evicted_total")
        .unwrap_or(0.0);
    assert!(
        evicted >= (IDLE + SLOW_READERS - vigia::admin::MAX_CONNECTIONS) as f64,
        "{evicted}"
    );
    drop(hostile);
}
