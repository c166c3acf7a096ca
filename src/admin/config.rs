//! The `admin` section: where the admin server listens, who may read it (JWT bearer tokens
//! checked against a JWKS file), and its TLS. Every field is described in
//! `docs/configuration.md` and `docs/admin-security.md`.

use crate::settings::diagnostics::Diagnostic;
use crate::settings::duration::HumanDuration;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// Address of the admin server (`/metrics`, `/healthz`, `/readyz`, `/api/*`).
    #[serde(default = "default_admin_listen")]
    pub listen: String,
    /// When set, `/metrics` and `/api/*` need `Authorization: Bearer <JWT>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthSection>,
    /// When set, the admin server speaks only HTTPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsSection>,
}

fn default_admin_listen() -> String {
    "0.0.0.0:9100".to_owned()
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            listen: default_admin_listen(),
            auth: None,
            tls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// The verification keys (a JWKS document, usually a mounted Secret), re-read when it
    /// changes.
    pub jwks_file: String,
    /// The `iss` every token must carry.
    #[serde(default = "default_issuer")]
    pub issuer: String,
    /// The `aud` every token must carry (one of its values, when it is a list).
    #[serde(default = "default_audience")]
    pub audience: String,
    /// Tokens valid for longer than this (from `iat`, or from now) are refused.
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime: HumanDuration,
    /// How often the JWKS file is checked for a change.
    #[serde(default = "default_reload_interval")]
    pub reload_interval: HumanDuration,
}

pub const DEFAULT_ISSUER: &str = "vigia-keys";
pub const DEFAULT_AUDIENCE: &str = "vigia";

fn default_issuer() -> String {
    DEFAULT_ISSUER.to_owned()
}

fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}

fn default_max_token_lifetime() -> HumanDuration {
    HumanDuration::from_secs(24 * 3600)
}

fn default_reload_interval() -> HumanDuration {
    HumanDuration::from_secs(30)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsSection {
    /// Certificate chain (PEM), leaf first; re-read when it changes.
    pub cert_file: String,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
    /// When set, clients must present a certificate signed by one of these CAs (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<String>,
}

/// The admin section, checked.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub listen: SocketAddr,
    pub auth: Option<AuthSettings>,
    pub tls: Option<ServerTlsSettings>,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwks_file: PathBuf,
    pub issuer: String,
    pub audience: String,
    pub max_token_lifetime: Duration,
    pub reload_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct ServerTlsSettings {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: Option<PathBuf>,
}

const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

impl AdminSection {
    /// The section, checked; `None` when something is wrong (each problem is in `problems`).
    pub fn validate(&self, problems: &mut Vec<Diagnostic>) -> Option<AdminSettings> {
        let before = problems.len();
        let listen = self.listen.parse::<SocketAddr>().map_err(|_| {
            problems.push(Diagnostic::new(
                "admin.listen",
                format!(
                    "`{}` is not a socket address (expected `IP:PORT`, e.g. `0.0.0.0:9100` or `[::1]:9100`)",
                    self.listen
                ),
            ));
        });
        let auth = self.auth.as_ref().map(|auth| auth.validate(problems));
        let tls = self.tls.as_ref().map(|tls| tls.validate(problems));
        match (listen, problems.len() == before) {
            (Ok(listen), true) => Some(AdminSettings { listen, auth, tls }),
            _ => None,
        }
    }
}

impl AuthSection {
    fn validate(&self, problems: &mut Vec<Diagnostic>) -> AuthSettings {
        let mut problem = |field: &str, message: &str| {
            problems.push(Diagnostic::new(format!("admin.auth.{field}"), message));
        };
        for (field, value) in [
            ("jwks_file", &self.jwks_file),
            ("issuer", &self.issuer),
            ("audience", &self.audience),
        ] {
            if value.trim().is_empty() {
                problem(field, "must not be empty");
            }
        }
        let lifetime = self.max_token_lifetime.0;
        if lifetime < Duration::from_secs(60) || lifetime > MAX_TOKEN_LIFETIME {
            problem(
                "max_token_lifetime",
                "must be between 1m and 7d: a token is a bearer credential, short lives limit what a leaked one is worth",
            );
        }
        let reload = self.reload_interval.0;
        if reload < Duration::from_secs(1) || reload > Duration::from_secs(3600) {
            problem("reload_interval", "must be between 1s and 1h");
        }
        AuthSettings {
            jwks_file: PathBuf::from(&self.jwks_file),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            max_token_lifetime: lifetime,
            reload_interval: reload,
        }
    }
}

impl ServerTlsSection {
    fn validate(&self, problems: &mut Vec<Diagnostic>) -> ServerTlsSettings {
        for (field, value) in [("cert_file", &self.cert_file), ("key_file", &self.key_file)] {
            if value.trim().is_empty() {
                problems.push(Diagnostic::new(
                    format!("admin.tls.{field}"),
                    "must not be empty",
                ));
            }
        }
        ServerTlsSettings {
            cert_file: PathBuf::from(&self.cert_file),
            key_file: PathBuf::from(&self.key_file),
            client_ca_file: self.client_ca_file.as_ref().map(PathBuf::from),
        }
    }
}
