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

/// `builder` with `tls` applied; `peer` names the destination in errors and warnings.
pub fn with_tls(
    mut builder: reqwest::ClientBuilder,
    tls: TlsFiles<'_>,
    peer: &str,
) -> anyhow::Result<reqwest::ClientBuilder> {
    if let Some(ca) = tls.ca_file {
        let pem =
            std::fs::read(ca).map_err(|e| anyhow::anyhow!("cannot read the CA file {ca}: {e}"))?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    if let (Some(cert), Some(key)) = (tls.cert_file, tls.key_file) {
        let mut pem = std::fs::read(cert)
            .map_err(|e| anyhow::anyhow!("cannot read the client certificate {cert}: {e}"))?;
        pem.extend(
            std::fs::read(key)
                .map_err(|e| anyhow::anyhow!("cannot read the client key {key}: {e}"))?,
        );
        builder = builder.identity(reqwest::Identity::from_pem(&pem)?);
    }
    if tls.insecure_skip_verify {
        tracing::warn!(
            peer,
            "TLS certificate verification is off (insecure_skip_verify)"
        );
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}
