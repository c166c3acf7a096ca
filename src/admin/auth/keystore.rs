//! The signing side, for `vigia keys rotate` and `vigia token issue`: a directory holding
//! the private keys (`keys.json`, mode 0600) and the public set agents verify with (a JWKS
//! file). A rotation keeps three keys published: the previous one (tokens it signed are still
//! valid), the current one (it signs) and the next one (published a whole rotation period
//! before it signs, so every agent has reloaded it first). A retired key stays published
//! until the longest token it may have signed has expired, leeway included.

use super::verify::LEEWAY_SECONDS;
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use std::path::Path;

const STORE_FILE: &str = "keys.json";
const STORE_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    EdDSA,
    ES256,
}

/// One signing key. Its role follows from its times: not activated (next), activated and not
/// retired (current), retired (previous, until purged).
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub alg: KeyAlgorithm,
    /// PKCS#8 DER, base64.
    private_pkcs8: String,
    /// The JWK public coordinates, base64url.
    x: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    y: Option<String>,
    pub created: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<u64>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pkcs8", &"<redacted>")
            .field("created", &self.created)
            .field("activated", &self.activated)
            .field("retired", &self.retired)
            .finish()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KeyStore {
    version: u32,
    pub keys: Vec<StoredKey>,
}

/// How often keys rotate and how long tokens live.
#[derive(Debug, Clone, Copy)]
pub struct RotationPolicy {
    /// The rotation period (24 h); a rotation within 90 % of it is "not due" (a daily CronJob
    /// runs a few seconds early or late).
    pub every: u64,
    /// The longest token lifetime the agents accept (`admin.auth.max_token_lifetime`).
    pub max_token_lifetime: u64,
    /// A next key must have been published this long before it may sign, even with `force`
    /// (the agents' `reload_interval`, plus the time a Secret takes to reach the pods).
    pub min_publish: u64,
    pub algorithm: KeyAlgorithm,
}

/// What a rotation did, printed as JSON.
#[derive(Debug, Serialize)]
pub struct Rotation {
    pub rotated: bool,
    pub current: String,
    pub next: String,
    pub previous: Vec<String>,
    pub purged: Vec<String>,
}

/// The claims of a token to issue.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub issuer: String,
    pub audience: String,
    pub subject: String,
    pub scope: String,
    pub ttl: u64,
}

impl KeyStore {
    /// The store in `dir`; empty if there is none yet.
    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(STORE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let store: Self = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not a vigia key store", path.display()))?;
                if store.version != STORE_VERSION {
                    bail!(
                        "{} has version {}, this vigia reads {STORE_VERSION}",
                        path.display(),
                        store.version
                    );
                }
                Ok(store)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self {
                version: STORE_VERSION,
                keys: Vec::new(),
            }),
            Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Writes the store (0600) and the public set, each replaced whole.
    pub fn save(&self, dir: &Path, jwks: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_replacing(
            &dir.join(STORE_FILE),
            &serde_json::to_vec_pretty(self)?,
            0o600,
        )?;
        let public = serde_json::to_vec_pretty(&self.jwks())?;
        write_replacing(jwks, &public, 0o644)
    }

    pub fn current(&self) -> Option<&StoredKey> {
        self.keys
            .iter()
            .find(|k| k.activated.is_some() && k.retired.is_none())
    }

    fn next_key(&self) -> Option<&StoredKey> {
        self.keys.iter().find(|k| k.activated.is_none())
    }

