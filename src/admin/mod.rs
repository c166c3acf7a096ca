//! The admin server (hyper, HTTP/1.1, optionally over TLS): `/metrics`, `/healthz`,
//! `/readyz`, `/api/v1/regressions`, `/api/v1/openapi.json` (docs/openapi.json), with bearer
//! JWT authentication when `admin.auth` is set ([`auth`]). Liveness and readiness come from
//! [`telemetry::health`](crate::telemetry::health), where the components report.

pub mod auth;
pub mod config;
pub mod connections;
pub mod routes;

pub use crate::telemetry::health::{ComponentHealth, Health};

pub use connections::MAX_CONNECTIONS;
pub use routes::OPENAPI;

use crate::metrics::exposition::Format;
use crate::telemetry::AgentMetrics;
use bytes::Bytes;
use connections::Connections;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A client that has not finished its TLS handshake and sent its request headers by then is
/// disconnected.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is closed after this long, whatever it does: a client that asks and never
/// reads (or keeps a connection idle) cannot hold a descriptor and a response for ever.
/// Prometheus reconnects between scrapes without noticing.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);
/// How long a connection past its lifetime has to finish the answer in progress.
const GRACEFUL_CLOSE: Duration = Duration::from_secs(5);
/// The most a request's head may take; no route reads a body. Above the 8 KiB a token may
/// take, so that an oversized token is refused (and counted) as such, not as a bad request.
const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

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
    /// The bearer-token gate (`admin.auth`).
    pub auth: Option<Arc<auth::AdminAuth>>,
    /// HTTPS only (`admin.tls`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
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
            auth: None,
            tls: None,
        }
    }

    pub fn with_auth(mut self, auth: Option<Arc<auth::AdminAuth>>) -> Self {
        self.auth = auth;
        self
    }

    pub fn with_tls(mut self, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        self.tls = tls;
        self
    }
}

/// Binds the admin address; failing here is a startup error the user must see.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(address).await
}

/// Serves until `stop` is cancelled. Accepting never waits: past [`MAX_CONNECTIONS`] the
/// oldest idle connection is closed for the new one (see [`connections`]).
pub async fn serve(listener: TcpListener, state: AdminState, stop: CancellationToken) {
    let connections = Connections::new(MAX_CONNECTIONS, state.metrics.admin().clone());
    let tls = state.tls.clone().map(tokio_rustls::TlsAcceptor::from);
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
        // Every connection is being answered: this one is closed at once.
        let Some(admitted) = connections.admit() else {
            continue;
        };
        let (state, stop, tls) = (state.clone(), stop.clone(), tls.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            // The lifetime ends gracefully inside `serve_http`; this is the hard stop.
            let deadline = tokio::time::sleep(CONNECTION_LIFETIME + GRACEFUL_CLOSE);
            tokio::select! {
                _ = serve_connection(stream, tls, state, &admitted) => {}
                _ = deadline => {}
                _ = admitted.close.cancelled() => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AdminState,
    admitted: &connections::Admitted,
) {
    match tls {
        None => serve_http(stream, state, admitted).await,
        Some(acceptor) => {
            match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_http(stream, state, admitted).await,
                Ok(Err(error)) => tracing::debug!(%error, "admin TLS handshake failed"),
                Err(_) => tracing::debug!("admin TLS handshake timed out"),
            }
        }
    }
}

async fn serve_http<IO>(io: IO, state: AdminState, admitted: &connections::Admitted)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let answering = admitted.answering.clone();
    let service = service_fn(move |request| {
        let (state, answering) = (state.clone(), answering.clone());
        async move {
            answering.store(true, Ordering::Release);
            let response = routes::route(&state, request).await;
            answering.store(false, Ordering::Release);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = tokio::time::sleep(CONNECTION_LIFETIME) => {}
    }
    // The answer in progress is finished and the connection closed after it: a keep-alive
    // client (Prometheus) never sees a request cut.
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(GRACEFUL_CLOSE, connection).await;
}
