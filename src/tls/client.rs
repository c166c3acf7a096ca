//! A rustls client configuration whose extra CA and client certificate follow their files
//! (a rotated mTLS certificate for Loki takes effect at the next connection, no restart):
//! the platform's roots plus the CA file, and the client certificate chosen per handshake.

use super::watch::Watched;
use super::{CHECK_EVERY, provider, read_certificates, read_certified_key};
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// TLS files a client trusts and presents.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsFiles {
    /// CA certificates (PEM) trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM), for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Turns certificate verification off (tests only).
    pub insecure_skip_verify: bool,
}

/// A client configuration following `files`; `what` names the peer in logs.
pub fn client_config(files: &ClientTlsFiles, what: &str) -> Result<rustls::ClientConfig, String> {
    let verifier: Arc<dyn ServerCertVerifier> = if files.insecure_skip_verify {
        Arc::new(AnyServer(provider()))
    } else {
        let ca = files.ca_file.clone();
        let load = move || -> Result<Arc<dyn ServerCertVerifier>, String> {
            let extra = match &ca {
                Some(ca) => read_certificates(ca)?,
                None => Vec::new(),
            };
            let verifier =
                rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider())
                    .map_err(|e| e.to_string())?;
            Ok(Arc::new(verifier))
        };
        match &files.ca_file {
            Some(ca) => Arc::new(FollowedServerVerifier(Watched::open(
                format!("{what}: CA file {}", ca.display()),
                vec![ca.clone()],
                CHECK_EVERY,
                load,
                |_| {},
            )?)),
            None => load()?,
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => {
            let (cert, key) = (cert.clone(), key.clone());
            let certified = Watched::open(
                format!("{what}: client certificate {}", cert.display()),
                vec![cert.clone(), key.clone()],
                CHECK_EVERY,
                move || read_certified_key(&cert, &key),
                |_| {},
            )?;
            builder.with_client_cert_resolver(Arc::new(FollowedClientCertificate(certified)))
        }
        _ => builder.with_no_client_auth(),
    };
    if files.ca_file.is_some() {
        // A resumed session skips verification: a CA taken out of the file must stop being
        // trusted at the next connection, not when old tickets expire. Connections are
        // pooled, so full handshakes are rare.
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(config)
}

struct FollowedClientCertificate(Watched<Arc<CertifiedKey>>);

impl std::fmt::Debug for FollowedClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowedClientCertificate")
    }
}

impl ResolvesClientCert for FollowedClientCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0.get()))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

struct FollowedServerVerifier(Watched<Arc<dyn ServerCertVerifier>>);

impl std::fmt::Debug for FollowedServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FollowedServerVerifier")
    }
}

impl ServerCertVerifier for FollowedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .get()
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.get().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.get().supported_verify_schemes()
    }
}

/// `insecure_skip_verify`: any certificate is taken (signatures are still checked).
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
