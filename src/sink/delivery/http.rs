//! One HTTP request of a sink, sent and classified: the shared client set-up (TLS, timeouts,
//! vigia's User-Agent that configuration cannot override), extra headers, basic or bearer
//! authentication read from files that rotate, and what an answer means for the request.

use super::Answer;
use super::config::{DeliverySettings, HttpAuth};
use crate::settings::secret::Secret;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Sends bodies to one URL.
pub struct HttpSender {
    http: reqwest::Client,
    url: String,
    headers: HeaderMap,
    auth: Option<Auth>,
    statuses: Statuses,
}

/// What a receiver's statuses mean.
#[derive(Debug, Clone, Copy)]
pub struct Statuses {
    /// Names the receiver in errors and warnings.
    pub peer: &'static str,
    /// Refused for good: retrying would fail the same way (Loki: 400, 413, 422; remote
    /// write: every 4xx but 429). Other failures are retried.
    pub refused: fn(u16) -> bool,
    /// A 2xx that is not the receiver's usual answer (counted and warned about).
    pub unexpected_success: fn(u16) -> bool,
}

/// What a request carries besides the body.
pub struct Body<'a> {
    pub bytes: bytes::Bytes,
    pub content_type: &'a str,
    pub content_encoding: Option<&'a str>,
    /// Protocol headers (they replace configured ones of the same name).
    pub protocol_headers: &'a [(&'a str, &'a str)],
}

impl HttpSender {
    pub fn new(
        settings: &DeliverySettings,
        url: &str,
        extra_headers: &[(&str, &str)],
        statuses: Statuses,
    ) -> anyhow::Result<Self> {
        let tls = &settings.tls;
        let builder = crate::http_client::with_tls(
            crate::http_client::builder(settings.request_timeout)
                .pool_idle_timeout(Duration::from_secs(60)),
            crate::http_client::TlsFiles {
                ca_file: tls.ca_file.as_deref(),
                cert_file: tls.cert_file.as_deref(),
                key_file: tls.key_file.as_deref(),
                insecure_skip_verify: tls.insecure_skip_verify,
            },
            statuses.peer,
        )?;
        let mut headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            // vigia says who it is: a configured User-Agent is ignored.
            if name.eq_ignore_ascii_case("user-agent") {
                continue;
            }
            headers.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value.expose())?,
            );
        }
        for (name, value) in extra_headers {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        let auth = settings.auth.as_ref().map(|auth| match auth {
            HttpAuth::Basic {
                username,
                password,
                password_file,
            } => Auth::Basic {
                username: username.clone(),
                password: Credential::new(password.as_ref(), password_file.as_ref()),
            },
            HttpAuth::Bearer { token, token_file } => {
                Auth::Bearer(Credential::new(token.as_ref(), token_file.as_ref()))
            }
        });
        Ok(Self {
            http: builder.build()?,
            url: url.to_owned(),
            headers,
            auth,
            statuses,
        })
    }

    /// Posts `body` and says what the answer means.
    pub async fn post(&mut self, body: Body<'_>) -> Answer {
        // The protocol's headers replace any configured header of the same name.
        let mut headers = self.headers.clone();
        let protocol = [
            ("content-type", Some(body.content_type)),
            ("content-encoding", body.content_encoding),
        ];
        for (name, value) in protocol
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .chain(body.protocol_headers.iter().copied())
        {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.insert(name, value);
            }
        }
        let mut request = self.http.post(&self.url).headers(headers).body(body.bytes);
        request = match &mut self.auth {
            Some(Auth::Basic { username, password }) => {
                request.basic_auth(username.as_str(), Some(password.current()))
            }
            Some(Auth::Bearer(token)) => request.bearer_auth(token.current()),
            None => request,
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Answer::Retry {
                    status: None,
                    retry_after: None,
                    reason: self.scrub(error_chain(&error)),
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        match status {
            200..=299 => Answer::Accepted {
                status,
                unexpected: (self.statuses.unexpected_success)(status),
            },
            status if (self.statuses.refused)(status) => {
                let body = self.scrub(read_capped(response).await);
                Answer::Refused {
                    status,
                    body: body.chars().take(1024).collect(),
                }
            }
            _ => {
                let body = self.scrub(read_capped(response).await);
                Answer::Retry {
                    status: Some(status),
                    retry_after,
                    reason: body.chars().take(256).collect(),
                }
            }
        }
    }
}

impl HttpSender {
    /// `text` (an upstream's error body, an error message) without the credentials this
    /// sender sends: a gateway that echoes the request in its error page must not put them in
    /// vigia's logs, metrics or `/readyz`.
    fn scrub(&mut self, mut text: String) -> String {
        let mut sent: Vec<String> = self
            .headers
            .values()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect();
        match &mut self.auth {
            Some(Auth::Basic { username, password }) => {
                use base64::Engine;
                let password = password.current().to_owned();
                sent.push(
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}")),
                );
                sent.push(password);
            }
            Some(Auth::Bearer(token)) => sent.push(token.current().to_owned()),
            None => {}
        }
        // Short values (a tenant id, `true`) are not credentials and would garble the text.
        for secret in sent.iter().filter(|s| s.len() >= 8) {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        text
    }
}

/// A secret read from the configuration or from a file, re-read when the file changes (a
/// rotated Kubernetes secret).
struct Credential {
    value: String,
    file: Option<(PathBuf, Option<SystemTime>)>,
}

impl Credential {
    fn new(value: Option<&Secret>, file: Option<&String>) -> Self {
        Self {
            value: value.map(|v| v.expose().to_owned()).unwrap_or_default(),
            file: file.map(|f| (PathBuf::from(f), None)),
        }
    }

    fn current(&mut self) -> &str {
        if let Some((path, seen)) = &mut self.file {
            let modified = std::fs::metadata(&*path).and_then(|m| m.modified()).ok();
            if seen.is_none() || modified != *seen {
                match std::fs::read_to_string(&*path) {
                    Ok(text) => {
                        self.value = text.trim().to_owned();
                        *seen = modified;
                    }
                    Err(error) => {
                        tracing::warn!(file = %path.display(), %error, "cannot read a credential");
                    }
                }
            }
        }
        &self.value
    }
}

enum Auth {
    Basic {
        username: String,
        password: Credential,
    },
    Bearer(Credential),
}

/// The most of an error body read: a receiver's are a line or two; a proxy's error page, or a
/// gzip bomb, must not cost memory.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// An error response's body (decoded), at most [`MAX_ERROR_BODY_BYTES`]; the rest is not read.
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ERROR_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(0) as u64))
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn an_error_body_is_read_only_up_to_its_cap() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A 32 MiB error page, sent as fast as the client reads it.
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let size = 32 << 20;
            let head =
                format!("HTTP/1.1 503 Service Unavailable\r\ncontent-length: {size}\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            let block = vec![b'x'; 1 << 20];
            for _ in 0..32 {
                if stream.write_all(&block).await.is_err() {
                    return;
                }
            }
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::get(format!("http://{addr}/")).await.unwrap();
        let body = read_capped(response).await;
        assert_eq!(body.len(), MAX_ERROR_BODY_BYTES);
        server.abort();
    }
}
