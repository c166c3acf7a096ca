//! TLS files that rotate under a running agent (cert-manager renews a certificate, a Secret
//! is updated): loaded once at start, where a bad file is an error, then checked at most every
//! [`CHECK_EVERY`] during handshakes and loaded again when they changed. A new version that
//! does not load keeps the last good one, counted and logged. No restart, ever.

pub mod client;
pub mod server;
pub mod watch;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Handshakes check the files at most this often (one `stat` each).
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The process's rustls crypto provider (ring, as every client vigia builds).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certificates)
}

/// A certificate chain and its key, checked to belong together.
pub fn read_certified_key(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let chain = read_certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key_file.display()))?;
    let certified = rustls::sign::CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| format!("{} and {}: {e}", cert_file.display(), key_file.display()))?;
    Ok(Arc::new(certified))
}

/// Trust anchors from a PEM bundle.
pub fn read_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in read_certificates(path)? {
        roots
            .add(certificate)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(roots)
}
