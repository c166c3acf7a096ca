//! A rustls server configuration whose certificate, key and client CA follow their files:
//! the certificate is chosen per handshake, so a renewed one is served from the next
//! connection on.

use super::watch::Watched;
use super::{CHECK_EVERY, provider, read_certified_key, read_roots};
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the server's TLS files are.
#[derive(Debug, Clone)]
pub struct ServerTlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// Client certificates are required, and checked against these CAs.
    pub client_ca_file: Option<PathBuf>,
}

/// A server configuration (HTTP/1.1) following `files`; `reported(ok)` counts each reload.
pub fn server_config(
    files: &ServerTlsFiles,
    reported: impl Fn(bool) + Send + Sync + Clone + 'static,
) -> Result<rustls::ServerConfig, String> {
    let (cert, key) = (files.cert_file.clone(), files.key_file.clone());
    let certified = Watched::open(
        format!("TLS certificate {}", cert.display()),
        vec![cert.clone(), key.clone()],
        CHECK_EVERY,
        move || read_certified_key(&cert, &key),
        reported.clone(),
    )?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &files.client_ca_file {
        Some(ca) => {
            let ca = ca.clone();
            let verifier = Watched::open(
                format!("client CA {}", ca.display()),
                vec![ca.clone()],
                CHECK_EVERY,
                move || {
                    WebPkiClientVerifier::builder_with_provider(
                        Arc::new(read_roots(&ca)?),
                        provider(),
                    )
                    .build()
                    .map_err(|e| e.to_string())
                },
                reported,
            )?;
            builder.with_client_cert_verifier(Arc::new(FollowedClientVerifier(verifier)))
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(Arc::new(FollowedCertificate(certified)));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

struct FollowedCertificate(Watched<Arc<CertifiedKey>>);

impl std::fmt::Debug for FollowedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowedCertificate")
    }
}

impl ResolvesServerCert for FollowedCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.get()))
    }
}

struct FollowedClientVerifier(Watched<Arc<dyn ClientCertVerifier>>);

impl std::fmt::Debug for FollowedClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowedClientVerifier")
    }
}

impl ClientCertVerifier for FollowedClientVerifier {
    /// No hints: they would borrow from a CA set that can be replaced mid-handshake, and
    /// clients with one certificate (Prometheus) send it anyway.
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0
            .get()
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.get().supported_verify_schemes()
    }
}
