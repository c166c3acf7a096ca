//! Checking a bearer token: shape and size first, then the header (algorithm, `kid`), the
//! signature with the key the `kid` names and only that key's algorithm, and only then the
//! claims, against an injectable clock. Every refusal has one reason from a fixed list, for
//! `vigia_admin_auth_failures_total{reason}`; the token itself is never logged.

use super::jwks_file::JwksFile;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use std::sync::Arc;

/// Longer tokens are refused before any decoding (a JWT with a few claims is under 1 KiB).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew forgiven on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 60;

/// Seconds since the Unix epoch; injectable so tests can play days in seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs())
    })
}

/// Why a request was refused: 401 (no usable credentials) or 403 (valid, not allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unauthorized(&'static str),
    Forbidden(&'static str),
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Unauthorized(reason) | Self::Forbidden(reason) => reason,
        }
    }
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub subject: Option<String>,
    pub scopes: Vec<String>,
}

pub struct Verifier {
    pub keys: JwksFile,
    pub issuer: String,
    pub audience: String,
    pub max_token_lifetime: u64,
    pub clock: Clock,
}

#[derive(Deserialize)]
struct HeaderFields {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// `aud` is a string or a list of strings (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Times are numbers: a string `exp` fails to parse and the token is refused, never
/// treated as "no expiry".
#[derive(Deserialize)]
struct Claims {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
    sub: Option<String>,
    scope: Option<String>,
}

impl Verifier {
    /// Checks `Authorization` header value `authorization` for a request that needs `scope`
    /// (`None`: any valid token).
    pub fn authorize(
        &self,
        authorization: Option<&[u8]>,
        scope: Option<&str>,
    ) -> Result<Grant, Refusal> {
        use Refusal::Unauthorized as No;
        let value = authorization.ok_or(No("missing"))?;
        let token = bearer(value).ok_or(No("missing"))?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(No("too_large"));
        }
        if token.is_empty() {
            return Err(No("malformed"));
        }
        let grant = self.verify(token)?;
        match scope {
            Some(needed) if !grant.scopes.iter().any(|s| s == needed) => {
                Err(Refusal::Forbidden("scope"))
            }
            _ => Ok(grant),
        }
    }

    /// The token's grant, if it is valid now.
    pub fn verify(&self, token: &str) -> Result<Grant, Refusal> {
        use Refusal::Unauthorized as No;
        let mut parts = token.split('.');
        let (Some(header), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(No("malformed"));
        };
        let header: HeaderFields = URL_SAFE_NO_PAD
            .decode(header)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(No("malformed"))?;
        // `none`, HS* (a public key used as an HMAC secret), RS*: refused before any key.
        let algorithm = match header.alg.as_deref() {
            Some("EdDSA" | "Ed25519") => Algorithm::EdDSA,
            Some("ES256") => Algorithm::ES256,
            _ => return Err(No("algorithm")),
        };
        if header.crit.is_some() {
            // No extension is understood, so a critical one cannot be honoured (RFC 7515 §4.1.11).
            return Err(No("malformed"));
        }
        let kid = header.kid.ok_or(No("unknown_kid"))?;
        let key = self.keys.key(&kid).ok_or(No("unknown_kid"))?;
        if key.algorithm != algorithm {
            return Err(No("algorithm"));
        }
        // The library checks the signature with the key's own algorithm; the claims are
        // checked below, with our clock and our reasons.
        let mut validation = Validation::new(key.algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        super::ring_crypto::install();
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey => No("bad_signature"),
                ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => No("algorithm"),
                _ => No("malformed"),
            })?
            .claims;
        self.check_claims(&claims)?;
        Ok(Grant {
            subject: claims.sub,
            scopes: claims
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }

    fn check_claims(&self, claims: &Claims) -> Result<(), Refusal> {
        use Refusal::Unauthorized as No;
        let now = (self.clock)();
        let (Some(exp), Some(iss), Some(aud)) = (claims.exp, &claims.iss, &claims.aud) else {
            return Err(No("missing_claim"));
        };
        if now > exp.saturating_add(LEEWAY_SECONDS) {
            return Err(No("expired"));
        }
        let early = |at: Option<u64>| at.is_some_and(|at| at > now.saturating_add(LEEWAY_SECONDS));
        if early(claims.nbf) || early(claims.iat) {
            return Err(No("not_yet_valid"));
        }
        // Bounded from its issue and from now: a token without `iat`, or back-dated, too.
        let longest = self.max_token_lifetime.saturating_add(LEEWAY_SECONDS);
        let issued = claims.iat.unwrap_or(now);
        if exp.saturating_sub(issued) > longest || exp.saturating_sub(now) > longest {
            return Err(No("lifetime"));
        }
        if *iss != self.issuer {
            return Err(No("issuer"));
        }
        let audience_matches = match aud {
            Audience::One(one) => *one == self.audience,
            Audience::Many(many) => many.contains(&self.audience),
        };
        if !audience_matches {
            return Err(No("audience"));
        }
        Ok(())
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}
