//! Acceptance of the secure admin API with a real Prometheus: it scrapes vigia over TLS with
//! a bearer token from `credentials_file`; meanwhile the signing keys rotate three times (on
//! the injected clock of `vigia keys rotate --now`, a day apart), the token is re-issued
//! after each, and the server certificate is renewed. Every scrape succeeds, and the agent is
//! the same process throughout.

use crate::support::agent::Agent;
use crate::support::keys;
use crate::support::prometheus::Prometheus;
use crate::support::tls::TestCa;
use std::path::Path;
use std::time::{Duration, Instant};

const DAY: u64 = 86_400;

/// Keys rotated at `now` (on the injected clock); a token issued now, written where
/// Prometheus reads it.
fn rotate(dir: &Path, now: u64) {
    keys::rotate(dir, Some(now));
    let token = keys::issue(dir, "metrics:read");
    let temporary = dir.join("token.tmp");
    std::fs::write(&temporary, token).unwrap();
    std::fs::rename(&temporary, dir.join("token")).unwrap();
}

fn value(result: &[serde_json::Value]) -> Option<f64> {
    result.first()?["value"][1].as_str()?.parse().ok()
}

#[test]
fn prometheus_scrapes_over_tls_with_rotating_tokens_and_keys_and_never_fails() {
    let _paced = crate::support::PACED.read().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("vigia test CA");
    std::fs::write(dir.path().join("ca.pem"), &ca.pem).unwrap();
    let (cert, key) = (dir.path().join("admin.pem"), dir.path().join("admin.key"));
    ca.write(&["localhost", "127.0.0.1"], &cert, &key);
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    rotate(dir.path(), start);

    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nadmin:\n  auth:\n    jwks_file: {jwks}\n    reload_interval: 1s\n  tls:\n    cert_file: {cert}\n    key_file: {key}\nsources:\n  in: {{type: stdin}}\nsinks:\n  out: {{type: console}}\n",
            data = dir.path().join("data").display(),
            jwks = dir.path().join("jwks.json").display(),
            cert = cert.display(),
            key = key.display(),
        ),
    )
    .unwrap();
    let agent = Agent::start(&["--config", config.to_str().unwrap()]);
    let pid = agent.pid();
    let job = format!(
        "  - job_name: vigia\n    scheme: https\n    tls_config:\n      ca_file: {ca}\n      server_name: localhost\n    authorization:\n      type: Bearer\n      credentials_file: {token}\n    static_configs:\n      - targets: ['{target}']\n",
        ca = dir.path().join("ca.pem").display(),
        token = dir.path().join("token").display(),
        target = agent.admin,
    );
    let prometheus_dir = dir.path().join("prometheus");
    std::fs::create_dir_all(&prometheus_dir).unwrap();
    let prometheus = Prometheus::start_with(&prometheus_dir, &job, &[]);
    crate::support::wait_for(Duration::from_secs(60), "the first scrape over TLS", || {
        value(&prometheus.query("up{job=\"vigia\"}")).filter(|up| *up == 1.0)
    });

    // Three rotations a (simulated) day apart, seconds apart in real time; the server
    // certificate is renewed between the first and the second. The run outlasts the admin
    // server's 30 s connection lifetime, so Prometheus reconnects and meets the renewed
    // certificate.
    let began = Instant::now();
    for day in 1..=3u64 {
        std::thread::sleep(Duration::from_secs(8));
        rotate(dir.path(), start + day * DAY);
        if day == 1 {
            std::thread::sleep(Duration::from_secs(2));
            ca.write(&["localhost", "127.0.0.1"], &cert, &key);
        }
    }
    std::thread::sleep(Duration::from_secs(10));
    let window = began.elapsed().as_secs() + 2;

    let scrapes =
        value(&prometheus.query(&format!("count_over_time(up{{job=\"vigia\"}}[{window}s])")));
    let lowest =
        value(&prometheus.query(&format!("min_over_time(up{{job=\"vigia\"}}[{window}s])")));
    let refused = value(&prometheus.query("sum(vigia_admin_auth_failures_total)"));
    let key_reloads = value(&prometheus.query("vigia_admin_auth_key_reloads_total{result=\"ok\"}"));
    let tls_reloads =
        value(&prometheus.query("vigia_tls_reloads_total{component=\"admin\",result=\"ok\"}"));
    eprintln!(
        "over {window}s: {scrapes:?} scrapes, min(up) {lowest:?}, refusals {refused:?}, key reloads {key_reloads:?}, certificate reloads {tls_reloads:?}"
    );
    assert!(
        scrapes.unwrap_or(0.0) >= (window as f64) * 0.7,
        "scrapes: {scrapes:?}"
    );
    assert_eq!(lowest, Some(1.0), "a scrape failed");
    assert_eq!(refused, Some(0.0), "a request was refused");
    assert_eq!(key_reloads, Some(3.0), "each rotation's key set was loaded");
    assert_eq!(tls_reloads, Some(1.0), "the renewed certificate was loaded");
    assert_eq!(agent.pid(), pid);
    assert!(
        std::fs::metadata(format!("/proc/{pid}")).is_ok(),
        "the agent is the same process"
    );
}
