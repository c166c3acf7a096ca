//! The admin server over real HTTP on an ephemeral port.

use crate::support::agent::{Agent, http_get};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use vigia::admin::{self, AdminState, Health};
use vigia::telemetry::AgentMetrics;

/// Serves an admin server in-process on 127.0.0.1:0; returns its base URL.
async fn serve(health: Health, metrics: Arc<AgentMetrics>) -> (String, CancellationToken) {
    let listener = admin::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    tokio::spawn(admin::serve(
        listener,
        AdminState::new(metrics, health, Default::default(), None),
        stop.clone(),
    ));
    (base, stop)
}

async fn get(url: &str) -> (u16, String, String) {
    let response = crate::support::http_client(std::time::Duration::from_secs(10))
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn readiness_turns_from_503_to_200_and_names_what_is_not_ready() {
    let metrics = Arc::new(AgentMetrics::new());
    let health = Health::new(metrics.clone());
    let source = health.register("source.app");
    let sink = health.register("sink.loki");
    let (base, stop) = serve(health.clone(), metrics).await;

    let (status, content_type, body) = get(&format!("{base}/readyz")).await;
    assert_eq!((status, content_type.as_str()), (503, "application/json"));
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["components"][0]["name"], "sink.loki");
    assert_eq!(body["components"][0]["state"], "starting");

    source.running();
    sink.running();
    let (status, _, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");

    sink.failing("Loki answered 503 for 2m");
    let (status, _, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["components"][0]["reason"], "Loki answered 503 for 2m");

    sink.running();
    health.begin_shutdown();
    let (status, _, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    assert!(body.contains("\"shutting_down\""), "{body}");
    stop.cancel();
}

#[tokio::test]
async fn liveness_metrics_and_errors() {
    let metrics = Arc::new(AgentMetrics::new());
    let health = Health::new(metrics.clone());
    let heartbeat = health.spawn_heartbeat();
    let (base, stop) = serve(health, metrics).await;

    let (status, _, body) = get(&format!("{base}/healthz")).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let (status, content_type, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(body.contains("# TYPE vigia_build_info gauge"));
    assert!(body.contains("vigia_process_resident_memory_bytes"));

    let (status, _, _) = get(&format!("{base}/nope")).await;
    assert_eq!(status, 404);
    let response = crate::support::http_client(std::time::Duration::from_secs(10))
        .post(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");
    heartbeat.abort();
    stop.cancel();
}

/// The real agent's `/metrics`, checked by Prometheus's own linter.
#[test]
fn promtool_accepts_the_agents_metrics() {
    let mut agent = Agent::start(&[]);
    agent
        .stdin()
        .write_all_lines(&["{\"level\":\"info\",\"msg\":\"hello\"}"]);
    let (status, body) = http_get(&agent.url("/metrics")).unwrap();
    assert_eq!(status, 200);
    let (code, report) = crate::support::promtool_check_metrics(body.as_bytes());
    assert!(
        code == Some(0),
        "promtool check metrics:\n{report}\n--- exposition ---\n{body}"
    );
}

trait WriteLines {
    fn write_all_lines(&mut self, lines: &[&str]);
}

impl<W: std::io::Write> WriteLines for W {
    fn write_all_lines(&mut self, lines: &[&str]) {
        for line in lines {
            writeln!(self, "{line}").unwrap();
        }
        self.flush().unwrap();
    }
}

#[tokio::test]
async fn a_failing_components_reason_is_shown_short_and_sanitized() {
    let metrics = Arc::new(AgentMetrics::new());
    let health = Health::new(metrics.clone());
    let sink = health.register("sink.loki");
    let (base, stop) = serve(health, metrics).await;
    sink.failing(format!(
        "no successful request for 120s: <html><body>{}</body></html>\nat internal.Handler(secret.go:42)",
        "gateway error ".repeat(40)
    ));
    let (status, _, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let reason = body["components"][0]["reason"].as_str().unwrap();
    assert!(reason.chars().count() <= 161, "{reason}");
    assert!(!reason.contains("secret.go"), "{reason}");
    stop.cancel();
}
