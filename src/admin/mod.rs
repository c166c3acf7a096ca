//! The admin server (hyper, HTTP/1.1): `/metrics`, `/healthz`, `/readyz`,
//! `/api/v1/regressions`. Liveness and readiness come from
//! [`telemetry::health`](crate::telemetry::health), where the components report.

pub use crate::telemetry::health::{ComponentHealth, Health};

use crate::metrics::exposition::Format;
use crate::telemetry::AgentMetrics;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A client that has not sent its request headers by then is disconnected.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct AdminState {
    pub metrics: Arc<AgentMetrics>,
    pub health: Health,
    /// What the scrape targets exposed last.
    pub scrape: Arc<crate::metrics::scrape::ScrapeStore>,
    /// The latency regression detector, when it runs.
    pub latency: Option<Arc<crate::latency::monitor::LatencyMonitor>>,
}

/// Binds the admin address; failing here is a startup error the user must see.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: AdminState, stop: CancellationToken) {
    loop {
        let (stream, _peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(%error, "admin server cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&state, request)) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

fn route(state: &AdminState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let known = matches!(
        path,
        "/metrics" | "/healthz" | "/readyz" | "/api/v1/regressions"
    );
    if !known {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not found", "endpoints": ["/metrics", "/healthz", "/readyz", "/api/v1/regressions"]}),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"error": "method not allowed"}),
        );
        response
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match path {
        "/metrics" => {
            let format = request
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .map_or(Format::Text, Format::negotiate);
            Response::builder()
                .status(StatusCode::OK)
                .header(CONTENT_TYPE, format.content_type())
                .body(Full::new(Bytes::from(crate::metrics::serve::exposition(
                    &state.metrics,
                    &state.scrape,
                    format,
                ))))
                .expect("static response parts are valid")
        }
        "/api/v1/regressions" => match &state.latency {
            Some(monitor) => json(StatusCode::OK, &monitor.report()),
            None => json(
                StatusCode::NOT_FOUND,
                &serde_json::json!({"error": "latency detection is off: no access-log RED metrics (metrics.from_logs) and no latency.probe, or latency.detect is false"}),
            ),
        },
        "/healthz" => {
            if state.health.is_live() {
                json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
            } else {
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({"status": "stalled", "reason": "the runtime has not run the heartbeat task recently"}),
                )
            }
        }
        _ => {
            let readiness = state.health.readiness();
            let status = if readiness.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json(status, &readiness)
        }
    }
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
