//! The one way vigia builds an HTTP client (scrapes, Loki, the probe, `check-metrics`): the
//! process-wide rustls crypto provider (ring: no C toolchain beyond cc, builds for musl),
//! timeouts, and vigia's User-Agent; TLS files for the sinks that take them.

use std::time::Duration;

pub const USER_AGENT: &str = concat!("vigia/", env!("CARGO_PKG_VERSION"));

/// A client builder with the whole-request `timeout`, a connect timeout of at most 10 s, and
/// vigia's User-Agent (callers may set another).
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    // Installing the provider a second time is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(USER_AGENT)
}

/// TLS files a client trusts and presents.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFiles<'a> {
    /// CA certificates (PEM) trusted besides the system's.
    pub ca_file: Option<&'a str>,
    /// Client certificate and key (PEM), for mutual TLS.
    pub cert_file: Option<&'a str>,
    pub key_file: Option<&'a str>,
    /// Turns certificate verification off (tests only).
    pub insecure_skip_verify: bool,
}

/// `builder` with `tls` applied; `peer` names the destination in errors and warnings. With
/// any file set, the files are followed: a rotated CA or client certificate is used from the
/// next connection on (see [`crate::tls::client`]).
pub fn with_tls(
    builder: reqwest::ClientBuilder,
    tls: TlsFiles<'_>,
    peer: &str,
) -> anyhow::Result<reqwest::ClientBuilder> {
    let follows = tls.ca_file.is_some() || tls.cert_file.is_some() || tls.insecure_skip_verify;
    if !follows {
        return Ok(builder);
    }
    if tls.insecure_skip_verify {
        tracing::warn!(
            peer,
            "TLS certificate verification is off (insecure_skip_verify)"
        );
    }
    let files = crate::tls::client::ClientTlsFiles {
        ca_file: tls.ca_file.map(Into::into),
        cert_file: tls.cert_file.map(Into::into),
        key_file: tls.key_file.map(Into::into),
        insecure_skip_verify: tls.insecure_skip_verify,
    };
    let config = crate::tls::client::client_config(&files, peer).map_err(|e| anyhow::anyhow!(e))?;
    Ok(builder.tls_backend_preconfigured(config))
}
