//! JWT bearer authentication of the admin API (`admin.auth`): keys from a JWKS file that is
//! followed as it rotates ([`jwks_file`]), tokens checked by [`verify`], keys made and
//! rotated and tokens issued by [`keystore`] (`vigia keys rotate`, `vigia token issue`).

pub mod jwks_file;
pub mod keyset;
pub mod keystore;
mod ring_crypto;
pub mod verify;

use crate::admin::config::AuthSettings;
use crate::telemetry::admin::AdminMetrics;
use verify::{Clock, Refusal, Verifier};

/// The admin server's gate: checks a request's `Authorization` and counts each refusal.
pub struct AdminAuth {
    verifier: Verifier,
    metrics: AdminMetrics,
}

impl AdminAuth {
    /// Loads the key set; an unreadable or invalid JWKS file at start is an error.
    pub fn open(
        settings: &AuthSettings,
        metrics: AdminMetrics,
        clock: Clock,
    ) -> Result<Self, String> {
        let keys = jwks_file::JwksFile::open(
            &settings.jwks_file,
            settings.reload_interval,
            Some(metrics.clone()),
        )?;
        Ok(Self {
            verifier: Verifier {
                keys,
                issuer: settings.issuer.clone(),
                audience: settings.audience.clone(),
                max_token_lifetime: settings.max_token_lifetime.as_secs(),
                clock,
            },
            metrics,
        })
    }

    /// Whether `authorization` may read what needs `scope` (`None`: any valid token).
    pub fn check(&self, authorization: Option<&[u8]>, scope: Option<&str>) -> Result<(), Refusal> {
        self.verifier
            .authorize(authorization, scope)
            .map(drop)
            .inspect_err(|refusal| {
                self.metrics.auth_failure(refusal.reason());
                tracing::debug!(reason = refusal.reason(), "admin request refused");
            })
    }
}
