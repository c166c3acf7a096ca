//! The admin server (hyper, HTTP/1.1): `/metrics`, `/healthz`, `/readyz`,
//! `/api/v1/regressions`, `/api/v1/openapi.json` (docs/openapi.json). Liveness and readiness come from
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
/// A connection is closed after this long, whatever it does: a client that asks and never
/// reads (or keeps a connection idle) cannot hold a descriptor and a response for ever.
/// Prometheus reconnects between scrapes without noticing.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// Connections served at once; more wait in the listen backlog. File sources, checkpoints
/// and sinks need descriptors too.
pub const MAX_CONNECTIONS: usize = 128;
/// The most a request's head may take (hyper's smallest read buffer); no route reads a body.
const MAX_REQUEST_HEAD_BYTES: usize = 8 * 1024;
/// What the server answers; anything else is a 404 that lists them.
const ENDPOINTS: [&str; 5] = [
    "/metrics",
    "/healthz",
    "/readyz",
    "/api/v1/regressions",
    "/api/v1/openapi.json",
];
/// The API's OpenAPI 3.1 description, kept in docs/ and checked against real responses.
pub const OPENAPI: &str = include_str!("../../docs/openapi.json");
/// Concurrent scrapes of `/metrics` within this share one rendering.
const RENDER_REUSE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct AdminState {
    /// The last `/metrics` rendering of each format, shared by scrapes close together.
    pub rendered: Arc<tokio::sync::Mutex<Vec<(Format, std::time::Instant, Bytes)>>>,
    pub metrics: Arc<AgentMetrics>,
    pub health: Health,
    /// What the scrape targets exposed last.
    pub scrape: Arc<crate::metrics::scrape::ScrapeStore>,
    /// The latency regression detector, when it runs.
    pub latency: Option<Arc<crate::latency::monitor::LatencyMonitor>>,
}

impl AdminState {
    pub fn new(
        metrics: Arc<AgentMetrics>,
        health: Health,
        scrape: Arc<crate::metrics::scrape::ScrapeStore>,
        latency: Option<Arc<crate::latency::monitor::LatencyMonitor>>,
    ) -> Self {
        Self {
            rendered: Arc::default(),
            metrics,
            health,
            scrape,
            latency,
        }
    }
}

/// Binds the admin address; failing here is a startup error the user must see.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: AdminState, stop: CancellationToken) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        // At the cap, connections wait in the backlog until one is done.
        let slot = tokio::select! {
            _ = stop.cancelled() => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
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
            let _slot = slot;
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(route(&state, request).await) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_REQUEST_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = tokio::time::sleep(CONNECTION_LIFETIME) => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

async fn route(state: &AdminState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !ENDPOINTS.contains(&path) {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not found", "endpoints": ENDPOINTS}),
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
                .body(Full::new(render_metrics(state, format).await))
                .expect("static response parts are valid")
        }
        "/api/v1/openapi.json" => Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(OPENAPI.as_bytes())))
            .expect("static response parts are valid"),
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

/// `/metrics` in `format`: rendered on the blocking pool (a hundred thousand scraped series
/// take milliseconds the async workers need for delivery), and shared by the scrapes that
/// ask within [`RENDER_REUSE`] of each other, so many scrapers cost one rendering.
async fn render_metrics(state: &AdminState, format: Format) -> Bytes {
    let mut rendered = state.rendered.lock().await;
    if let Some((_, _, body)) = rendered
        .iter()
        .find(|(f, at, _)| *f == format && at.elapsed() < RENDER_REUSE)
    {
        return body.clone();
    }
    let (metrics, scrape) = (state.metrics.clone(), state.scrape.clone());
    let body = tokio::task::spawn_blocking(move || {
        Bytes::from(crate::metrics::serve::exposition(&metrics, &scrape, format))
    })
    .await
    .unwrap_or_default();
    rendered.retain(|(f, _, _)| *f != format);
    rendered.push((format, std::time::Instant::now(), body.clone()));
    body
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