    /// Rotates if due (or `force`), generates what is missing, purges what has served its
    /// grace. `now` is injectable: tests play days of rotation in seconds.
    pub fn rotate(
        &mut self,
        now: u64,
        policy: RotationPolicy,
        force: bool,
    ) -> anyhow::Result<Rotation> {
        let mut rotated = false;
        if self.current().is_none() {
            // First run: nothing can have been published before, the first key signs at once.
            let mut key = generate(policy.algorithm, now)?;
            key.activated = Some(now);
            self.keys.push(key);
            rotated = true;
        } else {
            let current = self.current().map_or(now, |k| k.activated.unwrap_or(now));
            let due = now.saturating_sub(current) >= policy.every / 10 * 9;
            if due || force {
                let Some(next) = self.next_key() else {
                    bail!("the key store has a current key but no next key: it was edited by hand");
                };
                let published = now.saturating_sub(next.created);
                if published < policy.min_publish {
                    bail!(
                        "the next key {} was published {published} s ago; it may sign only {} s after it was published (agents reload keys every reload_interval)",
                        next.kid,
                        policy.min_publish
                    );
                }
                let next_kid = next.kid.clone();
                for key in &mut self.keys {
                    if key.activated.is_some() && key.retired.is_none() {
                        key.retired = Some(now);
                    } else if key.kid == next_kid {
                        key.activated = Some(now);
                    }
                }
                rotated = true;
            }
        }
        if self.next_key().is_none() {
            self.keys.push(generate(policy.algorithm, now)?);
        }
        let grace = policy.max_token_lifetime.saturating_add(LEEWAY_SECONDS);
        let mut purged = Vec::new();
        self.keys.retain(|key| match key.retired {
            Some(retired) if now.saturating_sub(retired) >= grace => {
                purged.push(key.kid.clone());
                false
            }
            _ => true,
        });
        let kid = |key: Option<&StoredKey>| key.map(|k| k.kid.clone()).unwrap_or_default();
        Ok(Rotation {
            rotated,
            current: kid(self.current()),
            next: kid(self.next_key()),
            previous: self
                .keys
                .iter()
                .filter(|k| k.retired.is_some())
                .map(|k| k.kid.clone())
                .collect(),
            purged,
        })
    }

    /// The public keys agents verify with: every key not purged.
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .map(|key| match key.alg {
                KeyAlgorithm::EdDSA => serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": key.x,
                    "kid": key.kid, "alg": "EdDSA", "use": "sig",
                }),
                KeyAlgorithm::ES256 => serde_json::json!({
                    "kty": "EC", "crv": "P-256", "x": key.x, "y": key.y,
                    "kid": key.kid, "alg": "ES256", "use": "sig",
                }),
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// A token signed by the current key.
    pub fn issue(&self, now: u64, request: &TokenRequest) -> anyhow::Result<String> {
        self.sign(&serde_json::json!({
            "iss": request.issuer,
            "aud": request.audience,
            "sub": request.subject,
            "scope": request.scope,
            "iat": now,
            "nbf": now,
            "exp": now.saturating_add(request.ttl),
            "jti": random_hex(8)?,
        }))
    }

    /// Any claims, signed by the current key with its `kid` (tests build refused tokens so).
    pub fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        let Some(key) = self.current() else {
            bail!("the key store has no current key: run `vigia keys rotate` first");
        };
        let der = STANDARD
            .decode(&key.private_pkcs8)
            .context("the key store's private key is not base64")?;
        let (algorithm, encoding) = match key.alg {
            KeyAlgorithm::EdDSA => (Algorithm::EdDSA, EncodingKey::from_ed_der(&der)),
            KeyAlgorithm::ES256 => (Algorithm::ES256, EncodingKey::from_ec_der(&der)),
        };
        let mut header = Header::new(algorithm);
        header.kid = Some(key.kid.clone());
        super::ring_crypto::install();
        Ok(jsonwebtoken::encode(&header, claims, &encoding)?)
    }
}

fn generate(algorithm: KeyAlgorithm, now: u64) -> anyhow::Result<StoredKey> {
    let rng = ring::rand::SystemRandom::new();
    let (pkcs8, x, y) = match algorithm {
        KeyAlgorithm::EdDSA => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(unspecified)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(unspecified)?;
            let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
            (pkcs8.as_ref().to_vec(), x, None)
        }
        KeyAlgorithm::ES256 => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(unspecified)?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(unspecified)?;
            // Uncompressed point: 0x04, x, y.
            let point = pair.public_key().as_ref();
            let (x, y) = point[1..].split_at(32);
            let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
            (pkcs8.as_ref().to_vec(), x, Some(y))
        }
    };
    let created = chrono::DateTime::from_timestamp(now as i64, 0)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_default();
    Ok(StoredKey {
        kid: format!("{created}-{}", random_hex(4)?),
        alg: algorithm,
        private_pkcs8: STANDARD.encode(pkcs8),
        x,
        y,
        created: now,
        activated: None,
        retired: None,
    })
}

fn unspecified<E>(_: E) -> anyhow::Error {
    anyhow::anyhow!("cannot generate a key")
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buffer)
        .map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it over `path`: a
/// reader (an agent, Prometheus) sees the old content or the new, never half.
pub fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}
