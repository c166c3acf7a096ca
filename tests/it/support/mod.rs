//! Shared test support: running the real `vigia` binary, golden files, bounded waits.

pub mod agent;
pub mod daemon;
pub mod files;
pub mod golden;
pub mod http_server;
pub mod keys;
pub mod loki;
pub mod prometheus;
pub mod remote_write;
pub mod target;
pub mod tls;
pub mod writer;

use std::time::{Duration, Instant};

/// An HTTP client for talking to the agent and test servers (rustls needs its crypto provider
/// installed once per process).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

/// Tests that pace themselves against the clock (the fault matrix: a writer at 5,000 lines/s,
/// outages and kills at set seconds) share this; a test that loads the 2-core machine with
/// real servers for a minute (Prometheus, node_exporter) takes it alone, so neither makes
/// the other miss its marks.
pub static PACED: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Polls `check` until it returns `Some` or `timeout` passes. Every wait in the tests is bounded.
pub fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Path of a file under `tests/data`.
pub fn data(relative: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

/// `promtool check metrics` on `exposition`: its exit code and everything it printed.
pub fn promtool_check_metrics(exposition: &[u8]) -> (Option<i32>, String) {
    use std::io::Write;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus package)");
    promtool
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(exposition)
        .expect("promtool reads its input");
    let output = promtool.wait_with_output().expect("promtool finishes");
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code(), report)
}

/// A service health endpoint for the probe: answers 200 to anything, until `stop`.
pub fn health_endpoint(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/healthz", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
                        .unwrap();
                    let mut request = [0u8; 1024];
                    let _ = std::io::Read::read(&mut stream, &mut request);
                    let _ = std::io::Write::write_all(
                        &mut stream,
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                }
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
    });
    url
}
