//! The verification keys: a JWKS document (RFC 7517), each key found by its `kid` with its
//! algorithm pinned by the key, never by the token. Only Ed25519 (EdDSA) and P-256 (ES256)
//! public keys are taken; a set with anything else (a symmetric `oct` key, RSA, a private
//! part) is refused whole, so a mistake in the Secret cannot widen what verifies.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// One key and the only algorithm it verifies.
pub struct VerificationKey {
    pub algorithm: Algorithm,
    pub key: DecodingKey,
}

#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerificationKey>>,
}

impl KeySet {
    pub fn get(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.keys.get(kid).cloned()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parses a JWKS document; the error says which key is wrong and why.
    pub fn parse(document: &[u8]) -> Result<Self, String> {
        let document: JwksDocument = serde_json::from_slice(document)
            .map_err(|e| format!("not a JWKS document ({{\"keys\": [...]}}): {e}"))?;
        if document.keys.is_empty() {
            return Err("the key set is empty".to_owned());
        }
        let mut keys = HashMap::new();
        for (index, jwk) in document.keys.iter().enumerate() {
            let kid = jwk
                .kid
                .as_deref()
                .filter(|kid| !kid.is_empty())
                .ok_or_else(|| format!("keys[{index}] has no `kid`"))?;
            let key = jwk
                .verification_key()
                .map_err(|e| format!("key {kid:?}: {e}"))?;
            if keys.insert(kid.to_owned(), Arc::new(key)).is_some() {
                return Err(format!("two keys have the kid {kid:?}"));
            }
        }
        Ok(Self { keys })
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Jwk>,
}

/// The members of a JWK vigia reads; others (`key_ops`, `x5c`, …) are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    /// A private part: never in a verification set.
    d: Option<serde_json::Value>,
}

impl Jwk {
    fn verification_key(&self) -> Result<VerificationKey, String> {
        if self.d.is_some() {
            return Err("has a private part (`d`): publish public keys only".to_owned());
        }
        if let Some(usage) = self.usage.as_deref().filter(|u| *u != "sig") {
            return Err(format!("`use` is {usage:?}, not \"sig\""));
        }
        let coordinate = |name: &str, value: &Option<String>| -> Result<String, String> {
            let value = value.as_deref().ok_or_else(|| format!("has no `{name}`"))?;
            let bytes = URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| format!("`{name}` is not base64url"))?;
            if bytes.len() != 32 {
                return Err(format!("`{name}` is {} bytes, not 32", bytes.len()));
            }
            Ok(value.to_owned())
        };
        let (algorithm, key) = match (self.kty.as_str(), self.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                let x = coordinate("x", &self.x)?;
                let key = DecodingKey::from_ed_components(&x).map_err(|e| e.to_string())?;
                (Algorithm::EdDSA, key)
            }
            ("EC", Some("P-256")) => {
                let (x, y) = (coordinate("x", &self.x)?, coordinate("y", &self.y)?);
                let key = DecodingKey::from_ec_components(&x, &y).map_err(|e| e.to_string())?;
                (Algorithm::ES256, key)
            }
            (kty, crv) => {
                return Err(format!(
                    "kty {kty:?} crv {:?} is not accepted: only Ed25519 (OKP, EdDSA) and P-256 (EC, ES256) keys",
                    crv.unwrap_or("")
                ));
            }
        };
        // RFC 9864 names Ed25519 itself; "EdDSA" is what most issuers still write.
        let named = match self.alg.as_deref() {
            None => algorithm,
            Some("EdDSA" | "Ed25519") if algorithm == Algorithm::EdDSA => algorithm,
            Some("ES256") if algorithm == Algorithm::ES256 => algorithm,
            Some(other) => {
                return Err(format!(
                    "`alg` {other:?} does not match a {} key",
                    self.crv.as_deref().unwrap_or("")
                ));
            }
        };
        Ok(VerificationKey {
            algorithm: named,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn one(jwk: serde_json::Value) -> Result<KeySet, String> {
        KeySet::parse(serde_json::json!({"keys": [jwk]}).to_string().as_bytes())
    }

    #[test]
    fn an_ed25519_key_is_pinned_to_eddsa() {
        let set = one(serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "kid": "a"}))
            .unwrap();
        assert_eq!(set.get("a").unwrap().algorithm, Algorithm::EdDSA);
        assert!(set.get("b").is_none());
    }

    #[test]
    fn symmetric_rsa_private_and_mismatched_keys_refuse_the_whole_set() {
        for (jwk, why) in [
            (
                serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "a"}),
                "not accepted",
            ),
            (
                serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "a"}),
                "not accepted",
            ),
            (
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "d": ED_X, "kid": "a"}),
                "private",
            ),
            (
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "alg": "HS256", "kid": "a"}),
                "does not match",
            ),
            (
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X}),
                "no `kid`",
            ),
            (
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "a"}),
                "not 32",
            ),
            (
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED_X, "use": "enc", "kid": "a"}),
                "not \"sig\"",
            ),
        ] {
            let error = one(jwk.clone()).err().unwrap_or_default();
            assert!(error.contains(why), "{jwk}: {error}");
        }
        assert!(KeySet::parse(b"{\"keys\": []}").is_err());
        assert!(KeySet::parse(b"not json").is_err());
    }
}
