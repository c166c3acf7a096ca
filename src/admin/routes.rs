//! What each endpoint answers, behind the bearer-token gate when `admin.auth` is set.

use super::AdminState;
use super::auth::verify::Refusal;
use crate::metrics::exposition::Format;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use std::time::Duration;

/// What the server answers; anything else is a 404 that lists them.
pub const ENDPOINTS: [&str; 5] = [
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

/// With `admin.auth`: whether `path` needs a token, and the scope it needs (`None`: any
/// valid token). The probes stay open: the kubelet has no credentials.
fn required_scope(path: &str) -> Option<Option<&'static str>> {
    match path {
        "/healthz" | "/readyz" => None,
        "/metrics" => Some(Some("metrics:read")),
        "/api/v1/regressions" => Some(Some("regressions:read")),
        _ => Some(None),
    }
}

pub async fn route(state: &AdminState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !ENDPOINTS.contains(&path) {
        return json(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not found", "endpoints": ENDPOINTS}),
        );
    }
    if let (Some(auth), Some(scope)) = (&state.auth, required_scope(path)) {
        let authorization = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        if let Err(refusal) = auth.check(authorization, scope) {
            return refused(refusal, scope);
        }
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

/// 401 with the RFC 6750 challenge, or 403 naming the scope needed. The body says why in
/// one word; never the token.
fn refused(refusal: Refusal, scope: Option<&str>) -> Response<Full<Bytes>> {
    let (status, challenge, body) = match refusal {
        Refusal::Unauthorized("missing") => (
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="vigia""#.to_owned(),
            serde_json::json!({"error": "unauthorized", "reason": "missing"}),
        ),
        Refusal::Unauthorized(reason) => (
            StatusCode::UNAUTHORIZED,
            r#"Bearer realm="vigia", error="invalid_token""#.to_owned(),
            serde_json::json!({"error": "unauthorized", "reason": reason}),
        ),
        Refusal::Forbidden(reason) => (
            StatusCode::FORBIDDEN,
            format!(
                r#"Bearer realm="vigia", error="insufficient_scope", scope="{}""#,
                scope.unwrap_or("")
            ),
            serde_json::json!({"error": "forbidden", "reason": reason, "scope": scope}),
        ),
    };
    let mut response = json(status, &body);
    if let Ok(value) = hyper::header::HeaderValue::from_str(&challenge) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}
