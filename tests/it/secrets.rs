//! No configured secret reaches what vigia shows: `check-config`, `/readyz`, `/metrics` and
//! its own logs at debug level, even when the upstream is a gateway that echoes the request's
//! credentials in its error bodies, and even for the admin API's own bearer token.

use crate::support::agent::{Agent, http_get, http_get_bearer, vigia};
use crate::support::http_server::{Answer, serve};
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use std::time::Duration;

const LOKI_PASSWORD: &str = "hunter2-loki-pass";
const GATEWAY_KEY: &str = "k3y-gateway-7f3a";
const MIMIR_TOKEN: &str = "eyJ-mimir-token-9c1d";

/// A gateway that fails Loki pushes (500: retried, /readyz turns) and refuses remote writes
/// (401: dropped), echoing every request header in its error body.
async fn echoing_gateway(request: Request<hyper::body::Incoming>) -> Answer {
    let headers: Vec<String> = request
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("")))
        .collect();
    let status = if request.uri().path().contains("push") {
        500
    } else {
        401
    };
    Ok(Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(format!(
            "denied; your request was:\n{}",
            headers.join("\n")
        ))))
        .unwrap())
}

#[test]
fn no_configured_secret_reaches_check_config_readyz_metrics_or_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    let (stop_gateway, _thread) = serve(listener, echoing_gateway);

    let jwks = crate::support::keys::rotate(dir.path(), None);
    let admin_token = crate::support::keys::issue(dir.path(), "metrics:read regressions:read");
    assert!(admin_token.len() > 100);

    let config = dir.path().join("vigia.yaml");
    std::fs::write(
        &config,
        format!(
            "data_dir: {data}\nadmin:\n  auth:\n    jwks_file: {jwks}\nsources:\n  app: {{type: stdin}}\nsinks:\n  loki:\n    type: loki\n    endpoint: {gateway}/loki/api/v1/push\n    auth:\n      basic: {{username: vigia, password: \"${{LOKI_PASSWORD}}\"}}\n    headers:\n      X-Api-Key: ${{GATEWAY_KEY}}\n    retry: {{initial_backoff: 50ms, max_backoff: 200ms}}\n    unhealthy_after: 1s\n  mimir:\n    type: prometheus_remote_write\n    endpoint: {gateway}/api/v1/write\n    auth:\n      bearer: {{token: \"${{MIMIR_TOKEN}}\"}}\n    self_metrics: {{interval: 1s}}\n",
            data = dir.path().join("data").display(),
            jwks = jwks.display(),
        ),
    )
    .unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("vigia:{LOKI_PASSWORD}"));
    let secrets = [
        LOKI_PASSWORD,
        GATEWAY_KEY,
        MIMIR_TOKEN,
        basic.as_str(),
        admin_token.as_str(),
    ];
    let check = |what: &str, text: &str| {
        for secret in &secrets {
            let shown: String = secret.chars().take(12).collect();
            assert!(
                !text.contains(secret),
                "{what} shows the secret {shown}…:\n{text}"
            );
        }
    };

    let printed = vigia()
        .args(["check-config", config.to_str().unwrap()])
        .env("LOKI_PASSWORD", LOKI_PASSWORD)
        .env("GATEWAY_KEY", GATEWAY_KEY)
        .env("MIMIR_TOKEN", MIMIR_TOKEN)
        .output()
        .unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    check("check-config", &String::from_utf8_lossy(&printed.stdout));
    check(
        "check-config's stderr",
        &String::from_utf8_lossy(&printed.stderr),
    );

    let mut agent = Agent::start_with_env(
        &["--config", config.to_str().unwrap(), "--log-level", "debug"],
        &[
            ("LOKI_PASSWORD", LOKI_PASSWORD),
            ("GATEWAY_KEY", GATEWAY_KEY),
            ("MIMIR_TOKEN", MIMIR_TOKEN),
        ],
    );
    use std::io::Write;
    for i in 0..50 {
        writeln!(agent.stdin(), "level=info msg=\"request {i} served\"").unwrap();
    }
    agent.stdin().flush().unwrap();
    let client = |path: &str, token: Option<&str>| {
        let url = agent.url(path);
        let answer = match token {
            Some(token) => http_get_bearer(&url, token),
            None => http_get(&url),
        };
        answer.map(|(_, body)| body).unwrap_or_default()
    };
    // Until both sinks have been refused a few times and /readyz says so.
    crate::support::wait_for(Duration::from_secs(20), "the sinks to be refused", || {
        let metrics = client("/metrics", Some(&admin_token));
        let loki_failed =
            metrics.contains("vigia_loki_requests_total{component=\"loki\",status=\"500\"}");
        let mimir_refused = metrics
            .contains("vigia_remote_write_requests_total{component=\"mimir\",status=\"401\"}");
        (loki_failed && mimir_refused).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let readyz = client("/readyz", None);
    let metrics = client("/metrics", Some(&admin_token));
    let openapi = client("/api/v1/openapi.json", Some(&admin_token));
    check("/readyz", &readyz);
    check("/metrics", &metrics);
    check("/api/v1/openapi.json", &openapi);
    agent.close_stdin();
    agent.signal("TERM");
    agent.wait(Duration::from_secs(20));
    let logs = agent.logs().join("\n");
    assert!(
        logs.contains("401") && logs.contains("500"),
        "the failures are logged:\n{logs}"
    );
    check("the agent's logs", &logs);
    let _ = stop_gateway.send(());
}
